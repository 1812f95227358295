-- trustid schema, PostgreSQL dialect: the tables of migrations/sqlite, with BIGINT unix seconds
-- so comparisons in SQL are exact. Secrets are stored as SHA-256 digests only.

-- Registration metadata (RFC 7591 / CIBA member names) is one JSON document,
-- validated before it is stored.
CREATE TABLE clients (
    id              TEXT PRIMARY KEY,
    secret_digest   TEXT,
    metadata        TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    email           TEXT UNIQUE,
    phone           TEXT UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('active', 'locked', 'removed')),
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    -- argon2 PHC strings of secrets a person chose: the CIBA user_code
    -- (§7.1.2) and the seed-001 staticPassword.
    user_code_hash  TEXT,
    static_password_hash TEXT,
    created_at      BIGINT NOT NULL
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
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    preferred       BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
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
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    decided_at       BIGINT,
    poll_interval    BIGINT NOT NULL,
    device_id        TEXT,
    failed_attempts  BIGINT NOT NULL DEFAULT 0,
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
CREATE INDEX transactions_user_status ON transactions (user_id, status);
CREATE INDEX transactions_user_created ON transactions (user_id, created_at);
CREATE INDEX transactions_client_created ON transactions (client_id, created_at);
CREATE INDEX transactions_status_expiry ON transactions (status, expires_at);

-- Single-use challenges a device signs into its decision.
CREATE TABLE challenges (
    nonce          TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL REFERENCES transactions (id),
    device_id      TEXT NOT NULL REFERENCES devices (id),
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

CREATE TABLE access_tokens (
    digest         TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES clients (id),
    user_id        TEXT NOT NULL REFERENCES users (id),
    transaction_id TEXT NOT NULL REFERENCES transactions (id),
    scope          TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_transaction ON access_tokens (transaction_id);

-- Refresh tokens rotate: each use revokes the presented one and issues a
-- successor in the same family; a revoked one presented again revokes the family.
CREATE TABLE refresh_tokens (
    digest         TEXT PRIMARY KEY,
    family         TEXT NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (id),
    user_id        TEXT NOT NULL REFERENCES users (id),
    transaction_id TEXT NOT NULL REFERENCES transactions (id),
    scope          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_transaction ON refresh_tokens (transaction_id);

-- Deliveries owed to relying parties (ping, push), written in the same
-- database transaction as the decision that causes them. Times here are
-- unix milliseconds: retries back off from a quarter of a second.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    transaction_id  TEXT NOT NULL REFERENCES transactions (id),
    kind            TEXT NOT NULL CHECK (kind IN ('ping', 'push')),
    target          TEXT NOT NULL,
    bearer          TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT NOT NULL DEFAULT 0,
    give_up_at      BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
-- A transaction is notified once: its decision, or its expiry.
CREATE UNIQUE INDEX outbox_transaction ON outbox (transaction_id);

-- Values that may be used once (device proof jti) until they expire.
CREATE TABLE replay (
    key        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- Seed 000: a device+user binding waiting for the relying party to confirm
-- the account; the activation code is kept as a digest.
CREATE TABLE bindings (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    device_id   TEXT NOT NULL REFERENCES devices (id),
    client_id   TEXT NOT NULL REFERENCES clients (id),
    code_digest TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    removed_at  BIGINT
);
CREATE INDEX bindings_user ON bindings (user_id);

-- Seed 001: a user registration with its activation password (digest), the
-- browser CDDC evidence, and where check-status stands.
CREATE TABLE registrations (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    client_id        TEXT NOT NULL REFERENCES clients (id),
    password_digest  TEXT NOT NULL UNIQUE,
    relationship_ref TEXT,
    client_ip        TEXT,
    session_id       TEXT,
    cddc             TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    activated_at     BIGINT,
    device_id        TEXT,
    reported_at      BIGINT,
    removed_at       BIGINT
);
CREATE INDEX registrations_user ON registrations (user_id, created_at);

-- Seed 002: single-use tokens that let an authenticated user add a device.
CREATE TABLE registration_tokens (
    digest     TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    client_id  TEXT NOT NULL REFERENCES clients (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Access tokens of the client_credentials grant for the management API.
CREATE TABLE management_tokens (
    digest     TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id),
    scope      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked    BIGINT NOT NULL DEFAULT 0
);

-- Append-only: who did what to what, when.
CREATE TABLE audit (
    id      TEXT PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX audit_subject ON audit (subject, at);
