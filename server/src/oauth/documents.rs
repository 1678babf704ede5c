//! Client ID metadata documents (MCP authorization spec; draft-ietf-oauth-client-id-metadata-
//! document): a `client_id` that is an https URL is fetched, and the document it serves
//! describes the client. Fetched under the upstreams' address policy (a client id must not make
//! Gatehouse reach loopback, a private network or the cloud metadata service), without
//! redirects or proxies, within a size and a time limit, and kept as its `Cache-Control` says.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use futures::StreamExt;

use app::oauth::{OAuthError, ssr::clients::ClientMetadata};
use app::servers::UpstreamPolicy;

/// A document is a few hundred bytes (the draft suggests refusing more than 5 KB); 16 KiB
/// leaves room and bounds what one sign-in, and the cache, cost.
const MAX_BYTES: usize = 16 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Kept this long when the server says nothing, and never shorter or longer than these.
const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// At most this many documents are kept (16 KiB each at most): anyone can make Gatehouse fetch one.
const MAX_CACHED: usize = 2_000;

pub struct ClientDocuments {
    http: reqwest::Client,
    policy: UpstreamPolicy,
    cache: Mutex<HashMap<String, (ClientMetadata, Instant)>>,
}

impl ClientDocuments {
    /// `extra_roots`: PEM certificates trusted beside the public roots.
    pub fn new(policy: UpstreamPolicy, extra_roots: Option<&[u8]>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(crate::gateway::resolver::PolicyResolver::new(policy)))
            .timeout(TIMEOUT)
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION"), " (client metadata)"));
        if let Some(pem) = extra_roots {
            for certificate in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(Self { http: builder.build()?, policy, cache: Mutex::default() })
    }

    /// The document at `url`, from the cache while it is fresh.
    pub async fn fetch(&self, url: &str) -> Result<ClientMetadata, OAuthError> {
        let parsed = check_url(url, self.policy)?;
        if let Some(document) = self.cached(url) {
            return Ok(document);
        }
        let fail = |why: String| OAuthError::client(format!("Gatehouse could not read the client metadata document at {url}: {why}"));
        let response = self.http.get(parsed).header(http::header::ACCEPT, "application/json").send().await.map_err(|e| {
            fail(if e.is_timeout() {
                "it did not answer in time.".into()
            } else {
                "it could not be reached (or its address is not allowed).".into()
            })
        })?;
        if !response.status().is_success() {
            return Err(fail(format!("it answered {}.", response.status())));
        }
        let ttl = cache_ttl(response.headers());
        if response.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
            return Err(fail(format!("it is larger than {MAX_BYTES} bytes.")));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| fail("the answer broke off.".into()))?;
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(fail(format!("it is larger than {MAX_BYTES} bytes.")));
            }
            body.extend_from_slice(&chunk);
        }
        let document: ClientMetadata =
            serde_json::from_slice(&body).map_err(|e| fail(format!("it is not a JSON client metadata document ({e}).")))?;
        // Only a document that names itself is kept: one that cannot sign anyone in is not worth
        // memory, and naming arbitrary URLs must not fill the cache.
        if let Some(ttl) = ttl.filter(|_| document.client_id.as_deref() == Some(url)) {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= MAX_CACHED {
                let now = Instant::now();
                cache.retain(|_, (_, until)| *until > now);
            }
            if cache.len() < MAX_CACHED {
                cache.insert(url.to_string(), (document.clone(), Instant::now() + ttl));
            }
        }
        Ok(document)
    }

    fn cached(&self, url: &str) -> Option<ClientMetadata> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(url).filter(|(_, until)| *until > Instant::now()).map(|(document, _)| document.clone())
    }
}

/// A client id URL as the spec allows it: https, with a path, no fragment, no credentials, and
/// (for an address literal) an address the policy allows; host names are checked when resolved.
pub fn check_url(url: &str, policy: UpstreamPolicy) -> Result<url::Url, OAuthError> {
    let refused = |why: &str| OAuthError::client(format!("The client_id {url} is not a usable client metadata URL: {why}"));
    let parsed = url::Url::parse(url).map_err(|_| refused("it is not a URL."))?;
    if parsed.scheme() != "https" {
        return Err(refused("it must use https."));
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused("it may not have a fragment or credentials."));
    }
    if parsed.path().is_empty() || parsed.path() == "/" {
        return Err(refused("it must have a path."));
    }
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(refused("it has no host.")),
    };
    if let Some(reason) = literal.and_then(|ip| policy.refuses(ip)) {
        return Err(refused(&format!("its address is not allowed ({reason}).")));
    }
    Ok(parsed)
}

/// How long an answer may be kept (`None`: not at all), from `Cache-Control`.
fn cache_ttl(headers: &http::HeaderMap) -> Option<Duration> {
    let Some(value) = headers.get(http::header::CACHE_CONTROL).and_then(|v| v.to_str().ok()) else { return Some(DEFAULT_TTL) };
    let mut ttl = DEFAULT_TTL;
    for directive in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-store" || directive == "no-cache" {
            return None;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=").and_then(|s| s.trim_matches('"').parse::<u64>().ok()) {
            ttl = Duration::from_secs(seconds);
        }
    }
    Some(ttl.clamp(MIN_TTL, MAX_TTL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_urls_must_be_https_with_a_path_at_an_allowed_address() {
        let strict = UpstreamPolicy { allow_loopback: false, allow_private: false };
        assert!(check_url("https://claude.ai/oauth/mcp-client-metadata", strict).is_ok());
        for bad in [
            "http://app.example/client.json",
            "https://app.example",
            "https://app.example/",
            "https://app.example/c.json#x",
            "https://user:pw@app.example/c.json",
            "https://10.0.0.8/client.json",
            "https://127.0.0.1/client.json",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/client.json",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_sets_how_long_a_document_is_kept() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::CACHE_CONTROL, value.parse().unwrap());
            cache_ttl(&headers)
        };
        assert_eq!(cache_ttl(&http::HeaderMap::new()), Some(DEFAULT_TTL));
        assert_eq!(with("public, max-age=3600"), Some(Duration::from_secs(3600)));
        assert_eq!(with("max-age=5"), Some(MIN_TTL));
        assert_eq!(with("max-age=99999999"), Some(MAX_TTL));
        assert_eq!(with("no-store"), None);
    }
}
