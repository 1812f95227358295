-- Admins' phones as a second factor (issue 19), PostgreSQL dialect.

-- The trustid user that holds an admin's phones: a random id `console:…`,
-- set when the admin first binds one. Its devices approve the admin's
-- sign-ins through trustid's own engine (the console's client `console`).
ALTER TABLE admins ADD COLUMN device_user_id TEXT REFERENCES users (id);

-- A sign-in waiting for the admin's phone names the transaction it waits
-- for; such a session is not signed in. second_factor is 1 for a session
-- approved on the admin's phone, 0 for one opened by password alone.
ALTER TABLE admin_sessions ADD COLUMN awaiting_transaction TEXT;
ALTER TABLE admin_sessions ADD COLUMN second_factor BIGINT NOT NULL DEFAULT 0;
