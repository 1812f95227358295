//! The subject's NameID as one SP sees it; the formats (SAML-core §8.3) are
//! the registry's [`NameIdFormat`].

pub use crate::domain::saml_sp::NameIdFormat;

/// The subject's name as one SP sees it.
#[derive(Debug, Clone, Copy)]
pub struct NameId<'a> {
    pub format: NameIdFormat,
    pub value: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_through_their_uris() {
        for f in NameIdFormat::ALL {
            assert_eq!(NameIdFormat::from_urn(f.urn()), Some(f));
        }
        assert_eq!(
            NameIdFormat::from_urn("urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"),
            None
        );
    }
}
