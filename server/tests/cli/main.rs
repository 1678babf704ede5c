//! The `gatehouse` binary as an operator runs it.
mod commands;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn gatehouse() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    // Only what the test sets: no stray configuration from the environment running the tests.
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("NO_COLOR", "1");
    command
}

/// `gatehouse serve` with nothing configured: SQLite in ./data, a 0600 master key, and it
/// stops cleanly on SIGTERM. Port 3000 may be taken on a developer machine, so only the port
/// is chosen here.
#[test]
fn serve_works_with_no_configuration_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = gatehouse()
        .arg("serve")
        .current_dir(dir.path())
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let address = loop {
        let line = lines.next().expect("gatehouse printed its address").unwrap();
        if let Some(rest) = line.split("\"address\":\"").nth(1) {
            break rest.split('"').next().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no address logged");
    };

    let health = reqwest::blocking::get(format!("http://{address}/healthz")).unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::blocking::get(format!("http://{address}/readyz")).unwrap();
    assert_eq!(ready.status(), 200);

    assert!(dir.path().join("data/gatehouse.db").exists(), "the SQLite file is created");
    let key = dir.path().join("data/master.key");
    assert!(key.exists(), "the master key file is created");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    send_sigterm(child.id());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "gatehouse did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("Gatehouse stopped")), "{rest:?}");
}

fn send_sigterm(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn migrate_applies_the_schema_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let output = gatehouse()
        .arg("migrate")
        .current_dir(dir.path())
        .env("DATABASE_URL", format!("sqlite://{}/fresh.db", dir.path().display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    assert!(dir.path().join("fresh.db").exists());
}

#[test]
fn migrate_applies_the_schema_on_postgres() {
    let admin = std::env::var("GATEHOUSE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("gatehouse_cli_{}", uuid::Uuid::new_v4().simple());
    let psql = |sql: &str| {
        let status = Command::new("psql").args([admin.as_str(), "-qtAc", sql]).status().unwrap();
        assert!(status.success(), "psql {sql}");
    };
    psql(&format!("CREATE DATABASE \"{name}\""));
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let output = gatehouse().arg("migrate").env("DATABASE_URL", url.as_str()).output().unwrap();
    let twice = gatehouse().arg("migrate").env("DATABASE_URL", url.as_str()).output().unwrap();
    psql(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(twice.status.success(), "migrating again is a no-op");
}

#[test]
fn a_bad_database_url_is_a_clear_error_not_a_panic() {
    let output = gatehouse().arg("migrate").env("DATABASE_URL", "mysql://nope").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL must start with sqlite:// or postgres://"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `gatehouse serve` on a fresh SQLite directory with `env` set; returns the child and its
/// address once it listens.
fn serve_with(dir: &std::path::Path, env: &[(&str, String)]) -> (std::process::Child, String) {
    let mut command = gatehouse();
    command.arg("serve").current_dir(dir).env("GATEHOUSE_BIND", "127.0.0.1:0").env("GATEHOUSE_LOG_FORMAT", "json");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("gatehouse printed its address").unwrap();
        if let Some(rest) = line.split("\"address\":\"").nth(1) {
            break rest.split('"').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}

/// A listener that answers every connection with one small JSON response and counts them.
fn counting_http_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ =
                stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
        }
    });
    (address, count)
}

/// HTTP(S)_PROXY would send every upstream's name to a proxy and connect past the resolver that
/// applies the address policy: the gateway and the upstream check ignore it and connect to the
/// upstream themselves.
#[test]
fn the_gateway_ignores_proxy_settings_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, proxied) = counting_http_server();
    let (upstream, reached) = counting_http_server();
    let proxy_url = format!("http://{proxy}");
    let env: Vec<(&str, String)> = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .map(|name| (name, proxy_url.clone()))
        .collect();
    let (mut child, address) = serve_with(dir.path(), &env);

    let client = reqwest::blocking::Client::builder().cookie_store(true).no_proxy().build().unwrap();
    let api = |path: &str| format!("http://{address}/api/v1{path}");
    let signed_up = client
        .post(api("/auth/register"))
        .json(&serde_json::json!({ "email": "ops@example.com", "password": "correct horse battery" }))
        .send()
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    let server: serde_json::Value = client
        .post(api("/servers"))
        .json(&serde_json::json!({ "name": "direct", "upstream_url": format!("http://{upstream}/mcp"), "transport": "streamable_http" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    // The check made on save reached the upstream directly too (the proxy count below is 0).
    let checked = reached.load(std::sync::atomic::Ordering::SeqCst);
    assert!(checked >= 1, "the check made on save reached the upstream");
    let created: serde_json::Value = client
        .post(api("/tokens"))
        .json(&serde_json::json!({ "description": "ci", "expires": "never", "server_ids": [server["id"]] }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let answer = client
        .post(server["mcp_endpoint"].as_str().unwrap())
        .bearer_auth(created["token"].as_str().unwrap())
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .unwrap();
    let status = answer.status();
    send_sigterm(child.id());
    let _ = child.wait();
    assert_eq!(status, 200);
    assert_eq!(proxied.load(std::sync::atomic::Ordering::SeqCst), 0, "the gateway went through the proxy");
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst) - checked, 1, "and straight to the upstream");
}
