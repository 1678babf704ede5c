//! The client's address behind a reverse proxy. Only from a peer in `trusted_proxies` is the
//! forwarding header believed, and only the one the proxies write (`trusted_proxy_header`:
//! `X-Forwarded-For` by default, or RFC 7239 `Forwarded`; a proxy passes the other through as
//! the client sent it, so reading both would let a client choose its address). The client is
//! the nearest address in it that is not itself a trusted proxy. Whatever is decided replaces the request's
//! `ConnectInfo`, so throttling, the audit log, last used and the gateway all read the one
//! answer; the TCP peer stays available as [`Peer`].
use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};
use http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `trusted_proxies` setting: CIDRs or single addresses, as a list or one comma-separated
/// string (`GATEHOUSE_TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(items: &[&str]) -> Result<Self, String> {
        items
            .iter()
            .map(|item| item.trim())
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>().or_else(|_| item.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                    format!("trusted_proxies: \"{item}\" is not an address or a CIDR (write e.g. 10.0.0.0/8, 127.0.0.1 or ::1/128)")
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, from the forwarding header when `peer` is trusted.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap, header: ForwardingHeader) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_for(headers, header);
        // Nearest first: the last hop was added by the proxy that talks to us.
        let mut client = peer;
        for hop in chain.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        client
    }
}

/// IPv4 peers of a dual-stack listener arrive as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardingHeader {
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// The addresses `header` lists, farthest first. Unparseable entries (`unknown`, obfuscated
/// names) end the chain there, as nothing before them can be trusted to be what it says.
fn forwarded_for(headers: &HeaderMap, header: ForwardingHeader) -> Vec<IpAddr> {
    let hops: Vec<String> = if header == ForwardingHeader::Forwarded {
        headers
            .get_all(http::header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_string())
                })
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_string())
            .collect()
    };
    let parsed: Vec<Option<IpAddr>> = hops.iter().map(|hop| parse_hop(hop)).collect();
    // Keep only the unbroken run of parseable hops nearest to us.
    let nearest_good = parsed.iter().rposition(Option::is_none).map(|i| i + 1).unwrap_or(0);
    parsed[nearest_good..].iter().flatten().map(|ip| canonical(*ip)).collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[').and_then(|rest| rest.split(']').next()).and_then(|ip| ip.parse().ok())
}

/// The TCP peer a request came from, before any forwarding header was believed.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Replaces `ConnectInfo` with the client's address (see the module comment).
pub async fn believe_trusted_proxies(
    State(trust): State<std::sync::Arc<(TrustedProxies, ForwardingHeader)>>,
    mut request: Request,
    next: Next,
) -> Response {
    let (trusted, header) = &*trust;
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        request.extensions_mut().insert(Peer(peer));
        if !trusted.is_empty() {
            let client = trusted.client(peer.ip(), request.headers(), *header);
            if client != peer.ip() {
                request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, 0)));
            }
        }
    }
    next.run(request).await
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            List(Vec<String>),
            One(String),
        }
        let items: Vec<String> = match Given::deserialize(deserializer)? {
            Given::List(items) => items,
            Given::One(text) => text.split(',').map(str::to_string).collect(),
        };
        Self::parse(&items.iter().map(String::as_str).collect::<Vec<_>>()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    const XFF: ForwardingHeader = ForwardingHeader::XForwardedFor;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn headers_are_ignored_from_untrusted_peers_and_without_the_setting() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(TrustedProxies::default().client(ip("127.0.0.1"), &h, XFF), ip("127.0.0.1"));
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        assert_eq!(trusted.client(ip("192.0.2.7"), &h, XFF), ip("192.0.2.7"));
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "127.0.0.1"]).unwrap();
        // A client can put anything at the far end; only the hops our proxies added count.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &h, XFF), ip("203.0.113.9"));
        let h = headers(&[("forwarded", "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https")]);
        assert_eq!(trusted.client(ip("10.1.2.3"), &h, ForwardingHeader::Forwarded), ip("2001:db8::7"));
        let h = headers(&[("x-forwarded-for", "198.51.100.4:5555")]);
        assert_eq!(trusted.client(ip("::ffff:127.0.0.1"), &h, XFF), ip("198.51.100.4"));
    }

    #[test]
    fn only_the_header_the_proxies_write_is_read() {
        // nginx appends to X-Forwarded-For and passes the client's own Forwarded through.
        let trusted = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        let h = headers(&[("forwarded", "for=1.2.3.4"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &h, XFF), ip("203.0.113.9"));
        let h = headers(&[("forwarded", "for=198.51.100.2"), ("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &h, ForwardingHeader::Forwarded), ip("198.51.100.2"));
    }

    #[test]
    fn an_unreadable_hop_ends_the_chain() {
        let trusted = TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        let h = headers(&[("forwarded", "for=198.51.100.1, for=unknown")]);
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &h, ForwardingHeader::Forwarded),
            ip("127.0.0.1"),
            "nothing believable: the proxy itself"
        );
        let h = headers(&[("x-forwarded-for", "")]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &h, XFF), ip("127.0.0.1"));
    }

    #[test]
    fn settings_accept_lists_strings_and_bare_addresses() {
        let parsed: TrustedProxies = serde_json::from_str("\"10.0.0.0/8, 127.0.0.1,::1\"").unwrap();
        assert!(parsed.trusts(ip("10.9.9.9")) && parsed.trusts(ip("127.0.0.1")) && parsed.trusts(ip("::1")));
        let err = TrustedProxies::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(err.contains("is not an address or a CIDR"), "{err}");
    }
}
