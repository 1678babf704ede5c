//! Security headers on pages: a Content-Security-Policy whose per-response nonce is on every
//! inline script Leptos writes (so hydration still runs), and the usual hardening headers.
use reqwest::StatusCode;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;

on_both_backends!(pages_carry_a_nonce_csp_and_hardening_headers);

/// The nonce in a policy's `script-src`.
fn nonce_of(policy: &str) -> String {
    let start = policy.find("'nonce-").expect("a nonce source") + "'nonce-".len();
    policy[start..].split('\'').next().unwrap().to_string()
}

async fn pages_carry_a_nonce_csp_and_hardening_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut nonces = Vec::new();
    for path in ["/login", "/signup"] {
        let response = app.page(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let policy = headers["content-security-policy"].to_str().unwrap().to_string();
        for directive in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(policy.contains(directive), "{path}: {directive} missing from {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "same-origin");
        let nonce = nonce_of(&policy);
        assert!(nonce.len() >= 16, "{nonce}");
        let body = response.text().await.unwrap();
        let scripts: Vec<&str> = body.match_indices("<script").map(|(at, _)| &body[at..at + body[at..].find('>').unwrap()]).collect();
        assert!(!scripts.is_empty(), "the page hydrates through inline scripts");
        for script in scripts {
            assert!(script.contains(&format!("nonce=\"{nonce}\"")), "{path}: a script without this response's nonce: {script}");
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a fresh nonce per response");
    // The API is JSON, not a document: no page policy, but still no sniffing.
    let api = app.get("/api/v1/auth/me").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}
