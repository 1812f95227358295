-- SAML service providers and the AuthnRequest IDs they sent, SQLite dialect.
-- Times are unix seconds.

-- A registered SP: its entity ID (unique, what requests name in Issuer) and
-- its settings as JSON (src/domain/saml_sp.rs), validated before they are stored.
CREATE TABLE saml_sps (
    id         TEXT PRIMARY KEY,
    entity_id  TEXT NOT NULL UNIQUE,
    settings   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- AuthnRequest IDs seen per SP: an ID is answered once. The primary key makes
-- a replay's INSERT conflict on both engines; rows live until expires_at, past
-- which a request with that ID fails its IssueInstant check anyway.
CREATE TABLE saml_request_ids (
    sp_id      TEXT NOT NULL REFERENCES saml_sps (id) ON DELETE CASCADE,
    request_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (sp_id, request_id)
);
CREATE INDEX saml_request_ids_expiry ON saml_request_ids (expires_at);
