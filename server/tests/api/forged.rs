//! Forged tokens: every variant is tried on all three gateway surfaces (SSE GET, the SSE
//! message POST into a live session, Streamable HTTP POST) and must get 401, never 5xx.
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use futures::{StreamExt, stream::BoxStream};
use hmac::{Hmac, Mac};
use reqwest::{StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use uuid::Uuid;

use app::signing_keys::ssr::{entity as keys, secret};

use crate::gateway::{ada_token_id, next_event, open_sse, served};
use gatehouse::gateway::sse::EventReader;

use crate::helpers::{Backend, TestApp, User, json_body, spawn_app, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(every_forged_token_is_refused_on_every_surface, another_accounts_valid_tokens_open_none_of_its_routes);
// jwt-hack takes ten minutes to build on two cores, too long for a fresh machine's test command.
on_both_backends!(
    #[ignore = "needs jwt-hack: run with ./dev harden"]
    every_jwt_hack_payload_is_refused_on_every_surface
);

/// A token taken apart: header and claims as JSON objects, and the signature as sent.
#[derive(Clone)]
struct Parts {
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

fn parts(token: &str) -> Parts {
    let mut pieces = token.split('.');
    let mut object = || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pieces.next().unwrap()).unwrap()).unwrap();
    Parts { header: object(), claims: object() }
}

fn encode_json(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

fn hs256(secret: &[u8], signed: &str) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(secret).unwrap().chain_update(signed.as_bytes()).finalize();
    URL_SAFE_NO_PAD.encode(mac.into_bytes())
}

/// Header and claims as given (raw JSON text), signed with `secret` (none: no signature).
fn sign_raw(header: &str, claims: &str, secret: Option<&[u8]>) -> String {
    let signed = format!("{}.{}", encode_json(header), encode_json(claims));
    let signature = secret.map(|s| hs256(s, &signed)).unwrap_or_default();
    format!("{signed}.{signature}")
}

impl Parts {
    fn sign(&self, secret: Option<&[u8]>) -> String {
        sign_raw(&Value::Object(self.header.clone()).to_string(), &Value::Object(self.claims.clone()).to_string(), secret)
    }

    fn with_header(&self, name: &str, value: Value) -> Self {
        let mut next = self.clone();
        next.header.insert(name.into(), value);
        next
    }

    fn without_header(&self, name: &str) -> Self {
        let mut next = self.clone();
        next.header.remove(name);
        next
    }

    fn with_claim(&self, name: &str, value: Value) -> Self {
        let mut next = self.clone();
        next.claims.insert(name.into(), value);
        next
    }

    fn without_claim(&self, name: &str) -> Self {
        let mut next = self.clone();
        next.claims.remove(name);
        next
    }

    fn header_json(&self) -> String {
        Value::Object(self.header.clone()).to_string()
    }

    fn claims_json(&self) -> String {
        Value::Object(self.claims.clone()).to_string()
    }
}

/// The decrypted secret of one of `user`'s signing keys.
async fn key_secret(app: &TestApp, kid: &str) -> Vec<u8> {
    let model = keys::Entity::find()
        .filter(keys::Column::Id.eq(kid.parse::<Uuid>().unwrap()))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the key exists");
    secret(&app.state, &model).unwrap().expose_secret().clone()
}

async fn revoke_token(user: &User, description: &str) {
    let id = ada_token_id(user, description).await;
    assert_eq!(user.post(&format!("/tokens/{id}/revoke"), &json!({})).await.status(), StatusCode::OK);
}

fn initialize(client: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": { "name": client, "version": "1" } } })
}

/// Opens an SSE session on `sse` (a server's JSON) with `token`; returns the open stream (the
/// session lives as long as it does) and the session's message URL.
async fn open_session(app: &TestApp, sse: &Value, token: &str) -> (BoxStream<'static, reqwest::Result<bytes::Bytes>>, String) {
    let response = open_sse(sse["sse_endpoint"].as_str().unwrap(), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream().boxed();
    let mut events = EventReader::default();
    let endpoint = next_event(&mut stream, &mut events).await.expect("the endpoint event");
    let message_path = endpoint.data;
    (stream, format!("{}{message_path}", app.address))
}

/// The three gateway surfaces of a Streamable HTTP server and an SSE server: SSE `GET`, the
/// message `POST` into a session opened with the real token, Streamable HTTP `POST`.
struct Surfaces {
    http: reqwest::Client,
    list: [(&'static str, reqwest::Method, String); 3],
    initialize: Value,
    _session: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
}

impl Surfaces {
    /// Opens the session with `real` and checks that `real` passes on every surface, so that a
    /// 401 later is the forgery's doing.
    async fn open(app: &TestApp, mcp: &Value, sse: &Value, real: &str) -> Self {
        let (session, message_url) = open_session(app, sse, real).await;
        let surfaces = Surfaces {
            http: reqwest::Client::new(),
            list: [
                ("SSE GET", reqwest::Method::GET, sse["sse_endpoint"].as_str().unwrap().to_string()),
                ("message POST", reqwest::Method::POST, message_url),
                ("Streamable HTTP POST", reqwest::Method::POST, mcp["mcp_endpoint"].as_str().unwrap().to_string()),
            ],
            initialize: initialize("forger"),
            _session: session,
        };
        for (surface, _, _) in &surfaces.list {
            let status = surfaces.send(surface, real).await.status();
            assert!(status.is_success(), "the real token on {surface}: {status}");
        }
        surfaces
    }

    /// One request to `surface` with `Authorization: Bearer {token}` (no header at all when
    /// the token cannot be a header value).
    async fn send(&self, surface: &str, token: &str) -> reqwest::Response {
        let (_, method, url) = self.list.iter().find(|(name, _, _)| *name == surface).unwrap();
        let mut request = self.http.request(method.clone(), url);
        if let Ok(value) = header::HeaderValue::from_str(&format!("Bearer {token}")) {
            request = request.header(header::AUTHORIZATION, value);
        }
        if *method == reqwest::Method::POST {
            request = request.header(header::ACCEPT, "application/json, text/event-stream").json(&self.initialize);
        }
        request.send().await.unwrap()
    }

    /// Tries every (name, token) on every surface: each must be answered 401 `invalid_token`
    /// (or `token_required`). Returns the number of requests made.
    async fn refuse_all(&self, forged: &[(String, String)]) -> usize {
        let mut accepted = Vec::new();
        let mut tried = 0;
        for (name, token) in forged {
            for (surface, _, _) in &self.list {
                let response = self.send(surface, token).await;
                tried += 1;
                let status = response.status();
                if status != StatusCode::UNAUTHORIZED {
                    accepted.push(format!("{name} on {surface}: {status} {:?}", response.headers().get("x-gatehouse-refusal")));
                    continue;
                }
                let body = json_body(response).await;
                assert!(body["code"] == "invalid_token" || body["code"] == "token_required", "{name} on {surface}: {body}");
            }
        }
        assert!(accepted.is_empty(), "{} of {tried} forged requests were not refused with 401:\n{}", accepted.len(), accepted.join("\n"));
        tried
    }

    /// The real session is still alive and its token still works: the forgeries changed nothing.
    async fn still_open_to(&self, real: &str) {
        assert_eq!(self.send("message POST", real).await.status(), StatusCode::ACCEPTED);
    }
}

async fn every_forged_token_is_refused_on_every_surface(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;

    // Ada's servers (one per transport) and her valid token for both.
    let (mcp, _) = served(&ada, &demo, "streamable_http").await;
    let (sse, _) = served(&ada, &demo, "sse").await;
    let (valid, _) = ada.token("valid", "never", &[&mcp, &sse]).await;
    let base = parts(&valid);
    let kid = base.header["kid"].as_str().unwrap().to_string();
    let ada_secret = key_secret(&app, &kid).await;

    // Bob's token and key, and a server of his that Ada's tokens must not reach.
    let (bob_mcp, _) = served(&bob, &demo, "streamable_http").await;
    let (bob_token, _) = bob.token("bob", "never", &[&bob_mcp]).await;
    let bob_parts = parts(&bob_token);
    let bob_kid = bob_parts.header["kid"].as_str().unwrap().to_string();
    let bob_secret = key_secret(&app, &bob_kid).await;

    // Tokens made only to be revoked: one directly, one through its key (retired by a rotation,
    // then revoked).
    let (revoked, _) = ada.token("revoked", "never", &[&mcp, &sse]).await;
    revoke_token(&ada, "revoked").await;
    let (old_key_token, _) = ada.token("old key", "never", &[&mcp, &sse]).await;
    assert_eq!(ada.post("/signing-keys/rotate", &json!({})).await.status(), StatusCode::OK);
    assert_eq!(ada.post(&format!("/signing-keys/{kid}/revoke"), &json!({})).await.status(), StatusCode::OK);
    // The rotation left `valid` on a revoked key too: from here on, the "valid" baseline is a
    // token signed by the new key.
    let (fresh, _) = ada.token("fresh", "never", &[&mcp, &sse]).await;
    let fresh_parts = parts(&fresh);
    let new_kid = fresh_parts.header["kid"].as_str().unwrap().to_string();
    let new_secret = key_secret(&app, &new_kid).await;
    let (fresh_timed, _) = ada.token("fresh timed", "7d", &[&mcp, &sse]).await;
    let timed_parts = parts(&fresh_timed);

    let now = chrono::Utc::now().timestamp();
    let p = &fresh_parts;
    let key = Some(new_secret.as_slice());
    let mut forged: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, token: String| forged.push((name.to_string(), token));

    // alg "none" in every letter case, unsigned and with the real signature kept.
    let real_signature = fresh.rsplit('.').next().unwrap().to_string();
    for alg in ["none", "None", "NONE", "nOnE", "NoNe", "nONE"] {
        let unsigned = p.with_header("alg", json!(alg)).sign(None);
        add(&format!("alg {alg}, unsigned"), unsigned.clone());
        add(&format!("alg {alg}, real signature kept"), format!("{unsigned}{real_signature}"));
    }
    // Algorithm swaps, each signed with the HMAC secret (key confusion) and unsigned.
    for alg in ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA", "HS384", "HS512", "hs256", "", "HS256 "] {
        add(&format!("alg {alg:?}, HMAC-signed"), p.with_header("alg", json!(alg)).sign(key));
    }
    add("alg missing", p.without_header("alg").sign(key));
    add("alg as a number", p.with_header("alg", json!(256)).sign(key));
    // Signatures.
    let signed_part = fresh.rsplit_once('.').unwrap().0.to_string();
    add("empty signature", format!("{signed_part}."));
    add("truncated signature", format!("{signed_part}.{}", &real_signature[..real_signature.len() / 2]));
    let flipped: String = real_signature.chars().rev().collect();
    add("reversed signature", format!("{signed_part}.{flipped}"));
    add("signature with a character changed", {
        let mut chars: Vec<char> = real_signature.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        format!("{signed_part}.{}", chars.into_iter().collect::<String>())
    });
    add("signature with padding", format!("{signed_part}.{real_signature}="));
    add("signature with extra bytes", format!("{signed_part}.{real_signature}AAAA"));
    add("signature in standard base64", format!("{signed_part}.{}", STANDARD.encode(URL_SAFE_NO_PAD.decode(&real_signature).unwrap())));
    add("zero signature", format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])));
    add("another token's signature", format!("{signed_part}.{}", bob_token.rsplit('.').next().unwrap()));
    add(
        "claims changed after signing",
        format!(
            "{}.{}.{real_signature}",
            encode_json(&p.header_json()),
            encode_json(&p.with_claim("sub", json!(Uuid::new_v4().to_string())).claims_json())
        ),
    );
    // kid.
    add("kid missing", p.without_header("kid").sign(key));
    add("kid unknown", p.with_header("kid", json!(Uuid::new_v4().to_string())).sign(key));
    add("kid of another account, signed with its key", p.with_header("kid", json!(bob_kid)).sign(Some(&bob_secret)));
    add("kid of another account, signed with ours", p.with_header("kid", json!(bob_kid)).sign(key));
    add("kid with SQL", p.with_header("kid", json!("' OR '1'='1' --")).sign(key));
    add("kid as a path", p.with_header("kid", json!("../../../../etc/passwd")).sign(key));
    add("kid as a number", p.with_header("kid", json!(1)).sign(key));
    add("kid null", p.with_header("kid", Value::Null).sign(key));
    add("kid as an array", p.with_header("kid", json!([new_kid])).sign(key));
    add("kid with a NUL", p.with_header("kid", json!(format!("{new_kid}\u{0}"))).sign(key));
    // Key-locating and critical header parameters.
    add("jku", p.with_header("jku", json!("https://attacker.example/jwks.json")).sign(key));
    add("jwk embedded", p.with_header("jwk", json!({ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(b"attacker") })).sign(Some(b"attacker")));
    add("x5u", p.with_header("x5u", json!("https://attacker.example/cert.pem")).sign(key));
    add("x5c", p.with_header("x5c", json!(["MIIBattacker"])).sign(key));
    add("x5t", p.with_header("x5t", json!("dGh1bWI")).sign(key));
    add("x5t#S256", p.with_header("x5t#S256", json!("dGh1bWI")).sign(key));
    add("crit unknown", p.with_header("crit", json!(["gatehouse-ext"])).with_header("gatehouse-ext", json!(true)).sign(key));
    add("crit empty", p.with_header("crit", json!([])).sign(key));
    // Form.
    add(
        "JSON serialisation",
        json!({ "protected": encode_json(&p.header_json()), "payload": encode_json(&p.claims_json()), "signature": real_signature })
            .to_string(),
    );
    add("two parts", signed_part.clone());
    add("four parts", format!("{fresh}.AAAA"));
    add("five parts (JWE form)", format!("{}.AAAA.AAAA.AAAA.AAAA", encode_json(r#"{"alg":"dir","enc":"A256GCM"}"#)));
    add("empty", String::new());
    add("dots only", "..".into());
    add("header with padding", format!("{}=.{}", encode_json(&p.header_json()), fresh.split_once('.').unwrap().1));
    add("not base64", "!!!.???.***".into());
    add("header not JSON", sign_raw("not json", &p.claims_json(), key));
    add("header a JSON array", sign_raw("[]", &p.claims_json(), key));
    add("claims not JSON", sign_raw(&p.header_json(), "not json", key));
    add("claims a JSON string", sign_raw(&p.header_json(), "\"claims\"", key));
    add("huge header (over 8 KiB)", p.with_header("pad", json!("x".repeat(9000))).sign(key));
    // Duplicate members.
    let header_json = p.header_json();
    add("duplicate alg (none, then HS256)", sign_raw(&header_json.replacen('{', r#"{"alg":"none","#, 1), &p.claims_json(), key));
    let claims_json = p.claims_json();
    add("duplicate jti", sign_raw(&header_json, &claims_json.replacen('{', &format!(r#"{{"jti":"{}","#, Uuid::new_v4()), 1), key));
    add("duplicate sub", sign_raw(&header_json, &claims_json.replacen('{', &format!(r#"{{"sub":"{}","#, bob.id), 1), key));
    // Claims.
    add("wrong iss", p.with_claim("iss", json!("https://attacker.example")).sign(key));
    add("wrong aud", p.with_claim("aud", json!("https://attacker.example")).sign(key));
    add("aud as an array", p.with_claim("aud", json!([p.claims["aud"].clone()])).sign(key));
    add("iss missing", p.without_claim("iss").sign(key));
    add("aud missing", p.without_claim("aud").sign(key));
    add("sub missing", p.without_claim("sub").sign(key));
    add("nbf missing", p.without_claim("nbf").sign(key));
    add("jti missing", p.without_claim("jti").sign(key));
    add("jti not a UUID", p.with_claim("jti", json!("1 OR 1=1")).sign(key));
    add("jti unknown", p.with_claim("jti", json!(Uuid::new_v4().to_string())).sign(key));
    add("jti of another account's token", p.with_claim("jti", bob_parts.claims["jti"].clone()).sign(key));
    add("sub of another account", p.with_claim("sub", json!(bob.id)).sign(key));
    add("nbf in the future", p.with_claim("nbf", json!(now + 3600)).sign(key));
    add("nbf as a string", p.with_claim("nbf", json!(now.to_string())).sign(key));
    add("exp added to an indefinite token", p.with_claim("exp", json!(now + 3600)).sign(key));
    add("exp in the past", p.with_claim("exp", json!(now - 3600)).sign(key));
    add("exp huge", p.with_claim("exp", json!(i64::MAX)).sign(key));
    add("exp missing on a time-limited token", timed_parts.without_claim("exp").sign(key));
    add("exp extended on a time-limited token", timed_parts.with_claim("exp", json!(now + 365 * 86400)).sign(key));
    add("exp in the past on a time-limited token", timed_parts.with_claim("exp", json!(now - 60)).sign(key));
    // Other tenants, revocation and keys.
    add("another tenant's valid token", bob_token.clone());
    add("another tenant's token re-signed with our key", bob_parts.sign(key));
    add("signed with another tenant's key", p.sign(Some(&bob_secret)));
    add("our claims with the old (revoked) key's kid and secret", p.with_header("kid", json!(kid)).sign(Some(&ada_secret)));
    add("a token of a retired, then revoked key", old_key_token.clone());
    add("replay after revoke", revoked.clone());
    add("the old valid token after its key was revoked", valid.clone());
    add("Bearer in the token", format!("Bearer {fresh}"));

    let names: std::collections::HashSet<&str> = forged.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), forged.len(), "variant names are distinct");
    assert!(forged.len() >= 64, "{} variants", forged.len());

    let surfaces = Surfaces::open(&app, &mcp, &sse, &fresh).await;
    let tried = surfaces.refuse_all(&forged).await;
    eprintln!("forged tokens: {} variants × {} surfaces = {tried} requests, 0 accepted", forged.len(), surfaces.list.len());
    surfaces.still_open_to(&fresh).await;
}

/// Where the `jwt-hack` binary (crates.io) is, from `JWT_HACK`; the test fails without it.
fn jwt_hack() -> String {
    std::env::var("JWT_HACK").unwrap_or_else(|_| {
        panic!(
            "JWT_HACK is not set: this test feeds jwt-hack's payloads to the gateway and needs its binary. Install it with\n  \
             cargo install jwt-hack --version 2.6.0 --locked --root $HOME/.cache/gatehouse/tools\n\
             (about 10 minutes on two cores) and run the tests with\n  \
             JWT_HACK=$HOME/.cache/gatehouse/tools/bin/jwt-hack cargo test -p gatehouse --test api jwt_hack -- --ignored\n\
             (./dev harden does both)"
        )
    })
}

/// Runs `jwt-hack --json <args>` and returns its JSON answer (which must say `success`).
async fn run_jwt_hack(binary: &str, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(binary)
        .arg("--json")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run JWT_HACK={binary}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "jwt-hack {args:?} did not answer JSON ({e}), status {}:\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success() && answer["success"] == true, "jwt-hack {args:?}: {} {answer}", output.status);
    answer
}

/// A payload's header as text (the payload itself when it has no base64url header, e.g. the
/// JSON serialisation).
fn header_text(token: &str) -> String {
    let header = token.split('.').next().and_then(|h| URL_SAFE_NO_PAD.decode(h).ok());
    header.map(|h| String::from_utf8_lossy(&h).into_owned()).unwrap_or_else(|| token.to_string())
}

/// Every payload `jwt-hack` 2.6 makes from a real token: `payload` with every target (none
/// variants, jku/x5u with bypasses, alg confusion, kid SQL/traversal/predictable/wildcard,
/// x5c, embedded jwk, crit, b64, psychic signatures, zip, duplicate keys, nested, JSON forms…)
/// and `jwks spoof` (jku/x5u re-signed with a fresh RSA key) for each algorithm it offers.
/// The jku/x5u URLs name a loopback listener that must never be contacted.
async fn every_jwt_hack_payload_is_refused_on_every_surface(backend: Backend) {
    let binary = jwt_hack();
    let version = run_jwt_hack(&binary, &["version"]).await["version"].as_str().unwrap_or("?").to_string();

    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (mcp, _) = served(&ada, &demo, "streamable_http").await;
    let (sse, _) = served(&ada, &demo, "sse").await;
    let (real, _) = ada.token("real", "never", &[&mcp, &sse]).await;

    // The attacker's host for jku/x5u: a listener that counts who calls it.
    let canary = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let attacker = canary.local_addr().unwrap().to_string();
    let contacted = Arc::new(AtomicUsize::new(0));
    let counter = contacted.clone();
    tokio::spawn(async move {
        while canary.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let trusted = app.address.trim_start_matches("http://").to_string();

    let generated =
        run_jwt_hack(&binary, &["payload", &real, "--jwk-attack", &attacker, "--jwk-trust", &trusted, "--jwk-protocol", "http"]).await;
    let mut payloads: Vec<String> =
        generated["payloads"].as_array().expect("payloads").iter().map(|p| p.as_str().unwrap().to_string()).collect();
    assert_eq!(generated["count"], payloads.len(), "jwt-hack's count");
    let from_payload = payloads.len();
    let attacker_url = format!("http://{attacker}");
    for algorithm in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let spoofed =
            run_jwt_hack(&binary, &["jwks", "spoof", "--token", &real, "--attacker-url", &attacker_url, "--algorithm", algorithm]).await;
        let injected = spoofed["payloads"].as_array().expect("spoof payloads");
        assert_eq!(injected.len(), 2, "jwks spoof {algorithm}: one jku and one x5u token");
        payloads.extend(injected.iter().map(|p| p["token"].as_str().unwrap().to_string()));
    }

    // Parsing worked: many payloads, all of them token-shaped, none of them the real token.
    // (jwt-hack repeats a few, e.g. the alg-confusion `none` is also a `none` payload.)
    let mut seen = HashSet::new();
    payloads.retain(|p| seen.insert(p.clone()));
    assert!(
        from_payload >= 150 && payloads.len() >= 150,
        "only {from_payload} payloads from `jwt-hack payload`, {} distinct in all",
        payloads.len()
    );
    for token in &payloads {
        assert_ne!(token, &real, "a payload is the real token");
        assert!(token.contains('.') || token.starts_with('{'), "not a token: {token}");
    }
    let jku = payloads.iter().filter(|p| header_text(p).contains(&attacker)).count();
    assert!(jku >= 12 + 8, "{jku} payloads name the attacker's host");

    let forged: Vec<(String, String)> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("jwt-hack payload #{i} {}", header_text(p).chars().take(160).collect::<String>()), p.clone()))
        .collect();
    let surfaces = Surfaces::open(&app, &mcp, &sse, &real).await;
    let tried = surfaces.refuse_all(&forged).await;
    assert_eq!(contacted.load(Ordering::SeqCst), 0, "the gateway fetched a jku/x5u URL named in a token");
    eprintln!(
        "jwt-hack payloads: {} tokens × {} surfaces = {tried} requests, 0 accepted (jwt-hack {version}; {jku} name the attacker's jku/x5u host, 0 connections to it)",
        forged.len(),
        surfaces.list.len()
    );
    surfaces.still_open_to(&real).await;
}

/// Tenant sweep: each of Ada's valid tokens (one per server, one for all of them) on every
/// gateway route of Bob's servers, including the message URL of a session Bob opened.
async fn another_accounts_valid_tokens_open_none_of_its_routes(backend: Backend) {
    let app = spawn_app(backend).await;
    let demo = spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (ada_mcp, ada_mcp_token) = served(&ada, &demo, "streamable_http").await;
    let (ada_sse, ada_sse_token) = served(&ada, &demo, "sse").await;
    let (ada_all, _) = ada.token("all", "never", &[&ada_mcp, &ada_sse]).await;
    let (bob_mcp, _) = served(&bob, &demo, "streamable_http").await;
    let (bob_sse, bob_token) = served(&bob, &demo, "sse").await;

    let (_session, message_url) = open_session(&app, &bob_sse, &bob_token).await;
    let initialize = initialize("tenant");

    let http = reqwest::Client::new();
    let routes = [
        (reqwest::Method::GET, bob_sse["sse_endpoint"].as_str().unwrap().to_string()),
        (reqwest::Method::POST, message_url),
        (reqwest::Method::POST, bob_mcp["mcp_endpoint"].as_str().unwrap().to_string()),
        (reqwest::Method::GET, bob_mcp["mcp_endpoint"].as_str().unwrap().to_string()),
        (reqwest::Method::DELETE, bob_mcp["mcp_endpoint"].as_str().unwrap().to_string()),
    ];
    let mut tried = 0;
    for token in [&ada_mcp_token, &ada_sse_token, &ada_all] {
        for (method, url) in &routes {
            let response = http
                .request(method.clone(), url)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::ACCEPT, "application/json, text/event-stream")
                .json(&initialize)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {url}");
            assert_eq!(response.headers()["x-gatehouse-refusal"], "foreign", "{method} {url}");
            tried += 1;
        }
    }
    assert_eq!(tried, 15);
}
