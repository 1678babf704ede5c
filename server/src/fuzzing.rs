//! The properties Gatehouse's fuzz targets check, as plain functions over bytes. `cargo fuzz`
//! (`fuzz/`, run by `./dev harden`) feeds them generated inputs; `tests/fuzz_corpus.rs` replays
//! the kept corpus through them in the test command, so every input that once found a bug stays
//! a regression test. Each function panics when its property fails.
use std::{
    net::IpAddr,
    sync::{Arc, OnceLock},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::Mac;
use serde_json::Value;
use uuid::Uuid;

use app::servers::{Transport, UpstreamPolicy, UpstreamUrl};

use crate::gateway::{
    sse::{EndpointRewriting, SessionBindings},
    verify::{self, Grant},
    view::{AccessTables, KeyEntry, ServerEntry, TokenEntry},
};

/// The fixture every token input is checked against: one account with one key, an indefinite
/// token and a time-limited one, all with fixed ids so the seeds in `fuzz/corpus` stay valid.
pub const SECRET: &[u8] = b"gatehouse fuzzing key, 32 bytes!";
pub const ISSUER: &str = "https://gatehouse.fuzz";
pub const AUDIENCE: &str = "https://gatehouse.fuzz/s";
pub const ACCOUNT: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001);
pub const KEY: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0002);
pub const INDEFINITE: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0003);
pub const TIMED: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0004);
pub const SERVER: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0005);
/// "Now" for every check: 2026-12-01T00:00:00Z.
pub const NOW: i64 = 1_796_083_200;
/// The time-limited token's expiry: a day after `NOW`.
pub const TIMED_EXPIRES: i64 = NOW + 86_400;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).expect("a valid instant")
}

fn view() -> &'static AccessTables {
    static VIEW: OnceLock<AccessTables> = OnceLock::new();
    VIEW.get_or_init(|| {
        let mut view = AccessTables::default();
        view.accounts.insert(ACCOUNT, true);
        view.members.insert(ACCOUNT, vec![(ACCOUNT, app::organisations::Role::Owner)]);
        view.organisations.insert(ACCOUNT, true);
        view.keys.insert(KEY, KeyEntry::new(ACCOUNT, false, SECRET));
        let expires_at = DateTime::from_timestamp(TIMED_EXPIRES, 0);
        view.tokens.insert(
            INDEFINITE,
            TokenEntry {
                organisation: ACCOUNT,
                maker: ACCOUNT,
                key: KEY,
                expires_at: None,
                revoked: false,
                fingerprinted: true,
                renewable: false,
                networks: None,
            },
        );
        view.tokens.insert(
            TIMED,
            TokenEntry {
                organisation: ACCOUNT,
                maker: ACCOUNT,
                key: KEY,
                expires_at,
                revoked: false,
                fingerprinted: true,
                renewable: false,
                networks: None,
            },
        );
        view.servers.insert(
            SERVER,
            Arc::new(ServerEntry {
                id: SERVER,
                organisation: ACCOUNT,
                upstream: url::Url::parse("http://127.0.0.1:9/mcp").expect("a URL"),
                refused: None,
                transport: Transport::StreamableHttp,
                require_token: true,
                oauth: false,
                headers: Vec::new(),
                identity: None,
                tool_audit: Default::default(),
                row: 0,
            }),
        );
        view.links.insert((INDEFINITE, SERVER), None);
        view.links.insert((TIMED, SERVER), None);
        view
    })
}

/// `fuzz_targets/token_reader`: any bytes as the `Authorization` header's token.
pub fn token_reader(data: &[u8]) {
    let mut header = b"Bearer ".to_vec();
    header.extend_from_slice(data);
    let Ok(header) = http::HeaderValue::from_bytes(&header) else { return };
    let server = view().servers[&SERVER].clone();
    if let Ok(grant) = verify::check(view(), &server, Some(&header), ISSUER, AUDIENCE, now()) {
        let token = verify::bearer(Some(&header)).expect("an accepted header holds a token");
        accepted_token_is_sound(token, &grant);
    }
}

/// The gateway's verdict on `token` as one of the fixture account's tokens.
pub fn accepts(token: &str) -> Result<Grant, verify::Refusal> {
    verify::verify(view(), ACCOUNT, token, ISSUER, AUDIENCE, now())
}

/// `fuzz_targets/signed_claims`: a JOSE header and claims (any bytes, split at the first 0xFF,
/// which UTF-8 never holds), encoded and signed with the fixture's key, so the fuzzer reaches
/// past the signature into every claim rule.
pub fn signed_claims(data: &[u8]) {
    let split = data.iter().position(|b| *b == 0xff).unwrap_or(data.len());
    let (header, claims) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let token = format!("{signed}.{}", sign(&signed));
    if let Ok(grant) = accepts(&token) {
        accepted_token_is_sound(&token, &grant);
    }
}

/// The fixture key's HS256 signature over `signed`.
pub fn sign(signed: &str) -> String {
    let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length").chain_update(signed.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// What an accepted token must be, checked another way: `jsonwebtoken` verifies its signature,
/// `iss` and `aud`, and the header and claims, read as plain JSON, are exactly the fixture's.
fn accepted_token_is_sound(token: &str, grant: &Grant) {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["iss", "aud", "sub", "nbf"]);
    // Times are checked below against the fixture's clock; jsonwebtoken reads the real one.
    (validation.validate_exp, validation.validate_nbf) = (false, false);
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET);
    if let Err(e) = jsonwebtoken::decode::<Value>(token, &key, &validation) {
        panic!("accepted {token:?}, which jsonwebtoken refuses: {e}");
    }
    let part = |i: usize| -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(token.split('.').nth(i).expect("three parts")).expect("base64url");
        serde_json::from_slice(&bytes).expect("a JSON part")
    };
    let (header, claims) = (part(0), part(1));
    assert_eq!(header["alg"], "HS256", "{header}");
    assert_eq!(header["kid"], KEY.to_string(), "{header}");
    for name in ["jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"] {
        assert!(header.get(name).is_none(), "accepted a token with {name}: {header}");
    }
    let id = grant.token.expect("a token was checked");
    assert_eq!(claims["jti"], id.to_string(), "{claims}");
    assert_eq!(claims["sub"], ACCOUNT.to_string(), "{claims}");
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(ISSUER), Some(AUDIENCE)), "{claims}");
    let nbf = claims["nbf"].as_i64().expect("nbf is a whole number");
    assert!(nbf <= NOW + verify::LEEWAY_SECONDS, "accepted before nbf: {claims}");
    match id {
        INDEFINITE => assert!(claims.get("exp").is_none(), "an indefinite token with exp: {claims}"),
        TIMED => assert_eq!(claims["exp"].as_i64(), Some(TIMED_EXPIRES), "{claims}"),
        other => panic!("accepted an unknown token {other}"),
    }
}

/// `fuzz_targets/sse_rewriter`: an upstream SSE body, cut into chunks by its first byte, through
/// the gateway's endpoint rewriting. Read as the SSE spec reads it, the output may hold no
/// endpoint event that does not point at the gateway; every other event passes unchanged.
pub fn sse_rewriter(data: &[u8]) {
    let Some((&seed, body)) = data.split_first() else { return };
    let upstream = url::Url::parse("http://127.0.0.1:9000/sse").expect("a URL");
    let bindings = Arc::new(SessionBindings::default());
    let mut stream = EndpointRewriting::new(futures::stream::iter(chunks(body, seed)), upstream, SERVER, None, bindings.clone());
    let (mut out, mut failed) = (Vec::new(), false);
    while let Some(item) = futures::executor::block_on(stream.next()) {
        match item {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(_) => failed = true,
        }
    }
    let gateway = format!("/s/{SERVER}/messages?");
    let seen = spec_events(&out);
    for event in seen.iter().filter(|e| e.kind == "endpoint") {
        let query =
            event.data.strip_prefix(&gateway).unwrap_or_else(|| panic!("an endpoint a client would follow elsewhere: {:?}", event.data));
        assert!(!query.is_empty() && !query.chars().any(|c| c.is_whitespace() || c.is_control()), "{query:?}");
        assert!(bindings.get(SERVER, query).is_some(), "the endpoint {query:?} has no session binding");
    }
    if !failed {
        let sent = spec_events(body);
        let others = |events: &[SpecEvent]| events.iter().filter(|e| e.kind != "endpoint").cloned().collect::<Vec<_>>();
        assert_eq!(others(&seen), others(&sent), "events other than endpoint changed on the way");
        let endpoints = |events: &[SpecEvent]| events.iter().filter(|e| e.kind == "endpoint").count();
        assert_eq!(endpoints(&seen), endpoints(&sent), "endpoint events added or lost");
    }
    drop(stream);
    for event in seen.iter().filter(|e| e.kind == "endpoint") {
        assert!(bindings.get(SERVER, &event.data[gateway.len()..]).is_none(), "a binding outlived its stream");
    }
}

/// `body` in chunks of 1–32 bytes, their lengths drawn from `seed`.
fn chunks(body: &[u8], seed: u8) -> Vec<Result<Bytes, std::io::Error>> {
    let mut state = u32::from(seed) | 1;
    let mut rest = body;
    let mut out = Vec::new();
    while !rest.is_empty() {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = ((state >> 24) as usize % 32 + 1).min(rest.len());
        out.push(Ok(Bytes::copy_from_slice(&rest[..n])));
        rest = &rest[n..];
    }
    out
}

/// One event as a client dispatches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEvent {
    pub kind: String,
    pub data: String,
}

/// The events a client dispatches from `body`, following the SSE spec's "interpreting an event
/// stream" (HTML Living Standard, 9.2.6) step by step: a leading byte order mark dropped; lines
/// ended by CRLF, LF or CR; an unfinished last event discarded. Written from the spec, not from
/// the gateway's code, so the two can disagree.
pub fn spec_events(body: &[u8]) -> Vec<SpecEvent> {
    let text = String::from_utf8_lossy(body);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (mut events, mut kind, mut data) = (Vec::new(), String::new(), String::new());
    let mut rest = text;
    while let Some(end) = rest.find(['\r', '\n']) {
        let line = &rest[..end];
        rest = if rest[end..].starts_with("\r\n") { &rest[end + 2..] } else { &rest[end + 1..] };
        if line.is_empty() {
            if !data.is_empty() {
                data.pop();
                let kind = if kind.is_empty() { "message".to_string() } else { kind.clone() };
                events.push(SpecEvent { kind, data: std::mem::take(&mut data) });
            }
            (kind, data) = (String::new(), String::new());
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').map(|(n, v)| (n, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
        match name {
            "event" => kind = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
    }
    events
}

/// `fuzz_targets/upstream_url`: any text as an upstream URL. An accepted URL reads the same to
/// the gateway's HTTP client (the `url` crate) as to the checks, stores and re-reads to itself,
/// and names its address literally only in the standard form the address policy sees.
pub fn upstream_url(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = UpstreamUrl::parse(raw) else { return };
    let url = url::Url::parse(parsed.as_str()).unwrap_or_else(|e| panic!("accepted {raw:?}, which the HTTP client cannot parse: {e}"));
    assert!(matches!(url.scheme(), "http" | "https"), "{raw:?}");
    assert!(url.username().is_empty() && url.password().is_none(), "credentials in {raw:?}");
    assert!(url.fragment().is_none(), "a fragment in {raw:?}");
    assert_eq!(url.host(), Some(parsed.host()), "{raw:?}");
    assert_eq!(url.port_or_known_default(), Some(parsed.port()), "{raw:?}");
    assert_eq!(UpstreamUrl::parse(parsed.as_str()).as_ref(), Ok(&parsed), "{raw:?} does not read back the same");
    // What the HTTP client puts on the wire (reqwest hands hyper an `http::Uri` made from the
    // URL) names the same host and port as the checks saw.
    let uri: http::Uri = url.as_str().parse().unwrap_or_else(|e| panic!("accepted {raw:?}, which is no request target: {e}"));
    let bare = |host: &str| host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    assert_eq!(uri.host().map(bare), Some(bare(&parsed.host().to_string())), "{raw:?}");
    assert_eq!(uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 }), parsed.port(), "{raw:?}");
    match url.host() {
        Some(url::Host::Domain(name)) => {
            // A name the resolver could take for a number would dodge the literal check. The
            // URL standard reads a host as an address when its last label (past one trailing
            // dot) is a number; a name that ends otherwise is one to resolve.
            assert!(name.parse::<IpAddr>().is_err(), "{raw:?}: {name} is an address");
            let last = name.strip_suffix('.').unwrap_or(name).rsplit('.').next().unwrap_or(name);
            assert!(last.is_empty() || !last.chars().all(|c| c.is_ascii_digit()), "{raw:?}: {name} ends in a number");
        }
        Some(_) => {
            let ip = parsed.ip().expect("an address literal");
            let strict = UpstreamPolicy { allow_loopback: false, allow_private: false };
            if ip.is_loopback() || ip.to_canonical().is_loopback() {
                assert!(strict.refuses(ip).is_some(), "{raw:?}: loopback {ip} allowed");
            }
        }
        None => panic!("accepted {raw:?} without a host"),
    }
}
