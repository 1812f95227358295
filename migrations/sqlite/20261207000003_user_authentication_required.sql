-- Seed 002's userAuthenticationRequired (issue 22), SQLite dialect.

-- A device whose keys the OS guards with its own prompt (biometrics or
-- passcode on every use): an adaptive rule's ALLOW becomes
-- CHALLENGE_REQUIRED for its user, so the OS prompt is always shown.
ALTER TABLE devices ADD COLUMN user_authentication_required INTEGER NOT NULL DEFAULT 0;
