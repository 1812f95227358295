//! NameID formats (SAML-core §8.3) and how each is qualified.

/// The NameID formats trustid issues, in the metadata's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameIdFormat {
    /// A pairwise value per SP, stable, never the user id (§8.3.7).
    Persistent,
    /// A one-time value (§8.3.8).
    Transient,
    EmailAddress,
    /// The user id.
    Unspecified,
}

impl NameIdFormat {
    pub const ALL: [NameIdFormat; 4] = [Self::Persistent, Self::Transient, Self::EmailAddress, Self::Unspecified];

    pub fn uri(self) -> &'static str {
        match self {
            Self::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            Self::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            Self::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            Self::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }

    /// The format a URI names, if trustid issues it.
    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.uri() == uri)
    }

    /// Pairwise formats name the IdP and the SP they are meaningful between
    /// (`NameQualifier`, `SPNameQualifier`); the others are global.
    pub fn is_pairwise(self) -> bool {
        matches!(self, Self::Persistent | Self::Transient)
    }
}

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
            assert_eq!(NameIdFormat::from_uri(f.uri()), Some(f));
        }
        assert_eq!(
            NameIdFormat::from_uri("urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos"),
            None
        );
    }
}
