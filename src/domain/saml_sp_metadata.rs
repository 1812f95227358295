//! An SP's metadata (SAML Metadata §2.3.2, §2.4.4) read for the registry:
//! entity ID, display name, the HTTP-POST ACS endpoints and the signing
//! and encryption certificates. The operator imports a file they chose, but
//! it is still outside input: DOCTYPE refused, size and nodes capped.

use roxmltree::{Document, Node, ParsingOptions};
use url::Url;

use super::saml_cert::{CertUse, SpCertificate};
use super::saml_sp::{Acs, AcsBinding, EntityId, HTTP_POST_BINDING, HTTP_REDIRECT_BINDING, SamlSpSettings};

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const MDUI_NS: &str = "urn:oasis:names:tc:SAML:metadata:ui";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Metadata with a few certificates and endpoints is a few KiB.
pub const MAX_METADATA: usize = 512 * 1024;
const MAX_NODES: u32 = 20_000;

/// What SP metadata says, before the operator's overrides and the
/// registration rules (`SamlSpSettings::validate`) apply.
#[derive(Debug, Clone, PartialEq)]
pub struct SpMetadata {
    pub entity_id: EntityId,
    pub display_name: Option<String>,
    /// The HTTP-POST endpoints; other bindings cannot carry a Response.
    pub acs: Vec<Acs>,
    pub signing_cert: Option<SpCertificate>,
    pub encryption_cert: Option<SpCertificate>,
    /// The first SingleLogoutService over HTTP-POST or HTTP-Redirect.
    pub logout_url: Option<Url>,
}

impl SpMetadata {
    /// The registration it asks for: its endpoints, name and certificates,
    /// every other setting at its default.
    pub fn into_settings(self) -> SamlSpSettings {
        let mut settings = SamlSpSettings::with_acs(self.entity_id, self.acs);
        if let Some(name) = self.display_name {
            settings.display_name = name;
        }
        settings.signing_cert = self.signing_cert;
        settings.encryption_cert = self.encryption_cert;
        settings.logout_url = self.logout_url;
        settings
    }
}

/// Reads one `md:EntityDescriptor` with an `md:SPSSODescriptor`.
pub fn parse_sp_metadata(xml: &str) -> Result<SpMetadata, String> {
    if xml.len() > MAX_METADATA {
        return Err(format!("metadata is larger than {MAX_METADATA} bytes"));
    }
    if xml.contains("<!DOCTYPE") {
        return Err("metadata holds a DOCTYPE; DTDs and entities are refused".into());
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc =
        Document::parse_with_options(xml, options).map_err(|e| format!("metadata is not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if !is(root, MD_NS, "EntityDescriptor") {
        return Err(format!(
            "metadata must be one md:EntityDescriptor, not {}",
            root.tag_name().name()
        ));
    }
    let entity_id = EntityId::parse(root.attribute("entityID").ok_or("EntityDescriptor has no entityID")?)?;
    let mut sps = children(root, MD_NS, "SPSSODescriptor");
    let sp = sps.next().ok_or("metadata has no SPSSODescriptor: is it an SP's?")?;
    if sps.next().is_some() {
        return Err("metadata has more than one SPSSODescriptor".into());
    }
    let (signing_cert, encryption_cert) = certificates(sp)?;
    Ok(SpMetadata {
        display_name: display_name(root, sp),
        acs: acs_endpoints(sp)?,
        signing_cert,
        encryption_cert,
        logout_url: logout_url(sp)?,
        entity_id,
    })
}

/// Where LogoutResponses go: `ResponseLocation`, else `Location`.
fn logout_url(sp: Node<'_, '_>) -> Result<Option<Url>, String> {
    let usable = |n: &Node<'_, '_>| matches!(n.attribute("Binding"), Some(HTTP_POST_BINDING | HTTP_REDIRECT_BINDING));
    let Some(node) = children(sp, MD_NS, "SingleLogoutService").find(usable) else {
        return Ok(None);
    };
    let Some(location) = node.attribute("ResponseLocation").or(node.attribute("Location")) else {
        return Err("a SingleLogoutService has no Location".into());
    };
    Url::parse(location)
        .map(Some)
        .map_err(|e| format!("SingleLogoutService Location `{location}` is not a URL: {e}"))
}

fn is(node: Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

fn children<'a, 'i: 'a>(node: Node<'a, 'i>, ns: &'a str, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(*c, ns, name))
}

/// Every text node below `node`, joined and trimmed.
fn text(node: Node<'_, '_>) -> String {
    let joined: String = node
        .descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect();
    joined.trim().to_owned()
}

/// Of several localized names, the English one, else the first.
fn localized<'a, 'i: 'a>(nodes: impl Iterator<Item = Node<'a, 'i>>) -> Option<String> {
    let nodes: Vec<_> = nodes.collect();
    let english = nodes.iter().find(|n| n.attribute((XML_NS, "lang")) == Some("en"));
    english.or(nodes.first()).map(|n| text(*n)).filter(|t| !t.is_empty())
}

/// `mdui:DisplayName`, else `OrganizationDisplayName`, else `OrganizationName`.
fn display_name(root: Node<'_, '_>, sp: Node<'_, '_>) -> Option<String> {
    let ui = children(sp, MD_NS, "Extensions").flat_map(|e| children(e, MDUI_NS, "UIInfo"));
    let from_ui = localized(ui.flat_map(|u| children(u, MDUI_NS, "DisplayName")));
    let org = || children(root, MD_NS, "Organization");
    from_ui
        .or_else(|| localized(org().flat_map(|o| children(o, MD_NS, "OrganizationDisplayName"))))
        .or_else(|| localized(org().flat_map(|o| children(o, MD_NS, "OrganizationName"))))
}

fn acs_endpoints(sp: Node<'_, '_>) -> Result<Vec<Acs>, String> {
    let mut out = Vec::new();
    for node in children(sp, MD_NS, "AssertionConsumerService") {
        if node.attribute("Binding") != Some(HTTP_POST_BINDING) {
            continue;
        }
        let location = node
            .attribute("Location")
            .ok_or("an AssertionConsumerService has no Location")?;
        let url = Url::parse(location).map_err(|e| format!("ACS Location `{location}` is not a URL: {e}"))?;
        let index = match node.attribute("index") {
            Some(i) => i
                .trim()
                .parse()
                .map_err(|_| format!("ACS index `{i}` is not a number from 0 to 65535"))?,
            None => u16::try_from(out.len()).map_err(|_| "too many ACS endpoints")?,
        };
        let is_default = match node.attribute("isDefault").map(str::trim) {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => return Err(format!("ACS isDefault `{other}` is not a boolean")),
        };
        out.push(Acs {
            url,
            binding: AcsBinding::HttpPost,
            index,
            is_default,
        });
    }
    if out.is_empty() {
        return Err("metadata has no AssertionConsumerService with the HTTP-POST binding".into());
    }
    Ok(out)
}

/// The first signing and the first encryption certificate. A KeyDescriptor
/// without `use` serves both (SAML Metadata §2.4.1.1); its key is taken for
/// encryption only when it can encrypt (RSA).
fn certificates(sp: Node<'_, '_>) -> Result<(Option<SpCertificate>, Option<SpCertificate>), String> {
    let (mut signing, mut encryption) = (None, None);
    for kd in children(sp, MD_NS, "KeyDescriptor") {
        let Some(cert_node) = kd.descendants().find(|n| is(*n, DSIG_NS, "X509Certificate")) else {
            continue;
        };
        let pem = text(cert_node);
        let usage = kd.attribute("use");
        if matches!(usage, None | Some("signing")) && signing.is_none() {
            signing =
                Some(SpCertificate::parse(&pem, CertUse::Signing).map_err(|e| format!("signing certificate {e}"))?);
        }
        match usage {
            Some("encryption") if encryption.is_none() => {
                encryption = Some(
                    SpCertificate::parse(&pem, CertUse::Encryption)
                        .map_err(|e| format!("encryption certificate {e}"))?,
                );
            }
            None if encryption.is_none() => encryption = SpCertificate::parse(&pem, CertUse::Encryption).ok(),
            None | Some("signing" | "encryption") => {}
            Some(other) => return Err(format!("KeyDescriptor use `{other}` is neither signing nor encryption")),
        }
    }
    Ok((signing, encryption))
}

#[cfg(test)]
#[path = "saml_sp_metadata_tests.rs"]
mod tests;
