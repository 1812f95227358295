-- SAML logins in progress and persistent NameIDs (issue 18), PostgreSQL dialect.
-- Times are unix seconds.

-- One browser's SAML login, from the AuthnRequest (or the IdP-initiated
-- link) to the one Response it is answered with. The id is in the wait
-- page's URL; the browser also holds a cookie whose SHA-256 is
-- browser_digest, so the URL alone shows nothing. request_id is NULL for an
-- IdP-initiated login. answered_at is set once, by the request that
-- builds the Response: one Response per AuthnRequest.
CREATE TABLE saml_logins (
    id             TEXT PRIMARY KEY,
    browser_digest TEXT NOT NULL,
    sp_id          TEXT NOT NULL REFERENCES saml_sps (id) ON DELETE CASCADE,
    request_id     TEXT,
    acs_url        TEXT NOT NULL,
    relay_state    TEXT,
    transaction_id TEXT REFERENCES transactions (id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    answered_at    BIGINT
);
CREATE INDEX saml_logins_expiry ON saml_logins (expires_at);
-- Deleting a transaction (its user unregistered) finds its login by this.
CREATE INDEX saml_logins_transaction ON saml_logins (transaction_id);

-- Persistent NameIDs (SAML-core §8.3.7): a random value per SP and user,
-- made on the first login, so an SP cannot learn the user id or link its
-- users with another SP's.
CREATE TABLE saml_name_ids (
    sp_id      TEXT NOT NULL REFERENCES saml_sps (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    value      TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sp_id, user_id)
);
-- Deleting a user finds their NameIDs by this.
CREATE INDEX saml_name_ids_user ON saml_name_ids (user_id);
