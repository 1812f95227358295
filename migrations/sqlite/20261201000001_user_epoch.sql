-- SQLite only (issue 8): a counter that moves whenever a user, or a device's owner, status or
-- push channel, changes, from whichever connection or process. Every backchannel request reads
-- its user with the counts of their devices; the store keeps those reads in memory
-- (src/store/hot.rs, UserCache). Its own process drops them as it commits a change; a change
-- another process made (the CLI, a second instance on the file, a tool) is seen through this
-- counter, which the store reads at most every 100 ms. PostgreSQL, which several instances
-- share, reads the user every time. A later migration that copies users or devices into a new
-- table (SQLite's way to change a column) drops these triggers and must create them again
-- (src/store/sqlite.rs tests that the counter moves).
CREATE TABLE user_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
INSERT INTO user_epoch (id, n) VALUES (1, 0);
CREATE TRIGGER user_epoch_user_added AFTER INSERT ON users
    BEGIN UPDATE user_epoch SET n = n + 1; END;
CREATE TRIGGER user_epoch_user_changed AFTER UPDATE ON users
    BEGIN UPDATE user_epoch SET n = n + 1; END;
CREATE TRIGGER user_epoch_user_deleted AFTER DELETE ON users
    BEGIN UPDATE user_epoch SET n = n + 1; END;
CREATE TRIGGER user_epoch_device_added AFTER INSERT ON devices
    BEGIN UPDATE user_epoch SET n = n + 1; END;
CREATE TRIGGER user_epoch_device_changed AFTER UPDATE OF user_id, status, push_channel ON devices
    BEGIN UPDATE user_epoch SET n = n + 1; END;
CREATE TRIGGER user_epoch_device_deleted AFTER DELETE ON devices
    BEGIN UPDATE user_epoch SET n = n + 1; END;
