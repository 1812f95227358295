//! `GET /admin/transactions/{id}`: one transaction: what was asked, of
//! whom, what the device was shown (and the hash it signs), its timeline
//! (`timeline.rs`), and its evidence as the OIDC claims and the SAML
//! attributes they map to. An open one can be cancelled from here.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::guard::SignedIn;
use super::page;
use super::page::{instant, instant_ms};
use super::timeline;
use super::transactions::phase_name;
use crate::crypto::device_jws::bm_hash;
use crate::domain::claims::{self, Evidence, Sources};
use crate::domain::transaction::Phase;
use crate::engine::AppState;

#[derive(Template)]
#[template(path = "admin/transaction.html")]
struct Detail<'a> {
    email: &'a str,
    csrf: &'a str,
    id: &'a str,
    /// Still open: the page offers to cancel it.
    open: bool,
    facts: Vec<(&'static str, String)>,
    /// When, its tone (a CSS class), what.
    timeline: Vec<(String, &'static str, String)>,
    evidence: Vec<(&'static str, &'static str, String)>,
}

fn shown(e: Evidence, v: &Value) -> String {
    match (e, v) {
        (Evidence::TransactionStartTime | Evidence::TransactionEndTime, Value::Number(n)) => {
            n.as_i64().map(instant).unwrap_or_default()
        }
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

pub async fn show(State(state): State<AppState>, who: SignedIn, Path(id): Path<String>) -> Response {
    let found = async {
        let Some(t) = state.store.transaction(&id).await? else {
            return Ok(None);
        };
        let (user, pushes, records, risk) = tokio::try_join!(
            state.store.user(&t.user_id),
            state.store.device_pushes_of(&id),
            state.store.timeline(&id),
            state.store.risk_event_of_transaction(&id)
        )?;
        Ok::<_, crate::store::StoreError>(Some((t, user, pushes, records, risk)))
    };
    let (t, user, pushes, records, risk) = match found.await {
        Ok(Some(found)) => found,
        Ok(None) => return page::error(StatusCode::NOT_FOUND, "There is no such transaction."),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a transaction");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let now = state.clock.now();
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    let facts = vec![
        ("Status", phase_name(t.phase(now)).to_owned()),
        ("Type", t.context.as_str().to_owned()),
        ("Client", t.client_id.to_string()),
        ("User", t.user_id.to_string()),
        ("App", or_dash(t.app_id.clone())),
        ("Text shown on the device", t.display_text.clone()),
        ("SHA-256 the device signs", bm_hash(&t.display_text)),
        (
            "Number matching",
            if t.match_number.is_some() { "yes" } else { "no" }.to_owned(),
        ),
        ("Scope", t.scope.clone()),
        ("Level (acr)", or_dash(t.acr.clone())),
        (
            "Adaptive rules",
            or_dash(risk.map(|e| {
                let rule = e.rule.map_or("no rule held".to_owned(), |r| format!("rule “{r}”"));
                format!("{} `{}`: {} ({rule})", e.point.as_str(), e.action, e.outcome.as_str())
            })),
        ),
        ("Created", instant(t.created_at)),
        ("Expires", instant(t.expires_at)),
        ("Decided", or_dash(t.decided_at.map(instant))),
        (
            "Decided by device",
            or_dash(t.device_id.as_ref().map(ToString::to_string)),
        ),
        ("Failed device attempts", t.failed_attempts.to_string()),
        (
            "Last failed device",
            or_dash(t.failed_device_id.as_ref().map(ToString::to_string)),
        ),
    ];
    let timeline = timeline::entries(&timeline::Sources {
        txn: &t,
        pushes: &pushes,
        records: &records,
        access_ttl: state.tokens.access_ttl,
        now,
    })
    .into_iter()
    .map(|e| (instant_ms(e.at_ms), e.tone, e.what))
    .collect();
    let evidence = user
        .map(|user| {
            let sources = Sources {
                transaction: &t,
                scope: &t.scope,
                user: &user,
            };
            claims::evidence(&sources)
                .into_iter()
                .map(|(e, v)| (e.oidc_name(), e.saml_name(), shown(e, &v)))
                .collect()
        })
        .unwrap_or_default();
    page::render(
        StatusCode::OK,
        &Detail {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            id: &id,
            open: t.phase(now) == Phase::Pending,
            facts,
            timeline,
            evidence,
        },
    )
}
