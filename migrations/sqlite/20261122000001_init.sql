-- trustid schema, SQLite dialect. Times are INTEGER unix seconds so that
-- comparisons in SQL are exact. Secrets are stored as SHA-256 digests only.

CREATE TABLE clients (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    secret_digest   TEXT NOT NULL,
    auth_method     TEXT NOT NULL CHECK (auth_method IN ('client_secret_basic', 'client_secret_post')),
    delivery_mode   TEXT NOT NULL CHECK (delivery_mode IN ('poll', 'ping', 'push')),
    id_token_alg    TEXT NOT NULL CHECK (id_token_alg IN ('ES256', 'RS256')),
    created_at      INTEGER NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT UNIQUE,
    phone           TEXT UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('active', 'locked')),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

CREATE TABLE user_apps (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id  TEXT NOT NULL,
    PRIMARY KEY (user_id, app_id)
);

CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    device_key      TEXT NOT NULL,
    auth_key        TEXT NOT NULL,
    user_id         TEXT REFERENCES users (id),
    status          TEXT NOT NULL CHECK (status IN ('inactive', 'active', 'locked', 'removed')),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE transactions (
    id               TEXT PRIMARY KEY,
    auth_req_digest  TEXT NOT NULL UNIQUE,
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
    failed_device_id TEXT
);
CREATE INDEX transactions_user_status ON transactions (user_id, status);

-- Single-use challenges a device signs into its decision.
CREATE TABLE challenges (
    nonce          TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL REFERENCES transactions (id),
    device_id      TEXT NOT NULL REFERENCES devices (id),
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);

CREATE TABLE access_tokens (
    digest         TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES clients (id),
    user_id        TEXT NOT NULL REFERENCES users (id),
    transaction_id TEXT NOT NULL REFERENCES transactions (id),
    scope          TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_transaction ON access_tokens (transaction_id);

-- Values that may be used once (device proof jti) until they expire.
CREATE TABLE replay (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
