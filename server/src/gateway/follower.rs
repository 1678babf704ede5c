//! Keeps the token view fresh: applies change events past the last sequence it has seen,
//! woken by PostgreSQL NOTIFY and by a short poll (SQLite, and a safety net on PostgreSQL).
//! Then ends every live stream that is no longer allowed.
use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ColumnTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use app::{
    events::{ChangeKind, NOTIFY_CHANNEL, entity as events},
    state::AppState,
};

use super::{streams::StreamRegistry, view::{TokenView, ViewData}};

/// A sequence gap (a transaction that took a number but has not committed) is waited for this
/// long before it is taken as rolled back.
const GAP_PATIENCE: Duration = Duration::from_secs(10);
const BATCH: u64 = 1000;

/// When the events were last read successfully; the gateway refuses (fails closed) when that
/// is too long ago.
pub struct Freshness {
    started: Instant,
    last_ok_ms: AtomicU64,
}

impl Freshness {
    fn new() -> Self {
        Self { started: Instant::now(), last_ok_ms: AtomicU64::new(0) }
    }

    fn mark(&self) {
        self.last_ok_ms.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn is_fresh(&self, max_age: Duration) -> bool {
        let age = (self.started.elapsed().as_millis() as u64).saturating_sub(self.last_ok_ms.load(Ordering::Relaxed));
        age <= max_age.as_millis() as u64
    }
}

pub struct Follower {
    state: AppState,
    view: Arc<TokenView>,
    streams: Arc<StreamRegistry>,
    freshness: Arc<Freshness>,
    /// Every event up to here is applied.
    low: i64,
    /// Applied events above `low` (there is a gap below them).
    seen: BTreeSet<i64>,
    gap_since: Option<Instant>,
}

impl Follower {
    /// Loads the view and returns the follower, ready to run.
    pub async fn start(
        state: AppState,
        view: Arc<TokenView>,
        streams: Arc<StreamRegistry>,
    ) -> Result<(Self, Arc<Freshness>), DbErr> {
        // Read the high-water mark before the snapshot: anything changed during the load is
        // applied again, which refreshing makes harmless.
        let low = events::Entity::find()
            .select_only()
            .column_as(events::Column::Seq.max(), "max")
            .into_tuple::<Option<i64>>()
            .one(&state.db)
            .await?
            .flatten()
            .unwrap_or(0);
        view.load(&state).await?;
        // From here on, changes made in this process wait for the follower to apply them (it is
        // about to run), even before its first poll.
        state.changes.applied_up_to(low);
        let freshness = Arc::new(Freshness::new());
        freshness.mark();
        let follower = Self {
            state,
            view,
            streams,
            freshness: freshness.clone(),
            low,
            seen: BTreeSet::new(),
            gap_since: None,
        };
        Ok((follower, freshness))
    }

    pub async fn run(mut self, poll: Duration) {
        if self.state.db.get_database_backend() == DbBackend::Postgres {
            tokio::spawn(listen(self.state.clone()));
        }
        let changes = self.state.changes.clone();
        loop {
            match self.poll_once().await {
                Ok(_) => self.freshness.mark(),
                Err(err) => tracing::warn!(%err, "cannot read change events; the gateway fails closed until it can"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = changes.wake().notified() => {}
            }
        }
    }

    /// Applies new events; returns how many.
    pub async fn poll_once(&mut self) -> Result<usize, DbErr> {
        let rows = events::Entity::find()
            .filter(events::Column::Seq.gt(self.low))
            .order_by_asc(events::Column::Seq)
            .limit(BATCH)
            .all(&self.state.db)
            .await?;
        let mut applied = 0;
        let mut highest = self.low;
        for row in rows {
            highest = highest.max(row.seq);
            if self.seen.contains(&row.seq) {
                continue;
            }
            if let (Some(kind), Ok(id)) = (ChangeKind::parse(&row.kind), row.object_id.parse::<Uuid>()) {
                self.view.refresh(&self.state, kind, id).await?;
            }
            self.seen.insert(row.seq);
            applied += 1;
        }
        self.advance();
        self.state.changes.applied_up_to(highest.max(self.low));
        if applied > 0 {
            let now = chrono::Utc::now();
            let view = self.view.read();
            let ended = self.streams.end_where_refused(|token, server| still_allowed(&view, token, server, now));
            if ended > 0 {
                tracing::info!(ended, "ended streams that are no longer allowed");
            }
        }
        Ok(applied)
    }

    fn advance(&mut self) {
        while self.seen.remove(&(self.low + 1)) {
            self.low += 1;
        }
        match (self.seen.first().copied(), self.gap_since) {
            (None, _) => self.gap_since = None,
            (Some(_), None) => self.gap_since = Some(Instant::now()),
            (Some(next), Some(since)) if since.elapsed() > GAP_PATIENCE => {
                tracing::debug!(from = self.low + 1, to = next - 1, "skipping a sequence gap (rolled back)");
                self.low = next - 1;
                self.gap_since = None;
                self.advance();
            }
            _ => {}
        }
    }
}

/// Whether a stream granted for `token` on `server` may go on.
pub fn still_allowed(view: &ViewData, token: Option<Uuid>, server: Uuid, now: chrono::DateTime<chrono::Utc>) -> bool {
    let Some(entry) = view.servers.get(&server) else { return false };
    if view.accounts.get(&entry.account) != Some(&true) {
        return false;
    }
    let Some(token) = token else { return !entry.require_token };
    let Some(t) = view.tokens.get(&token) else { return false };
    let key_live = view.keys.get(&t.key).is_some_and(|k| !k.revoked);
    !t.revoked && key_live && t.expires_at.is_none_or(|at| at > now) && view.links.contains(&(token, server))
}

/// Wakes the follower on every NOTIFY; reconnects after losing the connection.
async fn listen(state: AppState) {
    let wake = || state.changes.wake().notify_one();
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let pool = state.db.get_postgres_connection_pool();
        match PgListener::connect_with(pool).await {
            Ok(mut listener) => {
                if let Err(err) = listener.listen(NOTIFY_CHANNEL).await {
                    tracing::warn!(%err, "cannot LISTEN for change events");
                } else {
                    // Anything that happened while not listening is caught by this poll.
                    wake();
                    loop {
                        match listener.recv().await {
                            Ok(_) => wake(),
                            Err(err) => {
                                tracing::warn!(%err, "lost the NOTIFY connection; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "cannot connect to LISTEN for change events"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
