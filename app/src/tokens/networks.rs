//! Where a token may be used from: a list of CIDRs (a bare address is one host), or anywhere.
//! Checked by the gateway against the client's address as the trusted proxies give it.
use std::net::IpAddr;

use ipnet::IpNet;

/// At most this many networks per token.
pub const MAX_NETWORKS: usize = 50;

/// The allowlist as written (`10.0.0.0/8, 203.0.113.7`), or an error naming the bad entry.
/// `any` (or nothing) allows every address.
pub fn parse(items: &[String]) -> Result<Vec<IpNet>, String> {
    let items: Vec<&str> = items.iter().flat_map(|i| i.split([',', ' ', '\n'])).map(str::trim).filter(|i| !i.is_empty()).collect();
    if items.len() == 1 && items[0].eq_ignore_ascii_case("any") {
        return Ok(Vec::new());
    }
    if items.len() > MAX_NETWORKS {
        return Err(format!("At most {MAX_NETWORKS} networks per token."));
    }
    let mut networks: Vec<IpNet> = Vec::new();
    for item in items {
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("\"{item}\" is not an address or a CIDR (write e.g. 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32)."))?;
        let net = net.trunc();
        if !networks.contains(&net) {
            networks.push(net);
        }
    }
    Ok(networks)
}

/// How the list is stored: a JSON array of CIDRs, or nothing for "any address".
pub fn stored(networks: &[IpNet]) -> Option<String> {
    (!networks.is_empty())
        .then(|| serde_json::to_string(&networks.iter().map(IpNet::to_string).collect::<Vec<_>>()).expect("strings serialise"))
}

/// The stored list read back. Unreadable allows nothing (fails closed).
pub fn from_stored(stored: Option<&str>) -> Option<Vec<IpNet>> {
    let stored = stored?;
    let strings: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
    let parsed = strings.iter().filter_map(|s| s.parse().ok()).collect::<Vec<IpNet>>();
    Some(parsed)
}

/// Whether `ip` is in one of `networks` (an IPv4 client seen as IPv6-mapped counts as IPv4).
pub fn allows(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    networks.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Result<Vec<IpNet>, String> {
        parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn cidrs_and_addresses_are_read_and_checked() {
        let nets = list(&["10.0.0.0/8, 203.0.113.7", "2001:db8::/32"]).unwrap();
        assert_eq!(nets.len(), 3);
        assert!(allows(&nets, "10.1.2.3".parse().unwrap()));
        assert!(allows(&nets, "203.0.113.7".parse().unwrap()));
        assert!(!allows(&nets, "203.0.113.8".parse().unwrap()));
        assert!(allows(&nets, "::ffff:10.9.9.9".parse().unwrap()), "IPv4-mapped");
        assert!(allows(&nets, "2001:db8::1".parse().unwrap()));
        assert!(!allows(&nets, "127.0.0.1".parse().unwrap()));
        assert_eq!(list(&["10.1.2.3/8"]).unwrap()[0].to_string(), "10.0.0.0/8", "host bits dropped");
        assert_eq!(list(&["any"]).unwrap(), Vec::<IpNet>::new());
        assert_eq!(list(&[]).unwrap(), Vec::<IpNet>::new());
        assert!(list(&["10.0.0.0/33"]).unwrap_err().contains("10.0.0.0/33"));
        assert!(list(&["example.com"]).is_err());
        assert!(list(&(0..51).map(|i| format!("10.0.0.{i}")).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>()).is_err());
    }

    #[test]
    fn storage_round_trips_and_fails_closed() {
        let nets = list(&["10.0.0.0/8", "::1"]).unwrap();
        assert_eq!(from_stored(stored(&nets).as_deref()), Some(nets));
        assert_eq!(stored(&[]), None);
        assert_eq!(from_stored(None), None, "no list: any address");
        assert_eq!(from_stored(Some("garbage")), Some(vec![]), "unreadable: no address");
    }
}
