-- Push to devices (issue 5), SQLite dialect.
-- Times in device_pushes are unix milliseconds, like the outbox.

-- How a device can be reached besides its inbox: a push channel and the
-- channel's address for it (relay-side device token, FCM registration
-- token, APNs device token). Both set or both null.
ALTER TABLE devices ADD COLUMN push_channel TEXT CHECK (push_channel IN ('webhook', 'fcm', 'apns'));
-- The both-or-neither check sits on the second column: SQLite's ADD COLUMN
-- cannot add a table constraint, and a column CHECK may read the row.
ALTER TABLE devices ADD COLUMN push_address TEXT CHECK ((push_channel IS NULL) = (push_address IS NULL));

-- One notification owed to one device about one transaction. The channel
-- and address are read from the device when sent, so a device that changes
-- or clears its channel is reached by its current one (or not at all).
-- token_digest is the SHA-256 of the latest exchange token sent, and
-- prev_token_digest of the one before: the device trades either (with its
-- device proof) for the inbox item, so a retry does not kill the token a
-- slow but delivered earlier attempt carried. claimed_until is the lease of
-- the worker sending it, and fences that worker's writes.
CREATE TABLE device_pushes (
    transaction_id  TEXT NOT NULL REFERENCES transactions (id),
    device_id       TEXT NOT NULL REFERENCES devices (id),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'withdrawn')),
    channel         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    give_up_at      INTEGER NOT NULL,
    last_error      TEXT,
    token_digest    TEXT,
    prev_token_digest TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    PRIMARY KEY (transaction_id, device_id)
);
CREATE INDEX device_pushes_due ON device_pushes (state, next_attempt_at);
CREATE UNIQUE INDEX device_pushes_token ON device_pushes (token_digest);
CREATE UNIQUE INDEX device_pushes_prev_token ON device_pushes (prev_token_digest);

-- A push relay per app (`appId`, seed 003) of one client: that client's
-- requests naming the app are pushed through it; others through the
-- client's push_relay_uri. Keyed by client too, so a client naming another
-- customer's appId never reaches that customer's relay.
CREATE TABLE app_push_relays (
    client_id       TEXT NOT NULL REFERENCES clients (id),
    app_id          TEXT NOT NULL,
    push_relay_uri  TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (client_id, app_id)
);
