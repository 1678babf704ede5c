//! Forged tokens: every variant is tried on all three gateway surfaces (SSE GET, the SSE
//! message POST into a live session, Streamable HTTP POST) and must get 401, never 5xx.
use base64::{Engine, engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD}};
use hmac::{Hmac, Mac};
use reqwest::{StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use uuid::Uuid;

use app::signing_keys::ssr::{entity as keys, secret};

use crate::gateway::{ada_token_id, next_event, open_sse, served};
use crate::helpers::{Backend, TestApp, User, json_body, spawn_app, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(every_forged_token_is_refused_on_every_surface, another_accounts_valid_tokens_open_none_of_its_routes);

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
    add("claims changed after signing", format!("{}.{}.{real_signature}", encode_json(&p.header_json()), encode_json(&p.with_claim("sub", json!(Uuid::new_v4().to_string())).claims_json())));
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
    add("JSON serialisation", json!({ "protected": encode_json(&p.header_json()), "payload": encode_json(&p.claims_json()), "signature": real_signature }).to_string());
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

    // A live SSE session opened with the real token, for the message surface.
    let response = open_sse(sse["sse_endpoint"].as_str().unwrap(), &fresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer).await.expect("the endpoint event");
    let message_path = endpoint.lines().find_map(|l| l.strip_prefix("data: ")).unwrap().to_string();
    let message_url = format!("{}{message_path}", app.address);
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": { "name": "forger", "version": "1" } } });

    let http = reqwest::Client::new();
    let surfaces = [
        ("SSE GET", reqwest::Method::GET, sse["sse_endpoint"].as_str().unwrap().to_string()),
        ("message POST", reqwest::Method::POST, message_url.clone()),
        ("Streamable HTTP POST", reqwest::Method::POST, mcp["mcp_endpoint"].as_str().unwrap().to_string()),
    ];
    // The untampered token passes everywhere, so a 401 below is the forgery's doing.
    for (surface, method, url) in &surfaces {
        let mut request = http.request(method.clone(), url).header(header::AUTHORIZATION, format!("Bearer {fresh}"));
        if *method == reqwest::Method::POST {
            request = request.header(header::ACCEPT, "application/json, text/event-stream").json(&initialize);
        }
        let status = request.send().await.unwrap().status();
        assert!(status.is_success(), "the real token on {surface}: {status}");
    }
    let mut accepted = Vec::new();
    let mut tried = 0;
    for (name, token) in &forged {
        for (surface, method, url) in &surfaces {
            let mut request = http.request(method.clone(), url);
            if let Ok(value) = header::HeaderValue::from_str(&format!("Bearer {token}")) {
                request = request.header(header::AUTHORIZATION, value);
            }
            if *method == reqwest::Method::POST {
                request = request.header(header::ACCEPT, "application/json, text/event-stream").json(&initialize);
            }
            let response = request.send().await.unwrap();
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
    eprintln!("forged tokens: {} variants × {} surfaces = {tried} requests, 0 accepted", forged.len(), surfaces.len());

    // The real session is still alive and its token still works: the forgeries changed nothing.
    let still = http.post(&message_url).header(header::AUTHORIZATION, format!("Bearer {fresh}")).json(&initialize).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::ACCEPTED);
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

    let response = open_sse(bob_sse["sse_endpoint"].as_str().unwrap(), &bob_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let endpoint = next_event(&mut stream, &mut buffer).await.expect("the endpoint event");
    let message_url = format!("{}{}", app.address, endpoint.lines().find_map(|l| l.strip_prefix("data: ")).unwrap());
    let initialize = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": { "name": "tenant", "version": "1" } } });

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
