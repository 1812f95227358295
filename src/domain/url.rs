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

/// A URL trustid itself calls (a client's notification endpoint, keys or
/// push relay): [`check_callback_url`], and outside dev mode no host that is
/// a loopback, private, link-local or otherwise internal address, so a
/// client cannot aim trustid's requests into the network it runs in. Names
/// are checked as written; what they resolve to is the network's to guard.
pub fn check_outbound_url(raw: &str, dev: bool) -> Result<Url, String> {
    let url = check_callback_url(raw, dev)?;
    if !dev && is_internal(&url) {
        return Err("must not name an internal address (loopback, private or link-local)".into());
    }
    Ok(url)
}

fn is_internal(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => internal_v4(ip),
        Some(url::Host::Ipv6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || ip.is_multicast()
                    || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
                    || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
            }
        },
        None => true,
    }
}

fn internal_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space, 100.64.0.0/10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbound_urls_never_name_internal_addresses_outside_dev_mode() {
        for internal in [
            "https://127.0.0.1/cb",
            "https://localhost/cb",
            "https://10.1.2.3/cb",
            "https://172.16.0.1/cb",
            "https://192.168.1.1/cb",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/cb",
            "https://0.0.0.0/cb",
            "https://[::1]/cb",
            "https://[fd00::1]/cb",
            "https://[fe80::1]/cb",
            "https://[::ffff:10.0.0.1]/cb",
        ] {
            assert!(check_outbound_url(internal, false).is_err(), "{internal}");
        }
        assert!(check_outbound_url("https://rp.example.com/cb", false).is_ok());
        assert!(check_outbound_url("https://93.184.216.34/cb", false).is_ok());
        assert!(check_outbound_url("http://127.0.0.1:9/cb", true).is_ok(), "dev mode");
    }

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
