-- Console sessions and failed sign-ins (issue 19), SQLite dialect.
-- Times are unix seconds.

-- A signed-in admin's session. The cookie holds a random secret whose
-- SHA-256 is secret_digest; id is what the admin's list of sessions shows
-- and revokes. csrf is the token every form of the session carries. A
-- session ends at expires_at, after the idle timeout since last_seen_at,
-- when revoked, or when its admin is disabled or changes password.
CREATE TABLE admin_sessions (
    id            TEXT PRIMARY KEY,
    secret_digest TEXT NOT NULL UNIQUE,
    admin_id      TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    address       TEXT NOT NULL,
    user_agent    TEXT NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- Failed sign-ins, counted per account and per address to slow guessing.
CREATE TABLE admin_sign_in_failures (
    at      INTEGER NOT NULL,
    email   TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX admin_sign_in_failures_email ON admin_sign_in_failures (email, at);
CREATE INDEX admin_sign_in_failures_address ON admin_sign_in_failures (address, at);

-- The console's audit log reads the newest entries first.
CREATE INDEX audit_at ON audit (at, id);
