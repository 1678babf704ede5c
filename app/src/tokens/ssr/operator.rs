//! The operator's token queries, across every account: naming a token by id or fingerprint
//! (the command line, a secret scanner, an incident), and purging the dead.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entity;
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::secrets::sha256_hex;
use crate::servers::ssr::token_servers;
use crate::signing_keys::{KeyState, ssr::entity as signing_keys};
use crate::state::AppState;
use crate::tokens::{MIN_FINGERPRINT_PREFIX, shown_fingerprint};

/// The tokens `name` may mean: the one with that id, else those whose fingerprint starts with
/// it (at least [`MIN_FINGERPRINT_PREFIX`] hex characters). Empty when none matches.
pub async fn named(state: &AppState, name: &str) -> Result<Vec<entity::Model>, AppError> {
    let name = name.trim();
    if let Ok(id) = Uuid::parse_str(name) {
        if let Some(token) = entity::Entity::find_by_id(id).one(&state.db).await? {
            return Ok(vec![token]);
        }
        // 32 hex digits parse as a UUID too; only those may still be a fingerprint prefix.
        if !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
    }
    let prefix = name.to_ascii_lowercase();
    if prefix.len() < MIN_FINGERPRINT_PREFIX || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::new(
            ErrorCode::InvalidInput,
            format!(
                "\"{name}\" is neither a token id nor a fingerprint. Give the id (a UUID) or at least {MIN_FINGERPRINT_PREFIX} hex characters of the fingerprint."
            ),
        ));
    }
    // Only hex reaches the pattern, so it holds no LIKE wildcards.
    Ok(entity::Entity::find()
        .filter(entity::Column::Fingerprint.starts_with(&prefix))
        .order_by_desc(entity::Column::CreatedAt)
        .all(&state.db)
        .await?)
}

/// The token whose string is exactly `presented`, by its fingerprint.
pub async fn by_string(state: &AppState, presented: &str) -> Result<Option<entity::Model>, AppError> {
    let presented = crate::tokens::bearer_token(presented).unwrap_or(presented.trim());
    Ok(entity::Entity::find().filter(entity::Column::Fingerprint.eq(sha256_hex(presented))).one(&state.db).await?)
}

/// A token [`purge_dead`] removed (or would remove).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Purged {
    pub id: Uuid,
    pub account_id: Uuid,
    pub description: String,
    /// As shown (see [`shown_fingerprint`]).
    pub fingerprint: Option<String>,
    /// `revoked` or `expired`.
    pub state: &'static str,
    /// When it was revoked or expired.
    pub since: DateTime<Utc>,
}

/// Deletes every token revoked (itself or through its signing key) or expired before `cutoff`,
/// with its server links and usage, and records the change so every gateway forgets it. With
/// `dry_run`, only says what it would delete.
pub async fn purge_dead(state: &AppState, cutoff: DateTime<Utc>, dry_run: bool) -> Result<Vec<Purged>, AppError> {
    let revoked_keys: std::collections::HashMap<Uuid, DateTime<Utc>> = signing_keys::Entity::find()
        .filter(signing_keys::Column::State.eq(KeyState::Revoked.as_str()))
        .filter(signing_keys::Column::RevokedAt.lt(cutoff))
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|k| Some((k.id, k.revoked_at?)))
        .collect();
    let dead = entity::Entity::find()
        .filter(
            Condition::any()
                .add(entity::Column::RevokedAt.lt(cutoff))
                .add(entity::Column::ExpiresAt.lt(cutoff))
                .add(entity::Column::SigningKeyId.is_in(revoked_keys.keys().copied())),
        )
        .order_by_asc(entity::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let purged: Vec<Purged> = dead
        .into_iter()
        .filter_map(|t| {
            let (state, since) = match (t.revoked_at.or(revoked_keys.get(&t.signing_key_id).copied()), t.expires_at) {
                (Some(at), _) if at < cutoff => ("revoked", at),
                (_, Some(at)) if at < cutoff => ("expired", at),
                _ => return None,
            };
            Some(Purged {
                id: t.id,
                account_id: t.account_id,
                description: t.description,
                fingerprint: t.fingerprint.as_deref().map(shown_fingerprint),
                state,
                since,
            })
        })
        .collect();
    if dry_run || purged.is_empty() {
        return Ok(purged);
    }
    // In batches, so one purge of a large backlog neither holds a long transaction nor sends an
    // over-long IN list.
    for batch in purged.chunks(500) {
        let ids: Vec<Uuid> = batch.iter().map(|p| p.id).collect();
        let txn = state.changes.begin(&state.db).await?;
        token_servers::Entity::delete_many().filter(token_servers::Column::TokenId.is_in(ids.clone())).exec(&txn).await?;
        crate::usage::ssr::forget_tokens(&txn, &ids).await?;
        entity::Entity::delete_many().filter(entity::Column::Id.is_in(ids.clone())).exec(&txn).await?;
        for id in &ids {
            record_change(&txn, ChangeKind::Token, id).await?;
        }
        state.changes.commit(&state.db, txn).await?;
    }
    Ok(purged)
}
