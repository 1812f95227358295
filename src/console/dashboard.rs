//! `GET /admin`: the dashboard. Transactions of the last hour and day by
//! where they stand, and what needs an operator's eye: notifications and
//! device pushes failing, locked users and devices. The counts are at most
//! `engine::dashboard::COUNTS_TTL` old.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page;
use crate::engine::AppState;
use crate::engine::dashboard::{self, Counts};
use crate::store::console::{Health, TransactionCounts};

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct Dashboard<'a> {
    email: &'a str,
    csrf: &'a str,
    hour: TransactionCounts,
    day: TransactionCounts,
    health: Health,
}

pub async fn show(State(state): State<AppState>, who: SignedIn) -> Response {
    let now = state.clock.now();
    let counts = async {
        let Counts { hour, day } = dashboard::counts(&state).await?;
        let health = state.store.health(now - 86_400).await?;
        Ok::<_, crate::store::StoreError>((hour, day, health))
    };
    match counts.await {
        Ok((hour, day, health)) => page::render(
            StatusCode::OK,
            &Dashboard {
                email: who.admin.email.as_str(),
                csrf: &who.session.csrf,
                hour,
                day,
                health,
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot count transactions");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            )
        }
    }
}
