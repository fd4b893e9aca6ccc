//! Trusted proxies and the rules for who a client is behind them: address ranges (`10.0.0.0/8`, `::1`), the
//! configured set of trusted proxies (`[proxy] trusted`), the walk of `X-Forwarded-For` that finds the client's
//! address, and the host names accepted for absolute URLs. Pure functions of their inputs; the server's
//! middleware (`server::security`) reads the headers and applies them.
//!
//! ```
//! use brandpunt::proxy::{IpNet, TrustedProxies};
//! let net = IpNet::parse("10.0.0.0/8").unwrap();
//! assert!(net.contains("10.1.2.3".parse().unwrap()));
//! assert!(TrustedProxies::parse(&["proxy.local".to_string()]).is_err());
//! ```

use std::net::{IpAddr, SocketAddr};

/// An address range: an IP address and a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parse `ADDR` or `ADDR/PREFIX` (IPv4 or IPv6). The error says why, in Dutch.
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{t}' is geen IP-adres of CIDR-bereik"))?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("'{t}': prefixlengte moet 0..{max} zijn")),
            },
        };
        Ok(IpNet { addr, prefix })
    }

    /// Is `ip` inside the range? (IPv4-mapped IPv6 addresses count as IPv4.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The peers whose `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` headers are believed
/// (config `[proxy] trusted`). Empty = nobody's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parse every entry; the error names the first bad one.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| IpNet::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Is `ip` one of the trusted proxies?
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address of a request that arrived from `peer` with the `X-Forwarded-For` entries `hops`
    /// (all header lines, split at commas, in order). The entries are walked from the right (the hop nearest to
    /// us) while the current hop is a trusted proxy; the first untrusted hop is the client, so a client cannot
    /// forge entries to the right of its own. An untrusted peer is the client itself; an unparsable entry stops
    /// the walk at the last trusted hop.
    ///
    /// ```
    /// use brandpunt::proxy::TrustedProxies;
    /// let trusted = TrustedProxies::parse(&["10.0.0.0/8".to_string()]).unwrap();
    /// let peer = Some("10.0.0.2".parse().unwrap());
    /// let client = trusted.client_addr(peer, &["1.1.1.1", " 203.0.113.5"]);
    /// assert_eq!(client, Some("203.0.113.5".parse().unwrap()));
    /// let direct = Some("192.0.2.9".parse().unwrap());
    /// assert_eq!(trusted.client_addr(direct, &["1.1.1.1"]), direct);
    /// ```
    pub fn client_addr(&self, peer: Option<IpAddr>, hops: &[&str]) -> Option<IpAddr> {
        let mut addr = peer.map(|p| p.to_canonical());
        for hop in hops.iter().rev() {
            if !addr.is_some_and(|a| self.contains(a)) {
                break;
            }
            match forwarded_addr(hop) {
                Some(ip) => addr = Some(ip),
                None => break,
            }
        }
        addr
    }
}

/// A host name with optional port, or `None` when it has characters a host never has (an attempt to inject
/// markup or a path into absolute URLs).
pub fn clean_host(h: &str) -> Option<String> {
    let ok = !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    ok.then(|| h.to_string())
}

/// One address of `X-Forwarded-For` (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`).
pub fn forwarded_addr(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    t.parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_ranges_match_by_prefix() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.255.3.4")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped IPv6");
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse(&["10.0.0.1".into(), "x".into()])
            .unwrap_err()
            .contains("'x'"));
    }

    #[test]
    fn forwarded_for_is_walked_from_the_nearest_hop() {
        let trusted = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        let hops = ["198.51.100.7", " 10.1.1.1"];
        assert_eq!(
            trusted.client_addr(Some(ip("127.0.0.1")), &hops),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            trusted.client_addr(Some(ip("192.0.2.9")), &hops),
            Some(ip("192.0.2.9"))
        );
        assert_eq!(
            trusted.client_addr(Some(ip("10.0.0.2")), &["1.1.1.1", "203.0.113.5"]),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(
            trusted.client_addr(Some(ip("10.0.0.2")), &["[::1]:80", "garbage"]),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(trusted.client_addr(None, &hops), None);
        assert_eq!(forwarded_addr("1.2.3.4:5678"), Some(ip("1.2.3.4")));
        assert_eq!(
            clean_host("kaart.example.nl:443").as_deref(),
            Some("kaart.example.nl:443")
        );
        assert_eq!(clean_host("x\"><script>"), None);
    }
}
