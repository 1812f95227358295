//! Why a SAML request was refused, and how to answer the refusal: with a
//! Response carrying a SAML status to the SP's registered ACS, or, when
//! there is no SP to answer (the request could not be read, named no issuer,
//! or was not proven to come from it), with an HTML error page only.

pub use crate::saml::xml::status::{SubStatus, TopStatus};

/// How a refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// An HTML error page; no Response is sent anywhere.
    Page,
    /// A Response with this status (`InResponseTo` = the request's ID) to the
    /// SP's registered ACS, once its issuer is a registered SP; a page when
    /// it is not.
    Status(TopStatus, SubStatus),
}

/// Every refusal of the request parsers. The text is safe to show on the
/// error page: it names what was wrong, never a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request has no {0} parameter")]
    MissingParameter(&'static str),
    #[error("the request repeats the {0} parameter")]
    DuplicateParameter(&'static str),
    #[error("the {what} is larger than {limit} bytes")]
    TooLarge { what: &'static str, limit: usize },
    #[error("the request holds more than {limit} {what}")]
    TooMany { what: &'static str, limit: usize },
    #[error("the {0} parameter is not URL-encoded correctly")]
    BadEncoding(&'static str),
    #[error("the {0} parameter is not base64")]
    BadBase64(&'static str),
    #[error("SAMLRequest is not DEFLATE-compressed data")]
    BadDeflate,
    #[error("the request is not UTF-8 text")]
    NotUtf8,
    #[error("the request is not well-formed XML: {0}")]
    Xml(String),
    #[error("the request holds a DOCTYPE; DTDs and entities are refused")]
    Doctype,
    #[error("two elements of the request carry the ID `{0}`")]
    DuplicateId(String),
    #[error("the request is a {0}, not what this endpoint takes")]
    UnexpectedRequest(String),
    #[error("the {element} has no {attribute}")]
    MissingAttribute {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("the {0} element appears more than once")]
    DuplicateElement(&'static str),
    #[error("the request ID is not a valid XML ID (an NCName of at most 256 characters)")]
    BadId,
    #[error("the request has no Issuer")]
    MissingIssuer,
    #[error("the Issuer is not an entity ID: {0}")]
    BadIssuer(String),
    #[error("Version must be 2.0, not `{0}`")]
    Version(String),
    #[error("{attribute} is not a UTC xs:dateTime: `{value}`")]
    BadInstant { attribute: &'static str, value: String },
    #[error("{attribute} must be true or false, not `{value}`")]
    BadBoolean { attribute: &'static str, value: String },
    #[error("AssertionConsumerServiceIndex is not a number from 0 to 65535")]
    BadAcsIndex,
    #[error("AssertionConsumerServiceURL and AssertionConsumerServiceIndex exclude each other")]
    AcsUrlAndIndex,
    #[error("ProtocolBinding: {0}")]
    UnsupportedBinding(String),
    #[error("NameIDPolicy Format `{0}` is not one trustid issues")]
    UnsupportedNameIdFormat(String),
    #[error("the request names the subject with {0}, which trustid does not read (NameID only)")]
    UnsupportedSubject(&'static str),
    #[error("the {0} element is empty")]
    Empty(&'static str),
    #[error("SigAlg and Signature go together")]
    SignatureIncomplete,
    #[error("SigAlg `{0}` uses SHA-1, which is refused")]
    Sha1Refused(String),
    #[error("SigAlg `{0}` is not supported (RSA-SHA256, RSA-SHA512, ECDSA-SHA256)")]
    UnsupportedSigAlg(String),
    #[error("the SP's certificate holds a key that cannot check a {0} signature")]
    KeyMismatch(&'static str),
    #[error("the signature does not verify with the SP's registered certificate")]
    BadSignature,
    #[error("the request is not signed, and this service provider's requests must be")]
    Unsigned,
    #[error("this request was answered already; go back to the service and sign in again")]
    Replayed,
    #[error("the request's IssueInstant is too old or in the future; go back to the service and sign in again")]
    Stale,
}

impl RequestError {
    /// How to answer this refusal. Anything that leaves the sender or the
    /// request ID unproven is a page: a Response would carry the SP's name
    /// and an `InResponseTo` chosen by whoever forged the request.
    pub fn reply(&self) -> Reply {
        use RequestError::*;
        match self {
            Version(v) => Reply::Status(
                TopStatus::VersionMismatch,
                // The major number decides (SAML Core §4.1): "10.0" is higher, "1.1" lower.
                if v.split('.')
                    .next()
                    .and_then(|m| m.trim().parse::<u32>().ok())
                    .unwrap_or(0)
                    < 2
                {
                    SubStatus::RequestVersionTooLow
                } else {
                    SubStatus::RequestVersionTooHigh
                },
            ),
            BadInstant { .. } | BadBoolean { .. } | BadAcsIndex | Empty(_) => {
                Reply::Status(TopStatus::Requester, SubStatus::RequestUnsupported)
            }
            UnsupportedSubject(_) | TooMany { .. } => {
                Reply::Status(TopStatus::Requester, SubStatus::RequestUnsupported)
            }
            UnsupportedBinding(_) => Reply::Status(TopStatus::Requester, SubStatus::UnsupportedBinding),
            UnsupportedNameIdFormat(_) => Reply::Status(TopStatus::Requester, SubStatus::InvalidNameIdPolicy),
            MissingParameter(_)
            | DuplicateParameter(_)
            | TooLarge { .. }
            | BadEncoding(_)
            | BadBase64(_)
            | BadDeflate
            | NotUtf8
            | Xml(_)
            | Doctype
            | DuplicateId(_)
            | UnexpectedRequest(_)
            | MissingAttribute { .. }
            | DuplicateElement(_)
            | BadId
            | MissingIssuer
            | BadIssuer(_)
            | AcsUrlAndIndex
            | SignatureIncomplete
            | Sha1Refused(_)
            | UnsupportedSigAlg(_)
            | KeyMismatch(_)
            | BadSignature
            | Unsigned
            | Replayed
            | Stale => Reply::Page,
        }
    }
}

/// The request's ID and Issuer, read before a later part was refused: a
/// [`Reply::Status`] goes to that SP with `InResponseTo` = this ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub id: super::RequestId,
    pub issuer: crate::domain::saml_sp::EntityId,
}

/// A refusal, with the requester when it was known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct Refused {
    pub error: RequestError,
    pub requester: Option<Requester>,
}

impl Refused {
    /// How to answer: [`Reply::Page`] when no requester was read. The caller
    /// still answers with a page when the issuer is no registered SP, or
    /// when that SP signs its requests and the signature was not checked.
    pub fn reply(&self) -> Reply {
        match (self.error.reply(), &self.requester) {
            (Reply::Status(top, sub), Some(_)) => Reply::Status(top, sub),
            _ => Reply::Page,
        }
    }
}

impl From<RequestError> for Refused {
    fn from(error: RequestError) -> Self {
        Self { error, requester: None }
    }
}
