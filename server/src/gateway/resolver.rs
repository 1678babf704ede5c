//! Upstream host names are resolved here at connect time, and every address the operator's
//! policy refuses is dropped: a name that pointed at a public address when its server was saved
//! cannot later be turned (DNS rebinding) towards loopback, a private network or the cloud
//! metadata service. Address literals never reach a resolver; the view checks those once, when
//! it loads the server (`ServerEntry::refused`).
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use app::servers::UpstreamPolicy;

pub struct PolicyResolver {
    policy: UpstreamPolicy,
}

impl PolicyResolver {
    pub fn new(policy: UpstreamPolicy) -> Self {
        Self { policy }
    }
}

/// The addresses of `found` that `policy` allows, or why there are none.
pub fn allowed(host: &str, found: impl Iterator<Item = SocketAddr>, policy: UpstreamPolicy) -> Result<Vec<SocketAddr>, String> {
    let mut refused = None;
    let allowed: Vec<SocketAddr> = found
        .filter(|address| match policy.refuses(address.ip()) {
            Some(reason) => {
                refused = Some(format!("{host} resolves to {}: {reason}", address.ip()));
                false
            }
            None => true,
        })
        .collect();
    match (allowed.is_empty(), refused) {
        (false, _) => Ok(allowed),
        (true, Some(why)) => Err(why),
        (true, None) => Err(format!("{host} has no addresses")),
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addresses =
                allowed(&host, found, policy).inspect_err(|why| tracing::warn!(%why, "upstream address refused at connect time"))?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_addresses_are_dropped_and_none_left_is_an_error() {
        let strict = UpstreamPolicy { allow_loopback: false, allow_private: false };
        let public: SocketAddr = "93.184.215.14:0".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let metadata: SocketAddr = "169.254.169.254:0".parse().unwrap();
        assert_eq!(allowed("mixed.test", [loopback, public].into_iter(), strict), Ok(vec![public]));
        let why = allowed("rebound.test", [metadata].into_iter(), strict).unwrap_err();
        assert!(why.contains("169.254.169.254"), "{why}");
        assert!(allowed("empty.test", std::iter::empty(), strict).is_err());
        let loose = UpstreamPolicy { allow_loopback: true, allow_private: false };
        assert_eq!(allowed("localhost", [loopback].into_iter(), loose), Ok(vec![loopback]));
    }
}
