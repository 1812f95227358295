-- Transactions by user are found in memory (issue 8), SQLite only: PostgreSQL keeps the index.
-- Each backchannel request landed in a different user's part of (user_id, expires_at), so
-- every row of a group commit wrote a leaf page of its own and the interior pages above it:
-- about 14 of the ~20 pages each commit wrote and synced. src/store/user_requests.rs keeps a
-- user's recent requests in memory instead, read from the file by rowid as rows are added.
-- At its first use after a start it loads them through this index on expiry, which new rows
-- reach near its end.
DROP INDEX transactions_user_expiry;
CREATE INDEX transactions_expiry ON transactions (expires_at);
