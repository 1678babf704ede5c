//! Last used and usage counts: recorded in memory per request, written in one batch per flush
//! interval (and at shutdown), so the database sees a bounded number of writes whatever the
//! traffic.
use std::{collections::HashMap, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

use app::{
    servers::ssr::tool_calls as calls,
    tokens::ssr::entity as tokens,
    usage::ssr::{buckets, refusals, tools},
};

#[derive(Default)]
struct Pending {
    /// token → (last used at, from where, requests)
    touched: HashMap<Uuid, (DateTime<Utc>, Option<String>, i64)>,
    /// (token, server, hour) → (requests, refusals)
    buckets: HashMap<(Uuid, Uuid, i64), (i64, i64)>,
    /// (server, hour, reason) → refusals
    refusals: HashMap<(Uuid, i64, &'static str), i64>,
    /// token → the SHA-256 of its string, for tokens made before fingerprints were kept.
    fingerprints: HashMap<Uuid, String>,
    /// (token, server, tool, day) → (calls let through, calls refused)
    tools: HashMap<(Uuid, Uuid, String, i64), (i64, i64)>,
    /// Tool calls on servers that audit them, in the order they happened.
    calls: Vec<(Uuid, DateTime<Utc>, AuditedCall)>,
}

/// One tool call for the audit.
#[derive(Debug, Clone)]
pub struct AuditedCall {
    pub server: Uuid,
    pub token: Uuid,
    pub member: Uuid,
    pub tool: String,
    pub outcome: String,
    pub arguments: Option<String>,
}

/// Audited calls kept between flushes at most; past it they are dropped and the drop logged, so
/// a database that cannot be written does not grow memory without bound.
const MAX_PENDING_CALLS: usize = 50_000;

impl Pending {
    fn is_empty(&self) -> bool {
        self.touched.is_empty()
            && self.buckets.is_empty()
            && self.refusals.is_empty()
            && self.fingerprints.is_empty()
            && self.tools.is_empty()
            && self.calls.is_empty()
    }
}

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
    /// Tokens whose fingerprint this process has written: not computed again.
    named: Mutex<std::collections::HashSet<Uuid>>,
}

fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp() - at.timestamp().rem_euclid(3600)
}

fn day_of(at: DateTime<Utc>) -> i64 {
    at.timestamp() - at.timestamp().rem_euclid(86_400)
}

/// Tool names are the client's words: one that is not a valid tool name, or one past this many
/// distinct (token, server, tool) counts between flushes, is counted as [`OTHER_TOOLS`], so a
/// client naming random tools cannot grow memory or the table without bound.
const MAX_TOOL_KEYS: usize = 10_000;
pub const OTHER_TOOLS: &str = "(other)";

impl UsageRecorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `token` was let through to `server`: it counts as used, whatever the upstream does.
    pub fn admitted(&self, token: Uuid, ip: Option<String>) {
        let now = Utc::now();
        let mut pending = self.lock();
        let entry = pending.touched.entry(token).or_insert((now, None, 0));
        entry.0 = now;
        entry.1 = ip;
        entry.2 += 1;
    }

    /// `token` was presented as `presented` and verified, but has no stored fingerprint: keep
    /// the fingerprint at the next flush (once; the view learns it from reconciliation).
    pub fn name(&self, token: Uuid, presented: &str) {
        let mut pending = self.lock();
        if !pending.fingerprints.contains_key(&token) && !self.named.lock().unwrap_or_else(|p| p.into_inner()).contains(&token) {
            pending.fingerprints.insert(token, app::secrets::sha256_hex(presented));
        }
    }

    /// The upstream answered a request `token` (if the server needs one) sent to `server`: the
    /// only outcome counted as a success.
    pub fn answered(&self, token: Option<Uuid>, server: Uuid) {
        if let Some(token) = token {
            self.lock().buckets.entry((token, server, hour_of(Utc::now()))).or_default().0 += 1;
        }
    }

    /// A request to `server` failed for `reason`, refused here or not answered upstream;
    /// `token` when it is known which token it was.
    pub fn failed(&self, token: Option<Uuid>, server: Uuid, reason: &'static str) {
        let hour = hour_of(Utc::now());
        let mut pending = self.lock();
        *pending.refusals.entry((server, hour, reason)).or_default() += 1;
        if let Some(token) = token {
            pending.buckets.entry((token, server, hour)).or_default().1 += 1;
        }
    }

    /// `token` called `tool` on `server`; `refused` when its tool rule did not let it through.
    pub fn tool_called(&self, token: Uuid, server: Uuid, tool: &str, refused: bool) {
        let day = day_of(Utc::now());
        let mut pending = self.lock();
        // The parsed (trimmed, checked) name: what is stored always fits its column.
        let named = app::tools::ToolName::parse(tool).ok().map(|name| (token, server, name.as_str().to_string(), day));
        let key = match named {
            Some(key) if pending.tools.len() < MAX_TOOL_KEYS || pending.tools.contains_key(&key) => key,
            _ => (token, server, OTHER_TOOLS.to_string(), day),
        };
        let entry = pending.tools.entry(key).or_default();
        if refused {
            entry.1 += 1;
        } else {
            entry.0 += 1;
        }
    }

    /// A tool call on a server that audits them.
    pub fn tool_call(&self, call: AuditedCall) {
        let mut pending = self.lock();
        if pending.calls.len() >= MAX_PENDING_CALLS {
            tracing::warn!(server = %call.server, "the tool-call audit is not being written; a call was dropped");
            return;
        }
        pending.calls.push((Uuid::now_v7(), Utc::now(), call));
    }

    /// Writes everything recorded since the last flush in one transaction. Returns whether
    /// anything was written. On failure the counts are kept for the next try.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<bool, DbErr> {
        let batch = std::mem::take(&mut *self.lock());
        if batch.is_empty() {
            return Ok(false);
        }
        match write(db, &batch).await {
            Ok(()) => {
                self.named.lock().unwrap_or_else(|p| p.into_inner()).extend(batch.fingerprints.keys().copied());
                Ok(true)
            }
            Err(err) => {
                self.merge_back(batch);
                Err(err)
            }
        }
    }

    fn merge_back(&self, batch: Pending) {
        let mut pending = self.lock();
        for (token, (at, ip, n)) in batch.touched {
            let entry = pending.touched.entry(token).or_insert((at, ip.clone(), 0));
            if at > entry.0 {
                entry.0 = at;
                entry.1 = ip;
            }
            entry.2 += n;
        }
        for (key, (requests, refused)) in batch.buckets {
            let entry = pending.buckets.entry(key).or_default();
            entry.0 += requests;
            entry.1 += refused;
        }
        for (key, n) in batch.refusals {
            *pending.refusals.entry(key).or_default() += n;
        }
        pending.fingerprints.extend(batch.fingerprints);
        for (key, (calls, refused)) in batch.tools {
            let entry = pending.tools.entry(key).or_default();
            entry.0 += calls;
            entry.1 += refused;
        }
        let room = MAX_PENDING_CALLS.saturating_sub(pending.calls.len());
        let mut kept: Vec<_> = batch.calls.into_iter().take(room).collect();
        kept.append(&mut pending.calls);
        pending.calls = kept;
    }
}

async fn write(db: &DatabaseConnection, batch: &Pending) -> Result<(), DbErr> {
    let excluded = Alias::new("excluded");
    let txn = app::events::begin_write(db).await?;
    // Tokens deleted since their requests were counted take their counts with them.
    let mentioned: Vec<Uuid> =
        batch.buckets.keys().map(|(token, _, _)| *token).chain(batch.tools.keys().map(|(token, _, _, _)| *token)).collect();
    let live: std::collections::HashSet<Uuid> = if mentioned.is_empty() {
        Default::default()
    } else {
        tokens::Entity::find()
            .select_only()
            .column(tokens::Column::Id)
            .filter(tokens::Column::Id.is_in(mentioned))
            .into_tuple::<Uuid>()
            .all(&txn)
            .await?
            .into_iter()
            .collect()
    };
    for (token, (at, ip, count)) in &batch.touched {
        // Processes flush in any order: last used only ever moves forward.
        let newer = Expr::col(tokens::Column::LastUsedAt).is_null().or(Expr::col(tokens::Column::LastUsedAt).lt(*at));
        tokens::Entity::update_many()
            .col_expr(
                tokens::Column::LastUsedAt,
                Expr::case(newer.clone(), Expr::value(*at)).finally(Expr::col(tokens::Column::LastUsedAt)).into(),
            )
            .col_expr(
                tokens::Column::LastUsedIp,
                Expr::case(newer, Expr::value(ip.clone())).finally(Expr::col(tokens::Column::LastUsedIp)).into(),
            )
            .col_expr(tokens::Column::UseCount, Expr::col(tokens::Column::UseCount).add(*count))
            .filter(tokens::Column::Id.eq(*token))
            .exec(&txn)
            .await?;
    }
    for ((token, server, hour), (requests, refused)) in batch.buckets.iter().filter(|((t, _, _), _)| live.contains(t)) {
        let hour = DateTime::from_timestamp(*hour, 0).unwrap_or_default();
        buckets::Entity::insert(buckets::ActiveModel {
            token_id: Set(*token),
            server_id: Set(*server),
            hour: Set(hour),
            requests: Set(*requests),
            refusals: Set(*refused),
        })
        .on_conflict(
            OnConflict::columns([buckets::Column::TokenId, buckets::Column::ServerId, buckets::Column::Hour])
                .value(
                    buckets::Column::Requests,
                    Expr::col((buckets::Entity, buckets::Column::Requests)).add(Expr::col((excluded.clone(), buckets::Column::Requests))),
                )
                .value(
                    buckets::Column::Refusals,
                    Expr::col((buckets::Entity, buckets::Column::Refusals)).add(Expr::col((excluded.clone(), buckets::Column::Refusals))),
                )
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    for ((server, hour, reason), count) in &batch.refusals {
        refusals::Entity::insert(refusals::ActiveModel {
            server_id: Set(*server),
            hour: Set(DateTime::from_timestamp(*hour, 0).unwrap_or_default()),
            reason: Set((*reason).to_string()),
            count: Set(*count),
        })
        .on_conflict(
            OnConflict::columns([refusals::Column::ServerId, refusals::Column::Hour, refusals::Column::Reason])
                .value(
                    refusals::Column::Count,
                    Expr::col((refusals::Entity, refusals::Column::Count)).add(Expr::col((excluded.clone(), refusals::Column::Count))),
                )
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    for ((token, server, tool, day), (calls, refused)) in batch.tools.iter().filter(|((t, _, _, _), _)| live.contains(t)) {
        tools::Entity::insert(tools::ActiveModel {
            token_id: Set(*token),
            server_id: Set(*server),
            tool: Set(tool.clone()),
            day: Set(DateTime::from_timestamp(*day, 0).unwrap_or_default()),
            calls: Set(*calls),
            refusals: Set(*refused),
        })
        .on_conflict(
            OnConflict::columns([tools::Column::TokenId, tools::Column::ServerId, tools::Column::Tool, tools::Column::Day])
                .value(
                    tools::Column::Calls,
                    Expr::col((tools::Entity, tools::Column::Calls)).add(Expr::col((excluded.clone(), tools::Column::Calls))),
                )
                .value(
                    tools::Column::Refusals,
                    Expr::col((tools::Entity, tools::Column::Refusals)).add(Expr::col((excluded.clone(), tools::Column::Refusals))),
                )
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    for chunk in batch.calls.chunks(500) {
        let rows = chunk.iter().map(|(id, at, call)| calls::ActiveModel {
            id: Set(*id),
            server_id: Set(call.server),
            token_id: Set(call.token),
            account_id: Set(call.member),
            tool: Set(call.tool.clone()),
            at: Set(*at),
            outcome: Set(call.outcome.clone()),
            arguments: Set(call.arguments.clone()),
        });
        calls::Entity::insert_many(rows).exec_without_returning(&txn).await?;
    }
    for (token, fingerprint) in &batch.fingerprints {
        tokens::Entity::update_many()
            .col_expr(tokens::Column::Fingerprint, Expr::value(fingerprint.clone()))
            .filter(tokens::Column::Id.eq(*token))
            .filter(tokens::Column::Fingerprint.is_null())
            .exec(&txn)
            .await?;
    }
    txn.commit().await
}

/// Flushes every `interval` until the task is stopped.
pub async fn run_flusher(recorder: std::sync::Arc<UsageRecorder>, db: DatabaseConnection, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        match recorder.flush(&db).await {
            Ok(wrote) => {
                if wrote {
                    metrics::counter!(crate::metrics::USAGE_FLUSHES, "result" => "written").increment(1);
                }
            }
            Err(err) => {
                metrics::counter!(crate::metrics::USAGE_FLUSHES, "result" => "failed").increment(1);
                tracing::warn!(%err, "could not write usage; keeping it for the next flush");
            }
        }
    }
}
