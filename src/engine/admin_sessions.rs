//! Signing admins in to the console and keeping their sessions: the
//! password check (argon2, off the async threads, as slow for an unknown
//! e-mail as for a wrong password), guessing slowed per account and per
//! address, a new session at every sign-in, idle and absolute timeouts,
//! sign-out and revocation. An admin with a bound phone must approve the
//! sign-in on it too (`admin_second_factor`): until then the session only
//! waits. Every sign-in and failure is audited.

use crate::crypto::secret;
use crate::domain::admin::{ABSOLUTE_TIMEOUT, Admin, AdminEmail, AdminSession};
use crate::domain::ids::random_id;
use crate::engine::AppState;
use crate::engine::admin_second_factor;
use crate::store::StoreError;

/// Failed sign-ins counted over this window.
pub const FAILURE_WINDOW: i64 = 15 * 60;
/// Failures of one account in the window after which it must wait.
pub const MAX_ACCOUNT_FAILURES: i64 = 5;
/// Failures from one address in the window after which it must wait.
pub const MAX_ADDRESS_FAILURES: i64 = 20;
/// A session's last request is written at most this often.
const TOUCH_EVERY: i64 = 60;

/// A real hash of a random password, checked when the e-mail is unknown so
/// that answering takes as long as for a wrong password. Made once.
fn no_admin_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| secret::hash_password(&secret::random_token()).unwrap_or_default())
        .clone()
}

#[derive(Debug, thiserror::Error)]
pub enum SignInRefusal {
    /// Unknown e-mail, wrong password or disabled admin: not told apart.
    #[error("the e-mail or the password is wrong")]
    Wrong,
    #[error("too many failed sign-ins; wait a few minutes")]
    Throttled,
    /// The password was right, but the admin's phone cannot be asked now
    /// (its user locked, too many requests): nothing was opened.
    #[error("the phone cannot be asked: {0}")]
    PhoneUnavailable(crate::engine::start::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// Where a sign-in comes from, for the throttle and the session list.
pub struct Origin<'a> {
    pub address: &'a str,
    /// What the throttle counts this address's failures by (`domain::address`).
    pub throttle_key: &'a str,
    pub user_agent: &'a str,
}

/// A new session and the secret its cookie carries (shown once).
pub struct SignedIn {
    pub session: AdminSession,
    pub secret: String,
    pub admin: Admin,
}

pub async fn sign_in(
    state: &AppState,
    raw_email: &str,
    password: &str,
    from: &Origin<'_>,
) -> Result<SignedIn, SignInRefusal> {
    // One sign-in at a time per instance: the failure count read below then
    // includes every attempt before this one (parallel guesses cannot all
    // pass the throttle), and argon2's memory is taken once, not per request.
    static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let _turn = ONE_AT_A_TIME
        .acquire()
        .await
        .map_err(|e| SignInRefusal::Internal(e.to_string()))?;
    let now = state.clock.now();
    let email = AdminEmail::parse(raw_email).map(|e| e.to_string()).unwrap_or_default();
    if password.len() > 4 * crate::domain::admin::MAX_PASSWORD {
        return Err(SignInRefusal::Wrong);
    }
    let (by_email, by_address) = state
        .store
        .sign_in_failures(&email, from.throttle_key, now - FAILURE_WINDOW)
        .await?;
    if by_email >= MAX_ACCOUNT_FAILURES || by_address >= MAX_ADDRESS_FAILURES {
        return Err(SignInRefusal::Throttled);
    }
    let admin = state.store.admin_by_email(&email).await?;
    let hash = admin.as_ref().map(|a| a.password_hash.clone());
    let typed = password.to_owned();
    let matches =
        tokio::task::spawn_blocking(move || secret::verify_password(&typed, &hash.unwrap_or_else(no_admin_hash)))
            .await
            .map_err(|e| SignInRefusal::Internal(e.to_string()))?;
    let Some(admin) = admin.filter(|a| matches && a.disabled_at.is_none()) else {
        state
            .store
            .record_sign_in_failure(&email, from.throttle_key, now)
            .await?;
        let subject = format!("admin:{}", if email.is_empty() { "?" } else { &email });
        let detail = Some(format!("from {}", from.address));
        state
            .audit("console".into(), "admin.sign_in_failed", subject, detail)
            .await?;
        return Err(SignInRefusal::Wrong);
    };
    let awaiting = match admin_second_factor::send(state, &admin, from.address).await {
        Ok(awaiting) => awaiting,
        Err(admin_second_factor::Refusal::Start(why)) => return Err(SignInRefusal::PhoneUnavailable(why)),
        Err(admin_second_factor::Refusal::Store(e)) => return Err(e.into()),
        Err(e) => return Err(SignInRefusal::Internal(e.to_string())),
    };
    let (session, secret) = new_session(&admin, from, now, awaiting.clone(), false);
    state.store.insert_admin_session(&session).await?;
    let who = format!("admin:{}", admin.email);
    let (action, detail) = match &awaiting {
        Some(txn) => (
            "admin.sign_in_sent_to_phone",
            format!("transaction {txn} from {}", from.address),
        ),
        None => (
            "admin.signed_in",
            format!("session {} from {}", session.id, from.address),
        ),
    };
    state.audit(who.clone(), action, who, Some(detail)).await?;
    Ok(SignedIn { session, secret, admin })
}

/// A session of `admin` and the secret its cookie carries.
fn new_session(
    admin: &Admin,
    from: &Origin<'_>,
    now: i64,
    awaiting_transaction: Option<String>,
    second_factor: bool,
) -> (AdminSession, String) {
    let secret = secret::random_token();
    let session = AdminSession {
        id: random_id(),
        secret_digest: secret::digest(&secret),
        admin_id: admin.id.clone(),
        csrf: secret::random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + ABSOLUTE_TIMEOUT,
        revoked_at: None,
        address: from.address.chars().take(64).collect(),
        user_agent: from.user_agent.chars().take(200).collect(),
        awaiting_transaction,
        second_factor,
    };
    (session, secret)
}

/// Opens the session a waiting sign-in was for, once its phone approved
/// (the caller checked): a new id and secret, the waiting one ended. `None`
/// when another request finished it first.
pub async fn finish_second_factor(
    state: &AppState,
    waiting: &AdminSession,
    admin: &Admin,
    device_id: &str,
) -> Result<Option<SignedIn>, StoreError> {
    let now = state.clock.now();
    let from = Origin {
        address: &waiting.address,
        throttle_key: &waiting.address,
        user_agent: &waiting.user_agent,
    };
    let (session, secret) = new_session(admin, &from, now, None, true);
    if !state.store.finish_second_factor(&waiting.id, &session, now).await? {
        return Ok(None);
    }
    let who = format!("admin:{}", admin.email);
    let detail = format!(
        "session {} from {}, approved on device {device_id}",
        session.id, waiting.address
    );
    state.audit(who.clone(), "admin.signed_in", who, Some(detail)).await?;
    Ok(Some(SignedIn {
        session,
        secret,
        admin: admin.clone(),
    }))
}

/// Ends a waiting sign-in its phone denied or let expire.
pub async fn fail_second_factor(
    state: &AppState,
    waiting: &AdminSession,
    admin: &Admin,
    why: &str,
) -> Result<(), StoreError> {
    if state
        .store
        .revoke_admin_session(&waiting.id, &admin.id, state.clock.now())
        .await?
    {
        let who = format!("admin:{}", admin.email);
        let detail = Some(format!("{why} on the phone, from {}", waiting.address));
        state.audit(who.clone(), "admin.sign_in_failed", who, detail).await?;
    }
    Ok(())
}

/// The live session whose cookie carries `secret`, with its admin; its
/// last request is recorded (the idle timeout counts from it).
pub async fn session(state: &AppState, secret: &str) -> Result<Option<(AdminSession, Admin)>, StoreError> {
    let now = state.clock.now();
    let Some((mut session, admin)) = state.store.admin_session(&secret::digest(secret)).await? else {
        return Ok(None);
    };
    if !session.is_live(&admin, now) {
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        state.store.touch_admin_session(&session.id, now).await?;
        session.last_seen_at = now;
    }
    Ok(Some((session, admin)))
}

/// Ends session `id` of `admin` (sign-out, or revoking one of one's own).
pub async fn revoke(state: &AppState, admin: &Admin, id: &str) -> Result<bool, StoreError> {
    let revoked = state
        .store
        .revoke_admin_session(id, &admin.id, state.clock.now())
        .await?;
    if revoked {
        let who = format!("admin:{}", admin.email);
        state
            .audit(who.clone(), "admin.session_revoked", who, Some(format!("session {id}")))
            .await?;
    }
    Ok(revoked)
}

/// The admin's live sessions, newest first.
pub async fn sessions(state: &AppState, admin: &Admin) -> Result<Vec<AdminSession>, StoreError> {
    let now = state.clock.now();
    let all = state.store.admin_sessions(&admin.id, now).await?;
    Ok(all.into_iter().filter(|s| s.is_live(admin, now)).collect())
}

/// Whether the session whose cookie carries `secret` may still be used, without
/// counting this as a request (a page left open does not keep a session alive).
pub async fn still_live(state: &AppState, secret: &str) -> bool {
    match state.store.admin_session(&secret::digest(secret)).await {
        Ok(Some((session, admin))) => session.is_live(&admin, state.clock.now()),
        _ => false,
    }
}

/// Forgets sessions and failed sign-ins that no longer count (a day after
/// they ended; failures long past the throttle's window). Housekeeping:
/// failures are logged.
pub async fn prune(state: &AppState) -> u64 {
    match state.store.prune_admin_sessions(state.clock.now() - 86_400).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot prune console sessions");
            0
        }
    }
}
