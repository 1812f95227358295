-- The `saml` transaction context (issue 18), SQLite dialect. Times are unix seconds.

-- A transaction started by a SAML login has the context `saml`. SQLite cannot
-- change a CHECK in place: the table is copied as in 20261130000001 (foreign
-- keys off while migrating; the last statements check every reference holds),
-- with the indexes the table has since 20261130000002.
CREATE TABLE transactions_saml (
    id               TEXT PRIMARY KEY,
    auth_req_digest  TEXT NOT NULL,
    client_id        TEXT NOT NULL REFERENCES clients (id),
    user_id          TEXT NOT NULL REFERENCES users (id),
    context          TEXT NOT NULL CHECK (context IN ('authentication', 'provisioning', 'saml')),
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
INSERT INTO transactions_saml SELECT * FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_saml RENAME TO transactions;
CREATE INDEX transactions_expiry ON transactions (expires_at);
CREATE INDEX transactions_client_created ON transactions (client_id, created_at);
CREATE INDEX transactions_push_expiry ON transactions (expires_at) WHERE status = 'pending' AND notify_kind = 'push';
CREATE UNIQUE INDEX transactions_legacy_digest ON transactions (auth_req_digest) WHERE auth_req_digest NOT LIKE '%.%';
CREATE TEMP TABLE saml_copy_check (dangling INTEGER NOT NULL CHECK (dangling = 0));
INSERT INTO saml_copy_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE saml_copy_check;
