//! Reading a SAML protocol message as XML: any DOCTYPE refused (so no
//! entities), the size and node count capped, IDs unique in the document
//! (a second element with the root's ID is how signature wrapping hides).

use std::collections::HashSet;

use roxmltree::{Document, Node, ParsingOptions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::RequestError;
use crate::domain::saml_sp::EntityId;

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// SAML Core §8.3.6: an Issuer names an entity in this format, or none.
pub const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// The largest request document read (after inflating or base64).
pub const MAX_XML: usize = 64 * 1024;
/// A request is a handful of elements; thousands mean an attack.
const MAX_NODES: u32 = 4096;
/// The attributes XML-DSig resolves `URI="#…"` references against.
const ID_ATTRIBUTES: [&str; 4] = ["ID", "Id", "id", "AssertionID"];

/// Parses `xml` with DTDs refused. roxmltree refuses a DTD with content
/// but lets an empty `<!DOCTYPE x>` through, hence the scan first.
pub fn parse_document(xml: &str) -> Result<Document<'_>, RequestError> {
    if xml.len() > MAX_XML {
        return Err(RequestError::TooLarge {
            what: "request XML",
            limit: MAX_XML,
        });
    }
    if xml.contains("<!DOCTYPE") {
        return Err(RequestError::Doctype);
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => RequestError::Doctype,
        other => RequestError::Xml(other.to_string()),
    })?;
    let mut seen = HashSet::new();
    for node in doc.descendants().filter(Node::is_element) {
        for attr in node.attributes() {
            if attr.namespace().is_none() && ID_ATTRIBUTES.contains(&attr.name()) && !seen.insert(attr.value()) {
                return Err(RequestError::DuplicateId(attr.value().chars().take(64).collect()));
            }
        }
    }
    Ok(doc)
}

/// The one child element `ns:name` of `node`, if any; two are refused.
pub fn only_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &str,
    name: &'static str,
) -> Result<Option<Node<'a, 'i>>, RequestError> {
    let mut found = node
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns));
    let first = found.next();
    if found.next().is_some() {
        return Err(RequestError::DuplicateElement(name));
    }
    Ok(first)
}

/// An unqualified attribute of `node`.
pub fn attr<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.namespace().is_none() && a.name() == name)
        .map(|a| a.value())
}

pub fn required_attr<'a>(
    node: Node<'a, '_>,
    element: &'static str,
    attribute: &'static str,
) -> Result<&'a str, RequestError> {
    attr(node, attribute).ok_or(RequestError::MissingAttribute { element, attribute })
}

/// The text of a simple element: every text node joined (a comment inside
/// must not cut `https://sp<!---->.evil` short), trimmed, not empty; an
/// element child is refused.
pub fn text(node: Node<'_, '_>, label: &'static str) -> Result<String, RequestError> {
    if node.children().any(|c| c.is_element()) {
        return Err(RequestError::Xml(format!("{label} must hold text only")));
    }
    let joined: String = node.children().filter(Node::is_text).filter_map(|c| c.text()).collect();
    let trimmed = joined.trim();
    if trimmed.is_empty() {
        return Err(RequestError::Empty(label));
    }
    Ok(trimmed.to_owned())
}

/// An xs:dateTime in UTC (SAML Core §1.3.3: no time zone but `Z`).
pub fn instant(value: &str, attribute: &'static str) -> Result<OffsetDateTime, RequestError> {
    let bad = || RequestError::BadInstant {
        attribute,
        value: value.chars().take(64).collect(),
    };
    if !value.ends_with('Z') {
        return Err(bad());
    }
    OffsetDateTime::parse(value, &Rfc3339).map_err(|_| bad())
}

/// An xs:boolean.
pub fn boolean(value: &str, attribute: &'static str) -> Result<bool, RequestError> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(RequestError::BadBoolean {
            attribute,
            value: other.chars().take(64).collect(),
        }),
    }
}

/// The message's `saml:Issuer`: required (Web SSO profile §4.1.4.1), in
/// the entity format if it names one.
pub fn issuer(root: Node<'_, '_>) -> Result<EntityId, RequestError> {
    let node = only_child(root, ASSERTION_NS, "Issuer")?.ok_or(RequestError::MissingIssuer)?;
    if let Some(format) = attr(node, "Format")
        && format != ENTITY_FORMAT
    {
        return Err(RequestError::BadIssuer(format!(
            "Format is `{}`",
            format.chars().take(128).collect::<String>()
        )));
    }
    EntityId::parse(&text(node, "Issuer")?).map_err(RequestError::BadIssuer)
}

/// Whether `root` carries an enveloped `ds:Signature` (its direct child).
pub fn has_signature(root: Node<'_, '_>) -> Result<bool, RequestError> {
    Ok(only_child(root, DSIG_NS, "Signature")?.is_some())
}
