//! The address policy at connect time for the probe's client (reqwest 0.13, the version rmcp
//! speaks through): the same rule as the gateway's resolver, with a typed error so a refusal
//! reads as one and not as an unreachable host.
use reqwest013::dns::{Addrs, Name, Resolve, Resolving};

use app::servers::UpstreamPolicy;

/// Why every address of a host is refused.
#[derive(Debug)]
pub struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub struct PolicyResolver {
    policy: UpstreamPolicy,
}

impl PolicyResolver {
    pub fn new(policy: UpstreamPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addresses = crate::gateway::resolver::allowed(&host, found, policy).map_err(Refused)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}
