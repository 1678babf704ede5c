//! Server health at rest: one row per server with the last check and the last discovery that
//! worked. Processes share the periodic checks by claiming a row before checking it.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use super::health::{Discovery, HealthStatus, Problem, ProblemKind, ServerHealth};
use crate::error::AppError;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "server_health")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub server_id: Uuid,
        /// up | down | unchecked (a claim on a server never checked).
        pub status: String,
        pub checked_at: DateTimeUtc,
        pub since: DateTimeUtc,
        pub latency_ms: i32,
        pub problem_kind: Option<String>,
        pub problem: Option<String>,
        pub discovery: Option<String>,
        pub claimed_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How long a claim holds off other processes: longer than any check takes.
const CLAIM: chrono::Duration = chrono::Duration::minutes(2);

fn health_of(row: entity::Model) -> ServerHealth {
    let status = match row.status.as_str() {
        "up" => HealthStatus::Up,
        "down" => HealthStatus::Down,
        _ => return ServerHealth { discovery: discovery_of(&row), ..ServerHealth::unchecked() },
    };
    let problem = match (row.problem_kind.as_deref().and_then(ProblemKind::parse), &row.problem) {
        (Some(kind), Some(message)) => Some(Problem::new(kind, message.clone())),
        _ => None,
    };
    ServerHealth {
        status,
        checked_at: Some(row.checked_at),
        since: Some(row.since),
        latency_ms: u32::try_from(row.latency_ms).ok(),
        problem,
        discovery: discovery_of(&row),
    }
}

fn discovery_of(row: &entity::Model) -> Option<Discovery> {
    // Written by this code; a row it cannot read back is shown as no discovery, not an error.
    row.discovery.as_deref().and_then(|json| serde_json::from_str(json).ok())
}

/// The health of each server in `ids` (unchecked when there is no row).
pub async fn read(db: &impl ConnectionTrait, ids: Vec<Uuid>) -> Result<HashMap<Uuid, ServerHealth>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = entity::Entity::find().filter(entity::Column::ServerId.is_in(ids)).all(db).await?;
    Ok(rows.into_iter().map(|row| (row.server_id, health_of(row))).collect())
}

pub async fn read_one(db: &impl ConnectionTrait, id: Uuid) -> Result<ServerHealth, AppError> {
    Ok(read(db, vec![id]).await?.remove(&id).unwrap_or_else(ServerHealth::unchecked))
}

/// Records a check's outcome. The status's `since` moves only when the status changes; a failed
/// check keeps the last discovery that worked.
pub async fn record(
    db: &impl ConnectionTrait,
    server: Uuid,
    outcome: &Result<Discovery, Problem>,
    latency_ms: u32,
    now: DateTime<Utc>,
) -> Result<ServerHealth, AppError> {
    let before = entity::Entity::find_by_id(server).one(db).await?;
    let status = if outcome.is_ok() { "up" } else { "down" };
    let since = match &before {
        Some(row) if row.status == status => row.since,
        _ => now,
    };
    let discovery = match outcome {
        Ok(found) => Some(serde_json::to_string(found).map_err(AppError::internal)?),
        Err(_) => before.as_ref().and_then(|row| row.discovery.clone()),
    };
    let problem = outcome.as_ref().err();
    let row = entity::ActiveModel {
        server_id: Set(server),
        status: Set(status.into()),
        checked_at: Set(now),
        since: Set(since),
        latency_ms: Set(i32::try_from(latency_ms).unwrap_or(i32::MAX)),
        problem_kind: Set(problem.map(|p| p.kind.as_str().to_string())),
        problem: Set(problem.map(|p| p.message.clone())),
        discovery: Set(discovery),
        claimed_until: Set(None),
    };
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::Column::ServerId)
                .update_columns([
                    entity::Column::Status,
                    entity::Column::CheckedAt,
                    entity::Column::Since,
                    entity::Column::LatencyMs,
                    entity::Column::ProblemKind,
                    entity::Column::Problem,
                    entity::Column::Discovery,
                    entity::Column::ClaimedUntil,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    read_one(db, server).await
}

/// The servers whose check is not due: checked after `due_before`, or held by a process now.
/// One read per pass, so a pass writes (claims) only what is due.
pub async fn not_due(
    db: &impl ConnectionTrait,
    due_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<Uuid>, AppError> {
    let rows = entity::Entity::find().all(db).await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.checked_at >= due_before || row.claimed_until.is_some_and(|until| until > now))
        .map(|row| row.server_id)
        .collect())
}

/// Takes the periodic check of `server` for this process when it is due (last checked before
/// `due_before`) and no other process holds it. Exactly one of several processes racing gets it.
pub async fn claim(db: &impl ConnectionTrait, server: Uuid, due_before: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, AppError> {
    let placeholder = entity::ActiveModel {
        server_id: Set(server),
        status: Set("unchecked".into()),
        checked_at: Set(DateTime::UNIX_EPOCH),
        since: Set(now),
        latency_ms: Set(0),
        problem_kind: Set(None),
        problem: Set(None),
        discovery: Set(None),
        claimed_until: Set(Some(now + CLAIM)),
    };
    let inserted = entity::Entity::insert(placeholder)
        .on_conflict(OnConflict::column(entity::Column::ServerId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted == 1 {
        return Ok(true);
    }
    let taken = entity::Entity::update_many()
        .col_expr(entity::Column::ClaimedUntil, Expr::value(Some(now + CLAIM)))
        .filter(entity::Column::ServerId.eq(server))
        .filter(entity::Column::CheckedAt.lt(due_before))
        .filter(entity::Column::ClaimedUntil.is_null().or(entity::Column::ClaimedUntil.lt(now)))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Every discovery recorded after `since` (by any process), with the time of its check.
pub async fn discoveries_since(db: &impl ConnectionTrait, since: DateTime<Utc>) -> Result<Vec<(Uuid, DateTime<Utc>, Discovery)>, AppError> {
    let rows = entity::Entity::find().filter(entity::Column::CheckedAt.gt(since)).filter(entity::Column::Status.eq("up")).all(db).await?;
    Ok(rows.into_iter().filter_map(|row| Some((row.server_id, row.checked_at, discovery_of(&row)?))).collect())
}

pub async fn forget(db: &impl ConnectionTrait, server: Uuid) -> Result<(), AppError> {
    entity::Entity::delete_by_id(server).exec(db).await?;
    Ok(())
}
