//! `GET /admin/clients/{id}/rules`: a client's adaptive rules in the order
//! they are evaluated, each with a button that removes it, and a form that
//! adds one (the rule as JSON, as the management API and `trustid rules`
//! take it); `POST` adds it, audited under the admin. A refused rule comes
//! back as typed, with the reason.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::client::{location, refused};
use super::guard::{SignedIn, check_form, field};
use super::page::{self, instant};
use crate::domain::client::Client;
use crate::domain::ids::ClientId;
use crate::domain::risk::Rule;
use crate::engine::AppState;
use crate::engine::clients;
use crate::engine::risk_rules;
use crate::engine::users::Actor;

#[derive(Template)]
#[template(path = "admin/client_rules.html")]
struct RulesPage<'a> {
    email: &'a str,
    csrf: &'a str,
    id: &'a str,
    /// Id, position, name, outcome, where it applies, its conditions (JSON), when added.
    rules: Vec<(String, i64, String, String, String, String, String)>,
    rule: String,
    position: String,
    error: Option<String>,
}

/// Where a client's rules page is.
pub fn rules_location(id: &str) -> String {
    format!("{}/rules", location(id))
}

async fn page_of(
    state: &AppState,
    who: &SignedIn,
    client: &Client,
    status: StatusCode,
    typed: (String, String, Option<String>),
) -> Response {
    let rules = match state.store.risk_rules(client.id.as_str()).await {
        Ok(rules) => rules,
        Err(e) => return page::unavailable(&e, "cannot read a client's rules"),
    };
    let rules = rules
        .into_iter()
        .map(|r| {
            let applies: Vec<&str> = r.rule.applies_to.iter().map(|p| p.as_str()).collect();
            let mut outcome = r.rule.outcome.as_str().to_owned();
            if r.rule.executive {
                outcome.push_str(" (executive)");
            }
            let conditions = serde_json::to_string(&r.rule.conditions).unwrap_or_default();
            (
                r.id,
                r.position,
                r.rule.name,
                outcome,
                applies.join(", "),
                conditions,
                instant(r.created_at),
            )
        })
        .collect();
    let (rule, position, error) = typed;
    page::render(
        status,
        &RulesPage {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            id: client.id.as_str(),
            rules,
            rule,
            position,
            error,
        },
    )
}

pub async fn show(State(state): State<AppState>, who: SignedIn, Path(id): Path<String>) -> Response {
    match clients::changeable(&state, &ClientId::from(id.as_str())).await {
        Ok(client) => page_of(&state, &who, &client, StatusCode::OK, Default::default()).await,
        Err(e) => refused(e),
    }
}

pub async fn add(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let client = match clients::changeable(&state, &ClientId::from(id.as_str())).await {
        Ok(client) => client,
        Err(e) => return refused(e),
    };
    let (text, position) = (
        field(&body, "rule").unwrap_or_default(),
        field(&body, "position").unwrap_or_default(),
    );
    let parsed = serde_json::from_str::<Rule>(&text).map_err(|e| format!("The rule is not valid JSON of a rule: {e}"));
    let at = match position.trim() {
        "" => Ok(None),
        p => p
            .parse::<i64>()
            .ok()
            .filter(|p| (0..=1_000_000).contains(p))
            .map(Some)
            .ok_or_else(|| "The position must be a whole number from 0 to 1000000.".to_owned()),
    };
    let actor = Actor::Admin(who.admin.email.to_string());
    let why = match (parsed, at) {
        (Ok(rule), Ok(at)) => match risk_rules::add(&state, &actor, &client, rule, at).await {
            Ok(_) => return Redirect::to(&rules_location(&id)).into_response(),
            Err(risk_rules::Refusal::Store(e)) => return page::unavailable(&e, "cannot add a rule"),
            Err(other) => other.to_string(),
        },
        (Err(why), _) | (_, Err(why)) => why,
    };
    page_of(
        &state,
        &who,
        &client,
        StatusCode::BAD_REQUEST,
        (text, position, Some(why)),
    )
    .await
}
