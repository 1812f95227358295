//! A SAML login through the engine: the browser's login record, the
//! transaction it starts (type `saml`, on behalf of the SP's own client, so
//! the rate limits, lockout and `appId` rules of CIBA apply), where it
//! stands, and the one answer it gets. The SAML face checks the request and
//! writes the XML; this module knows nothing of either.

use std::sync::Arc;

use crate::crypto::secret;
use crate::domain::binding_message::{ActionContext, BindingMessage};
use crate::domain::client::{Client, ClientMetadata};
use crate::domain::ids::{ClientId, random_id};
use crate::domain::saml_login::{LOGIN_GRACE, LOGIN_TTL, SamlLogin};
use crate::domain::saml_sp::{NameIdFormat, SamlSp};
use crate::domain::scope::Scope;
use crate::domain::transaction::{Phase, Transaction};
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::start::{self, StartRequest, Subject};
use crate::store::StoreError;

/// Why a login cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No such login, or not this browser's: the two are not told apart.
    #[error("this sign-in is unknown to this browser")]
    UnknownLogin,
    #[error("this sign-in has expired")]
    LoginExpired,
    /// Its one Response was sent: nothing more starts from it.
    #[error("this sign-in was answered already")]
    Answered,
    /// Nobody by that id, e-mail or phone.
    #[error("no user matches that name")]
    UnknownUser,
    #[error(transparent)]
    Start(#[from] start::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A login just begun, and the secret the browser's cookie must carry.
pub struct Begun {
    pub login: SamlLogin,
    pub browser_secret: String,
}

/// What the login is answered with (SAML-core §3.4.1.4).
pub struct Request<'a> {
    pub sp: &'a SamlSp,
    /// `None` for an IdP-initiated login.
    pub request_id: Option<String>,
    pub acs_url: String,
    pub relay_state: Option<String>,
}

pub async fn begin(state: &AppState, req: Request<'_>) -> Result<Begun, Refusal> {
    let now = state.clock.now();
    let browser_secret = secret::random_token();
    let login = SamlLogin {
        id: random_id(),
        browser_digest: secret::digest(&browser_secret),
        sp_id: req.sp.id.clone(),
        request_id: req.request_id,
        acs_url: req.acs_url,
        relay_state: req.relay_state,
        transaction_id: None,
        created_at: now,
        expires_at: now + LOGIN_TTL,
        answered_at: None,
    };
    state.store.insert_saml_login(&login).await?;
    Ok(Begun { login, browser_secret })
}

/// The login `id`, if `browser_secret` is the one its cookie was given.
pub async fn find(state: &AppState, id: &str, browser_secret: Option<&str>) -> Result<SamlLogin, Refusal> {
    let login = state.store.saml_login(id).await?;
    let digest = login.as_ref().map_or("", |l| l.browser_digest.as_str());
    // Digest even without a login, so an unknown id costs what a wrong cookie costs.
    let matches = secret::matches_digest(browser_secret.unwrap_or(""), digest);
    let login = login
        .filter(|_| matches && browser_secret.is_some())
        .ok_or(Refusal::UnknownLogin)?;
    if login.transaction_id.is_none() && login.is_expired(state.clock.now()) {
        return Err(Refusal::LoginExpired);
    }
    Ok(login)
}

/// Starts the transaction of `login` for the user named `who` (id, e-mail or
/// phone), pushing their devices as a CIBA request would. A login whose
/// transaction already started is returned as it is.
pub async fn start_transaction(state: &AppState, login: &SamlLogin, sp: &SamlSp, who: &str) -> Result<(), Refusal> {
    if login.answered_at.is_some() {
        return Err(Refusal::Answered);
    }
    if login.transaction_id.is_some() {
        return Ok(());
    }
    let (user, counts) = state
        .store
        .user_by_hint_counting_devices(who)
        .await?
        .ok_or(Refusal::UnknownUser)?;
    let client = sp_client(state, sp).await?;
    let now = state.clock.now();
    let message = BindingMessage {
        context: ActionContext::Saml,
        app_id: sp.settings.app_id.clone(),
        display_text: format!("Sign in to {}", sp.settings.display_name),
        user_status: None,
    };
    let scope = Scope::parse("openid").map_err(|e| StoreError::Corrupt(format!("{e:?}")))?;
    let started = start::start(
        state,
        StartRequest {
            client: &client,
            subject: Subject::Known(user, Some(counts)),
            message,
            scope,
            acr: None,
            expires_in: state.requests.default_expiry.min(login.expires_at - now).max(1),
            user_code: None,
            notification_token: None,
            routing: client.metadata.device_routing,
        },
    )
    .await?;
    // A second submission racing this one loses here; its transaction stays
    // pending on the device and expires unanswered.
    state
        .store
        .attach_saml_transaction(&login.id, &started.transaction.id)
        .await?;
    Ok(())
}

/// The client an SP's transactions belong to (`saml:{sp id}`): it holds the
/// per-client rate limit and names the SP in the audit trail. It has no
/// secret and no keys, so it can never authenticate at the token endpoint.
/// Made on the SP's first login. Number matching is on: whoever types a
/// name in a browser can push that user, so the user types on the device
/// the number only the browser that began the login shows.
async fn sp_client(state: &AppState, sp: &SamlSp) -> Result<Arc<Client>, Refusal> {
    let id = sp_client_id(sp);
    if let Some(client) = state.store.client(&id).await? {
        return Ok(client);
    }
    let client = Client {
        id: id.clone(),
        secret_digest: None,
        metadata: ClientMetadata {
            number_matching: true,
            ..ClientMetadata::poll(&sp_client_name(sp))
        },
        created_at: state.clock.now(),
        updated_at: None,
        disabled_at: None,
    };
    match state.store.insert_client(&client).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Arc::new(client))
}

pub fn sp_client_name(sp: &SamlSp) -> String {
    format!("SAML SP {}", sp.settings.display_name)
}

pub fn sp_client_id(sp: &SamlSp) -> ClientId {
    ClientId::new(format!("{SP_CLIENT_PREFIX}{}", sp.id))
}

/// Whether `id` is an SP's client (registered ids are base64url, never `:`).
pub fn is_sp_client(id: &ClientId) -> bool {
    id.as_str().starts_with(SP_CLIENT_PREFIX)
}

const SP_CLIENT_PREFIX: &str = "saml:";

/// Why a login ended without a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Denied,
    Expired,
    /// The user was locked after the request was sent.
    Locked,
}

/// Where a started login stands.
pub enum Outcome {
    /// Not named yet (no number), or waiting for the device, which must be
    /// given `match_number` (shown to this browser only).
    Waiting {
        match_number: Option<String>,
    },
    /// The approved transaction and its user (boxed: the other outcomes are small).
    Approved(Box<(Transaction, User)>),
    Failed(Failure),
}

pub async fn outcome(state: &AppState, login: &SamlLogin) -> Result<Outcome, Refusal> {
    let Some(id) = &login.transaction_id else {
        return Ok(Outcome::Waiting { match_number: None });
    };
    // The transaction is removed with its user (unregister): nothing to approve.
    let Some(transaction) = state.store.transaction(id).await? else {
        return Ok(Outcome::Failed(Failure::Expired));
    };
    Ok(match transaction.phase(state.clock.now()) {
        Phase::Pending => Outcome::Waiting {
            match_number: transaction.match_number,
        },
        Phase::Expired => Outcome::Failed(Failure::Expired),
        Phase::Denied => Outcome::Failed(Failure::Denied),
        Phase::Approved | Phase::Consumed => match state.store.user(&transaction.user_id).await? {
            Some(user) if user.status == UserStatus::Active => Outcome::Approved(Box::new((transaction, user))),
            _ => Outcome::Failed(Failure::Locked),
        },
    })
}

/// Claims the one answer of `login`; false when it was answered before.
pub async fn claim_answer(state: &AppState, login: &SamlLogin) -> Result<bool, Refusal> {
    Ok(state.store.answer_saml_login(&login.id, state.clock.now()).await?)
}

/// The NameID value `sp` knows `user` by, or `None` when the format needs
/// what the user does not have (an e-mail address).
pub async fn name_id(state: &AppState, sp: &SamlSp, user: &User) -> Result<Option<String>, Refusal> {
    Ok(match sp.settings.name_id_format {
        NameIdFormat::Persistent => Some(
            state
                .store
                .persistent_name_id(&sp.id, &user.id, &random_id(), state.clock.now())
                .await?,
        ),
        NameIdFormat::Transient => Some(random_id()),
        NameIdFormat::EmailAddress => user.email.clone(),
        NameIdFormat::Unspecified => Some(user.id.to_string()),
    })
}

/// Forgets logins past their expiry and AuthnRequest IDs past theirs (a
/// request that old fails its IssueInstant check anyway); how many rows.
/// A hint of housekeeping: failures are logged.
pub async fn prune(state: &AppState) -> u64 {
    let now = state.clock.now();
    let logins = state.store.prune_saml_logins(now - LOGIN_GRACE).await;
    let ids = state.store.prune_request_ids(now).await;
    match (logins, ids) {
        (Ok(a), Ok(b)) => a + b,
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot prune SAML logins");
            0
        }
    }
}
