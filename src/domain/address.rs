//! Where a request comes from: its peer, or, when the peer is a proxy the
//! operator trusts, the address that proxy says it forwarded; and the key
//! the console's sign-in throttle counts failures by.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose `Forwarded` or `X-Forwarded-For` is believed (`trusted_proxies`: IP
/// addresses or CIDR networks, separated by commas or spaces). Empty: no
/// forwarded header is believed, and a proxy in front counts as one client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(list: &str) -> Result<Self, String> {
        let nets = list
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is neither an IP address nor a CIDR network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self(nets))
    }

    /// Whether `ip` is one of the proxies (an IPv4-mapped IPv6 address as IPv4).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted; then,
    /// walking `forwarded_for` (the `X-Forwarded-For` entries, in order)
    /// from the right, the first address that is not a trusted proxy. The
    /// entries left of it were written by the client and prove nothing.
    /// IPv4 peers of a dual-stack listener (`::ffff:a.b.c.d`) count as IPv4.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        let mut client = peer;
        if !self.trusts(peer) {
            return client;
        }
        for entry in forwarded_for.iter().rev() {
            match entry.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // Garbage from the client side: the last trusted hop is the client.
                Err(_) => break,
            }
        }
        client
    }
}

/// An IP address as rules count it (IPv4-mapped IPv6 as IPv4), when the
/// text is one.
pub fn canonical_ip(ip: &str) -> Option<String> {
    ip.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical().to_string())
}

/// The `for=` nodes of RFC 7239 `Forwarded` header values, in order, as
/// bare addresses: quotes, an IPv6 node's brackets and a port removed.
/// `unknown` and obfuscated nodes (`_hidden`) stay as they are, and, like
/// any entry that is not an address, end the walk in
/// [`TrustedProxies::client`].
pub fn forwarded_for<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    values
        .into_iter()
        .flat_map(|value| value.split(','))
        .flat_map(|element| element.split(';'))
        .filter_map(|pair| {
            let (name, node) = pair.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("for")
                .then(|| node.trim().trim_matches('"'))
        })
        .map(|node| match node.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            // `a.b.c.d:port`; an unbracketed IPv6 node has several colons.
            None if node.matches(':').count() == 1 => node.split(':').next().unwrap_or(node),
            None => node,
        })
        .collect()
}

/// What failed sign-ins are counted by: an IPv4 address, or an IPv6
/// address's /64 (one subscriber's usual allocation: walking through it
/// must not start the count again).
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => IpNet::new(IpAddr::V6(v6), 64)
                .map(|net| net.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_ipv4_mapped_peer_is_trusted_as_its_ipv4_address() {
        let proxies = TrustedProxies::parse("192.0.2.7").unwrap();
        assert!(proxies.trusts(ip("::ffff:192.0.2.7")));
        assert!(proxies.trusts(ip("192.0.2.7")));
        assert!(!proxies.trusts(ip("::ffff:192.0.2.8")));
    }

    #[test]
    fn only_a_trusted_peer_is_believed_and_only_up_to_the_first_untrusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap();
        let spoofed = ["6.6.6.6", "203.0.113.9"];
        assert_eq!(
            proxies.client(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1"),
            "untrusted peer"
        );
        assert_eq!(proxies.client(ip("10.1.2.3"), &spoofed), ip("203.0.113.9"));
        assert_eq!(
            proxies.client(ip("::ffff:10.1.2.3"), &spoofed),
            ip("203.0.113.9"),
            "dual stack"
        );
        let chained = ["6.6.6.6", "203.0.113.9", "192.0.2.7"];
        assert_eq!(proxies.client(ip("10.1.2.3"), &chained), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("10.1.2.3"), &["nonsense"]), ip("10.1.2.3"));
        assert_eq!(proxies.client(ip("10.1.2.3"), &[]), ip("10.1.2.3"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.1.2.3"), &spoofed),
            ip("10.1.2.3")
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }

    #[test]
    fn forwarded_nodes_are_read_as_addresses_and_anything_else_ends_the_walk() {
        let values = [
            r#"for=192.0.2.60;proto=https;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#,
            "for=198.51.100.7:8443",
        ];
        assert_eq!(
            forwarded_for(values),
            ["192.0.2.60", "2001:db8:cafe::17", "198.51.100.7"]
        );
        assert_eq!(forwarded_for(["by=10.0.0.1;proto=http"]), Vec::<&str>::new());
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let hidden = forwarded_for(["for=203.0.113.9, for=_hidden"]);
        assert_eq!(
            proxies.client(ip("10.0.0.2"), &hidden),
            ip("10.0.0.2"),
            "an obfuscated node names no one: the proxy counts as the client"
        );
        let chained = forwarded_for(["for=6.6.6.6, for=203.0.113.9", "for=10.9.9.9"]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &chained), ip("203.0.113.9"));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(throttle_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(throttle_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
