-- The console's transaction timeline (issue 19), PostgreSQL dialect.

-- What happened to a transaction that no other row keeps: each failed
-- device attempt with its reason (a bad signature, a wrong number...), and
-- each failed attempt to push to a device or to notify the client, with
-- the answer. Successes are kept by the rows themselves (device_pushes,
-- outbox). at is unix milliseconds, like the outbox.
CREATE TABLE transaction_events (
    transaction_id TEXT NOT NULL REFERENCES transactions (id),
    at             BIGINT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('device_refused', 'device_push_failed', 'notification_failed')),
    device_id      TEXT,
    detail         TEXT NOT NULL
);
CREATE INDEX transaction_events_transaction ON transaction_events (transaction_id, at);

-- When a notification was delivered or given up on (unix milliseconds).
ALTER TABLE outbox ADD COLUMN finished_at BIGINT;

-- Which devices fetched a transaction, and when (a challenge each).
ALTER TABLE challenges ADD COLUMN created_at BIGINT;
CREATE INDEX challenges_transaction ON challenges (transaction_id);
