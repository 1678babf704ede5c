//! The account rules over the REST API.
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::{Backend, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    first_account_is_admin_and_later_ones_are_users,
    concurrent_first_sign_ups_make_exactly_one_admin,
    bad_sign_up_input_gets_field_messages,
    malformed_bodies_get_json_errors_not_500,
    emails_are_normalised_and_unique,
    wrong_password_and_unknown_email_look_the_same,
    login_requires_both_fields,
    disabled_account_cannot_log_in_or_stay_logged_in,
    password_hash_is_argon2id_at_owasp_parameters,
);

async fn first_account_is_admin_and_later_ones_are_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("admin@example.com", "correct horse battery").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = json_body(first).await;
    assert_eq!(first["role"], "admin");
    assert_eq!(first["status"], "active");
    assert_eq!(first["email"], "admin@example.com");
    assert!(first.get("password_hash").is_none(), "the hash never leaves the server");

    let me = json_body(app.me().await).await;
    assert_eq!(me["id"], first["id"], "sign-up logs the new account in");

    let other = crate::helpers::client();
    let second = other
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({ "email": "user@example.com", "password": "another good one" }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(json_body(second).await["role"], "user");
}

async fn concurrent_first_sign_ups_make_exactly_one_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let sign_ups = (0..6).map(|i| {
        let client = crate::helpers::client();
        let url = app.url("/api/v1/auth/register");
        async move {
            let r = client
                .post(url)
                .json(&json!({ "email": format!("racer{i}@example.com"), "password": "racing along!" }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            json_body(r).await["role"].as_str().unwrap().to_string()
        }
    });
    let roles = futures::future::join_all(sign_ups).await;
    assert_eq!(roles.iter().filter(|r| *r == "admin").count(), 1, "{roles:?}");
}

async fn bad_sign_up_input_gets_field_messages(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (json!({ "email": "not-an-email", "password": "short" }), vec!["email", "password"]),
        (json!({ "email": "", "password": "long enough password" }), vec!["email"]),
        (json!({ "email": "ada@example.com", "password": "x".repeat(129) }), vec!["password"]),
        (json!({ "email": "ada@example.com", "password": "1234567" }), vec!["password"]),
        (json!({}), vec!["email", "password"]),
    ];
    for (body, fields) in cases {
        let response = app.post_json("/api/v1/auth/register", &body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error = json_body(response).await;
        assert_eq!(error["code"], "invalid_input");
        let got: Vec<&str> = error["fields"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(got, fields, "{body}");
        for field in fields {
            assert!(error["fields"][field].as_str().unwrap().len() > 5, "a message a person can act on");
        }
    }
    // Exactly 8 and exactly 128 characters are fine; no composition rules.
    assert_eq!(app.register("eight@example.com", "aaaaaaaa").await.status(), StatusCode::CREATED);
    let long = "é".repeat(128);
    assert_eq!(
        crate::helpers::client()
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({ "email": "long@example.com", "password": long }))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
}

async fn malformed_bodies_get_json_errors_not_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/api/v1/auth/register");
    let not_json = app.client.post(&url).body("email=a").header("content-type", "text/plain").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json_body(not_json).await["code"], "unsupported_media_type");

    let broken = app.client.post(&url).body("{\"email\":").header("content-type", "application/json").send().await.unwrap();
    assert_eq!(broken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(broken).await["code"], "invalid_input");

    let wrong_type = app.post_json("/api/v1/auth/register", &json!({ "email": 5, "password": [] })).await;
    assert_eq!(wrong_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = json_body(wrong_type).await["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("The JSON body does not fit: email: invalid type"), "{message}");

    // serde reads a struct from an array as readily as from an object; the API does not.
    let array = app.post_json("/api/v1/auth/register", &json!(["array@example.com", "correct horse battery"])).await;
    assert_eq!(array.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_body(array).await["message"], "The body must be a JSON object.");
    assert_eq!(app.login("array@example.com", "correct horse battery").await.status(), StatusCode::UNAUTHORIZED);

    // Announce a 2 MiB body and send none of it: the answer must come from the header alone
    // (a client writing the body could meet a closed socket, which would make this flaky).
    let huge = raw_request(
        &app.address,
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n",
    )
    .await;
    assert!(huge.starts_with("HTTP/1.1 413"), "{huge}");

    let unknown = app.get("/api/v1/nothing-here").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(unknown).await["code"], "not_found");
}

async fn emails_are_normalised_and_unique(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = json_body(app.register("  Ada.Lovelace@Example.COM ", "analytical engine").await).await;
    assert_eq!(created["email"], "ada.lovelace@example.com");

    let again = crate::helpers::client()
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({ "email": "ada.lovelace@EXAMPLE.com", "password": "another password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let error = json_body(again).await;
    assert_eq!(error["code"], "email_unavailable");
    assert!(error["fields"]["email"].is_string());

    let fresh = crate::helpers::client();
    let login = fresh
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "ADA.LOVELACE@example.com", "password": "analytical engine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK, "login is case-insensitive");
}

async fn wrong_password_and_unknown_email_look_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let verifications_before = app.state.passwords.verifications();

    let wrong_password = app.login("ada@example.com", "difference engine").await;
    let after_wrong = app.state.passwords.verifications();
    let unknown_email = app.login("nobody@example.com", "difference engine").await;
    let after_unknown = app.state.passwords.verifications();
    let malformed_email = app.login("nobody", "difference engine").await;
    let after_malformed = app.state.passwords.verifications();

    assert_eq!(after_wrong - verifications_before, 1, "a wrong password costs one argon2 check");
    assert_eq!(after_unknown - after_wrong, 1, "an unknown email costs the same check");
    assert_eq!(after_malformed - after_unknown, 1, "so does a malformed one");

    let bodies = [json_body(wrong_password).await, json_body(unknown_email).await, json_body(malformed_email).await];
    for body in &bodies {
        assert_eq!(body["code"], "invalid_credentials");
        assert_eq!(body, &bodies[0], "same answer whatever was wrong");
    }
    assert_eq!(app.me().await.status(), StatusCode::OK, "the earlier session survives failed logins");
}

async fn login_requires_both_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.login(" ", "").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = json_body(response).await;
    assert!(error["fields"]["email"].is_string() && error["fields"]["password"].is_string());
}

async fn disabled_account_cannot_log_in_or_stay_logged_in(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    assert_eq!(app.me().await.status(), StatusCode::OK);
    app.db().execute_unprepared("UPDATE accounts SET status = 'disabled' WHERE email = 'ada@example.com'").await.unwrap();

    let me = app.me().await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "a disabled account's session is over");
    let login = app.login("ada@example.com", "analytical engine").await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(login).await["code"], "account_disabled");
    let wrong = app.login("ada@example.com", "not the password").await;
    assert_eq!(json_body(wrong).await["code"], "invalid_credentials", "disabled is only told to the password holder");
}

async fn password_hash_is_argon2id_at_owasp_parameters(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let backend_kind = match backend {
        Backend::Sqlite => DbBackend::Sqlite,
        Backend::Postgres => DbBackend::Postgres,
    };
    let row = app.db().query_one_raw(Statement::from_string(backend_kind, "SELECT password_hash FROM accounts")).await.unwrap().unwrap();
    let hash: String = row.try_get("", "password_hash").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert!(!hash.contains("analytical"));
}

/// Sends `request` as raw bytes and returns whatever the server answers first.
async fn raw_request(address: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
