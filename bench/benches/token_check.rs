//! The gateway's per-request token check (signature + view lookup), in isolation. It reads only
//! the in-memory view: no database connection is within its reach, so it makes zero queries.
use std::{collections::HashMap, hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::gateway::{
    verify,
    view::{AccessTables, KeyEntry, ServerEntry, TokenEntry},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

const ISSUER: &str = "https://gatehouse.example";

fn bench(c: &mut Criterion) {
    let (account, key, token_id, server_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let secret = [7u8; 32];
    let mut view = AccessTables::default();
    view.accounts.insert(account, true);
    view.members.insert(account, vec![(account, app::organisations::Role::Owner)]);
    view.organisations.insert(account, true);
    view.keys.insert(key, KeyEntry::new(account, false, &secret));
    view.tokens.insert(
        token_id,
        TokenEntry {
            organisation: account,
            maker: account,
            key,
            expires_at: None,
            revoked: false,
            fingerprinted: true,
            renewable: false,
            networks: None,
        },
    );
    let server = Arc::new(ServerEntry {
        id: server_id,
        organisation: account,
        upstream: url::Url::parse("http://127.0.0.1:9/mcp").expect("a URL"),
        refused: None,
        transport: app::servers::Transport::StreamableHttp,
        require_token: true,
        oauth: false,
        headers: Vec::new(),
        identity: None,
        tool_audit: Default::default(),
        row: 0,
    });
    view.servers.insert(server_id, server.clone());
    view.links = HashMap::from([((token_id, server_id), None)]);
    // Thousands of other tenants' objects, so lookups are not in a toy-sized map.
    for _ in 0..10_000 {
        view.tokens.insert(
            Uuid::new_v4(),
            TokenEntry {
                organisation: Uuid::new_v4(),
                maker: Uuid::new_v4(),
                key: Uuid::new_v4(),
                expires_at: None,
                revoked: false,
                fingerprinted: true,
                renewable: false,
                networks: None,
            },
        );
    }
    let _: &HashMap<Uuid, TokenEntry> = &view.tokens;

    let now = chrono::Utc::now();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": account.to_string(), "aud": ISSUER,
        "iat": now.timestamp(), "nbf": now.timestamp(), "jti": token_id.to_string(),
    });
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.to_string());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).expect("a token");
    let authorization = http::HeaderValue::from_str(&format!("Bearer {token}")).expect("a header");
    assert!(verify::check(&view, &server, Some(&authorization), ISSUER, ISSUER, now).is_ok(), "the token passes");

    c.bench_function("token_check", |b| {
        b.iter(|| verify::check(black_box(&view), black_box(&server), black_box(Some(&authorization)), ISSUER, ISSUER, now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
