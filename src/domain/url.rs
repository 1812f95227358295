//! Rules for URLs trustid calls back or is reached at.

use url::Url;

/// True for `localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// https, or http on a loopback host in dev mode; no fragment.
pub fn check_callback_url(raw: &str, dev: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if dev && is_loopback_url(&url) => Ok(url),
        _ => Err("must be an https URL (http only on loopback in dev mode)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_callbacks_need_dev_mode() {
        assert!(check_callback_url("http://127.0.0.1:9/cb", true).is_ok());
        assert!(check_callback_url("http://127.0.0.1:9/cb", false).is_err());
        assert!(check_callback_url("http://example.com/cb", true).is_err());
        assert!(check_callback_url("https://example.com/cb#x", false).is_err());
    }
}

/// A URL stored as its text (`#[serde(with = "…::url::text")]`).
pub mod text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(url.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = String::deserialize(d)?;
        Url::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An optional URL stored as its text.
pub mod optional_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub fn serialize<S: Serializer>(url: &Option<Url>, s: S) -> Result<S::Ok, S::Error> {
        match url {
            Some(url) => s.serialize_some(url.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| Url::parse(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
