//! The tool-call audit at rest: rows written in batches by the gateway (servers that record
//! their calls), read newest first a page at a time, or all at once as JSON lines.
use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::domain::{ServerId, ToolCallPage, ToolCallView};
use super::ssr::tool_calls as entity;
use crate::accounts::actor::Actor;
use crate::error::AppError;
use crate::organisations::Action;

pub const PAGE: u64 = 50;
/// The most an export holds (the newest).
pub const MAX_EXPORT: u64 = 100_000;

async fn views(db: &impl ConnectionTrait, rows: Vec<entity::Model>) -> Result<Vec<ToolCallView>, AppError> {
    // Each member once: an export holds up to 100,000 rows, past any engine's bind limit.
    let ids: std::collections::BTreeSet<Uuid> = rows.iter().map(|r| r.account_id).collect();
    let emails: HashMap<Uuid, String> = crate::accounts::ssr::entity::Entity::find()
        .filter(crate::accounts::ssr::entity::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.email))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| ToolCallView {
            id: r.id,
            at: r.at,
            member: emails.get(&r.account_id).cloned().unwrap_or_default(),
            tool: r.tool,
            outcome: r.outcome,
            token_id: r.token_id,
            arguments: r.arguments,
        })
        .collect())
}

/// A page of the server's recorded calls, newest first, older than `before` when given.
pub async fn page(
    db: &impl ConnectionTrait,
    actor: &Actor,
    server: ServerId,
    before: Option<Uuid>,
    limit: u64,
) -> Result<ToolCallPage, AppError> {
    super::ssr::find_model(db, actor.may(Action::Read)?, server).await?;
    let limit = limit.clamp(1, 500);
    let mut query = entity::Entity::find().filter(entity::Column::ServerId.eq(server.0));
    if let Some(before) = before {
        query = query.filter(entity::Column::Id.lt(before));
    }
    let mut rows = query.order_by_desc(entity::Column::Id).limit(limit + 1).all(db).await?;
    let next = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    });
    Ok(ToolCallPage { calls: views(db, rows).await?, next: next.flatten() })
}

/// Every recorded call of the server (the newest [`MAX_EXPORT`]), oldest first, for export.
pub async fn export(db: &impl ConnectionTrait, actor: &Actor, server: ServerId) -> Result<Vec<ToolCallView>, AppError> {
    super::ssr::find_model(db, actor.may(Action::Read)?, server).await?;
    let mut rows = entity::Entity::find()
        .filter(entity::Column::ServerId.eq(server.0))
        .order_by_desc(entity::Column::Id)
        .limit(MAX_EXPORT)
        .all(db)
        .await?;
    rows.reverse();
    views(db, rows).await
}
