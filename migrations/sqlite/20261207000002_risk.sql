-- Adaptive rules (issue 22, seed 002), SQLite dialect. Times are unix seconds.

-- A client's rules, evaluated in position order (then creation); the rule
-- itself is JSON (domain::risk::Rule): conditions, outcome, where it applies.
CREATE TABLE risk_rules (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id),
    position   INTEGER NOT NULL,
    rule       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER
);
CREATE INDEX risk_rules_client ON risk_rules (client_id, position);

-- One row per evaluation: the facts later evaluations count (velocity per
-- user, address and fingerprint, addresses and fingerprints seen), the
-- verdict and the rule that gave it (evidence), and for a tracked action
-- the digest of the token it is validated with, once (validated_at).
-- user_id names no users row: a refused registration's user never exists.
CREATE TABLE risk_events (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES clients (id),
    user_id        TEXT NOT NULL,
    point          TEXT NOT NULL CHECK (point IN ('action', 'backchannel', 'registration')),
    action         TEXT NOT NULL,
    address        TEXT,
    fingerprint    TEXT,
    custom_data    TEXT,
    outcome        TEXT NOT NULL CHECK (outcome IN ('ALLOW', 'CHALLENGE_REQUIRED', 'BLOCK')),
    rule           TEXT,
    token_digest   TEXT UNIQUE,
    transaction_id TEXT REFERENCES transactions (id),
    created_at     INTEGER NOT NULL,
    validated_at   INTEGER
);
CREATE INDEX risk_events_user ON risk_events (user_id, created_at);
CREATE INDEX risk_events_address ON risk_events (address, created_at);
CREATE INDEX risk_events_fingerprint ON risk_events (fingerprint, created_at);
CREATE INDEX risk_events_client ON risk_events (client_id);
CREATE INDEX risk_events_transaction ON risk_events (transaction_id);
