//! Health and readiness endpoints.
use reqwest::StatusCode;

use crate::helpers::{Backend, Options, json_body, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    health_and_readiness_answer,
    readiness_fails_when_the_database_is_gone,
    the_bundle_is_served_precompressed,
    slow_headers_are_cut_off_and_others_are_served_meanwhile,
);

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

/// Slowloris: connections that dribble their headers are closed when the header deadline
/// passes, and everyone else is served meanwhile.
async fn slow_headers_are_cut_off_and_others_are_served_meanwhile(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(backend, Options { header_read_timeout_ms: 700, ..Options::default() }).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        slow.push(tcp);
    }
    let started = std::time::Instant::now();
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "served while 50 clients dribble");
    for tcp in &mut slow {
        // One more header line, well before the deadline: dribbling does not extend it.
        let _ = tcp.write_all(b"X-Slow: 1\r\n").await;
    }
    for mut tcp in slow {
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut buffer)).await;
        assert!(read.is_ok(), "the connection was closed by the deadline");
        let text = String::from_utf8_lossy(&buffer);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "no request was served: {text}");
    }
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(4), "closed after {took:?}");
}
