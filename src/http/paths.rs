//! Every path trustid serves, in one place: the router mounts these and
//! discovery advertises them, so the two cannot drift.

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/jwks";
pub const AUTHORIZE_PATH: &str = "/authorize";
pub const BACKCHANNEL_PATH: &str = "/bc-authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";
pub const INTROSPECT_PATH: &str = "/introspect";
pub const REVOKE_PATH: &str = "/revoke";
pub const REGISTER_PATH: &str = "/register";
pub const METRICS_PATH: &str = "/metrics";
pub const HEALTHZ_PATH: &str = "/healthz";
pub const READYZ_PATH: &str = "/readyz";
pub const OPENAPI_PATH: &str = "/openapi.yaml";
pub const DEVICES_PATH: &str = "/device/v1/devices";
pub const INBOX_PATH: &str = "/device/v1/inbox";
pub const INBOX_STREAM_PATH: &str = "/device/v1/inbox/stream";
pub const DECISION_PATH: &str = "/device/v1/transactions/{id}/decision";
pub const ACTIVATE_PATH: &str = "/device/v1/activate";
pub const BINDINGS_PATH: &str = "/manage/v1/bindings";
pub const BINDINGS_ACTIVATE_PATH: &str = "/manage/v1/bindings/activate";
pub const USERS_REGISTER_PATH: &str = "/manage/v1/users/register";
pub const CHECK_STATUS_PATH: &str = "/manage/v1/registrations/check-status";
pub const QR_PATH: &str = "/manage/v1/qr.svg";
pub const UNREGISTER_PATH: &str = "/manage/v1/users/{user_id}/unregister";
pub const REGISTRATION_TOKENS_PATH: &str = "/manage/v1/users/{user_id}/registration-tokens";
pub const USER_DEVICES_PATH: &str = "/manage/v1/users/{user_id}/devices";
pub const USER_DEVICE_PATH: &str = "/manage/v1/users/{user_id}/devices/{device_id}";
pub const PREFERRED_DEVICE_PATH: &str = "/manage/v1/users/{user_id}/devices/{device_id}/preferred";
pub const LOCK_PATH: &str = "/manage/v1/users/{user_id}/lock";
pub const UNLOCK_PATH: &str = "/manage/v1/users/{user_id}/unlock";
pub const PUSH_CHANNEL_PATH: &str = "/device/v1/push-channel";
pub const PUSH_EXCHANGE_PATH: &str = "/device/v1/push/exchange";
pub const DEVICE_PUSHES_PATH: &str = "/manage/v1/device-pushes";
pub const ACTIONS_PATH: &str = "/manage/v1/actions";
pub const IDENTITY_DOCUMENTS_PATH: &str = "/device/v1/identity-documents";
pub const USER_IDENTITY_DOCUMENTS_PATH: &str = "/manage/v1/users/{user_id}/identity-documents";
pub const ACTIONS_VALIDATE_PATH: &str = "/manage/v1/actions/validate";
pub const RULES_PATH: &str = "/manage/v1/rules";
pub const RULE_PATH: &str = "/manage/v1/rules/{rule_id}";
pub const SAML_METADATA_PATH: &str = "/saml/metadata";
pub const SAML_SSO_PATH: &str = "/saml/sso";
pub const SAML_SLO_PATH: &str = "/saml/slo";
pub const SAML_LOGIN_PATH: &str = "/saml/login/{id}";
pub const SAML_WAIT_PATH: &str = "/saml/wait/{id}";
pub const SAML_WAIT_STATE_PATH: &str = "/saml/wait/{id}/state";
pub const SAML_ASSET_PATH: &str = "/saml/assets/{name}";
pub const SAML_ASSERTIONS_PATH: &str = "/manage/v1/saml/assertions";
pub const ADMIN_PATH: &str = "/admin";
pub const ADMIN_SIGN_IN_PATH: &str = "/admin/sign-in";
pub const ADMIN_SIGN_OUT_PATH: &str = "/admin/sign-out";
pub const ADMIN_SIGN_IN_PHONE_PATH: &str = "/admin/sign-in/phone";
pub const ADMIN_PHONE_PATH: &str = "/admin/phone";
pub const ADMIN_SESSIONS_PATH: &str = "/admin/sessions";
pub const ADMIN_SESSION_REVOKE_PATH: &str = "/admin/sessions/{id}/revoke";
pub const ADMIN_ASSET_PATH: &str = "/admin/assets/{name}";
pub const ADMIN_TRANSACTIONS_PATH: &str = "/admin/transactions";
pub const ADMIN_TRANSACTION_PATH: &str = "/admin/transactions/{id}";
pub const ADMIN_TRANSACTION_CANCEL_PATH: &str = "/admin/transactions/{id}/cancel";
pub const ADMIN_AUDIT_PATH: &str = "/admin/audit";
pub const ADMIN_AUDIT_EXPORT_PATH: &str = "/admin/audit/export";
pub const ADMIN_USERS_PATH: &str = "/admin/users";
pub const ADMIN_KEYS_PATH: &str = "/admin/keys";
pub const ADMIN_CLIENTS_PATH: &str = "/admin/clients";
pub const ADMIN_CLIENT_PATH: &str = "/admin/clients/{id}";
pub const ADMIN_CLIENT_SECRET_PATH: &str = "/admin/clients/{id}/secret";
pub const ADMIN_CLIENT_DISABLE_PATH: &str = "/admin/clients/{id}/disable";
pub const ADMIN_CLIENT_ENABLE_PATH: &str = "/admin/clients/{id}/enable";
pub const ADMIN_CLIENT_RULES_PATH: &str = "/admin/clients/{id}/rules";
pub const ADMIN_CLIENT_RULE_REMOVE_PATH: &str = "/admin/clients/{id}/rules/{rule_id}/remove";
pub const ADMIN_SAML_PATH: &str = "/admin/saml";
pub const ADMIN_SAML_IMPORT_PATH: &str = "/admin/saml/import";
pub const ADMIN_SAML_SP_PATH: &str = "/admin/saml/{id}";
pub const ADMIN_SAML_SP_REMOVE_PATH: &str = "/admin/saml/{id}/remove";
pub const ADMIN_PENDING_PATH: &str = "/admin/pending";
pub const ADMIN_PENDING_EVENTS_PATH: &str = "/admin/pending/events";
pub const ADMIN_KEYS_ROTATE_PATH: &str = "/admin/keys/rotate";
pub const ADMIN_KEYS_RETIRE_PATH: &str = "/admin/keys/retire";
pub const ADMIN_USER_PATH: &str = "/admin/users/{id}";
pub const ADMIN_USER_STATUS_PATH: &str = "/admin/users/{id}/status";
pub const ADMIN_USER_ACTIVATION_PATH: &str = "/admin/users/{id}/activation";
pub const ADMIN_USER_DEVICE_PATH: &str = "/admin/users/{id}/devices/{device}";

/// Every path the router mounts; the OpenAPI test holds `openapi.yaml` to it.
pub const ALL_PATHS: [&str; 81] = [
    DISCOVERY_PATH,
    JWKS_PATH,
    AUTHORIZE_PATH,
    BACKCHANNEL_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    INTROSPECT_PATH,
    REVOKE_PATH,
    REGISTER_PATH,
    METRICS_PATH,
    HEALTHZ_PATH,
    READYZ_PATH,
    OPENAPI_PATH,
    DEVICES_PATH,
    INBOX_PATH,
    INBOX_STREAM_PATH,
    DECISION_PATH,
    ACTIVATE_PATH,
    BINDINGS_PATH,
    BINDINGS_ACTIVATE_PATH,
    USERS_REGISTER_PATH,
    CHECK_STATUS_PATH,
    QR_PATH,
    UNREGISTER_PATH,
    REGISTRATION_TOKENS_PATH,
    USER_DEVICES_PATH,
    USER_DEVICE_PATH,
    PREFERRED_DEVICE_PATH,
    LOCK_PATH,
    UNLOCK_PATH,
    PUSH_CHANNEL_PATH,
    PUSH_EXCHANGE_PATH,
    DEVICE_PUSHES_PATH,
    ACTIONS_PATH,
    IDENTITY_DOCUMENTS_PATH,
    USER_IDENTITY_DOCUMENTS_PATH,
    ACTIONS_VALIDATE_PATH,
    RULES_PATH,
    RULE_PATH,
    SAML_METADATA_PATH,
    SAML_SSO_PATH,
    SAML_SLO_PATH,
    SAML_LOGIN_PATH,
    SAML_WAIT_PATH,
    SAML_WAIT_STATE_PATH,
    SAML_ASSET_PATH,
    SAML_ASSERTIONS_PATH,
    ADMIN_PATH,
    ADMIN_SIGN_IN_PATH,
    ADMIN_SIGN_OUT_PATH,
    ADMIN_SIGN_IN_PHONE_PATH,
    ADMIN_PHONE_PATH,
    ADMIN_SESSIONS_PATH,
    ADMIN_SESSION_REVOKE_PATH,
    ADMIN_ASSET_PATH,
    ADMIN_TRANSACTIONS_PATH,
    ADMIN_TRANSACTION_PATH,
    ADMIN_TRANSACTION_CANCEL_PATH,
    ADMIN_AUDIT_PATH,
    ADMIN_AUDIT_EXPORT_PATH,
    ADMIN_USERS_PATH,
    ADMIN_USER_PATH,
    ADMIN_USER_STATUS_PATH,
    ADMIN_USER_ACTIVATION_PATH,
    ADMIN_USER_DEVICE_PATH,
    ADMIN_KEYS_PATH,
    ADMIN_KEYS_ROTATE_PATH,
    ADMIN_KEYS_RETIRE_PATH,
    ADMIN_CLIENTS_PATH,
    ADMIN_CLIENT_PATH,
    ADMIN_CLIENT_SECRET_PATH,
    ADMIN_CLIENT_DISABLE_PATH,
    ADMIN_CLIENT_ENABLE_PATH,
    ADMIN_CLIENT_RULES_PATH,
    ADMIN_CLIENT_RULE_REMOVE_PATH,
    ADMIN_SAML_PATH,
    ADMIN_SAML_IMPORT_PATH,
    ADMIN_SAML_SP_PATH,
    ADMIN_SAML_SP_REMOVE_PATH,
    ADMIN_PENDING_PATH,
    ADMIN_PENDING_EVENTS_PATH,
];
