-- Leaner indexes on transactions (issue 8), PostgreSQL dialect.
-- Every index on transactions costs each insert a page. Two served rare reads:
--   * auth_req_digest UNIQUE: an auth_req_id is `{transaction id}.{secret}` and is found by the
--     id (the primary key), its stored digest then compared. Only ids from before 2026-11-29 (no
--     `.`) are still found by digest, through a partial index new rows never enter.
--   * (status, expires_at): only the sweep of expired push requests reads it, so it holds those alone.
ALTER TABLE transactions DROP CONSTRAINT transactions_auth_req_digest_key;
DROP INDEX transactions_status_expiry;
CREATE INDEX transactions_push_expiry ON transactions (expires_at) WHERE status = 'pending' AND notify_kind = 'push';
CREATE UNIQUE INDEX transactions_legacy_digest ON transactions (auth_req_digest) WHERE auth_req_digest NOT LIKE '%.%';
