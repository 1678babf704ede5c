//! Usage tables (written in batches by the gateway) and the queries behind the charts.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::{Alias, Func, Query, SimpleExpr},
};
use uuid::Uuid;

use super::domain::{HOURS, ServerUsage, TOP_TOOLS, ToolCount, Usage, hour_floor, refusal_counts, window_start};
use crate::accounts::actor::Actor;
use crate::error::AppError;
use crate::organisations::Action;
use crate::servers::ServerId;
use crate::tokens::TokenId;

pub mod buckets {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "usage_buckets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub server_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub hour: DateTimeUtc,
        pub requests: i64,
        pub refusals: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refusals {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refusal_buckets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub server_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub hour: DateTimeUtc,
        #[sea_orm(primary_key, auto_increment = false)]
        pub reason: String,
        pub count: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tools {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tool_usage")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub server_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tool: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: DateTimeUtc,
        pub calls: i64,
        pub refusals: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The most-called tools since `since`, of one token or one server, most calls first.
async fn top_tools(db: &impl ConnectionTrait, filter: sea_orm::Condition, since: DateTime<Utc>) -> Result<Vec<ToolCount>, AppError> {
    let rows: Vec<(String, i64, i64)> = tools::Entity::find()
        .select_only()
        .column(tools::Column::Tool)
        .column_as(total(tools::Column::Calls), "calls")
        .column_as(total(tools::Column::Refusals), "refusals")
        .filter(filter)
        .filter(tools::Column::Day.gte(since))
        .group_by(tools::Column::Tool)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: Vec<ToolCount> = rows.into_iter().map(|(tool, calls, refusals)| ToolCount { tool, calls, refusals }).collect();
    counts.sort_by(|a, b| (b.calls + b.refusals).cmp(&(a.calls + a.refusals)).then_with(|| a.tool.cmp(&b.tool)));
    counts.truncate(TOP_TOOLS);
    Ok(counts)
}

/// A token's most-called tools over the last 30 days, over all its servers.
pub async fn token_tools(db: &impl ConnectionTrait, actor: &Actor, token: TokenId, now: DateTime<Utc>) -> Result<Vec<ToolCount>, AppError> {
    crate::tokens::ssr::visible_model(db, actor, token, false).await?;
    top_tools(db, sea_orm::Condition::all().add(tools::Column::TokenId.eq(token.0)), now - Duration::days(super::domain::DAYS)).await
}

/// `SUM(column)` as a 64-bit integer on both engines (PostgreSQL sums bigints as numeric).
fn total(column: impl sea_orm::IntoSimpleExpr) -> SimpleExpr {
    Func::cast_as(Func::sum(column.into_simple_expr()), Alias::new("bigint")).into()
}

/// Requests and refusals of a token the actor may see, over all its servers.
pub async fn token_usage(db: &impl ConnectionTrait, actor: &Actor, token: TokenId, now: DateTime<Utc>) -> Result<Usage, AppError> {
    crate::tokens::ssr::visible_model(db, actor, token, false).await?;
    let rows: Vec<(DateTime<Utc>, i64, i64)> = buckets::Entity::find()
        .select_only()
        .column(buckets::Column::Hour)
        .column_as(total(buckets::Column::Requests), "requests")
        .column_as(total(buckets::Column::Refusals), "refusals")
        .filter(buckets::Column::TokenId.eq(token.0))
        .filter(buckets::Column::Hour.gte(window_start(now)))
        .group_by(buckets::Column::Hour)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Usage::from_hours(rows, now))
}

/// Requests to one of the organisation's servers, every refusal there, and the reasons for them.
pub async fn server_usage(db: &impl ConnectionTrait, actor: &Actor, server: ServerId, now: DateTime<Utc>) -> Result<ServerUsage, AppError> {
    crate::servers::ssr::find_model(db, actor.may(Action::Read)?, server).await?;
    let since = window_start(now);
    let requests: Vec<(DateTime<Utc>, i64)> = buckets::Entity::find()
        .select_only()
        .column(buckets::Column::Hour)
        .column_as(total(buckets::Column::Requests), "requests")
        .filter(buckets::Column::ServerId.eq(server.0))
        .filter(buckets::Column::Hour.gte(since))
        .group_by(buckets::Column::Hour)
        .into_tuple()
        .all(db)
        .await?;
    // Refusals come from the per-reason counts: they include requests without a usable token.
    let refused: Vec<(DateTime<Utc>, String, i64)> = refusals::Entity::find()
        .select_only()
        .column(refusals::Column::Hour)
        .column(refusals::Column::Reason)
        .column(refusals::Column::Count)
        .filter(refusals::Column::ServerId.eq(server.0))
        .filter(refusals::Column::Hour.gte(since))
        .into_tuple()
        .all(db)
        .await?;
    let rows = requests.into_iter().map(|(hour, n)| (hour, n, 0)).chain(refused.iter().map(|(hour, _, n)| (*hour, 0, *n)));
    let tools =
        top_tools(db, sea_orm::Condition::all().add(tools::Column::ServerId.eq(server.0)), now - Duration::days(super::domain::DAYS))
            .await?;
    Ok(ServerUsage { usage: Usage::from_hours(rows, now), refusals: refusal_counts(refused, now), tools })
}

/// The ids of the tokens the actor may see in its organisation (a member: their own), by the
/// token list's own rule.
fn tokens_of(actor: &Actor) -> Result<sea_orm::sea_query::SelectStatement, AppError> {
    use crate::tokens::ssr::entity::Column;
    Ok(crate::tokens::ssr::visible(actor)?.select_only().column(Column::Id).into_query())
}

/// Requests of all the tokens the actor may see, and every refusal at the organisation's
/// servers (with or without a token), together.
pub async fn organisation_usage(db: &impl ConnectionTrait, actor: &Actor, now: DateTime<Utc>) -> Result<Usage, AppError> {
    let since = window_start(now);
    let organisation = actor.may(Action::Read)?;
    let requests: Vec<(DateTime<Utc>, i64)> = buckets::Entity::find()
        .select_only()
        .column(buckets::Column::Hour)
        .column_as(total(buckets::Column::Requests), "requests")
        .filter(buckets::Column::TokenId.in_subquery(tokens_of(actor)?))
        .filter(buckets::Column::Hour.gte(since))
        .group_by(buckets::Column::Hour)
        .into_tuple()
        .all(db)
        .await?;
    let servers_of = Query::select()
        .column(crate::servers::ssr::entity::Column::Id)
        .from(crate::servers::ssr::entity::Entity)
        .and_where(crate::servers::ssr::entity::Column::OrganisationId.eq(organisation.0))
        .to_owned();
    let refused: Vec<(DateTime<Utc>, i64)> = refusals::Entity::find()
        .select_only()
        .column(refusals::Column::Hour)
        .column_as(total(refusals::Column::Count), "refusals")
        .filter(refusals::Column::ServerId.in_subquery(servers_of))
        .filter(refusals::Column::Hour.gte(since))
        .group_by(refusals::Column::Hour)
        .into_tuple()
        .all(db)
        .await?;
    let rows = requests.into_iter().map(|(hour, n)| (hour, n, 0)).chain(refused.into_iter().map(|(hour, n)| (hour, 0, n)));
    Ok(Usage::from_hours(rows, now))
}

/// Requests per hour over the last 24 hours for every token the actor may see that had any.
pub async fn recent_activity(db: &impl ConnectionTrait, actor: &Actor, now: DateTime<Utc>) -> Result<HashMap<TokenId, Vec<i64>>, AppError> {
    let first_hour = hour_floor(now) - Duration::hours(HOURS - 1);
    let of_account = tokens_of(actor)?;
    let rows: Vec<(Uuid, DateTime<Utc>, i64)> = buckets::Entity::find()
        .select_only()
        .column(buckets::Column::TokenId)
        .column(buckets::Column::Hour)
        .column_as(total(buckets::Column::Requests), "requests")
        .filter(buckets::Column::TokenId.in_subquery(of_account))
        .filter(buckets::Column::Hour.gte(first_hour))
        .group_by(buckets::Column::TokenId)
        .group_by(buckets::Column::Hour)
        .into_tuple()
        .all(db)
        .await?;
    let mut activity: HashMap<TokenId, Vec<i64>> = HashMap::new();
    for (token, hour, requests) in rows {
        let series = activity.entry(TokenId(token)).or_insert_with(|| vec![0; HOURS as usize]);
        if let Some(slot) = series.get_mut((hour - first_hour).num_hours() as usize) {
            *slot += requests;
        }
    }
    Ok(activity)
}

/// Deletes the usage of tokens being deleted (the purge of dead tokens).
pub async fn forget_tokens(db: &impl ConnectionTrait, tokens: &[Uuid]) -> Result<(), AppError> {
    buckets::Entity::delete_many().filter(buckets::Column::TokenId.is_in(tokens.iter().copied())).exec(db).await?;
    tools::Entity::delete_many().filter(tools::Column::TokenId.is_in(tokens.iter().copied())).exec(db).await?;
    Ok(())
}

/// Deletes usage and refusal buckets older than `cutoff` (retention).
pub async fn forget_before(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, AppError> {
    let usage = buckets::Entity::delete_many().filter(buckets::Column::Hour.lt(cutoff)).exec(db).await?.rows_affected;
    let refused = refusals::Entity::delete_many().filter(refusals::Column::Hour.lt(cutoff)).exec(db).await?.rows_affected;
    let tools = tools::Entity::delete_many().filter(tools::Column::Day.lt(cutoff)).exec(db).await?.rows_affected;
    Ok(usage + refused + tools)
}
