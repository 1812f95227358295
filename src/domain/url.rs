//! Rules for URLs trustid calls back or is reached at.

use std::net::IpAddr;

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

/// Where trustid may call on someone's behalf (a client's notification
/// endpoint, keys or push relay): [`check_callback_url`], and outside dev
/// mode no host that is or resolves to a loopback, private, link-local,
/// unique-local, shared (CGNAT), multicast or unspecified address, so a
/// client cannot aim trustid's requests into the network it runs in. The
/// hosts in `allowed` (an operator's own relay) are the one exception.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundRule {
    pub dev: bool,
    /// Host names or addresses, lowercase, that may be internal.
    pub allowed: Vec<String>,
}

impl OutboundRule {
    /// Dev mode: http on loopback and internal addresses allowed.
    pub fn dev() -> Self {
        Self {
            dev: true,
            allowed: Vec::new(),
        }
    }

    /// Outside dev mode, allowing nothing internal.
    pub fn strict() -> Self {
        Self::default()
    }

    /// `allowed` from its setting: host names or addresses, comma-separated.
    pub fn parse_allowed(text: &str) -> Result<Vec<String>, String> {
        let mut hosts = Vec::new();
        for host in text.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            let parsed = url::Host::parse(host).map_err(|e| format!("`{host}` is not a host name or address: {e}"))?;
            hosts.push(parsed.to_string().to_ascii_lowercase());
        }
        Ok(hosts)
    }

    /// Checks a URL at registration, and again before each call (an
    /// address written in the URL never reaches the resolver).
    pub fn check(&self, raw: &str) -> Result<Url, String> {
        let url = check_callback_url(raw, self.dev)?;
        if !self.dev && is_internal(&url) && !url.host_str().is_some_and(|h| self.allows(h)) {
            return Err("must not name an internal address (loopback, private, link-local or the like)".into());
        }
        Ok(url)
    }

    /// Whether `host` may be internal.
    pub fn allows(&self, host: &str) -> bool {
        self.dev
            || self
                .allowed
                .iter()
                .any(|a| a.eq_ignore_ascii_case(host.trim_end_matches('.')))
    }
}

fn is_internal(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => is_internal_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_internal_ip(IpAddr::V6(ip)),
        None => true,
    }
}

/// Loopback, private, link-local, unique-local, shared address space
/// (CGNAT), multicast, broadcast or unspecified: no address trustid calls
/// on a client's behalf.
pub fn is_internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => internal_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
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
            assert!(OutboundRule::strict().check(internal).is_err(), "{internal}");
        }
        assert!(OutboundRule::strict().check("https://rp.example.com/cb").is_ok());
        assert!(OutboundRule::strict().check("https://93.184.216.34/cb").is_ok());
        assert!(OutboundRule::dev().check("http://127.0.0.1:9/cb").is_ok(), "dev mode");
    }

    #[test]
    fn an_allowed_host_may_be_internal_and_only_it() {
        let allowed = OutboundRule::parse_allowed(" relay.internal , 10.0.0.5,[fd00::7]").unwrap();
        let rule = OutboundRule { dev: false, allowed };
        assert!(rule.check("https://10.0.0.5/push").is_ok());
        assert!(rule.check("https://[fd00::7]/push").is_ok());
        assert!(rule.check("https://10.0.0.6/push").is_err());
        assert!(rule.check("http://10.0.0.5/push").is_err(), "still https");
        assert!(rule.allows("RELAY.internal.") && !rule.allows("other.internal"));
        assert!(OutboundRule::parse_allowed("a b").is_err());
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
