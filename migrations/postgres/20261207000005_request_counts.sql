-- Counters behind the per-user and per-client request caps (issue 23), PostgreSQL only.

-- One row per key (`u:` user id, `c:` client id) and second of the minute
-- (`slot` = second % 60), reused a minute later: at most 60 rows per key.
-- Every instance bumps the same rows, so the caps hold across instances;
-- SQLite counts in memory (`src/store/sqlite/rate_windows.rs`).
CREATE TABLE request_counts (
    key TEXT NOT NULL,
    slot BIGINT NOT NULL,
    second BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (key, slot)
);
