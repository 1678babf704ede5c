//! `gatehouse-bench`: runs Gatehouse, the demo MCP server and nginx on loopback and measures
//! them side by side in one run, then writes `bench/RESULTS.md`. Every loop is bounded in
//! time. `--smoke` runs each measurement with tiny counts (seconds in all) so the test
//! command keeps the harness from rotting.
mod mcp;
mod procs;
mod stats;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};

use stats::{Samples, ms};

#[derive(Debug, Parser)]
#[command(about = "Gatehouse's benchmark suite")]
struct Args {
    /// The gatehouse binary (a release build for real figures).
    #[arg(long)]
    gatehouse: PathBuf,
    /// The built site (for the dashboard and the wasm bundle).
    #[arg(long, default_value = "target/site")]
    site: PathBuf,
    /// Where the results table goes.
    #[arg(long, default_value = "bench/RESULTS.md")]
    out: PathBuf,
    /// Tiny counts, for the test command.
    #[arg(long)]
    smoke: bool,
    /// The command line to record in the results.
    #[arg(long, default_value = "./dev bench")]
    command: String,
}

/// How much each measurement does.
struct Budget {
    calls: usize,
    latency_time: Duration,
    throughput_time: Duration,
    logins: usize,
}

impl Budget {
    fn new(smoke: bool) -> Self {
        if smoke {
            Budget { calls: 20, latency_time: Duration::from_secs(2), throughput_time: Duration::from_millis(300), logins: 2 }
        } else {
            Budget { calls: 3000, latency_time: Duration::from_secs(10), throughput_time: Duration::from_secs(5), logins: 20 }
        }
    }
}

/// One line of the results table.
struct Row {
    figure: String,
    compared: String,
    goal: String,
    measured: String,
    verdict: Verdict,
}

#[derive(Clone, Copy)]
enum Verdict {
    Met,
    Missed,
    Info,
}

impl Verdict {
    fn of(met: bool) -> Self {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::Info => "—",
        }
    }
}

struct Setup {
    token: String,
    mcp_server: String,
    sse_server: String,
    email: String,
}

async fn setup(base: &str, demo: &str) -> Result<Setup> {
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let email = "bench@example.com".to_string();
    let response = http.post(format!("{base}/api/v1/auth/register")).json(&json!({ "email": email, "password": "correct horse battery" })).send().await?;
    if !response.status().is_success() {
        bail!("sign up answered {}", response.status());
    }
    let mut ids = Vec::new();
    for (name, path, transport) in [("bench mcp", "/mcp", "streamable_http"), ("bench sse", "/sse", "sse")] {
        let server: Value = http
            .post(format!("{base}/api/v1/servers"))
            .json(&json!({ "name": name, "upstream_url": format!("{demo}{path}"), "transport": transport }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.push(server["id"].as_str().context("server id")?.to_string());
    }
    let created: Value = http
        .post(format!("{base}/api/v1/tokens"))
        .json(&json!({ "description": "bench", "expires": "never", "server_ids": ids }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(Setup {
        token: created["token"].as_str().context("token")?.to_string(),
        mcp_server: ids[0].clone(),
        sse_server: ids[1].clone(),
        email,
    })
}

/// Sequential `tools/call` round trips on one session.
async fn latency(kind: &str, url: &str, token: Option<&str>, tool: &str, budget: &Budget) -> Result<Samples> {
    let client = mcp::client();
    let mut samples = Samples::default();
    let deadline = Instant::now() + budget.latency_time;
    match kind {
        "streamable" => {
            let session = mcp::Streamable::open(&client, url, token).await?;
            for _ in 0..budget.calls / 10 {
                session.call(tool, "warm up").await?;
            }
            while samples.len() < budget.calls && Instant::now() < deadline {
                samples.push(session.call(tool, "hello bench").await?);
            }
        }
        _ => {
            let mut session = mcp::Sse::open(&client, url, token).await?;
            for _ in 0..budget.calls / 10 {
                session.call(tool, "warm up").await?;
            }
            while samples.len() < budget.calls && Instant::now() < deadline {
                samples.push(session.call(tool, "hello bench").await?);
            }
        }
    }
    Ok(samples)
}

/// `tools/call` POSTs per second with `concurrency` sessions calling back to back.
async fn throughput(url: &str, token: Option<&str>, concurrency: usize, budget: &Budget) -> Result<(f64, u64)> {
    let client = mcp::client();
    let mut sessions = Vec::new();
    for _ in 0..concurrency {
        sessions.push(mcp::Streamable::open(&client, url, token).await?);
    }
    let started = Instant::now();
    let deadline = started + budget.throughput_time;
    let workers = sessions.into_iter().map(|session| {
        tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                session.call("echo", "x").await?;
                done += 1;
            }
            anyhow::Ok(done)
        })
    });
    let mut total = 0;
    for worker in futures::future::join_all(workers).await {
        total += worker??;
    }
    Ok((total as f64 / started.elapsed().as_secs_f64(), total))
}

async fn login_p50(base: &str, email: &str, budget: &Budget) -> Result<Samples> {
    let mut samples = Samples::default();
    for _ in 0..budget.logins {
        let http = reqwest::Client::new();
        let started = Instant::now();
        let response = http.post(format!("{base}/api/v1/auth/login")).json(&json!({ "email": email, "password": "correct horse battery" })).send().await?;
        samples.push(started.elapsed());
        if !response.status().is_success() {
            bail!("login answered {}", response.status());
        }
    }
    Ok(samples)
}

fn compressed_size(program: &str, args: &[&str], file: &std::path::Path) -> Option<u64> {
    let output = std::process::Command::new(program).args(args).arg(file).output().ok()?;
    output.status.success().then_some(output.stdout.len() as u64)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map(|kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} × {cpu}, {memory} RAM")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let budget = Budget::new(args.smoke);
    let started = Instant::now();
    let mut rows: Vec<Row> = Vec::new();

    let demo = procs::demo_mcp(&args.gatehouse)?;
    let gatehouse = procs::gatehouse(&args.gatehouse, &args.site, None, &[("GATEHOUSE_USAGE_FLUSH_MS", "5000")])?;
    let nginx = procs::nginx(&demo.url).ok();
    if nginx.is_none() {
        eprintln!("nginx is not installed: its columns stay empty");
    }
    let s = setup(&gatehouse.url, &demo.url).await?;
    let token = Some(s.token.as_str());
    eprintln!("set up in {:?}", started.elapsed());

    // Round trips: direct, through nginx, through Gatehouse.
    for (kind, label, direct_path, gateway_path) in [
        ("streamable", "Streamable HTTP", "/mcp".to_string(), format!("/s/{}/mcp", s.mcp_server)),
        ("sse", "SSE", "/sse".to_string(), format!("/s/{}/sse", s.sse_server)),
    ] {
        for (tool, upstream) in [("echo", "echo"), ("slow_echo", "1 ms")] {
            let direct = latency(kind, &format!("{}{direct_path}", demo.url), None, tool, &budget).await?;
            let via_nginx = match &nginx {
                Some(n) => Some(latency(kind, &format!("{}{direct_path}", n.url), None, tool, &budget).await?),
                None => None,
            };
            let via_gateway = latency(kind, &format!("{}{gateway_path}", gatehouse.url), token, tool, &budget).await?;
            let added50 = via_gateway.p50().saturating_sub(direct.p50());
            let added99 = via_gateway.p99().saturating_sub(direct.p99());
            let nginx_text = via_nginx.as_ref().map(|n| format!("nginx {} / {}", ms(n.p50()), ms(n.p99()))).unwrap_or_else(|| "nginx —".into());
            let (goal, verdict) = if tool == "slow_echo" {
                ("added p50 ≤ 0.1 ms, added p99 ≤ 0.5 ms".to_string(), Verdict::of(added50 <= Duration::from_micros(100) && added99 <= Duration::from_micros(500)))
            } else {
                let ok = via_nginx.as_ref().is_none_or(|n| via_gateway.p50() <= n.p50());
                ("p50 no slower than nginx".to_string(), if via_nginx.is_some() { Verdict::of(ok) } else { Verdict::Info })
            };
            rows.push(Row {
                figure: format!("`tools/call` round trip, {label}, {upstream} upstream (p50 / p99, {} calls)", via_gateway.len()),
                compared: format!("direct {} / {}; {nginx_text}", ms(direct.p50()), ms(direct.p99())),
                goal,
                measured: format!("gateway {} / {} (added {} / {})", ms(via_gateway.p50()), ms(via_gateway.p99()), ms(added50), ms(added99)),
                verdict,
            });
        }
    }

    // Throughput and CPU per request, echo upstream.
    let gateway_url = format!("{}/s/{}/mcp", gatehouse.url, s.mcp_server);
    for concurrency in [1, 32] {
        let (direct, _) = throughput(&format!("{}/mcp", demo.url), None, concurrency, &budget).await?;
        let mut nginx_cpu = None;
        let via_nginx = match &nginx {
            Some(n) => {
                let before = procs::cpu_seconds(n.child.id());
                let (rate, count) = throughput(&format!("{}/mcp", n.url), None, concurrency, &budget).await?;
                nginx_cpu = Some((procs::cpu_seconds(n.child.id()) - before) / count.max(1) as f64);
                Some(rate)
            }
            None => None,
        };
        let before = procs::cpu_seconds(gatehouse.child.id());
        let (via_gateway, count) = throughput(&gateway_url, token, concurrency, &budget).await?;
        let gateway_cpu = (procs::cpu_seconds(gatehouse.child.id()) - before) / count.max(1) as f64;
        let ratio = via_gateway / direct;
        let met = ratio >= 0.6 && via_nginx.is_none_or(|n| via_gateway >= n);
        rows.push(Row {
            figure: format!("`tools/call` POSTs per second, c={concurrency}, echo upstream"),
            compared: format!("direct {direct:.0}/s; nginx {}", via_nginx.map(|n| format!("{n:.0}/s ({:.2}× direct)", n / direct)).unwrap_or_else(|| "—".into())),
            goal: "≥ nginx, and ≥ 0.6× direct".into(),
            measured: format!("gateway {via_gateway:.0}/s ({ratio:.2}× direct)"),
            verdict: Verdict::of(met),
        });
        if concurrency == 32 {
            rows.push(Row {
                figure: "gateway CPU per proxied request (utime+stime ÷ requests, c=32)".into(),
                compared: format!("nginx {}", nginx_cpu.map(|c| format!("{:.1} µs", c * 1e6)).unwrap_or_else(|| "—".into())),
                goal: "≤ 25 µs".into(),
                measured: format!("{:.1} µs", gateway_cpu * 1e6),
                verdict: Verdict::of(gateway_cpu <= 25e-6),
            });
        }
    }

    // Login at the OWASP argon2id parameters (19 MiB, t=2, p=1), nothing else running.
    let logins = login_p50(&gatehouse.url, &s.email, &budget).await?;
    rows.push(Row {
        figure: format!("login p50, argon2id 19 MiB/t=2/p=1, no load ({} logins)", logins.len()),
        compared: "—".into(),
        goal: "≤ 60 ms".into(),
        measured: format!("{} (p99 {})", ms(logins.p50()), ms(logins.p99())),
        verdict: Verdict::of(logins.p50() <= Duration::from_millis(60)),
    });

    // The release wasm bundle.
    let wasm = args.site.join("pkg/gatehouse_bg.wasm");
    if let Ok(meta) = std::fs::metadata(&wasm) {
        let raw = meta.len();
        let gzip = compressed_size("gzip", &["-9", "-c"], &wasm);
        let brotli = compressed_size("brotli", &["-q", "11", "-c"], &wasm);
        let kb = |n: u64| format!("{:.0} KB", n as f64 / 1000.0);
        rows.push(Row {
            figure: "release wasm bundle".into(),
            compared: "published Leptos apps: 577–961 KB raw, ~271 KB brotli".into(),
            goal: "≤ 800 KB raw, ≤ 250 KB brotli".into(),
            measured: format!("{} raw, {} gzip -9, {} brotli", kb(raw), gzip.map(kb).unwrap_or("—".into()), brotli.map(kb).unwrap_or("—".into())),
            verdict: Verdict::of(raw <= 800_000 && brotli.is_some_and(|b| b <= 250_000)),
        });
    }

    for (figure, goal) in [
        ("token check (signature + view lookup)", "≤ 2 µs, zero database queries"),
        ("open SSE streams held through the gateway, RSS per stream at 1k / 5k / 10k", "≤ 20 KiB per stream at 10k"),
        ("revoke → every stream of that token closed, 1 and 1,000 streams, same and other process", "p99 ≤ 100 ms / ≤ 250 ms"),
        ("database writes for last used at a sustained request rate", "one batched write per flush interval"),
        ("dashboard token list, 1,000 tokens vs 10, time to first byte", "p50 ≤ 20 ms, growth no worse than linear"),
        ("gateway p99 while 50 bad logins per second hit the login endpoint", "≤ 1.2× the p99 at rest"),
    ] {
        rows.push(Row { figure: figure.into(), compared: "—".into(), goal: goal.into(), measured: "not measured yet".into(), verdict: Verdict::Info });
    }

    drop(nginx);
    drop(gatehouse);
    drop(demo);
    let table = render(&rows, &args, started.elapsed());
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&args.out, &table).with_context(|| format!("writing {}", args.out.display()))?;
    println!("{table}");
    Ok(())
}

fn render(rows: &[Row], args: &Args, took: Duration) -> String {
    let mut out = String::new();
    out.push_str("# Benchmark results\n\n");
    out.push_str(&format!("- Date: {}\n", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")));
    out.push_str(&format!("- Machine: {}\n", machine()));
    out.push_str(&format!("- Command: `{}`{}\n", args.command, if args.smoke { " (smoke mode: tiny counts, figures meaningless)" } else { "" }));
    out.push_str(&format!("- Gatehouse binary: `{}`; the run took {:.0} s\n", args.gatehouse.display(), took.as_secs_f64()));
    out.push_str("- Everything runs on loopback on this one machine: the demo MCP server (`gatehouse demo-mcp`), nginx (Debian package, 2 workers, plain reverse proxy, no auth) and Gatehouse (SQLite), all driven by the same client in the same run.\n\n");
    out.push_str("| figure | compared with | goal | measured | verdict |\n|---|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!("| {} | {} | {} | {} | {} |\n", row.figure, row.compared, row.goal, row.measured, row.verdict.text()));
    }
    out
}
