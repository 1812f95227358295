//! SAML service providers trustid answers as an IdP (SAML 2.0 Metadata
//! §2.4.4); the rules their registration follows are `saml_sp_rules.rs`'s.

use serde::{Deserialize, Serialize};
use url::Url;

use super::claims::Evidence;
pub use super::claims::parse_attributes;
use super::saml_cert::SpCertificate;
pub use super::saml_sp_rules::SettingsError;
use super::str_enum::str_enum;

/// SAML Metadata §2.2.1: an entityID is a URI of at most 1024 characters.
pub const MAX_ENTITY_ID: usize = 1024;
/// SAML Bindings §3.4.3: a RelayState must not exceed 80 bytes.
pub const MAX_RELAY_STATE: usize = 80;
/// More ACS endpoints than this is a mistake, not a deployment.
pub const MAX_ACS: usize = 32;

/// An SP's entity ID: a URI (usually a URL), compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityId(String);

impl EntityId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.chars().count() > MAX_ENTITY_ID {
            return Err(format!("entity ID must be 1 to {MAX_ENTITY_ID} characters"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("entity ID must not contain spaces or control characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EntityId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<EntityId> for String {
    fn from(e: EntityId) -> String {
        e.0
    }
}

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a Response reaches an ACS. HTTP-Redirect cannot carry a Response
/// (SAML Bindings §3.4: a signed Response is too large for a URL and its
/// XML signature would not survive), so it is no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcsBinding {
    #[serde(rename = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")]
    HttpPost,
}

pub const HTTP_POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const HTTP_REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

impl AcsBinding {
    pub fn as_str(self) -> &'static str {
        match self {
            AcsBinding::HttpPost => HTTP_POST_BINDING,
        }
    }

    /// The binding URN of metadata or an AuthnRequest's `ProtocolBinding`.
    pub fn from_urn(urn: &str) -> Result<Self, String> {
        match urn {
            HTTP_POST_BINDING => Ok(AcsBinding::HttpPost),
            HTTP_REDIRECT_BINDING => Err("HTTP-Redirect cannot carry a Response: use HTTP-POST".into()),
            other => Err(format!("binding `{other}` is not supported (HTTP-POST only)")),
        }
    }
}

/// One AssertionConsumerService endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acs {
    #[serde(with = "super::url::text")]
    pub url: Url,
    pub binding: AcsBinding,
    pub index: u16,
    #[serde(default)]
    pub is_default: bool,
}

/// HTTP-POST endpoints at `urls`, indexed in order, the first the default.
/// Past the indexes a u16 holds the list is cut, and still refused: the
/// rules allow [`MAX_ACS`].
pub fn post_endpoints(urls: Vec<Url>) -> Vec<Acs> {
    urls.into_iter()
        .zip(0..=u16::MAX)
        .map(|(url, index)| Acs {
            url,
            binding: AcsBinding::HttpPost,
            index,
            is_default: index == 0,
        })
        .collect()
}

/// The NameID formats trustid issues (SAML Core §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NameIdFormat {
    /// A pairwise value per SP: stable, and not the user id.
    #[default]
    Persistent,
    Transient,
    EmailAddress,
    /// The user id.
    Unspecified,
}

impl NameIdFormat {
    pub const ALL: [NameIdFormat; 4] = [
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
        NameIdFormat::EmailAddress,
        NameIdFormat::Unspecified,
    ];

    /// The short name the CLI and the stored row use.
    pub fn as_str(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "persistent",
            NameIdFormat::Transient => "transient",
            NameIdFormat::EmailAddress => "emailAddress",
            NameIdFormat::Unspecified => "unspecified",
        }
    }

    pub fn urn(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            NameIdFormat::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            NameIdFormat::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }

    /// The format a URN names (an AuthnRequest's `NameIDPolicy/@Format`).
    pub fn from_urn(urn: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.urn() == urn)
    }

    /// Pairwise formats name the IdP and the SP they are meaningful between
    /// (`NameQualifier`, `SPNameQualifier`); the others are global.
    pub fn is_pairwise(self) -> bool {
        matches!(self, Self::Persistent | Self::Transient)
    }
}

/// Which elements of a Response trustid signs. Response is the default:
/// pysaml2 and most SPs want the Response signed (rust-deps §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignedParts {
    #[default]
    Response,
    Assertion,
    Both,
}

impl SignedParts {
    pub fn as_str(self) -> &'static str {
        match self {
            SignedParts::Response => "response",
            SignedParts::Assertion => "assertion",
            SignedParts::Both => "both",
        }
    }

    pub fn signs_response(self) -> bool {
        self != SignedParts::Assertion
    }

    pub fn signs_assertion(self) -> bool {
        self != SignedParts::Response
    }
}

str_enum!(
    NameIdFormat,
    "NameID format",
    [
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
        NameIdFormat::EmailAddress,
        NameIdFormat::Unspecified
    ]
);
str_enum!(
    SignedParts,
    "signed part (response, assertion or both)",
    [SignedParts::Response, SignedParts::Assertion, SignedParts::Both]
);

/// What an operator registers for an SP. Built from typed parts; the rules
/// across fields are [`SamlSpSettings::validate`]'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlSpSettings {
    pub entity_id: EntityId,
    pub display_name: String,
    pub acs: Vec<Acs>,
    /// When set, AuthnRequests and LogoutRequests must be signed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_cert: Option<SpCertificate>,
    /// When set, assertions are encrypted to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_cert: Option<SpCertificate>,
    #[serde(default)]
    pub name_id_format: NameIdFormat,
    /// The attributes released, by SAML name; `None`: all of the table.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::claims::saml_names")]
    pub attributes: Option<Vec<Evidence>>,
    #[serde(default)]
    pub sign: SignedParts,
    /// IdP-initiated login (`/saml/sso?sp=…`): off unless set.
    #[serde(default)]
    pub idp_initiated: bool,
    /// The RelayState an IdP-initiated login sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_relay_state: Option<String>,
    /// The app (`appId`) its logins are for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Its SingleLogoutService (HTTP-POST or Redirect): where a
    /// LogoutResponse goes. Without one, a logout ends on trustid's page.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::url::optional_text")]
    pub logout_url: Option<Url>,
    /// The clients that may export this SP's Assertions for their own
    /// approved transactions (`POST /manage/v1/saml/assertions`); none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exporters: Vec<String>,
}

impl SamlSpSettings {
    /// An SP with one HTTP-POST ACS (index 0) and every default.
    pub fn new(entity_id: EntityId, acs: Url) -> Self {
        let acs = Acs {
            url: acs,
            binding: AcsBinding::HttpPost,
            index: 0,
            is_default: false,
        };
        Self::with_acs(entity_id, vec![acs])
    }

    /// An SP with these ACS endpoints and every default.
    pub fn with_acs(entity_id: EntityId, acs: Vec<Acs>) -> Self {
        Self {
            display_name: entity_id.as_str().to_owned(),
            entity_id,
            acs,
            signing_cert: None,
            encryption_cert: None,
            name_id_format: NameIdFormat::default(),
            attributes: None,
            sign: SignedParts::default(),
            idp_initiated: false,
            default_relay_state: None,
            app_id: None,
            logout_url: None,
            exporters: Vec::new(),
        }
    }
}

/// A registered service provider.
#[derive(Debug, Clone, PartialEq)]
pub struct SamlSp {
    /// 128 random bits ([`super::ids::random_id`]): names the SP in trustid's
    /// own records without exposing its entity ID.
    pub id: String,
    pub settings: SamlSpSettings,
    pub created_at: i64,
}

impl SamlSp {
    pub fn entity_id(&self) -> &EntityId {
        &self.settings.entity_id
    }

    /// Whether its requests must carry a signature (it registered a key).
    pub fn requires_signed_requests(&self) -> bool {
        self.settings.signing_cert.is_some()
    }

    /// The ACS an AuthnRequest names by URL: only a registered one.
    pub fn acs_by_url(&self, url: &str) -> Option<&Acs> {
        self.settings.acs.iter().find(|a| a.url.as_str() == url)
    }

    pub fn acs_by_index(&self, index: u16) -> Option<&Acs> {
        self.settings.acs.iter().find(|a| a.index == index)
    }

    /// The ACS flagged default, else the first (SAML Metadata §2.2.3).
    pub fn default_acs(&self) -> Option<&Acs> {
        self.settings
            .acs
            .iter()
            .find(|a| a.is_default)
            .or_else(|| self.settings.acs.first())
    }

    /// Whether the SP receives `evidence` as an attribute.
    pub fn releases(&self, evidence: Evidence) -> bool {
        self.settings
            .attributes
            .as_ref()
            .is_none_or(|list| list.contains(&evidence))
    }
}

#[cfg(test)]
#[path = "saml_sp_tests.rs"]
mod tests;
