//! Health and readiness endpoints.
use reqwest::StatusCode;

use crate::helpers::{Backend, Options, json_body, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(health_and_readiness_answer, readiness_fails_when_the_database_is_gone, the_bundle_is_served_precompressed);

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(json_body(health).await["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json_body(ready).await["database"], "ok");
}

async fn readiness_fails_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.db().close_by_ref().await.unwrap();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(ready).await["database"], "unreachable");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "alive, just not ready");
}

async fn the_bundle_is_served_precompressed(backend: Backend) {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/app.wasm"), b"plain bytes").unwrap();
    std::fs::write(site.path().join("pkg/app.wasm.br"), b"brotli bytes").unwrap();
    std::fs::write(site.path().join("pkg/app.wasm.gz"), b"gzip bytes").unwrap();
    let app = spawn_app_with(backend, Options { site_root: Some(site.path().to_path_buf()), ..Options::default() }).await;
    // A client without automatic decompression, to see the bytes as sent.
    let raw = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    for (accept, encoding, body) in [("br, gzip", Some("br"), "brotli bytes"), ("gzip", Some("gzip"), "gzip bytes"), ("identity", None, "plain bytes")] {
        let response = raw.get(format!("{}/pkg/app.wasm", app.address)).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept}");
        assert_eq!(response.headers().get("content-encoding").map(|v| v.to_str().unwrap()), encoding, "{accept}");
        assert_eq!(response.headers()["content-type"], "application/wasm");
        assert_eq!(response.text().await.unwrap(), body, "{accept}");
    }
    assert_eq!(app.get("/pkg/missing.js").await.status(), StatusCode::NOT_FOUND);
}
