-- Leaner indexes on transactions (issue 8), SQLite dialect: rebuilt without the UNIQUE on auth_req_digest.
-- Every index on transactions costs the group commit pages at every batch. Two served rare reads:
--   * auth_req_digest UNIQUE: an auth_req_id is `{transaction id}.{secret}` and is found by the
--     id (the primary key), its stored digest then compared. Only ids from before 2026-11-29 (no
--     `.`) are still found by digest, through a partial index new rows never enter.
--   * (status, expires_at): only the sweep of expired push requests reads it, so it holds those alone.
-- SQLite cannot drop a column's UNIQUE in place: the table is copied, SQLite's documented procedure.
-- Migrations run with foreign keys off (`SqliteStore::open`), so dropping the old table leaves the
-- rows that reference it as they are; the new table takes its name, and the last statements check
-- that every reference in the database holds (a count above 0 breaks the CHECK and rolls it all back).
CREATE TABLE transactions_lean (
    id               TEXT PRIMARY KEY,
    auth_req_digest  TEXT NOT NULL,
    client_id        TEXT NOT NULL REFERENCES clients (id),
    user_id          TEXT NOT NULL REFERENCES users (id),
    context          TEXT NOT NULL CHECK (context IN ('authentication', 'provisioning')),
    app_id           TEXT,
    display_text     TEXT NOT NULL,
    scope            TEXT NOT NULL,
    acr              TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    poll_interval    INTEGER NOT NULL,
    device_id        TEXT,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    failed_device_id TEXT,
    -- Only for ping and push clients: what the notification must carry back.
    -- Both are bearer values the client chose or must receive, so they are
    -- kept as sent and never logged.
    auth_req_id         TEXT,
    notification_token  TEXT,
    notify_kind         TEXT CHECK (notify_kind IN ('ping', 'push')),
    -- Provisioning only: the status the user takes once the request is approved.
    user_status         TEXT CHECK (user_status IN ('active', 'locked')),
    -- Number matching: the number the relying party shows and the user types.
    match_number        TEXT
);
INSERT INTO transactions_lean SELECT * FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_lean RENAME TO transactions;
CREATE INDEX transactions_user_expiry ON transactions (user_id, expires_at);
CREATE INDEX transactions_client_created ON transactions (client_id, created_at);
CREATE INDEX transactions_push_expiry ON transactions (expires_at) WHERE status = 'pending' AND notify_kind = 'push';
CREATE UNIQUE INDEX transactions_legacy_digest ON transactions (auth_req_digest) WHERE auth_req_digest NOT LIKE '%.%';
CREATE TEMP TABLE lean_copy_check (dangling INTEGER NOT NULL CHECK (dangling = 0));
INSERT INTO lean_copy_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE lean_copy_check;
