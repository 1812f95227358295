//! The form that adds or edits a SAML service provider: its fields as typed
//! (so a refused form comes back as it was sent), read from stored settings
//! or a posted body, and parsed into [`SamlSpSettings`]. Fields are named
//! after the settings' members, so a refusal names the field it belongs to.
//! Only parsed here: the registration rules are `SamlSpSettings::validate`'s.

use url::Url;

use super::guard::{field, fields};
use crate::domain::claims::TABLE;
use crate::domain::saml_cert::{CertUse, SpCertificate};
use crate::domain::saml_sp::{
    EntityId, NameIdFormat, SamlSpSettings, SettingsError, SignedParts, parse_attributes, post_endpoints,
};

/// What the form holds.
#[derive(Debug, Clone, Default)]
pub struct SpForm {
    pub entity_id: String,
    pub display_name: String,
    /// One ACS URL a line.
    pub acs: String,
    pub signing_cert: String,
    pub encryption_cert: String,
    pub name_id_format: String,
    pub sign: String,
    /// Every attribute of the claim table, those added later included.
    pub all_attributes: bool,
    /// The SAML names ticked when not all.
    pub attributes: Vec<String>,
    pub idp_initiated: bool,
    pub default_relay_state: String,
    pub app_id: String,
    pub logout_url: String,
    /// Client ids, separated by spaces or commas.
    pub exporters: String,
}

/// The members the form has a field for; a refusal about another is said
/// above the form.
pub const FIELDS: [&str; 13] = [
    "entity_id",
    "display_name",
    "acs",
    "signing_cert",
    "encryption_cert",
    "name_id_format",
    "sign",
    "attributes",
    "idp_initiated",
    "default_relay_state",
    "app_id",
    "logout_url",
    "exporters",
];

/// The form and the refusal it came back with, as the templates show them.
pub struct FormView {
    pub form: SpForm,
    pub error: Option<SettingsError>,
    pub name_id_formats: Vec<&'static str>,
    pub signs: Vec<&'static str>,
    /// The claim table's SAML attribute names, in its order.
    pub attribute_names: Vec<&'static str>,
}

impl FormView {
    pub fn new(form: SpForm, error: Option<SettingsError>) -> Self {
        Self {
            form,
            error,
            name_id_formats: NameIdFormat::ALL.iter().map(|f| f.as_str()).collect(),
            signs: [SignedParts::Response, SignedParts::Assertion, SignedParts::Both]
                .iter()
                .map(|s| s.as_str())
                .collect(),
            attribute_names: TABLE.iter().map(|r| r.2).collect(),
        }
    }

    /// The refusal to show next to field `member`.
    pub fn error_at(&self, member: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.member == member)
            .map(|e| e.message.as_str())
    }

    /// A refusal about a member the form has no field for.
    pub fn error_above(&self) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| !FIELDS.contains(&e.member))
            .map(|e| e.message.as_str())
    }

    /// Whether attribute `name` is ticked.
    pub fn releases(&self, name: &str) -> bool {
        self.form.attributes.iter().any(|a| a == name)
    }
}

fn refused(member: &'static str, message: String) -> SettingsError {
    SettingsError { member, message }
}

impl SpForm {
    /// An empty add form: the settings' defaults, every attribute released.
    pub fn blank() -> Self {
        Self {
            name_id_format: NameIdFormat::default().as_str().into(),
            sign: SignedParts::default().as_str().into(),
            all_attributes: true,
            ..Self::default()
        }
    }

    /// The form showing what is stored.
    pub fn of(s: &SamlSpSettings) -> Self {
        Self {
            entity_id: s.entity_id.to_string(),
            display_name: s.display_name.clone(),
            acs: urls_text(&s.acs.iter().map(|a| &a.url).collect::<Vec<_>>()),
            signing_cert: s.signing_cert.as_ref().map(SpCertificate::to_pem).unwrap_or_default(),
            encryption_cert: s
                .encryption_cert
                .as_ref()
                .map(SpCertificate::to_pem)
                .unwrap_or_default(),
            name_id_format: s.name_id_format.as_str().into(),
            sign: s.sign.as_str().into(),
            all_attributes: s.attributes.is_none(),
            attributes: s
                .attributes
                .iter()
                .flatten()
                .map(|e| e.saml_name().to_owned())
                .collect(),
            idp_initiated: s.idp_initiated,
            default_relay_state: s.default_relay_state.clone().unwrap_or_default(),
            app_id: s.app_id.clone().unwrap_or_default(),
            logout_url: s.logout_url.as_ref().map(Url::to_string).unwrap_or_default(),
            exporters: s.exporters.join(" "),
        }
    }

    /// The form as posted.
    pub fn posted(body: &[u8]) -> Self {
        let text = |name: &str| field(body, name).unwrap_or_default().trim().to_owned();
        let checked = |name: &str| field(body, name).is_some();
        Self {
            entity_id: text("entity_id"),
            display_name: text("display_name"),
            acs: text("acs"),
            signing_cert: text("signing_cert"),
            encryption_cert: text("encryption_cert"),
            name_id_format: text("name_id_format"),
            sign: text("sign"),
            all_attributes: checked("all_attributes"),
            attributes: fields(body, "attributes"),
            idp_initiated: checked("idp_initiated"),
            default_relay_state: text("default_relay_state"),
            app_id: text("app_id"),
            logout_url: text("logout_url"),
            exporters: text("exporters"),
        }
    }

    /// The settings the form asks for. `stored` is the SP being edited: its
    /// entity ID stays, and so do its ACS endpoints (indexes, default) while
    /// their URLs are unchanged.
    pub fn settings(&self, stored: Option<&SamlSpSettings>) -> Result<SamlSpSettings, SettingsError> {
        let entity_id = match stored {
            Some(s) => s.entity_id.clone(),
            None => EntityId::parse(&self.entity_id).map_err(|e| refused("entity_id", e))?,
        };
        let urls = self
            .acs
            .split_whitespace()
            .map(|raw| Url::parse(raw).map_err(|e| refused("acs", format!("ACS URL `{raw}` is not a URL: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let acs = match stored {
            Some(s) if s.acs.iter().map(|a| &a.url).eq(urls.iter()) => s.acs.clone(),
            _ => post_endpoints(urls),
        };
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        let attributes = if self.all_attributes {
            None
        } else {
            Some(parse_attributes(&self.attributes).map_err(|_| {
                refused(
                    "attributes",
                    "tick the attributes this SP receives, or release all of them".into(),
                )
            })?)
        };
        Ok(SamlSpSettings {
            display_name: self.display_name.clone(),
            signing_cert: certificate(&self.signing_cert, CertUse::Signing, "signing_cert")?,
            encryption_cert: certificate(&self.encryption_cert, CertUse::Encryption, "encryption_cert")?,
            name_id_format: self
                .name_id_format
                .parse()
                .map_err(|_| refused("name_id_format", "choose a NameID format from the list".into()))?,
            sign: self
                .sign
                .parse()
                .map_err(|_| refused("sign", "choose what trustid signs from the list".into()))?,
            attributes,
            idp_initiated: self.idp_initiated,
            default_relay_state: optional(&self.default_relay_state),
            app_id: optional(&self.app_id),
            logout_url: match self.logout_url.as_str() {
                "" => None,
                raw => {
                    Some(Url::parse(raw).map_err(|e| refused("logout_url", format!("logout URL is not a URL: {e}")))?)
                }
            },
            exporters: self
                .exporters
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            ..SamlSpSettings::with_acs(entity_id, acs)
        })
    }
}

fn certificate(text: &str, usage: CertUse, member: &'static str) -> Result<Option<SpCertificate>, SettingsError> {
    if text.is_empty() {
        return Ok(None);
    }
    SpCertificate::parse(text, usage)
        .map(Some)
        .map_err(|e| refused(member, format!("the certificate {e}")))
}

fn urls_text(urls: &[&Url]) -> String {
    urls.iter().map(|u| u.as_str()).collect::<Vec<_>>().join("\n")
}
