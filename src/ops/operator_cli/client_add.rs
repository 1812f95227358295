//! `trustid clients add`: registers a confidential client from the options
//! (the same rules as dynamic registration); its secret is printed once.

use std::path::{Path, PathBuf};

use crate::domain::client::{AuthMethod, ClientMetadata, DeliveryMode, MtlsSupport, SigningAlg};
use crate::domain::push::DeviceRouting;
use crate::domain::url::OutboundRule;
use crate::engine::admin;
use crate::store::Store;

use super::{Output, print};

/// Register a confidential client; a secret is printed once.
#[derive(clap::Args, Debug)]
pub struct ClientAdd {
    /// The name people see (`client_name`).
    #[arg(long)]
    pub name: String,
    /// poll, ping or push (CIBA §5).
    #[arg(long, default_value = "poll")]
    pub delivery_mode: DeliveryMode,
    /// Where ping and push notifications go (https; http on loopback in dev mode).
    #[arg(long)]
    pub notification_endpoint: Option<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or
    /// self_signed_tls_client_auth (the last two need the mtls setting).
    #[arg(long, default_value = "client_secret_basic")]
    pub auth_method: AuthMethod,
    /// Alg of the ID tokens it receives (ES256, PS256, RS256).
    #[arg(long, default_value = "ES256")]
    pub id_token_alg: SigningAlg,
    /// Alg of signed authentication requests (ES256, PS256, RS256).
    #[arg(long)]
    pub request_signing_alg: Option<SigningAlg>,
    /// The client's public keys: a JWK Set file.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// The client's public keys, fetched from this URL.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// Require a user_code with every request (CIBA §7.1.2).
    #[arg(long)]
    pub user_code: bool,
    /// Hold the client to the FAPI-CIBA profile.
    #[arg(long)]
    pub fapi: bool,
    /// Allow the management API (users, devices) with scope trustid:manage.
    #[arg(long)]
    pub management: bool,
    /// Number matching: the user types a number the relying party shows.
    #[arg(long)]
    pub number_matching: bool,
    /// Issuer whose login_hint_tokens the client may send...
    #[arg(long, requires = "login_hint_token_jwks")]
    pub login_hint_token_issuer: Option<String>,
    /// ...and that issuer's JWK Set file.
    #[arg(long, requires = "login_hint_token_issuer")]
    pub login_hint_token_jwks: Option<PathBuf>,
    /// Push requests to all of the user's devices, or to the preferred one.
    #[arg(long, default_value = "all")]
    pub device_routing: DeviceRouting,
    /// The client's push relay for devices on the webhook channel (https; http on loopback in dev mode).
    #[arg(long)]
    pub push_relay_uri: Option<String>,
    /// tls_client_auth: the certificate's subject DN (RFC 4514, e.g. CN=rp,O=Bank,C=SE).
    #[arg(long)]
    pub tls_subject_dn: Option<String>,
    /// tls_client_auth: a DNS name in the certificate's subjectAltName.
    #[arg(long)]
    pub tls_san_dns: Option<String>,
    /// tls_client_auth: a URI in the certificate's subjectAltName.
    #[arg(long)]
    pub tls_san_uri: Option<String>,
    /// tls_client_auth: an IP address in the certificate's subjectAltName.
    #[arg(long)]
    pub tls_san_ip: Option<String>,
    /// tls_client_auth: an e-mail address in the certificate's subjectAltName.
    #[arg(long)]
    pub tls_san_email: Option<String>,
    /// Bind access tokens to the client's TLS certificate (RFC 8705 §3).
    #[arg(long)]
    pub certificate_bound_tokens: bool,
    /// Where identity documents' parsed fields are verified (https; http on loopback in dev mode).
    #[arg(long)]
    pub identity_verification_uri: Option<String>,
    #[command(flatten)]
    pub output: Output,
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", path.display()))
}

pub async fn run(
    store: &dyn Store,
    outbound: &OutboundRule,
    mtls: MtlsSupport,
    now: i64,
    add: ClientAdd,
) -> anyhow::Result<()> {
    let metadata = ClientMetadata {
        client_name: add.name,
        token_endpoint_auth_method: add.auth_method,
        backchannel_token_delivery_mode: add.delivery_mode,
        backchannel_client_notification_endpoint: add.notification_endpoint,
        backchannel_authentication_request_signing_alg: add.request_signing_alg,
        backchannel_user_code_parameter: add.user_code,
        id_token_signed_response_alg: add.id_token_alg,
        jwks: add.jwks.as_deref().map(read_json).transpose()?,
        jwks_uri: add.jwks_uri,
        fapi_ciba: add.fapi,
        management: add.management,
        number_matching: add.number_matching,
        login_hint_token_issuer: add.login_hint_token_issuer,
        login_hint_token_jwks: add.login_hint_token_jwks.as_deref().map(read_json).transpose()?,
        device_routing: add.device_routing,
        push_relay_uri: add.push_relay_uri,
        tls_client_auth_subject_dn: add.tls_subject_dn,
        tls_client_auth_san_dns: add.tls_san_dns,
        tls_client_auth_san_uri: add.tls_san_uri,
        tls_client_auth_san_ip: add.tls_san_ip,
        tls_client_auth_san_email: add.tls_san_email,
        tls_client_certificate_bound_access_tokens: add.certificate_bound_tokens,
        identity_verification_uri: add.identity_verification_uri,
    };
    let created = admin::register_client(store, metadata, outbound, mtls, now).await?;
    print(&add.output, &created, |c| match &c.client_secret {
        Some(secret) => format!(
            "client_id:     {}\nclient_secret: {secret}\n(the secret is shown only now; trustid keeps only its hash)",
            c.client_id
        ),
        None => format!("client_id:     {}", c.client_id),
    })
}
