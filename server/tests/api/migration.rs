//! Upgrading: a database made by the migrations before organisations, with an account's
//! servers, signing key, token, usage, API key and audit in it, comes out whole, and the token
//! handed out before the upgrade still works.
use base64::Engine;
use migration::MigratorTrait;
use reqwest::StatusCode;
use sea_orm::{
    ConnectionTrait, DatabaseConnection,
    sea_query::{Alias, Query},
};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, Options, User, client, json_body, spawn_app_on_prepared, spawn_demo_mcp};
use crate::on_both_backends;

on_both_backends!(a_database_from_before_organisations_comes_out_whole);

/// How many migrations there were before organisations.
const BEFORE_ORGANISATIONS: u32 = 7;

struct Legacy {
    account: Uuid,
    key: Uuid,
    server: Uuid,
    token: Uuid,
    api_key: String,
}

fn v(x: impl Into<sea_orm::Value>) -> sea_orm::Value {
    x.into()
}

async fn insert(db: &DatabaseConnection, table: &str, row: Vec<(&str, sea_orm::Value)>) {
    let (columns, values): (Vec<_>, Vec<_>) = row.into_iter().map(|(c, v)| (Alias::new(c), v)).unzip();
    let statement =
        Query::insert().into_table(Alias::new(table)).columns(columns).values_panic(values.into_iter().map(Into::into)).to_owned();
    db.execute(&statement).await.unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

/// Rows as the code before organisations wrote them.
async fn fill(db: &DatabaseConnection, legacy: &Legacy, master: &[u8; 32], secret: &[u8; 32], upstream: &str) {
    let now = chrono::Utc::now();
    let cipher = app::secrets::Cipher::new(master);
    insert(
        db,
        "accounts",
        vec![
            ("id", v(legacy.account)),
            ("email", v("ada@example.com")),
            ("password_hash", v("replaced below")),
            ("role", v("user")),
            ("status", v("active")),
            ("created_at", v(now)),
            ("session_epoch", v(0)),
        ],
    )
    .await;
    let sealed = cipher.seal(secret, &format!("signing_key:{}", legacy.key)).unwrap();
    insert(
        db,
        "signing_keys",
        vec![
            ("id", v(legacy.key)),
            ("account_id", v(legacy.account)),
            ("secret_ciphertext", v(sealed)),
            ("state", v("active")),
            ("created_at", v(now)),
        ],
    )
    .await;
    insert(
        db,
        "servers",
        vec![
            ("id", v(legacy.server)),
            ("account_id", v(legacy.account)),
            ("name", v("Legacy docs")),
            ("upstream_url", v(format!("{upstream}/mcp"))),
            ("transport", v("streamable_http")),
            ("require_token", v(true)),
            ("upstream_header_names", v("[]")),
            ("created_at", v(now)),
            ("updated_at", v(now)),
            ("oauth_enabled", v(false)),
        ],
    )
    .await;
    insert(
        db,
        "tokens",
        vec![
            ("id", v(legacy.token)),
            ("account_id", v(legacy.account)),
            ("signing_key_id", v(legacy.key)),
            ("description", v("Old laptop")),
            ("display", v("eyJhbGci…old")),
            ("created_at", v(now)),
            ("use_count", v(3i64)),
        ],
    )
    .await;
    insert(db, "token_servers", vec![("token_id", v(legacy.token)), ("server_id", v(legacy.server)), ("created_at", v(now))]).await;
    let hour = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    insert(
        db,
        "usage_buckets",
        vec![
            ("token_id", v(legacy.token)),
            ("server_id", v(legacy.server)),
            ("hour", v(hour)),
            ("requests", v(3i64)),
            ("refusals", v(0i64)),
        ],
    )
    .await;
    insert(
        db,
        "api_keys",
        vec![
            ("id", v(Uuid::now_v7())),
            ("account_id", v(legacy.account)),
            ("description", v("Deploy script")),
            ("scope", v("write")),
            ("key_hash", v(app::secrets::sha256_hex(&legacy.api_key))),
            ("display", v("ghk_…old")),
            ("created_at", v(now)),
        ],
    )
    .await;
    insert(
        db,
        "audit_events",
        vec![
            ("account_id", v(legacy.account)),
            ("actor_id", v(legacy.account)),
            ("action", v("server.created")),
            ("object_type", v("server")),
            ("object_id", v(legacy.server.to_string())),
            ("detail", v("{}")),
            ("created_at", v(now)),
            ("via", v("session")),
        ],
    )
    .await;
}

/// The token the old code would have handed out for `legacy.token`.
fn old_token(legacy: &Legacy, secret: &[u8; 32], issuer: &str, audience: &str) -> String {
    let now = chrono::Utc::now().timestamp() - 60;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(legacy.key.to_string());
    let claims = json!({ "iss": issuer, "sub": legacy.account.to_string(), "aud": audience, "iat": now, "nbf": now, "jti": legacy.token.to_string() });
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(secret)).unwrap()
}

async fn initialize(endpoint: &str, token: &str) -> reqwest::Response {
    client()
        .post(endpoint)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": { "name": "old", "version": "1" } } }))
        .send()
        .await
        .unwrap()
}

async fn a_database_from_before_organisations_comes_out_whole(backend: Backend) {
    let upstream = spawn_demo_mcp().await;
    let master: [u8; 32] = rand::random();
    let secret: [u8; 32] = rand::random();
    let legacy = Legacy {
        account: Uuid::now_v7(),
        key: Uuid::now_v7(),
        server: Uuid::now_v7(),
        token: Uuid::now_v7(),
        api_key: "ghk_legacyscriptkey".into(),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(master);
    let options = Options {
        configure: Box::new(move |config| gatehouse::Config { master_key: Some(SecretString::from(encoded)), ..config }),
        ..Options::default()
    };
    let app = spawn_app_on_prepared(backend, options, async |db: &DatabaseConnection| {
        migration::Migrator::up(db, Some(BEFORE_ORGANISATIONS)).await.expect("the migrations before organisations");
        fill(db, &legacy, &master, &secret, &upstream).await;
    })
    .await;

    // The old token works at once, before anyone signs in.
    let endpoint = format!("{}/s/{}/mcp", app.address, legacy.server);
    let token = old_token(&legacy, &secret, &app.state.settings.issuer, &app.state.settings.audience);
    let answer = initialize(&endpoint, &token).await;
    assert_eq!(answer.status(), StatusCode::OK, "a token handed out before the upgrade still works: {:?}", answer.text().await);

    // Everything is in the account's personal organisation, whose id is the account's.
    let hash = app.state.passwords.hash("correct horse battery").await.unwrap();
    let set = Query::update().table(Alias::new("accounts")).value(Alias::new("password_hash"), hash).to_owned();
    app.db().execute(&set).await.unwrap();
    let ada = User { client: client(), base: app.address.clone(), id: legacy.account.to_string() };
    let login = ada.post("/auth/login", &json!({ "email": "ada@example.com", "password": "correct horse battery" })).await;
    assert_eq!(login.status(), StatusCode::OK);
    let organisations = json_body(ada.get("/organisations").await).await;
    let organisations = organisations.as_array().unwrap();
    assert_eq!(organisations.len(), 1, "{organisations:?}");
    let personal = &organisations[0];
    assert_eq!(
        (personal["id"].as_str(), personal["personal"].as_bool(), personal["role"].as_str(), personal["name"].as_str()),
        (Some(legacy.account.to_string().as_str()), Some(true), Some("owner"), Some("ada@example.com"))
    );

    let servers = json_body(ada.get("/servers").await).await;
    assert_eq!(servers.as_array().unwrap().len(), 1);
    assert_eq!((servers[0]["name"].as_str(), servers[0]["token_count"].as_u64()), (Some("Legacy docs"), Some(1)));
    assert_eq!(servers[0]["organisation_id"], personal["id"]);
    assert_eq!(servers[0]["organisation"], "ada@example.com", "every object names its organisation");

    let tokens = json_body(ada.get("/tokens").await).await;
    let old: Vec<&Value> = tokens.as_array().unwrap().iter().filter(|t| t["id"] == legacy.token.to_string()).collect();
    assert_eq!(old.len(), 1, "{tokens}");
    assert_eq!((old[0]["made_by"].as_str(), old[0]["status"].as_str()), (Some("ada@example.com"), Some("active")));
    assert_eq!(old[0]["organisation_id"], personal["id"]);
    assert_eq!(old[0]["organisation"], "ada@example.com");
    assert!(old[0]["use_count"].as_i64().unwrap() >= 3, "usage kept: {}", old[0]);

    let keys = json_body(ada.get("/signing-keys").await).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["id"], legacy.key.to_string());

    let audit = json_body(ada.get("/audit").await).await;
    assert!(audit.to_string().contains("server.created"), "the old audit is in the organisation's log: {audit}");

    // The old API key acts within the personal organisation.
    let listed = client().get(app.url("/api/v1/servers")).bearer_auth(&legacy.api_key).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(json_body(listed).await[0]["name"], "Legacy docs");

    // New tokens keep working beside the old one, signed by the same key.
    let (fresh, _) = ada.token("New laptop", "never", &[&servers[0]]).await;
    assert_eq!(initialize(&endpoint, &fresh).await.status(), StatusCode::OK);
    assert_eq!(initialize(&endpoint, &token).await.status(), StatusCode::OK);

    // Usage recorded before the upgrade is still counted.
    let kept = Query::select().expr(sea_orm::sea_query::Expr::cust("COUNT(*)")).from(Alias::new("usage_buckets")).to_owned();
    let row = app.db().query_one(&kept).await.unwrap().unwrap();
    assert!(row.try_get_by_index::<i64>(0).unwrap() >= 1);
}
