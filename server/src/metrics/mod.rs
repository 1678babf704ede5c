//! Prometheus metrics at `/metrics`: the `metrics` facade the code records into, rendered by
//! `metrics-exporter-prometheus`; the names are stated here, the page is [`page`]. Labels name servers by id and refusals by reason, never a
//! token, an account or an email. Served to loopback peers only (unless
//! `metrics_allow_remote`), or on a listener of its own (`metrics_bind`).
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub mod page;

pub const GATEWAY_REQUESTS: &str = "gatehouse_gateway_requests_total";
pub const GATEWAY_REFUSALS: &str = "gatehouse_gateway_refusals_total";
pub const UPSTREAM_SECONDS: &str = "gatehouse_upstream_response_seconds";
pub const TOKEN_CHECK_SECONDS: &str = "gatehouse_token_check_seconds";
pub const OPEN_STREAMS: &str = "gatehouse_gateway_open_streams";
pub const EVENTS_BEHIND: &str = "gatehouse_events_behind";
pub const EVENTS_READ_AGE: &str = "gatehouse_events_seconds_since_read";
pub const USAGE_FLUSHES: &str = "gatehouse_usage_flushes_total";
pub const LOGINS: &str = app::accounts::ssr::LOGINS_METRIC;
pub const THROTTLED: &str = app::accounts::ssr::THROTTLED_METRIC;
pub const DB_CONNECTIONS: &str = "gatehouse_db_pool_connections";

/// The process's recorder, installed once (tests build many apps in one process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                // Upstream answers: 5 ms to a minute. Token checks: microseconds.
                .set_buckets_for_metric(
                    Matcher::Full(UPSTREAM_SECONDS.into()),
                    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(TOKEN_CHECK_SECONDS.into()), &[1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3])
                })
                .expect("bucket lists are not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics shows only this one's");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(GATEWAY_REQUESTS, "Gateway requests by server id and outcome (answered, refused, upstream_failed).");
    describe_counter!(GATEWAY_REFUSALS, "Gateway refusals by server id and reason.");
    describe_histogram!(UPSTREAM_SECONDS, Unit::Seconds, "Time until the upstream answered with headers, by server id.");
    describe_histogram!(TOKEN_CHECK_SECONDS, Unit::Seconds, "Time the gateway took to check a request's token.");
    describe_gauge!(OPEN_STREAMS, "Gateway requests and streams open now.");
    describe_gauge!(EVENTS_BEHIND, "Change events committed that this process has not applied yet.");
    describe_gauge!(EVENTS_READ_AGE, Unit::Seconds, "Seconds since change events were last read successfully.");
    describe_counter!(USAGE_FLUSHES, "Batched writes of last-used times and usage, by result.");
    describe_counter!(LOGINS, "Login attempts by outcome.");
    describe_counter!(THROTTLED, "Sign-in and sign-up attempts refused by throttling.");
    describe_gauge!(DB_CONNECTIONS, "Database pool connections by state (in_use, idle).");
}
