//! Where a request comes from: its peer, or, when the peer is a proxy the
//! operator trusts, the address that proxy says it forwarded; and the key
//! the console's sign-in throttle counts failures by.

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`trusted_proxies`: IP
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

    fn trusts(&self, ip: IpAddr) -> bool {
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
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(throttle_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key(ip("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(throttle_key(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
