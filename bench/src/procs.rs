//! The processes a run compares: Gatehouse, the demo MCP server, nginx. Loopback only; each is
//! stopped when dropped.
use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

pub struct Proc {
    pub child: Child,
    pub url: String,
    _dir: Option<TempDir>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first so Gatehouse flushes and nginx's workers go with their master.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        let path =
            std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listened on port {port} within {within:?}")
}

pub fn demo_mcp(gatehouse: &Path) -> Result<Proc> {
    let port = free_port()?;
    let child = Command::new(gatehouse)
        .args(["demo-mcp", "--bind", &format!("127.0.0.1:{port}")])
        .env("GATEHOUSE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("BENCH_DEBUG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .context("starting gatehouse demo-mcp")?;
    let proc = Proc { child, url: format!("http://127.0.0.1:{port}"), _dir: None };
    wait_for_port(port, Duration::from_secs(20))?;
    Ok(proc)
}

/// `gatehouse serve` on a free port, with its own data directory, on `database_url` (a fresh
/// SQLite file when `None`).
pub fn gatehouse(bin: &Path, site_root: &Path, database_url: Option<&str>, extra: &[(&str, &str)]) -> Result<Proc> {
    let dir = TempDir::new("gatehouse-bench")?;
    let database = database_url.map(str::to_string).unwrap_or_else(|| format!("sqlite://{}/gatehouse.db", dir.0.display()));
    let mut command = Command::new(bin);
    command
        .arg("serve")
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_DATA_DIR", dir.0.join("data"))
        .env("GATEHOUSE_SITE_ROOT", site_root)
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("GATEHOUSE_LOG_LEVEL", "info")
        .env("GATEHOUSE_UPSTREAM_ALLOW_LOOPBACK", "true")
        .env("GATEHOUSE_TOKEN_REQUESTS_PER_SECOND", "0")
        .env("GATEHOUSE_TOKEN_MAX_OPEN", "0")
        .env("DATABASE_URL", database)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    let mut child = command.spawn().context("starting gatehouse serve")?;
    let stdout = child.stdout.take().context("gatehouse stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        let debug = std::env::var_os("BENCH_DEBUG").is_some();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if debug && (line.contains("WARN") || line.contains("ERROR") || line.contains("refus")) {
                eprintln!("gatehouse: {line}");
            }
            if !sent
                && let Some(at) = line.find("\"address\":\"")
                && let Some(end) = line[at + 11..].find('"')
            {
                let _ = tx.send(line[at + 11..at + 11 + end].to_string());
                sent = true;
            }
        }
    });
    let address = rx.recv_timeout(Duration::from_secs(60)).context("gatehouse did not report its address within 60 s")?;
    Ok(Proc { child, url: format!("http://{address}"), _dir: Some(dir) })
}

/// nginx as a plain reverse proxy to `upstream` (no auth), two workers like the two cores.
pub fn nginx(upstream: &str) -> Result<Proc> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists()).context("nginx is not installed")?;
    let dir = TempDir::new("nginx-bench")?;
    let port = free_port()?;
    let upstream_host = upstream.trim_start_matches("http://");
    let conf = format!(
        r#"daemon off;
worker_processes 2;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fcgi;
  uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  upstream demo {{ server {upstream_host}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://demo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }}
  }}
}}
"#,
        dir = dir.0.display()
    );
    std::fs::write(dir.0.join("nginx.conf"), conf)?;
    let child = Command::new(bin)
        .args(["-p", &dir.0.display().to_string(), "-c", &dir.0.join("nginx.conf").display().to_string(), "-e", "stderr"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nginx")?;
    let proc = Proc { child, url: format!("http://127.0.0.1:{port}"), _dir: Some(dir) };
    wait_for_port(port, Duration::from_secs(10))?;
    Ok(proc)
}

/// CPU time (user + system) used so far by `pid` and its direct children, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0u64;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // Fields after the command name, which is in parentheses and may hold spaces.
            let Some(close) = stat.rfind(')') else { continue };
            let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
            let (Some(ppid), Some(utime), Some(stime)) = (fields.get(1), fields.get(11), fields.get(12)) else { continue };
            let this: u32 = entry.file_name().to_string_lossy().parse().unwrap_or(0);
            if this == pid || ppid.parse::<u32>().ok() == Some(pid) {
                total += utime.parse::<u64>().unwrap_or(0) + stime.parse::<u64>().unwrap_or(0);
            }
        }
    }
    total as f64 / ticks
}

/// How many files (sockets included) `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|entries| entries.count()).unwrap_or(0)
}

/// Resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// A fresh PostgreSQL database on the local server, dropped when done.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

/// Runs `sql` in `database`; returns what it printed (unaligned, tuples only).
fn psql_in(database: &str, sql: &str) -> Result<String> {
    let output = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qtAc", sql])
        .output()
        .context("running psql")?;
    if !output.status.success() {
        bail!("psql failed: {sql}: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn psql(sql: &str) -> Result<()> {
    psql_in("postgres", sql).map(drop)
}

impl PgDatabase {
    pub fn create() -> Result<Self> {
        let name = format!("gatehouse_bench_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
        psql(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(Self { url: format!("postgres://postgres@127.0.0.1:5432/{name}"), name })
    }

    /// Runs `sql` in this database.
    pub fn query(&self, sql: &str) -> Result<String> {
        psql_in(&self.name, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// This process's open-files limit (children inherit it).
pub fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3)?.parse().ok()))
        .unwrap_or(1024)
}
