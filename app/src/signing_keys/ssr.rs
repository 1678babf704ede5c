//! Each account's HS256 signing keys: 256 random bits from the OS, encrypted at rest, made on
//! the account's first token; rotation retires the active key, revocation ends its tokens.
use chrono::Utc;
use rand::{TryRngCore, rngs::OsRng};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use secrecy::SecretBox;
use uuid::Uuid;

use super::domain::{KeyState, SigningKeyView};
use crate::accounts::AccountId;
use crate::accounts::actor::Actor;
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::organisations::{Action, OrganisationId};
use crate::state::AppState;
use crate::tokens::ssr::entity as tokens;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The member whose action made it.
        pub account_id: Uuid,
        pub organisation_id: Uuid,
        pub secret_ciphertext: String,
        pub state: String,
        pub created_at: DateTimeUtc,
        pub retired_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn secret_context(id: Uuid) -> String {
    format!("signing_key:{id}")
}

/// The decrypted secret of a key.
pub fn secret(state: &AppState, key: &entity::Model) -> Result<SecretBox<Vec<u8>>, AppError> {
    state.cipher.open(&key.secret_ciphertext, &secret_context(key.id))
}

/// The signing keys that still verify tokens (active and retired) which the configured master
/// key cannot open, and how many such keys there are: a wrong master key shows as every key.
pub async fn undecryptable_keys(state: &AppState) -> Result<(usize, usize), AppError> {
    let keys = entity::Entity::find().filter(entity::Column::State.ne(KeyState::Revoked.as_str())).all(&state.db).await?;
    let failed = keys.iter().filter(|k| !state.cipher.opens(&k.secret_ciphertext, &secret_context(k.id))).count();
    Ok((failed, keys.len()))
}

/// Makes a new active key for `organisation` (`maker` the member whose action made it); `None` when another transaction made one first (the
/// unique index on active keys). The insert does nothing on that conflict rather than fail, so
/// a PostgreSQL transaction stays usable to read the winner's key.
async fn insert_active_key(
    db: &impl ConnectionTrait,
    state: &AppState,
    organisation: OrganisationId,
    maker: AccountId,
) -> Result<Option<entity::Model>, sea_orm::DbErr> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| sea_orm::DbErr::Custom(format!("OS randomness unavailable: {e}")))?;
    let id = Uuid::now_v7();
    let sealed = state.cipher.seal(&bytes, &secret_context(id)).map_err(|e| sea_orm::DbErr::Custom(e.message))?;
    let model = entity::Model {
        id,
        account_id: maker.0,
        organisation_id: organisation.0,
        secret_ciphertext: sealed,
        state: KeyState::Active.as_str().into(),
        created_at: Utc::now(),
        retired_at: None,
        revoked_at: None,
    };
    let inserted = entity::Entity::insert(entity::ActiveModel {
        id: Set(model.id),
        account_id: Set(model.account_id),
        organisation_id: Set(model.organisation_id),
        secret_ciphertext: Set(model.secret_ciphertext.clone()),
        state: Set(model.state.clone()),
        created_at: Set(model.created_at),
        retired_at: Set(None),
        revoked_at: Set(None),
    })
    .on_conflict(sea_orm::sea_query::OnConflict::new().do_nothing().to_owned())
    .exec_without_returning(db)
    .await;
    match inserted {
        Ok(0) | Err(sea_orm::DbErr::RecordNotInserted) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(e),
    }
    record_change(db, ChangeKind::SigningKey, id).await.map_err(|e| sea_orm::DbErr::Custom(e.message))?;
    Ok(Some(model))
}

async fn find_active(db: &impl ConnectionTrait, organisation: OrganisationId) -> Result<Option<entity::Model>, AppError> {
    Ok(entity::Entity::find()
        .filter(entity::Column::OrganisationId.eq(organisation.0))
        .filter(entity::Column::State.eq(KeyState::Active.as_str()))
        .one(db)
        .await?)
}

/// The organisation's active key, made now if it has none (its first token, made by `maker`).
pub async fn active_key(
    db: &impl ConnectionTrait,
    state: &AppState,
    organisation: OrganisationId,
    maker: AccountId,
) -> Result<entity::Model, AppError> {
    if let Some(key) = find_active(db, organisation).await? {
        return Ok(key);
    }
    match insert_active_key(db, state, organisation, maker).await.map_err(AppError::internal)? {
        Some(key) => {
            tracing::info!(%organisation, key = %key.id, "made the organisation's first signing key");
            Ok(key)
        }
        // Another request made it first.
        None => find_active(db, organisation).await?.ok_or_else(|| AppError::internal("active key vanished")),
    }
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id()))]
pub async fn rotate(state: &AppState, actor: &Actor) -> Result<SigningKeyView, AppError> {
    let organisation = actor.may(Action::ChangeKeys)?;
    let txn = state.changes.begin(&state.db).await?;
    let retired = find_active(&txn, organisation).await?;
    if let Some(old) = &retired {
        entity::Entity::update(entity::ActiveModel {
            id: Set(old.id),
            state: Set(KeyState::Retired.as_str().into()),
            retired_at: Set(Some(Utc::now())),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        record_change(&txn, ChangeKind::SigningKey, old.id).await?;
    }
    let new = insert_active_key(&txn, state, organisation, actor.account_id()).await.map_err(AppError::internal)?.ok_or_else(|| {
        AppError::new(crate::error::ErrorCode::Conflict, "Another rotation happened at the same time. Reload and try again.")
    })?;
    audit(
        &txn,
        AuditRecord::by(actor, "signing_key.rotated", "signing_key", new.id).detail(serde_json::json!({
            "retired_key": retired.as_ref().map(|k| k.id),
        })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    get(state, actor, new.id).await
}

/// Revokes a retired key: every token it signed stops working. The active key must be
/// rotated out first, so the organisation always has a key to sign with.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), key = %id))]
pub async fn revoke(state: &AppState, actor: &Actor, id: Uuid) -> Result<SigningKeyView, AppError> {
    let organisation = actor.may(Action::ChangeKeys)?;
    let key = find(&state.db, organisation, id).await?;
    match KeyState::parse(&key.state) {
        Some(KeyState::Active) => {
            return Err(AppError::new(ErrorCode::Conflict, "This is the active key. Rotate it first, then revoke it."));
        }
        Some(KeyState::Revoked) => return Err(AppError::new(ErrorCode::Conflict, "This key is already revoked.")),
        _ => {}
    }
    let txn = state.changes.begin(&state.db).await?;
    entity::Entity::update(entity::ActiveModel {
        id: Set(key.id),
        state: Set(KeyState::Revoked.as_str().into()),
        revoked_at: Set(Some(Utc::now())),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    record_change(&txn, ChangeKind::SigningKey, key.id).await?;
    let ended = tokens::Entity::find().filter(tokens::Column::SigningKeyId.eq(key.id)).count(&txn).await?;
    audit(
        &txn,
        AuditRecord::by(actor, "signing_key.revoked", "signing_key", key.id).detail(serde_json::json!({
            "tokens_ended": ended,
        })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    get(state, actor, key.id).await
}

async fn find(db: &impl ConnectionTrait, organisation: OrganisationId, id: Uuid) -> Result<entity::Model, AppError> {
    entity::Entity::find_by_id(id)
        .filter(entity::Column::OrganisationId.eq(organisation.0))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("signing key"))
}

pub async fn get(state: &AppState, actor: &Actor, id: Uuid) -> Result<SigningKeyView, AppError> {
    let key = find(&state.db, actor.may(Action::Read)?, id).await?;
    view(&state.db, key).await
}

/// The organisation's keys, active first, then newest.
pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<SigningKeyView>, AppError> {
    let keys = entity::Entity::find()
        .filter(entity::Column::OrganisationId.eq(actor.may(Action::Read)?.0))
        .order_by_desc(entity::Column::CreatedAt)
        .all(&state.db)
        .await?;
    let mut views = Vec::with_capacity(keys.len());
    for key in keys {
        views.push(view(&state.db, key).await?);
    }
    views.sort_by_key(|k| k.state != KeyState::Active);
    Ok(views)
}

async fn view(db: &impl ConnectionTrait, key: entity::Model) -> Result<SigningKeyView, AppError> {
    let signed = tokens::Entity::find().filter(tokens::Column::SigningKeyId.eq(key.id));
    let tokens_signed = signed.clone().count(db).await?;
    let state = KeyState::parse(&key.state).ok_or_else(|| AppError::internal(format!("bad key state {}", key.state)))?;
    let live_tokens = if state == KeyState::Revoked {
        0
    } else {
        signed
            .filter(tokens::Column::RevokedAt.is_null())
            .filter(Condition::any().add(tokens::Column::ExpiresAt.is_null()).add(tokens::Column::ExpiresAt.gt(Utc::now())))
            .count(db)
            .await?
    };
    Ok(SigningKeyView {
        id: key.id,
        state,
        created_at: key.created_at,
        retired_at: key.retired_at,
        revoked_at: key.revoked_at,
        tokens_signed,
        live_tokens,
    })
}
