-- One index per user on transactions instead of two (issue 8), PostgreSQL dialect.
-- Every index a user's entries sit in costs the group commit a page per user per batch.
-- A user's open requests are the unexpired ones: (user_id, expires_at) finds
-- them for the inbox, activation and unregistration, and bounds the
-- per-user rate count too (a request created at or after a time expires after it).
DROP INDEX transactions_user_status;
DROP INDEX transactions_user_created;
CREATE INDEX transactions_user_expiry ON transactions (user_id, expires_at);
