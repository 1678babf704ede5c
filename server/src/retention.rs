//! What Gatehouse deletes, and when: dead tokens, change events, usage buckets and audit rows
//! older than their settings (0 keeps them for ever). A background task applies them hourly
//! on every process and engine; the deletes are idempotent, so processes sharing a database
//! may run them at once.
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use app::state::AppState;

use crate::Config;

/// The first run waits this long after start (the server is busy loading then), then hourly.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(60);
const EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub dead_tokens_days: u32,
    pub events_days: u32,
    pub usage_days: u32,
    pub audit_days: u32,
}

/// What one run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub tokens: usize,
    pub events: u64,
    pub usage: u64,
    pub audit: u64,
    /// OAuth authorization requests and codes a day past their end, and expired refresh tokens.
    pub oauth: u64,
}

fn cutoff(days: u32) -> Option<chrono::DateTime<Utc>> {
    (days > 0).then(|| Utc::now() - chrono::Duration::days(days.into()))
}

impl Retention {
    pub fn from_config(config: &Config) -> Self {
        Self {
            dead_tokens_days: config.retain_dead_tokens_days,
            events_days: config.retain_events_days,
            usage_days: config.retain_usage_days,
            audit_days: config.retain_audit_days,
        }
    }

    /// Applies every setting once.
    pub async fn apply(&self, state: &AppState) -> Result<Removed, app::error::AppError> {
        let mut removed = Removed::default();
        if let Some(before) = cutoff(self.dead_tokens_days) {
            removed.tokens = app::tokens::ssr::operator::purge_dead(state, before, false).await?.len();
        }
        if let Some(before) = cutoff(self.events_days) {
            removed.events = app::events::entity::Entity::delete_many()
                .filter(app::events::entity::Column::CreatedAt.lt(before))
                .exec(&state.db)
                .await?
                .rows_affected;
        }
        if let Some(before) = cutoff(self.usage_days) {
            removed.usage = app::usage::ssr::forget_before(&state.db, before).await?;
        }
        if let Some(before) = cutoff(self.audit_days) {
            removed.audit = app::audit::ssr::entity::Entity::delete_many()
                .filter(app::audit::ssr::entity::Column::CreatedAt.lt(before))
                .exec(&state.db)
                .await?
                .rows_affected;
            // The tool-call audit is kept as long as the audit log.
            removed.audit += app::servers::ssr::tool_calls::Entity::delete_many()
                .filter(app::servers::ssr::tool_calls::Column::At.lt(before))
                .exec(&state.db)
                .await?
                .rows_affected;
        }
        removed.oauth = forget_oauth_leftovers(state).await?;
        Ok(removed)
    }

    pub async fn run(self, state: AppState) {
        tokio::time::sleep(FIRST_RUN_AFTER).await;
        loop {
            match self.apply(&state).await {
                Ok(removed) if removed != Removed::default() => tracing::info!(?removed, "retention: deleted old rows"),
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "retention could not run; trying again in an hour"),
            }
            tokio::time::sleep(EVERY).await;
        }
    }
}

/// Authorization rows outlive their code by a day (long enough to spot a replayed code and
/// revoke what it issued); spent refresh tokens are kept until they would have expired, so a
/// reuse is still caught, then go.
async fn forget_oauth_leftovers(state: &AppState) -> Result<u64, app::error::AppError> {
    use app::oauth::ssr::entity::{authorizations, refresh_tokens};
    let now = Utc::now();
    let requests = authorizations::Entity::delete_many()
        .filter(authorizations::Column::ExpiresAt.lt(now - chrono::Duration::days(1)))
        .exec(&state.db)
        .await?
        .rows_affected;
    let refresh =
        refresh_tokens::Entity::delete_many().filter(refresh_tokens::Column::ExpiresAt.lt(now)).exec(&state.db).await?.rows_affected;
    Ok(requests + refresh)
}
