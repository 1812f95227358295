//! The HTTP-POST binding (SAML Bindings §3.5): `SAMLRequest` is base64 of
//! the XML in a form field. Its signature is an enveloped XML signature,
//! checked by the caller over [`PostRequest::xml`] with the SP's registered
//! certificate; the parsed request then says which root it read
//! (`is_signed_root`), so a signature over another element does not count.

use super::error::RequestError;
use super::redirect::{MAX_RELAY_STATE, base64_bytes, printable};
use super::xml::MAX_XML;

/// The largest form body read: base64 of [`MAX_XML`], URL-encoded, with room.
pub const MAX_BODY: usize = 256 * 1024;

/// A request received over the POST binding, decoded, not yet parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRequest {
    pub xml: String,
    pub relay_state: Option<String>,
}

/// Reads the `application/x-www-form-urlencoded` body of a POST request.
pub fn parse_post(body: &[u8]) -> Result<PostRequest, RequestError> {
    if body.len() > MAX_BODY {
        return Err(RequestError::TooLarge {
            what: "form body",
            limit: MAX_BODY,
        });
    }
    let mut request = None;
    let mut relay_state = None;
    for (key, value) in form_urlencoded::parse(body) {
        let (slot, name) = match key.as_ref() {
            "SAMLRequest" => (&mut request, "SAMLRequest"),
            "RelayState" => (&mut relay_state, "RelayState"),
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(RequestError::DuplicateParameter(name));
        }
    }
    let request = request.ok_or(RequestError::MissingParameter("SAMLRequest"))?;
    let relay_state = match relay_state {
        Some(r) if r.len() > MAX_RELAY_STATE => {
            return Err(RequestError::TooLarge {
                what: "RelayState",
                limit: MAX_RELAY_STATE,
            });
        }
        Some(r) => Some(printable(r, "RelayState")?),
        None => None,
    };
    let xml = base64_bytes(request.as_bytes(), "SAMLRequest")?;
    if xml.len() > MAX_XML {
        return Err(RequestError::TooLarge {
            what: "request XML",
            limit: MAX_XML,
        });
    }
    Ok(PostRequest {
        xml: String::from_utf8(xml).map_err(|_| RequestError::NotUtf8)?,
        relay_state,
    })
}
