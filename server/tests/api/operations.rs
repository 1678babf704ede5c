//! Health and readiness endpoints.
use reqwest::StatusCode;

use crate::helpers::{Backend, Options, json_body, spawn_app, spawn_app_with};
use crate::on_both_backends;

on_both_backends!(
    health_and_readiness_answer,
    readiness_fails_when_the_database_is_gone,
    the_bundle_is_served_precompressed,
    slow_headers_are_cut_off_and_others_are_served_meanwhile,
    slow_bodies_are_cut_off_with_408,
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
    for (accept, encoding, body) in
        [("br, gzip", Some("br"), "brotli bytes"), ("gzip", Some("gzip"), "gzip bytes"), ("identity", None, "plain bytes")]
    {
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

/// R-U-Dead-Yet: a body sent a byte at a time is cut off at the body deadline with 408, on the
/// dashboard's API and on the gateway, and the connection is closed.
async fn slow_bodies_are_cut_off_with_408(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(backend, Options { body_read_timeout_ms: 700, ..Options::default() }).await;
    let demo = crate::helpers::spawn_demo_mcp().await;
    let ada = app.user("ada@example.com").await;
    let (server, token) = crate::gateway::served(&ada, &demo, "streamable_http").await;
    let address = app.address.trim_start_matches("http://").to_string();
    let gateway_path = server["mcp_endpoint"].as_str().unwrap().trim_start_matches(&app.address).to_string();
    for (path, auth) in [("/api/v1/auth/login".to_string(), String::new()), (gateway_path, format!("Authorization: Bearer {token}\r\n"))] {
        let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
        let (mut reader, mut writer) = tcp.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: 1000\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let started = std::time::Instant::now();
        let dribble = async {
            for _ in 0..40 {
                if writer.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        // The answer arrives while the client is still dribbling.
        let mut answer = vec![0u8; 4096];
        let read = async {
            let read = tokio::time::timeout(std::time::Duration::from_secs(3), reader.read(&mut answer)).await;
            (read, started.elapsed())
        };
        let (_, (read, took)) = tokio::join!(tokio::time::timeout(std::time::Duration::from_secs(3), dribble), read);
        let n = read.expect("answered before 3 s").unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
        assert!(took >= std::time::Duration::from_millis(600), "{path}: cut off early, after {took:?}");
        // And the connection is closed: the rest of the body is never waited for.
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(std::time::Duration::from_secs(2), reader.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "{path}: the connection stayed open");
    }
}
