//! The `/metrics` page: gauges sampled at scrape time, then the recorder's text.
use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::{ColumnTrait, EntityTrait, QuerySelect};

use app::state::AppState;

use crate::gateway::{follower::Freshness, streams::StreamRegistry};
use crate::metrics::{DB_CONNECTIONS, EVENTS_BEHIND, EVENTS_READ_AGE, OPEN_STREAMS};

/// What `/metrics` reads at scrape time.
#[derive(Clone)]
pub struct Sources {
    pub state: AppState,
    pub streams: Arc<StreamRegistry>,
    pub freshness: Arc<Freshness>,
    pub handle: PrometheusHandle,
    pub allow_remote: bool,
}

/// Loopback clients only, unless `allow_remote`. A request carrying forwarding headers came
/// through a proxy (on this host, or it would not be loopback) for someone else: refused too,
/// when no trusted proxy named the client.
pub async fn serve_metrics(
    State(sources): State<Sources>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: http::HeaderMap,
) -> Response {
    let proxied = headers.contains_key("x-forwarded-for") || headers.contains_key(http::header::FORWARDED);
    if !sources.allow_remote && (proxied || !client.ip().to_canonical().is_loopback()) {
        return (StatusCode::FORBIDDEN, "Metrics are served to loopback clients only (see metrics_bind and metrics_allow_remote).\n")
            .into_response();
    }
    sample(&sources).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], sources.handle.render()).into_response()
}

/// Gauges read at scrape time rather than kept up to date on every change.
async fn sample(sources: &Sources) {
    metrics::gauge!(OPEN_STREAMS).set(sources.streams.open() as f64);
    metrics::gauge!(EVENTS_READ_AGE).set(sources.freshness.age().as_secs_f64());
    let db = &sources.state.db;
    let latest = tokio::time::timeout(
        Duration::from_secs(1),
        app::events::entity::Entity::find()
            .select_only()
            .column_as(app::events::entity::Column::Seq.max(), "max")
            .into_tuple::<Option<i64>>()
            .one(db),
    )
    .await;
    if let Ok(Ok(Some(Some(latest)))) = latest {
        metrics::gauge!(EVENTS_BEHIND).set((latest - sources.state.changes.applied()).max(0) as f64);
    }
    let (size, idle) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    };
    metrics::gauge!(DB_CONNECTIONS, "state" => "in_use").set(size.saturating_sub(idle as u32) as f64);
    metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(idle as f64);
}
