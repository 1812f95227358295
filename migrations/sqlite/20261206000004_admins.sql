-- Console administrators (issue 19), SQLite dialect.
-- Times are unix seconds.

-- An admin signs in to the console by e-mail (stored lowercased) and an
-- argon2 password hash; `trustid admin disable` sets disabled_at and keeps
-- the row, which the audit trail names.
CREATE TABLE admins (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    password_at   INTEGER NOT NULL,
    disabled_at   INTEGER
);
