//! trustid: an OpenID Connect CIBA authorization server that reaches the
//! user's bound phone and returns a decision the phone signed.
//!
//! This file builds the router from an [`AppState`]; nothing else.

pub mod clock;
pub mod config;
pub mod console;
pub mod crypto;
pub mod device_api;
pub mod device_cli;
pub mod domain;
pub mod engine;
pub mod face;
pub mod http;
pub mod logging;
pub mod manage;
pub mod oidc;
pub mod ops;
pub mod refuse_nul;
pub mod request_id;
pub mod request_timeout;
pub mod saml;
pub mod server;
pub mod store;

use axum::Router;
use axum::routing::{delete, get, post, put};
use tower_http::trace::TraceLayer;

pub use engine::AppState;
use http::paths;

/// Every route trustid serves.
pub fn router(state: AppState) -> Router {
    let router = match state.server.metrics_separate {
        true => Router::new(),
        false => Router::new().route(paths::METRICS_PATH, get(ops::metrics::scrape)),
    };
    let router = router
        .route(paths::DISCOVERY_PATH, get(oidc::discovery::describe))
        .route(paths::JWKS_PATH, get(oidc::jwks::publish))
        .route(
            paths::AUTHORIZE_PATH,
            get(oidc::authorize::refuse).post(oidc::authorize::refuse),
        )
        .route(paths::BACKCHANNEL_PATH, post(oidc::backchannel::authorize))
        .route(paths::TOKEN_PATH, post(oidc::token::exchange))
        .route(
            paths::USERINFO_PATH,
            get(oidc::userinfo::describe_user).post(oidc::userinfo::describe_user),
        )
        .route(paths::INTROSPECT_PATH, post(oidc::introspect::introspect))
        .route(paths::REVOKE_PATH, post(oidc::revoke::revoke))
        .route(paths::REGISTER_PATH, post(oidc::register::register))
        .route(paths::OPENAPI_PATH, get(ops::openapi::serve))
        .route(paths::DEVICES_PATH, post(device_api::register::enroll))
        .route(paths::INBOX_STREAM_PATH, get(device_api::inbox::stream))
        .route(paths::DECISION_PATH, post(device_api::decision::decide))
        .route(paths::ACTIVATE_PATH, post(device_api::activate::activate))
        .route(paths::BINDINGS_PATH, post(manage::bindings::bind))
        .route(paths::BINDINGS_ACTIVATE_PATH, post(manage::bindings::activate))
        .route(paths::USERS_REGISTER_PATH, post(manage::register::register))
        .route(paths::QR_PATH, get(manage::qr::render))
        .route(paths::UNREGISTER_PATH, post(manage::unregister::unregister))
        .route(paths::REGISTRATION_TOKENS_PATH, post(manage::tokens::issue))
        .route(paths::USER_DEVICES_PATH, get(manage::devices::list))
        .route(paths::USER_DEVICE_PATH, delete(manage::devices::remove))
        .route(paths::PREFERRED_DEVICE_PATH, post(manage::devices::prefer))
        .route(paths::LOCK_PATH, post(manage::devices::lock))
        .route(paths::UNLOCK_PATH, post(manage::devices::unlock))
        .route(
            paths::PUSH_CHANNEL_PATH,
            put(device_api::push_channel::set).delete(device_api::push_channel::clear),
        )
        .route(paths::PUSH_EXCHANGE_PATH, post(device_api::push_exchange::exchange))
        .route(paths::DEVICE_PUSHES_PATH, post(manage::device_pushes::report))
        .route(paths::ACTIONS_PATH, post(manage::actions::track))
        .route(
            paths::IDENTITY_DOCUMENTS_PATH,
            get(device_api::identity_documents::list).post(device_api::identity_documents::register),
        )
        .route(
            paths::USER_IDENTITY_DOCUMENTS_PATH,
            get(manage::identity_documents::list).delete(manage::identity_documents::remove),
        )
        .route(paths::ACTIONS_VALIDATE_PATH, post(manage::action_validate::validate))
        .route(paths::RULES_PATH, get(manage::rules::list).post(manage::rules::add))
        .route(
            paths::RULE_PATH,
            put(manage::rule_item::update).delete(manage::rule_item::remove),
        )
        .route(paths::SAML_METADATA_PATH, get(saml::web::metadata::describe))
        .route(
            paths::SAML_SSO_PATH,
            get(saml::web::sso::redirect_binding).post(saml::web::sso::post_binding),
        )
        .route(
            paths::SAML_SLO_PATH,
            get(saml::web::slo::redirect_binding).post(saml::web::slo::post_binding),
        )
        .route(paths::SAML_LOGIN_PATH, post(saml::web::login::name_user))
        .route(paths::SAML_WAIT_PATH, get(saml::web::wait::wait))
        .route(paths::SAML_WAIT_STATE_PATH, get(saml::web::wait::state))
        .route(paths::SAML_ASSET_PATH, get(saml::web::assets::serve))
        .route(paths::SAML_ASSERTIONS_PATH, post(saml::web::export::export))
        .route(paths::ADMIN_PATH, get(console::dashboard::show))
        .route(
            paths::ADMIN_SIGN_IN_PATH,
            get(console::sign_in::form).post(console::sign_in::submit),
        )
        .route(paths::ADMIN_SIGN_OUT_PATH, post(console::sign_out::sign_out))
        .route(paths::ADMIN_SIGN_IN_PHONE_PATH, get(console::sign_in_phone::wait))
        .route(
            paths::ADMIN_PHONE_PATH,
            get(console::phone::show).post(console::phone::bind),
        )
        .route(paths::ADMIN_SESSIONS_PATH, get(console::sessions::list))
        .route(paths::ADMIN_SESSION_REVOKE_PATH, post(console::sessions::revoke))
        .route(paths::ADMIN_ASSET_PATH, get(console::assets::serve))
        .route(paths::ADMIN_TRANSACTIONS_PATH, get(console::transactions::list))
        .route(paths::ADMIN_TRANSACTION_PATH, get(console::transaction::show))
        .route(
            paths::ADMIN_TRANSACTION_CANCEL_PATH,
            post(console::transaction_cancel::cancel),
        )
        .route(paths::ADMIN_AUDIT_PATH, get(console::audit::list))
        .route(paths::ADMIN_AUDIT_EXPORT_PATH, get(console::audit_export::export))
        .route(paths::ADMIN_USERS_PATH, get(console::users::search))
        .route(paths::ADMIN_USER_PATH, get(console::user::show))
        .route(paths::ADMIN_USER_STATUS_PATH, post(console::user_status::set))
        .route(paths::ADMIN_USER_ACTIVATION_PATH, post(console::user_activation::issue))
        .route(paths::ADMIN_USER_DEVICE_PATH, post(console::user_device::act))
        .route(paths::ADMIN_KEYS_PATH, get(console::keys::list))
        .route(
            paths::ADMIN_SAML_PATH,
            get(console::saml_sps::list).post(console::saml_sps::add),
        )
        .route(paths::ADMIN_SAML_IMPORT_PATH, post(console::saml_sp_import::import))
        .route(
            paths::ADMIN_SAML_SP_PATH,
            get(console::saml_sp::show).post(console::saml_sp::save),
        )
        .route(paths::ADMIN_SAML_SP_REMOVE_PATH, post(console::saml_sp_remove::remove))
        .route(paths::ADMIN_PENDING_PATH, get(console::pending::list))
        .route(paths::ADMIN_PENDING_EVENTS_PATH, get(console::pending_events::events))
        .route(
            paths::ADMIN_CLIENTS_PATH,
            get(console::clients::list).post(console::clients::add),
        )
        .route(
            paths::ADMIN_CLIENT_PATH,
            get(console::client::show).post(console::client::save),
        )
        .route(paths::ADMIN_CLIENT_SECRET_PATH, post(console::client_secret::rotate))
        .route(paths::ADMIN_CLIENT_DISABLE_PATH, post(console::client_status::disable))
        .route(
            paths::ADMIN_CLIENT_RULES_PATH,
            get(console::client_rules::show).post(console::client_rules::add),
        )
        .route(
            paths::ADMIN_CLIENT_RULE_REMOVE_PATH,
            post(console::client_rule_remove::remove),
        )
        .route(paths::ADMIN_CLIENT_ENABLE_PATH, post(console::client_status::enable))
        .route(paths::ADMIN_KEYS_ROTATE_PATH, post(console::keys_change::rotate))
        .route(paths::ADMIN_KEYS_RETIRE_PATH, post(console::keys_change::retire))
        .layer(request_timeout::RequestTimeoutLayer(state.server.request_timeout))
        // Long-polls: their handlers bound the wait (`wait`, `timeoutSeconds`).
        .route(paths::INBOX_PATH, get(device_api::inbox::list))
        .route(paths::CHECK_STATUS_PATH, post(manage::check_status::check))
        .layer(refuse_nul::RefuseNulLayer);
    // Named, so that it is layered like the routes (merging the probes
    // below would otherwise put a bare default in its place).
    let router = router.fallback(|| async { axum::http::StatusCode::NOT_FOUND });
    let https = state.server.issuer.starts_with("https://");
    // Probed every few seconds: outside the trace layer (no access log line).
    let probes = Router::new()
        .route(paths::HEALTHZ_PATH, get(ops::health::healthz))
        .route(paths::READYZ_PATH, get(ops::health::readyz));
    http::security_headers::add(router, https)
        .layer(http::route_metrics::RouteMetricsLayer::new(state.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(request_id::RequestIdLayer)
        .merge(http::security_headers::add(probes, https))
        .with_state(state)
}

/// The span of one request: its id, method and path, never the query,
/// which may carry a secret (the activation password of a QR code's `data`).
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(request_id::X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!("request", request_id = id, method = %req.method(), path = req.uri().path())
}
