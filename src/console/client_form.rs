//! The form that edits a client: its fields as typed (so a refused form
//! comes back as it was sent), read from the stored metadata or a posted
//! body, and turned into [`ClientMetadata`]. Fields are named after the
//! RFC 7591 / CIBA members, so a refusal names the field it belongs to.

use serde_json::Value;

use super::guard::field;
use crate::domain::client::{ClientMetadata, MetadataError};

/// What the edit form holds.
#[derive(Debug, Clone, Default)]
pub struct EditForm {
    pub client_name: String,
    pub mode: String,
    pub endpoint: String,
    pub auth_method: String,
    pub jwks: String,
    pub jwks_uri: String,
    pub request_alg: String,
    pub id_token_alg: String,
    pub user_code: bool,
    pub fapi: bool,
    pub number_matching: bool,
    pub device_routing: String,
    pub push_relay_uri: String,
    pub management: bool,
}

/// The members the form has a field for; a refusal about another member
/// (`login_hint_token_issuer`, kept as stored) is said above the form.
pub const FIELDS: [&str; 14] = [
    "client_name",
    "backchannel_token_delivery_mode",
    "backchannel_client_notification_endpoint",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "backchannel_authentication_request_signing_alg",
    "id_token_signed_response_alg",
    "backchannel_user_code_parameter",
    "fapi_ciba",
    "number_matching",
    "device_routing",
    "push_relay_uri",
    "management",
];

impl EditForm {
    /// The form showing what is stored.
    pub fn of(m: &ClientMetadata) -> Self {
        Self {
            client_name: m.client_name.clone(),
            mode: m.backchannel_token_delivery_mode.as_str().into(),
            endpoint: m.backchannel_client_notification_endpoint.clone().unwrap_or_default(),
            auth_method: m.token_endpoint_auth_method.as_str().into(),
            jwks: m
                .jwks
                .as_ref()
                .and_then(|j| serde_json::to_string_pretty(j).ok())
                .unwrap_or_default(),
            jwks_uri: m.jwks_uri.clone().unwrap_or_default(),
            request_alg: m
                .backchannel_authentication_request_signing_alg
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
            id_token_alg: m.id_token_signed_response_alg.as_str().into(),
            user_code: m.backchannel_user_code_parameter,
            fapi: m.fapi_ciba,
            number_matching: m.number_matching,
            device_routing: m.device_routing.as_str().into(),
            push_relay_uri: m.push_relay_uri.clone().unwrap_or_default(),
            management: m.management,
        }
    }

    /// The form as posted.
    pub fn posted(body: &[u8]) -> Self {
        let text = |name: &str| field(body, name).unwrap_or_default().trim().to_owned();
        let checked = |name: &str| field(body, name).is_some();
        Self {
            client_name: text("client_name"),
            mode: text("backchannel_token_delivery_mode"),
            endpoint: text("backchannel_client_notification_endpoint"),
            auth_method: text("token_endpoint_auth_method"),
            jwks: text("jwks"),
            jwks_uri: text("jwks_uri"),
            request_alg: text("backchannel_authentication_request_signing_alg"),
            id_token_alg: text("id_token_signed_response_alg"),
            user_code: checked("backchannel_user_code_parameter"),
            fapi: checked("fapi_ciba"),
            number_matching: checked("number_matching"),
            device_routing: text("device_routing"),
            push_relay_uri: text("push_relay_uri"),
            management: checked("management"),
        }
    }

    /// The metadata the form asks for; members without a field stay as in
    /// `stored`. Only parsed here: the registration rules are the engine's.
    pub fn metadata(&self, stored: &ClientMetadata) -> Result<ClientMetadata, MetadataError> {
        let choose = |member: &'static str| {
            move |_| MetadataError {
                member,
                message: format!("Choose {member} from the list."),
            }
        };
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let jwks = match self.jwks.as_str() {
            "" => None,
            text => Some(serde_json::from_str::<Value>(text).map_err(|e| MetadataError {
                member: "jwks",
                message: format!("jwks is not JSON: {e}"),
            })?),
        };
        let request_alg = match self.request_alg.as_str() {
            "" => None,
            alg => Some(
                alg.parse()
                    .map_err(choose("backchannel_authentication_request_signing_alg"))?,
            ),
        };
        Ok(ClientMetadata {
            client_name: self.client_name.clone(),
            token_endpoint_auth_method: self.auth_method.parse().map_err(choose("token_endpoint_auth_method"))?,
            backchannel_token_delivery_mode: self.mode.parse().map_err(choose("backchannel_token_delivery_mode"))?,
            backchannel_client_notification_endpoint: optional(&self.endpoint),
            backchannel_authentication_request_signing_alg: request_alg,
            backchannel_user_code_parameter: self.user_code,
            id_token_signed_response_alg: self
                .id_token_alg
                .parse()
                .map_err(choose("id_token_signed_response_alg"))?,
            jwks,
            jwks_uri: optional(&self.jwks_uri),
            fapi_ciba: self.fapi,
            management: self.management,
            number_matching: self.number_matching,
            device_routing: self.device_routing.parse().map_err(choose("device_routing"))?,
            push_relay_uri: optional(&self.push_relay_uri),
            ..stored.clone()
        })
    }
}
