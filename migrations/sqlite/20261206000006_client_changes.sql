-- Clients the console edits, rotates and disables (issue 19), SQLite dialect.
-- Times are unix seconds.

-- A disabled client fails client authentication (invalid_client) until it is
-- enabled again; updated_at is its last change after registration. Both live
-- in the clients row, so authenticating a client still reads one row.
ALTER TABLE clients ADD COLUMN disabled_at INTEGER;
ALTER TABLE clients ADD COLUMN updated_at INTEGER;
