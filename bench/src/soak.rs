//! The SSE soak: many MCP sessions over the HTTP+SSE transport held through the gateway for a
//! while, each calling `echo` every few seconds. No stream may drop and no call may fail; when
//! the clients leave, the gateway's open files must come back to where they started, and its
//! memory close to it. Any of those failing fails the run (and so the smoke test).
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use tokio::task::JoinSet;

use crate::{Row, Setup, Verdict, mcp, procs};

/// What one soak saw.
struct Seen {
    calls: u64,
    failures: Vec<String>,
}

/// How long an emptied gateway may take to close what its clients left.
const SETTLE: Duration = Duration::from_secs(15);

pub async fn run(gatehouse: &procs::Proc, s: &Setup, streams: usize, hold: Duration) -> Result<Row> {
    let pid = gatehouse.child.id();
    let (token, _) = s.api.token(&[&s.sse_server]).await?;
    let url = format!("{}/s/{}/sse", gatehouse.url, s.sse_server);
    // No overall request timeout: it would end every held stream after 30 s (each answer has
    // its own 10 s deadline).
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).connect_timeout(Duration::from_secs(10)).build()?;

    // Warm up (pools, lazily built state), then take the baseline.
    let mut warm = mcp::Sse::open(&client, &url, Some(&token)).await?;
    warm.call("echo", "warm-up").await?;
    drop(warm);
    settle(pid, None).await;
    let (fds_before, rss_before) = (procs::open_fds(pid), procs::rss_kib(pid));

    let opened = Instant::now();
    let sessions: Vec<Result<mcp::Sse>> =
        futures::stream::iter(0..streams).map(|_| mcp::Sse::open(&client, &url, Some(&token))).buffer_unordered(32).collect().await;
    let mut open = Vec::with_capacity(streams);
    for session in sessions {
        open.push(session?);
    }
    let took_to_open = opened.elapsed();
    let (fds_peak, rss_peak) = (procs::open_fds(pid), procs::rss_kib(pid));

    // Every session calls every ~3 s (spread out), until `hold` is over.
    let until = Instant::now() + hold;
    let mut tasks = JoinSet::new();
    for (i, mut session) in open.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut seen = Seen { calls: 0, failures: Vec::new() };
            tokio::time::sleep(Duration::from_millis((i as u64 * 7919) % 3000)).await;
            // At least one call each, however short the hold.
            loop {
                match session.call("echo", &format!("soak {i} {}", seen.calls)).await {
                    Ok(_) => seen.calls += 1,
                    Err(e) => seen.failures.push(format!("session {i}: {e}")),
                }
                if Instant::now() + Duration::from_millis(3000) >= until {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(3000)).await;
            }
            if !session.is_open() {
                seen.failures.push(format!("session {i}: its stream ended before the client left"));
            }
            (seen, session)
        });
    }
    let mut calls = 0;
    let mut failures = Vec::new();
    let mut held = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (seen, session) = done?;
        calls += seen.calls;
        failures.extend(seen.failures);
        held.push(session);
    }
    let rss_held = procs::rss_kib(pid);
    // The clients leave.
    drop(held);
    drop(client);
    let returned = settle(pid, Some(fds_before)).await;
    let fds_after = procs::open_fds(pid);
    // Freed memory goes back a few seconds after the streams end (Gatehouse trims its heaps
    // every 5 s after streams have closed): wait for it, up to the settling time.
    let grown = rss_peak.max(rss_held).saturating_sub(rss_before);
    let allowed = rss_before + grown / 4 + 1024;
    let since = Instant::now();
    while procs::rss_kib(pid) > allowed && since.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_after = procs::rss_kib(pid);

    let mib = |kib: u64| kib as f64 / 1024.0;
    let measured = format!(
        "{streams} streams opened in {:.1} s, held {:.0} s: {calls} calls, {} failed or dropped; open files {fds_before} → {fds_peak} → {fds_after} ({}); RSS {:.1} → {:.1} (held {:.1}) → {:.1} MiB",
        took_to_open.as_secs_f64(),
        hold.as_secs_f64(),
        failures.len(),
        match returned {
            Some(t) => format!("back in {:.1} s", t.as_secs_f64()),
            None => format!("not back within {} s", SETTLE.as_secs()),
        },
        mib(rss_before),
        mib(rss_peak),
        mib(rss_held),
        mib(rss_after),
    );
    eprintln!("soak: {measured}");
    if !failures.is_empty() {
        bail!("the soak saw {} failures: {}", failures.len(), failures.iter().take(10).cloned().collect::<Vec<_>>().join("; "));
    }
    if calls < streams as u64 {
        bail!("only {calls} calls in the soak for {streams} streams");
    }
    if returned.is_none() {
        bail!("the gateway's open files did not come back: {fds_before} before, {fds_after} after the clients left");
    }
    // Allocator caches and lazily built state may keep a little; a quarter (plus 1 MiB) of
    // what the streams took is the most a gateway may keep once they are gone.
    if rss_after > allowed {
        let kept = rss_after.saturating_sub(rss_before);
        bail!("the gateway kept {:.1} of the {:.1} MiB the streams took", mib(kept), mib(grown));
    }
    Ok(Row {
        figure: format!(
            "SSE soak: {streams} MCP sessions through the gateway for {:.0} s, each calling `echo` every 3 s",
            hold.as_secs_f64()
        ),
        compared: format!("gateway before: {fds_before} open files, {:.1} MiB", mib(rss_before)),
        goal: "no drop, no failed call; open files back to the start and memory close to it when the clients leave".into(),
        measured,
        verdict: Verdict::Met,
    })
}

/// Waits until `pid` has at most `fds` open files (or, with `None`, until the count stops
/// changing for a second); returns how long that took, or `None` past `SETTLE`.
async fn settle(pid: u32, fds: Option<usize>) -> Option<Duration> {
    let started = Instant::now();
    let mut last = (procs::open_fds(pid), Instant::now());
    while started.elapsed() < SETTLE {
        let now = procs::open_fds(pid);
        match fds {
            Some(target) if now <= target => return Some(started.elapsed()),
            None if now == last.0 && last.1.elapsed() >= Duration::from_secs(1) => return Some(started.elapsed()),
            None if now != last.0 => last = (now, Instant::now()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
