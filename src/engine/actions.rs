//! Seed 002's tracked actions: a relying party's backend tells trustid what
//! a user is about to do (`signIn`, `payment`, …); the client's rules answer
//! ALLOW, CHALLENGE_REQUIRED or BLOCK with a token. A challenge reaches the
//! user's devices exactly as a CIBA request does (inbox, pushes, a signed
//! decision over the shown text, the same failed-attempt counters); the
//! backend then validates the token, once, to learn the outcome.

use serde_json::Value;

use crate::crypto::secret;
use crate::domain::binding_message::BindingMessage;
use crate::domain::client::Client;
use crate::domain::device::DeviceStatus;
use crate::domain::identity_document::EXECUTIVE_ACR;
use crate::domain::ids::{DeviceId, TransactionId, UserId};
use crate::domain::risk::{Outcome, Point};
use crate::domain::scope::Scope;
use crate::domain::transaction::Phase;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::identity_documents;
use crate::engine::risk::{self, Evaluation};
use crate::engine::start::{self, StartRequest, Subject};
use crate::store::{Limited, StoreError};

/// An action to track, its fields checked by the face.
pub struct Track<'a> {
    pub client: &'a Client,
    pub user_id: &'a UserId,
    pub action: &'a str,
    pub custom_data: Option<&'a Value>,
    pub address: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    /// The device the action is done on (one of the user's active devices).
    pub device_id: Option<&'a str>,
    /// What the device shows when challenged (default: "Confirm {action}").
    pub display_text: Option<&'a str>,
}

/// The verdict, with the token to validate it and the challenge sent.
#[derive(Debug)]
pub struct Tracked {
    pub outcome: Outcome,
    pub rule: Option<String>,
    /// None for BLOCK: there is nothing to validate.
    pub token: Option<String>,
    pub transaction_id: Option<TransactionId>,
    /// Until when the token can be validated.
    pub expires_at: Option<i64>,
}

/// Why an action could not be tracked (or its challenge not sent).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such user")]
    UnknownUser,
    #[error("no such active device of this user")]
    UnknownDevice,
    #[error("display_text: {0}")]
    InvalidText(String),
    #[error("the user is locked")]
    UserLocked,
    #[error("the user has no active device to verify with")]
    NoActiveDevice,
    #[error("an executive challenge needs an identity document the user registered")]
    NoIdentityDocument,
    #[error("too many requests for this user or client")]
    RateLimited(Limited),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub async fn track(state: &AppState, t: Track<'_>) -> Result<Tracked, Refusal> {
    let user = state
        .store
        .user(t.user_id.as_str())
        .await?
        .filter(|u| u.status != UserStatus::Removed)
        .ok_or(Refusal::UnknownUser)?;
    let device = match t.device_id {
        Some(id) => Some(
            state
                .store
                .device(id)
                .await?
                .filter(|d| d.user_id.as_ref() == Some(&user.id) && d.status == DeviceStatus::Active)
                .ok_or(Refusal::UnknownDevice)?,
        ),
        None => None,
    };
    let text = t
        .display_text
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Confirm {}", t.action));
    // The same rules as any text a device shows and signs.
    let message = BindingMessage::parse(&text).map_err(|e| Refusal::InvalidText(e.to_string()))?;
    let evaluation = Evaluation {
        client: t.client,
        user: &user,
        point: Point::Action,
        action: t.action,
        custom_data: t.custom_data,
        address: t.address,
        fingerprint: t.fingerprint,
        device: device.as_ref(),
    };
    let (verdict, mut event) = risk::evaluate(state, &evaluation).await?;
    let now = state.clock.now();
    let token = (verdict.outcome != Outcome::Block).then(secret::random_token);
    event.token_digest = token.as_deref().map(secret::digest);
    if verdict.outcome == Outcome::ChallengeRequired {
        if verdict.executive && !identity_documents::executive_ready(state, user.id.as_str()).await? {
            return Err(Refusal::NoIdentityDocument);
        }
        let request = StartRequest {
            client: t.client,
            subject: Subject::Known(user, None),
            message,
            scope: Scope::parse("openid").map_err(|e| Refusal::Internal(format!("{e:?}")))?,
            acr: verdict.executive.then(|| EXECUTIVE_ACR.to_owned()),
            expires_in: state.requests.default_expiry,
            user_code: None,
            notification_token: None,
            routing: t.client.metadata.device_routing,
        };
        let started = start::start(state, request).await.map_err(|e| match e {
            start::Refusal::UserLocked => Refusal::UserLocked,
            start::Refusal::NoActiveDevice => Refusal::NoActiveDevice,
            start::Refusal::RateLimited(limited) => Refusal::RateLimited(limited),
            start::Refusal::Store(e) => Refusal::Store(e),
            other => Refusal::Internal(other.to_string()),
        })?;
        event.transaction_id = Some(started.transaction.id.to_string());
    }
    state.store.insert_risk_event(&event).await?;
    risk::audit_block(state, &event).await?;
    tracing::info!(client_id = %t.client.id, outcome = verdict.outcome.as_str(), "action tracked");
    Ok(Tracked {
        outcome: verdict.outcome,
        rule: verdict.rule,
        expires_at: token.as_ref().map(|_| now + token_ttl(state)),
        token,
        transaction_id: event.transaction_id.map(Into::into),
    })
}

/// A token can be validated this long after its action was tracked: the
/// longest a challenge may stay open.
fn token_ttl(state: &AppState) -> i64 {
    state.requests.max_expiry
}

/// How a tracked action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Allowed,
    ChallengeSucceeded,
    ChallengeFailed,
    ChallengeExpired,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Allowed => "ALLOW",
            Ended::ChallengeSucceeded => "CHALLENGE_SUCCEEDED",
            Ended::ChallengeFailed => "CHALLENGE_FAILED",
            Ended::ChallengeExpired => "CHALLENGE_EXPIRED",
        }
    }
}

/// What validating a token answers.
#[derive(Debug)]
pub struct Validation {
    pub state: Ended,
    pub user_id: String,
    pub action: String,
    /// A device of the user approved the challenge with its signature.
    pub verified: bool,
    pub rule: Option<String>,
    pub transaction_id: Option<String>,
    pub device_id: Option<DeviceId>,
    pub decided_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    #[error("the token is unknown or was not issued to this client")]
    Unknown,
    #[error("the token was issued for another action")]
    OtherAction,
    #[error("the token has expired")]
    Expired,
    #[error("the challenge has not been decided yet; validate again later")]
    Pending,
    #[error("the token was validated already")]
    AlreadyValidated,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of the action `token` was issued for, answered once (a
/// challenge still open is answered without using the token up).
pub async fn validate(
    state: &AppState,
    client: &Client,
    token: &str,
    action: Option<&str>,
) -> Result<Validation, Invalid> {
    let event = state
        .store
        .risk_event_by_token(client.id.as_str(), &secret::digest(token))
        .await?
        .ok_or(Invalid::Unknown)?;
    if action.is_some_and(|a| a != event.action) {
        return Err(Invalid::OtherAction);
    }
    if event.validated_at.is_some() {
        return Err(Invalid::AlreadyValidated);
    }
    let now = state.clock.now();
    if now >= event.created_at + token_ttl(state) {
        return Err(Invalid::Expired);
    }
    let mut answer = Validation {
        state: Ended::Allowed,
        user_id: event.user_id.clone(),
        action: event.action.clone(),
        verified: false,
        rule: event.rule.clone(),
        transaction_id: event.transaction_id.clone(),
        device_id: None,
        decided_at: None,
    };
    if let Some(id) = &event.transaction_id {
        let txn = state.store.transaction(&TransactionId::from(id.as_str())).await?;
        let txn = txn.ok_or_else(|| StoreError::Corrupt(format!("risk event names missing transaction {id}")))?;
        answer.state = match txn.phase(now) {
            Phase::Pending => return Err(Invalid::Pending),
            Phase::Approved | Phase::Consumed => Ended::ChallengeSucceeded,
            Phase::Denied => Ended::ChallengeFailed,
            Phase::Expired => Ended::ChallengeExpired,
        };
        answer.verified = answer.state == Ended::ChallengeSucceeded;
        answer.device_id = txn.device_id;
        answer.decided_at = txn.decided_at;
    }
    // Two validations racing: one wins.
    if !state.store.validate_risk_event(&event.id, now).await? {
        return Err(Invalid::AlreadyValidated);
    }
    Ok(answer)
}
