//! The statements of a flow's writes after the backchannel's insert: the
//! inbox's challenges, a decision with what it owes, a redemption with its
//! tokens, and the replay keys of proofs and assertions. sqlx runs them on
//! both backends (each aggregate's `*_sql!` macro); SQLite's batched writer
//! runs the same text through rusqlite (`sqlite/batched.rs`).

// The inbox's challenges, and a decision.
pub(crate) const INSERT_CHALLENGE: &str = "INSERT INTO challenges (nonce, transaction_id, device_id, expires_at, used_at, \
     created_at) VALUES ($1, $2, $3, $4, NULL, $5)";
pub(crate) const USE_CHALLENGE: &str = "UPDATE challenges SET used_at = $4 WHERE nonce = $1 AND transaction_id = $2 \
     AND device_id = $3 AND used_at IS NULL AND expires_at > $4";
pub(crate) const DECIDE: &str = "UPDATE transactions SET status = $2, decided_at = $3, device_id = $4 \
     WHERE id = $1 AND status = 'pending' AND expires_at > $3";
/// A success resets the device's failed attempts (lockout policy).
pub(crate) const RESET_DEVICE_FAILURES: &str = "UPDATE devices SET failed_attempts = 0 WHERE id = $1";
pub(crate) const ASSOCIATE_APP: &str = "INSERT INTO user_apps (user_id, app_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

// Redeeming an approval.
pub(crate) const CONSUME: &str =
    "UPDATE transactions SET status = 'consumed' WHERE id = $1 AND status = 'approved' AND expires_at > $2";
pub(crate) const INSERT_ACCESS_TOKEN: &str = "INSERT INTO access_tokens (digest, client_id, user_id, transaction_id, \
     scope, expires_at, revoked, certificate_thumbprint) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)";
pub(crate) const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens (digest, family, client_id, user_id, \
     transaction_id, scope, created_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)";

/// An owed notification, written with its decision.
pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO outbox (id, transaction_id, kind, target, bearer, payload, state, \
     attempts, next_attempt_at, claimed_until, give_up_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, $8, $7) ON CONFLICT (transaction_id) DO NOTHING";

/// Remembers a key until `$2`; an expired entry may be reused, a live one
/// means a replay (no row changed).
pub(crate) const REMEMBER: &str = "INSERT INTO replay (key, expires_at) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $3";
