//! The IdP metadata (SAML-metadata §2.4.3): what a service provider loads to
//! trust trustid: its entity ID, signing certificates, endpoints and NameID
//! formats.

use super::name_id::NameIdFormat;
use super::writer::Writer;
use super::{BINDING_POST, BINDING_REDIRECT, METADATA_NS, PROTOCOL_NS};
use crate::crypto::xmldsig::DSIG_NS;

/// What the metadata describes.
#[derive(Debug, Clone, Copy)]
pub struct IdpMetadata<'a> {
    pub entity_id: &'a str,
    /// Where AuthnRequests go, over both bindings.
    pub sso_url: &'a str,
    /// Where LogoutRequests go, over both bindings.
    pub slo_url: &'a str,
    /// Base64 DER certificates: the current signing one and every next one
    /// (`SamlKeys::published_certs`), so SPs know a key before it signs.
    pub signing_certs: &'a [String],
}

/// The `md:EntityDescriptor` document.
pub fn metadata(m: &IdpMetadata<'_>) -> String {
    let mut w = Writer::new();
    w.element(
        "md:EntityDescriptor",
        &[
            ("xmlns:md", METADATA_NS),
            ("xmlns:ds", DSIG_NS),
            ("entityID", m.entity_id),
        ],
        |w| {
            w.element(
                "md:IDPSSODescriptor",
                &[("protocolSupportEnumeration", PROTOCOL_NS)],
                |w| {
                    // The schema's order: keys, logout, NameID formats, SSO.
                    for cert in m.signing_certs {
                        w.element("md:KeyDescriptor", &[("use", "signing")], |w| {
                            w.element("ds:KeyInfo", &[], |w| {
                                w.element("ds:X509Data", &[], |w| {
                                    w.text_element("ds:X509Certificate", &[], cert);
                                });
                            });
                        });
                    }
                    for binding in [BINDING_REDIRECT, BINDING_POST] {
                        w.empty(
                            "md:SingleLogoutService",
                            &[("Binding", binding), ("Location", m.slo_url)],
                        );
                    }
                    for format in NameIdFormat::ALL {
                        w.text_element("md:NameIDFormat", &[], format.urn());
                    }
                    for binding in [BINDING_REDIRECT, BINDING_POST] {
                        w.empty(
                            "md:SingleSignOnService",
                            &[("Binding", binding), ("Location", m.sso_url)],
                        );
                    }
                },
            );
        },
    );
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bergshamra::xml::uppsala;

    #[test]
    fn every_signing_certificate_and_both_bindings_are_described() {
        let certs = ["Q0VSVDE=".to_owned(), "Q0VSVDI=".to_owned()];
        let xml = metadata(&IdpMetadata {
            entity_id: "https://idp.example/saml?a=1&b=2",
            sso_url: "https://idp.example/saml/sso",
            slo_url: "https://idp.example/saml/slo",
            signing_certs: &certs,
        });
        let doc = uppsala::parse(&xml).unwrap();
        let root = doc.document_element().unwrap();
        assert_eq!(
            doc.element(root).unwrap().get_attribute("entityID"),
            Some("https://idp.example/saml?a=1&b=2")
        );
        let count = |local: &str| doc.get_elements_by_tag_name_ns(METADATA_NS, local).len();
        assert_eq!(count("KeyDescriptor"), 2);
        assert_eq!(count("SingleSignOnService"), 2);
        assert_eq!(count("SingleLogoutService"), 2);
        assert_eq!(count("NameIDFormat"), 4);
        assert!(xml.contains("<ds:X509Certificate>Q0VSVDI=</ds:X509Certificate>"));
    }
}
