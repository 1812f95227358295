-- The executive level (issue 22, seed 000 §4), PostgreSQL dialect. Times are unix seconds.

-- Each user's salt for hashing identity documents (base64url, 128 bits),
-- made the first time their device asks for it.
CREATE TABLE document_salts (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    salt    TEXT NOT NULL
);

-- A user's identity document, by the salted hash of its barcode only: the
-- parsed fields go to the relying party's verification service, never here.
CREATE TABLE identity_documents (
    user_id       TEXT NOT NULL REFERENCES users (id),
    kind          TEXT NOT NULL CHECK (kind IN ('driver_license')),
    hash          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('unverified', 'verified', 'rejected')),
    device_id     TEXT NOT NULL,
    client_id     TEXT REFERENCES clients (id),
    registered_at BIGINT NOT NULL,
    verified_at   BIGINT,
    PRIMARY KEY (user_id, kind)
);
