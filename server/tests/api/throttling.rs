//! Failed logins are throttled per (account, address), per account and per address, counted in
//! the database so every process sees them; nobody is locked out for longer than the cap.
use std::{net::IpAddr, time::Duration};

use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, json_body, spawn_app, spawn_second_process};
use crate::on_both_backends;

on_both_backends!(
    repeated_failures_get_429_with_retry_after_then_heal,
    a_thousand_wrong_passwords_get_nobody_in_and_cost_few_password_checks,
    unknown_emails_are_throttled_like_real_ones,
    processes_on_one_database_share_the_counts,
    probing_taken_emails_by_signing_up_is_throttled_like_logins,
    guessing_the_current_password_is_throttled_like_logins,
    guesses_from_rotating_addresses_never_lock_the_owners_devices_out,
);

/// A client whose requests come from `ip` (any 127.x.y.z is this machine's loopback).
fn client_from(ip: &str) -> Client {
    Client::builder().local_address(ip.parse::<IpAddr>().unwrap()).timeout(Duration::from_secs(30)).build().unwrap()
}

async fn login(app: &TestApp, client: &Client, email: &str, password: &str) -> reqwest::Response {
    client.post(app.url("/api/v1/auth/login")).json(&json!({ "email": email, "password": password })).send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

async fn repeated_failures_get_429_with_retry_after_then_heal(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let client = client_from("127.0.0.1");
    for attempt in 1..=5 {
        let response = login(&app, &client, "ada@example.com", "difference engine").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let refused = login(&app, &client, "ada@example.com", "analytical engine").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits its turn");
    let wait = retry_after(&refused);
    assert!((1..=2).contains(&wait), "the first wait is a second: {wait}");
    let body = json_body(refused).await;
    assert_eq!(body["code"], "too_many_attempts");
    assert!(body["message"].as_str().unwrap().starts_with("Too many failed attempts. Try again in "), "{body}");

    // Another address is not slowed by this one's guesses.
    let elsewhere = login(&app, &client_from("127.0.0.2"), "ada@example.com", "analytical engine").await;
    assert_eq!(elsewhere.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_secs(wait)).await;
    let healed = login(&app, &client, "ada@example.com", "analytical engine").await;
    assert_eq!(healed.status(), StatusCode::OK, "after the wait the owner gets in");
    // A success starts the account's counts afresh: the next mistake is free again.
    let next = login(&app, &client, "ada@example.com", "difference engine").await;
    assert_eq!(next.status(), StatusCode::UNAUTHORIZED);
}

async fn a_thousand_wrong_passwords_get_nobody_in_and_cost_few_password_checks(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    app.register("grace@example.com", "compiler first").await;
    let checks_before = app.state.passwords.verifications();
    let attacker = client_from("127.0.0.3");
    let statuses: Vec<StatusCode> = futures::stream::iter(0..1000)
        .map(|i| {
            let (app, attacker) = (&app, &attacker);
            async move { login(app, attacker, "ada@example.com", &format!("guess number {i}")).await.status() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(count(StatusCode::OK), 0, "no wrong password gets in");
    assert_eq!(count(StatusCode::UNAUTHORIZED) + count(StatusCode::TOO_MANY_REQUESTS), 1000, "only 401 and 429: {statuses:?}");
    let checks = app.state.passwords.verifications() - checks_before;
    assert!(checks <= 10, "throttled attempts cost no password check: {checks} checks for 1000 attempts");

    // Another account, from the very same address, logs in on its first try.
    let started = std::time::Instant::now();
    let other = login(&app, &attacker, "grace@example.com", "compiler first").await;
    assert_eq!(other.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(5), "no wait: {:?}", started.elapsed());
    // And the attacked account's owner, from their own address.
    let owner = login(&app, &client_from("127.0.0.4"), "ada@example.com", "analytical engine").await;
    assert_eq!(owner.status(), StatusCode::OK);
}

async fn unknown_emails_are_throttled_like_real_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let client = client_from("127.0.0.5");
    let mut answers = Vec::new();
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..6 {
            let response = login(&app, &client, email, "difference engine").await;
            answers.push((response.status(), json_body(response).await["message"].as_str().unwrap().to_string()));
        }
    }
    let (real, unknown) = answers.split_at(6);
    assert_eq!(real, unknown, "the same answers whether the account exists or not");
    assert_eq!(real[5].0, StatusCode::TOO_MANY_REQUESTS);
}

async fn processes_on_one_database_share_the_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let second = spawn_second_process(&app).await;
    let client = client_from("127.0.0.6");
    for _ in 0..5 {
        assert_eq!(login(&app, &client, "ada@example.com", "difference engine").await.status(), StatusCode::UNAUTHORIZED);
    }
    let there = login(&second, &client, "ada@example.com", "difference engine").await;
    assert_eq!(there.status(), StatusCode::TOO_MANY_REQUESTS, "the other process counts the same failures");
}

async fn sign_up(app: &TestApp, client: &Client, email: &str) -> reqwest::Response {
    client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": "correct horse battery" }))
        .send()
        .await
        .unwrap()
}

/// Sign-up has to say an email is taken (there is no email verification to hide it behind), so
/// each such answer counts against the address like a failed login: an address gets the same
/// 30 free tries for both, then waits.
async fn probing_taken_emails_by_signing_up_is_throttled_like_logins(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    // Sign-ups that make their account do not count: a classroom behind one address can join.
    let shared = client_from("127.0.0.8");
    for i in 0..35 {
        assert_eq!(sign_up(&app, &shared, &format!("student{i}@example.com")).await.status(), StatusCode::CREATED, "student {i}");
    }
    let prober = client_from("127.0.0.7");
    let mut statuses = Vec::new();
    for i in 0..31 {
        let email = if i % 2 == 0 { "ada@example.com".to_string() } else { format!("student{i}@example.com") };
        statuses.push(sign_up(&app, &prober, &email).await.status());
    }
    assert!(statuses[..30].iter().all(|s| *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(statuses[30], StatusCode::TOO_MANY_REQUESTS, "the 31st probe waits: {statuses:?}");
    // The same counter as logins: the prober's address cannot guess passwords now either.
    assert_eq!(login(&app, &prober, "ada@example.com", "analytical engine").await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Nobody else is slowed: Ada logs in from her address, a new person signs up from theirs.
    assert_eq!(login(&app, &client_from("127.0.0.9"), "ada@example.com", "analytical engine").await.status(), StatusCode::OK);
    assert_eq!(sign_up(&app, &client_from("127.0.0.10"), "newcomer@example.com").await.status(), StatusCode::CREATED);
}

/// Whoever holds a session (a borrowed laptop, a stolen cookie) could guess the current
/// password through the password change; it counts like a login.
async fn guessing_the_current_password_is_throttled_like_logins(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let change = async |current: &str| {
        app.post_json("/api/v1/account/password", &json!({ "current_password": current, "new_password": "difference engine 2" })).await
    };
    for guess in 1..=5 {
        assert_eq!(change("wrong guess").await.status(), StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    let refused = change("analytical engine").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_secs(retry_after(&refused))).await;
    assert_eq!(change("analytical engine").await.status(), StatusCode::NO_CONTENT, "after the wait, the owner changes it");
}

/// One wrong guess at a time from ever new addresses keeps the account-wide counter armed; the
/// owner's devices (which logged in before, and carry its cookie) are counted on their own.
async fn guesses_from_rotating_addresses_never_lock_the_owners_devices_out(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", "analytical engine").await;
    let laptop = Client::builder().cookie_store(true).local_address("127.0.1.1".parse::<IpAddr>().unwrap()).build().unwrap();
    assert_eq!(login(&app, &laptop, "ada@example.com", "analytical engine").await.status(), StatusCode::OK);

    // The stranger: a wrong guess from each of many addresses, and on and on.
    let attacking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let attack = {
        let (app_url, attacking) = (app.url("/api/v1/auth/login"), attacking.clone());
        tokio::spawn(async move {
            let mut refused = 0;
            for i in 0u32.. {
                if !attacking.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let client = client_from(&format!("127.0.{}.{}", 2 + i / 250, 1 + i % 250));
                let response = client
                    .post(&app_url)
                    .json(&json!({ "email": "ada@example.com", "password": format!("guess {i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_ne!(response.status(), StatusCode::OK, "a guess got in");
                refused += usize::from(response.status() == StatusCode::TOO_MANY_REQUESTS);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            refused
        })
    };
    // The account-wide counter gets armed: an attempt from a device nobody knows has to wait.
    // (A wrong password, as a right one would start the account's counts afresh.)
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for probe in 1.. {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let unknown_device =
            login(&app, &client_from(&format!("127.0.9.{}", probe % 250 + 1)), "ada@example.com", "not the password").await;
        if unknown_device.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(unknown_device.status(), StatusCode::UNAUTHORIZED);
        assert!(std::time::Instant::now() < deadline, "the attack never armed the account counter");
    }
    // The owner's laptop, even from a new address, logs in while the attack goes on, every time.
    for round in 0..5 {
        let laptop_elsewhere = Client::builder().cookie_store(true).local_address("127.0.1.3".parse::<IpAddr>().unwrap()).build().unwrap();
        let cookie = laptop_cookie(&app, &laptop).await;
        let response = laptop_elsewhere
            .post(app.url("/api/v1/auth/login"))
            .header(reqwest::header::COOKIE, cookie)
            .json(&json!({ "email": "ada@example.com", "password": "analytical engine" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "round {round}: the owner's device is locked out");
        assert_eq!(login(&app, &laptop, "ada@example.com", "analytical engine").await.status(), StatusCode::OK, "round {round}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    attacking.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(attack.await.unwrap() > 0, "the attack was throttled too");
    // A device cookie is no master key: wrong passwords from the device are throttled.
    for _ in 0..5 {
        assert_eq!(login(&app, &laptop, "ada@example.com", "wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&app, &laptop, "ada@example.com", "analytical engine").await.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// The device cookie `client` was given, as a `Cookie` header value.
async fn laptop_cookie(app: &TestApp, client: &Client) -> String {
    // reqwest's cookie store does not hand cookies out; log in once more and read Set-Cookie.
    let response = login(app, client, "ada@example.com", "analytical engine").await;
    assert_eq!(response.status(), StatusCode::OK);
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gatehouse_device="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("a device cookie")
}
