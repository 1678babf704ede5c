//! Keeps the token view fresh: applies change events past the last sequence it has seen,
//! woken by PostgreSQL NOTIFY and by a short poll (SQLite, and a safety net on PostgreSQL).
//! Then ends every live stream that is no longer allowed.
use std::{
    collections::BTreeMap,
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

use super::{streams::StreamRegistry, verify, view::AccessIndex};

const BATCH: u64 = 1000;
/// At most this many unfilled sequence numbers are watched at once; past it the oldest are left
/// to reconciliation (a sequence can jump, e.g. by 32 after a PostgreSQL crash).
const MAX_WATCHED_GAPS: usize = 10_000;

/// How long late changes may be waited for, and how often the whole view is checked.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// How often events are polled (NOTIFY also wakes the poll).
    pub poll: Duration,
    /// How long an unfilled sequence number is read again on every poll.
    pub gap_watch: Duration,
    /// How often the view is reconciled with the database; `None`: never.
    pub reconcile: Option<Duration>,
}

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
        self.age() <= max_age
    }

    /// How long ago change events were last read successfully.
    pub fn age(&self) -> Duration {
        Duration::from_millis((self.started.elapsed().as_millis() as u64).saturating_sub(self.last_ok_ms.load(Ordering::Relaxed)))
    }
}

/// Applies change events to this process's access index, and ends the streams they refuse.
///
/// A sequence number is taken when a transaction inserts its event, but becomes visible only
/// when that transaction commits, so numbers can appear out of order. A number not seen yet is
/// never given up on while it is watched (read again on every poll), and reconciliation
/// compares the whole index with the database on a fixed period, so a change that commits
/// later than any watch is still applied within that period.
pub struct ChangeFollower {
    state: AppState,
    view: Arc<AccessIndex>,
    streams: Arc<StreamRegistry>,
    freshness: Arc<Freshness>,
    patience: Patience,
    /// The highest sequence number read.
    high: i64,
    /// Numbers below `high` not seen yet, with when they were first missed.
    missing: BTreeMap<i64, Instant>,
    last_reconcile: Instant,
}

impl ChangeFollower {
    /// Loads the view and returns the follower, ready to run.
    pub async fn start(
        state: AppState,
        view: Arc<AccessIndex>,
        streams: Arc<StreamRegistry>,
        patience: Patience,
    ) -> Result<(Self, Arc<Freshness>), DbErr> {
        // Read the high-water mark before the snapshot: anything changed during the load is
        // applied again, which refreshing makes harmless. A transaction still open below it is
        // caught by reconciliation.
        let high = events::Entity::find()
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
        state.changes.applied_up_to(high);
        let freshness = Arc::new(Freshness::new());
        freshness.mark();
        let follower = Self {
            state,
            view,
            streams,
            freshness: freshness.clone(),
            patience,
            high,
            missing: BTreeMap::new(),
            last_reconcile: Instant::now(),
        };
        Ok((follower, freshness))
    }

    pub async fn run(mut self) {
        if self.state.db.get_database_backend() == DbBackend::Postgres {
            tokio::spawn(listen(self.state.clone()));
        }
        let changes = self.state.changes.clone();
        loop {
            let reconcile_due = self.patience.reconcile.is_some_and(|every| self.last_reconcile.elapsed() >= every);
            let result = if reconcile_due { self.reconcile().await } else { self.poll_once().await.map(|_| ()) };
            match result {
                Ok(()) => self.freshness.mark(),
                Err(err) => tracing::warn!(%err, "cannot read change events; the gateway fails closed until it can"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.patience.poll) => {}
                _ = changes.wake().notified() => {}
            }
        }
    }

    /// Applies new events, and late ones below them; returns how many.
    pub async fn poll_once(&mut self) -> Result<usize, DbErr> {
        let mut rows = events::Entity::find()
            .filter(events::Column::Seq.gt(self.high))
            .order_by_asc(events::Column::Seq)
            .limit(BATCH)
            .all(&self.state.db)
            .await?;
        self.forget_old_gaps();
        if !self.missing.is_empty() {
            let late = events::Entity::find().filter(events::Column::Seq.is_in(self.missing.keys().copied())).all(&self.state.db).await?;
            if !late.is_empty() {
                tracing::info!(events = late.len(), "applying change events that committed late");
            }
            rows.extend(late);
        }
        let mut changed = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.seq > self.high {
                let now = Instant::now();
                let from = (self.high + 1).max(row.seq - MAX_WATCHED_GAPS as i64);
                for gap in from..row.seq {
                    self.missing.insert(gap, now);
                }
                self.high = row.seq;
            } else {
                self.missing.remove(&row.seq);
            }
            if let (Some(kind), Ok(id)) = (ChangeKind::parse(&row.kind), row.object_id.parse::<Uuid>()) {
                changed.push((kind, id));
            }
        }
        for (kind, id) in &changed {
            self.view.refresh(&self.state, *kind, *id).await?;
        }
        // Changes made here are committed before they wait, so they are never among the missing.
        self.state.changes.applied_up_to(self.high);
        if !rows.is_empty() {
            self.end_refused_streams();
        }
        Ok(rows.len())
    }

    /// Reads every table the view holds and refreshes whatever differs; then polls.
    pub async fn reconcile(&mut self) -> Result<(), DbErr> {
        self.last_reconcile = Instant::now();
        let stale = self.view.reconcile(&self.state).await?;
        if !stale.is_empty() {
            tracing::warn!(objects = stale.len(), ?stale, "reconciling found changes no event delivered; applied them");
            self.end_refused_streams();
        }
        self.poll_once().await.map(|_| ())
    }

    fn forget_old_gaps(&mut self) {
        let watch = self.patience.gap_watch;
        let before = self.missing.len();
        self.missing.retain(|_, since| since.elapsed() <= watch);
        while self.missing.len() > MAX_WATCHED_GAPS {
            self.missing.pop_first();
        }
        if self.missing.len() < before {
            tracing::debug!(forgotten = before - self.missing.len(), "stopped watching sequence gaps; reconciliation covers them");
        }
    }

    fn end_refused_streams(&self) {
        let now = chrono::Utc::now();
        let view = self.view.read();
        let ended = self.streams.end_where_refused(|token, server| verify::grant_stands(&view, token, server, now).is_ok());
        if ended > 0 {
            tracing::info!(ended, "ended streams that are no longer allowed");
        }
    }
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
