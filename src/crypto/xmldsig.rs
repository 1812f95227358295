//! XML-DSig as SAML profiles it (SAML-core §5.4), over bergshamra: one
//! enveloped signature per signed element, exclusive C14N, RSA-SHA256 and
//! SHA-256, exactly one `Reference` whose URI is `#` + the ID of the element
//! that holds the signature.
//!
//! Verification trusts only the certificate the caller gives (never the
//! document's `KeyInfo`), refuses a DOCTYPE and duplicate IDs, and accepts a
//! signature only when it is the document element's own and covers exactly
//! that element: the caller then processes the element whose ID it returns and
//! nothing else, which is what defeats signature wrapping.

use bergshamra::core::algorithm;
use bergshamra::dsig::sign::sign_document_node;
use bergshamra::dsig::verify::verify_document;
use bergshamra::xml::uppsala::{self, Document, NodeId};
use bergshamra::{DsigContext, KeysManager, VerifyResult};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// SAML's assertion namespace, where `Issuer` lives.
const SAML_ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// Documents larger than this are refused before parsing, to verify or to
/// sign; SAML protocol messages are a few kilobytes.
pub const MAX_VERIFY_BYTES: usize = 256 * 1024;

/// Signature algorithms a verified message may use: RSA or ECDSA with SHA-2.
/// SHA-1 is refused (a collision-prone digest under a signature).
const SIGNATURE_METHODS: [&str; 6] = [
    algorithm::RSA_SHA256,
    algorithm::RSA_SHA384,
    algorithm::RSA_SHA512,
    algorithm::ECDSA_SHA256,
    algorithm::ECDSA_SHA384,
    algorithm::ECDSA_SHA512,
];
const DIGEST_METHODS: [&str; 3] = [algorithm::SHA256, algorithm::SHA384, algorithm::SHA512];
/// SAML-core §5.4.3/§5.4.4: exclusive C14N, with or without comments.
const C14N_METHODS: [&str; 2] = [algorithm::EXC_C14N, algorithm::EXC_C14N_WITH_COMMENTS];

/// Why signing or verification failed. The texts name the fault, never key
/// material or signature bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlDsigError {
    #[error("the document is larger than {MAX_VERIFY_BYTES} bytes")]
    TooLarge,
    #[error("the document holds a DOCTYPE")]
    Doctype,
    #[error("the document is not well-formed XML")]
    Malformed,
    #[error("two elements carry the same ID")]
    DuplicateId,
    #[error("no element carries the ID to sign")]
    NoSuchId,
    #[error("the element to sign has no saml:Issuer as its first child")]
    NoIssuer,
    #[error("the document element carries no signature")]
    Unsigned,
    #[error("the signature is not the profile SAML allows: {0}")]
    Profile(&'static str),
    #[error("the signature does not verify with the trusted certificate")]
    BadSignature,
    #[error("the signing key or certificate is unusable")]
    Key,
}

/// Signs RSA-SHA256 through OpenSSL, the library the JWT keys use.
struct OpensslRsaSha256(PKey<Private>);

impl kryptering::Signer for OpensslRsaSha256 {
    fn algorithm(&self) -> kryptering::SignatureAlgorithm {
        kryptering::SignatureAlgorithm::RsaPkcs1v15(kryptering::HashAlgorithm::Sha256)
    }

    fn sign(&self, data: &[u8]) -> kryptering::Result<Vec<u8>> {
        rsa_sha256(&self.0, data).map_err(|_| kryptering::Error::Crypto("RSA-SHA256 signing failed".into()))
    }
}

fn rsa_sha256(key: &PKey<Private>, data: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key)?;
    signer.update(data)?;
    signer.sign_to_vec()
}

/// An RSA key and its certificate, ready to sign XML (and, for the
/// HTTP-Redirect binding, raw bytes).
pub struct XmlSigner {
    ctx: DsigContext,
    key: PKey<Private>,
    /// `<ds:KeyInfo>` with the certificate, so an SP can see which key signed.
    key_info: String,
}

impl std::fmt::Debug for XmlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("XmlSigner")
    }
}

impl XmlSigner {
    /// `key` must be an RSA key; `cert_der` its certificate.
    pub fn new(key: PKey<Private>, cert_der: &[u8]) -> Result<Self, XmlDsigError> {
        if key.rsa().is_err() {
            return Err(XmlDsigError::Key);
        }
        use base64::Engine;
        let cert = base64::engine::general_purpose::STANDARD.encode(cert_der);
        let ctx =
            DsigContext::new_permissive(KeysManager::new()).with_hsm_signer(Box::new(OpensslRsaSha256(key.clone())));
        Ok(Self {
            ctx,
            key,
            key_info: format!(
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            ),
        })
    }

    /// RSA-SHA256 (PKCS#1 v1.5) over `data`: the HTTP-Redirect binding's
    /// signature over the query string (SAML-bindings §3.4.4.1).
    pub fn sign_bytes(&self, data: &[u8]) -> Result<Vec<u8>, XmlDsigError> {
        rsa_sha256(&self.key, data).map_err(|_| XmlDsigError::Key)
    }
}

/// Parses untrusted or generated XML: no DOCTYPE (so no entities), bounded.
fn parse(xml: &str) -> Result<Document<'_>, XmlDsigError> {
    if xml.len() > MAX_VERIFY_BYTES {
        return Err(XmlDsigError::TooLarge);
    }
    uppsala::Parser::new().with_forbid_dtd(true).parse(xml).map_err(|e| {
        if e.to_string().contains("DOCTYPE") || xml.contains("<!DOCTYPE") {
            XmlDsigError::Doctype
        } else {
            XmlDsigError::Malformed
        }
    })
}

fn element_children<'d>(doc: &'d Document<'_>, parent: NodeId) -> impl Iterator<Item = NodeId> + 'd {
    doc.children(parent)
        .into_iter()
        .filter(move |&c| doc.element(c).is_some())
}

fn is(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> bool {
    doc.element(node).is_some_and(|e| e.matches_name_ns(ns, local))
}

/// The elements whose `ID` is `id` (SAML's ID attribute is `ID`).
fn with_id<'d>(doc: &'d Document<'_>, id: &'d str) -> impl Iterator<Item = NodeId> + 'd {
    doc.descendants(doc.root())
        .into_iter()
        .filter(move |&n| doc.element(n).and_then(|e| e.get_attribute("ID")) == Some(id))
}

/// Signs the element whose `ID` is `id`: an enveloped signature placed right
/// after the element's `saml:Issuer`, where SAML's schema puts it. Any other
/// signature in the document is left as it is (an Assertion signed before its
/// Response), and keeps verifying: exclusive C14N makes each signature
/// independent of where its element sits.
pub fn sign(xml: &str, id: &str, signer: &XmlSigner) -> Result<String, XmlDsigError> {
    let mut doc = parse(xml)?;
    let mut found = with_id(&doc, id);
    let target = found.next().ok_or(XmlDsigError::NoSuchId)?;
    if found.next().is_some() {
        return Err(XmlDsigError::DuplicateId);
    }
    drop(found);
    let issuer = element_children(&doc, target)
        .next()
        .filter(|&c| is(&doc, c, SAML_ASSERTION_NS, "Issuer"))
        .ok_or(XmlDsigError::NoIssuer)?;
    let template = signature_template(id, &signer.key_info);
    let sig_doc = uppsala::parse(&template).map_err(|_| XmlDsigError::Malformed)?;
    let sig_root = sig_doc.document_element().ok_or(XmlDsigError::Malformed)?;
    let sig = doc.import_subtree(&sig_doc, sig_root).ok_or(XmlDsigError::Malformed)?;
    doc.insert_after(target, sig, issuer);
    sign_document_node(&signer.ctx, &mut doc, sig).map_err(|e| match e {
        bergshamra::Error::XmlStructure(m) if m.contains("duplicate ID") => XmlDsigError::DuplicateId,
        _ => XmlDsigError::Key,
    })?;
    Ok(doc.to_xml())
}

/// The `ds:Signature` SAML-core §5.4 wants, with empty values to fill.
fn signature_template(id: &str, key_info: &str) -> String {
    let id = escape_attr(id);
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
         <ds:SignatureMethod Algorithm=\"{rsa}\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{env}\"/><ds:Transform Algorithm=\"{c14n}\"/>\
         </ds:Transforms><ds:DigestMethod Algorithm=\"{sha}\"/><ds:DigestValue></ds:DigestValue>\
         </ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>{key_info}</ds:Signature>",
        c14n = algorithm::EXC_C14N,
        rsa = algorithm::RSA_SHA256,
        env = algorithm::ENVELOPED_SIGNATURE,
        sha = algorithm::SHA256,
    )
}

fn escape_attr(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

/// The certificate a verification trusts, and only it.
pub struct TrustedCert {
    der: Vec<u8>,
}

impl TrustedCert {
    /// A DER X.509 certificate (RSA or EC key); refused when unusable.
    pub fn from_der(der: &[u8]) -> Result<Self, XmlDsigError> {
        bergshamra::keys::loader::load_x509_cert_der(der).map_err(|_| XmlDsigError::Key)?;
        Ok(Self { der: der.to_vec() })
    }

    fn context(&self) -> Result<DsigContext, XmlDsigError> {
        let key = bergshamra::keys::loader::load_x509_cert_der(&self.der).map_err(|_| XmlDsigError::Key)?;
        let mut keys = KeysManager::new();
        keys.add_key(key);
        // Secure defaults: keys from the manager only, strict reference positions.
        Ok(DsigContext::new(keys))
    }
}

/// The element a verified signature covers: the document element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedElement {
    /// Its `ID`, the one the signature's only Reference names.
    pub id: String,
    /// Its local name (`AuthnRequest`, `LogoutRequest`, `Response`, …).
    pub name: String,
}

/// Verifies the document element's enveloped signature with `cert` only.
pub fn verify(xml: &str, cert: &TrustedCert) -> Result<SignedElement, XmlDsigError> {
    let doc = parse(xml)?;
    let root = doc.document_element().ok_or(XmlDsigError::Malformed)?;
    let root_el = doc.element(root).ok_or(XmlDsigError::Malformed)?;
    let id = root_el.get_attribute("ID").ok_or(XmlDsigError::Unsigned)?.to_owned();
    let name = root_el.name.local_name.to_string();
    let mut sigs = element_children(&doc, root).filter(|&c| is(&doc, c, DSIG_NS, "Signature"));
    let sig = sigs.next().ok_or(XmlDsigError::Unsigned)?;
    if sigs.next().is_some() {
        return Err(XmlDsigError::Profile("more than one signature on the element"));
    }
    check_profile(&doc, sig, &id)?;
    let result = verify_document(&cert.context()?, &doc).map_err(|e| match e {
        bergshamra::Error::XmlStructure(m) if m.contains("duplicate ID") => XmlDsigError::DuplicateId,
        _ => XmlDsigError::BadSignature,
    })?;
    match result {
        // bergshamra checks the first signature in document order: it must be
        // the one checked above, covering the document element and only it.
        VerifyResult::Valid {
            signature_node,
            references,
            ..
        } if signature_node == sig
            && references.len() == 1
            && references[0].digest_verified
            && references[0].resolved_node == Some(root) =>
        {
            Ok(SignedElement { id, name })
        }
        VerifyResult::Valid { .. } => Err(XmlDsigError::Profile("the signature covers another element")),
        VerifyResult::Invalid { .. } => Err(XmlDsigError::BadSignature),
    }
}

/// SAML-core §5.4: exclusive C14N, one Reference to the signature's parent,
/// the enveloped transform (plus exc-C14N) only, SHA-2.
fn check_profile(doc: &Document<'_>, sig: NodeId, id: &str) -> Result<(), XmlDsigError> {
    let child = |parent: NodeId, local: &str| element_children(doc, parent).find(|&c| is(doc, c, DSIG_NS, local));
    let algorithm_of = |node: Option<NodeId>| {
        node.and_then(|n| doc.element(n))
            .and_then(|e| e.get_attribute("Algorithm"))
            .unwrap_or("")
    };
    if element_children(doc, sig).any(|c| is(doc, c, DSIG_NS, "Object")) {
        return Err(XmlDsigError::Profile("ds:Object is not allowed"));
    }
    let info = child(sig, "SignedInfo").ok_or(XmlDsigError::Profile("no SignedInfo"))?;
    if !C14N_METHODS.contains(&algorithm_of(child(info, "CanonicalizationMethod"))) {
        return Err(XmlDsigError::Profile("canonicalization must be exclusive C14N"));
    }
    if !SIGNATURE_METHODS.contains(&algorithm_of(child(info, "SignatureMethod"))) {
        return Err(XmlDsigError::Profile("signature algorithm not allowed"));
    }
    let refs: Vec<NodeId> = element_children(doc, info)
        .filter(|&c| is(doc, c, DSIG_NS, "Reference"))
        .collect();
    let [reference] = refs[..] else {
        return Err(XmlDsigError::Profile("exactly one Reference is allowed"));
    };
    let uri = doc.element(reference).and_then(|e| e.get_attribute("URI"));
    if uri.and_then(|u| u.strip_prefix('#')) != Some(id) {
        return Err(XmlDsigError::Profile("the Reference must name the signed element's ID"));
    }
    if !DIGEST_METHODS.contains(&algorithm_of(child(reference, "DigestMethod"))) {
        return Err(XmlDsigError::Profile("digest algorithm not allowed"));
    }
    if let Some(transforms) = child(reference, "Transforms") {
        let ok = element_children(doc, transforms).all(|t| {
            let alg = algorithm_of(Some(t));
            alg == algorithm::ENVELOPED_SIGNATURE || C14N_METHODS.contains(&alg)
        });
        if !ok {
            return Err(XmlDsigError::Profile(
                "only the enveloped and exclusive C14N transforms are allowed",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "xmldsig_tests.rs"]
mod tests;
