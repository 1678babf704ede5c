//! Server-only API key logic: minting, listing, revoking and authenticating. Every query takes
//! the owner's account id.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::domain::*;
use crate::accounts::actor::{Actor, Via};
use crate::accounts::{AccountId, AccountStatus, AccountView, ssr::entity as accounts};
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::organisations::OrganisationId;
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;
use crate::tokens::{Expiry, TokenDescription};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub account_id: Uuid,
        /// The organisation it acts within.
        pub organisation_id: Uuid,
        pub description: String,
        pub scope: String,
        pub key_hash: String,
        pub display: String,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
        pub last_used_at: Option<DateTimeUtc>,
        pub last_used_ip: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Last used is written at most this often per key, so a busy script costs the database a
/// write a minute, not one a request.
const LAST_USED_EVERY: Duration = Duration::seconds(60);

fn view(m: entity::Model, now: DateTime<Utc>) -> Result<ApiKeyView, AppError> {
    Ok(ApiKeyView {
        id: m.id,
        organisation_id: m.organisation_id,
        scope: ApiScope::parse(&m.scope).map_err(AppError::internal)?,
        status: ApiKeyStatus::of(m.revoked_at, m.expires_at, now),
        description: m.description,
        display: m.display,
        created_at: m.created_at,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
        last_used_at: m.last_used_at,
        last_used_ip: m.last_used_ip,
    })
}

/// Makes a key for the actor's own account, acting within the actor's organisation. Its scope
/// may not exceed the owner's role, nor the scope of the key making it.
#[tracing::instrument(skip_all, fields(account = %actor.account_id()))]
pub async fn create(state: &AppState, actor: &Actor, input: NewApiKeyInput) -> Result<CreatedApiKey, AppError> {
    let organisation = actor.may(crate::organisations::Action::Read)?;
    let now = Utc::now();
    let mut fields = std::collections::BTreeMap::new();
    let description = TokenDescription::parse(&input.description).map_err(|e| fields.insert("description".to_string(), e.to_string())).ok();
    let expires_at = Expiry::parse(&input.expires).and_then(|e| e.resolve(now)).map_err(|e| fields.insert("expires".to_string(), e)).ok();
    if input.scope == ApiScope::Admin && !actor.account.is_admin() {
        fields.insert("scope".into(), "Only an admin's key may have the admin scope.".into());
    } else if !actor.via.allows(input.scope) {
        fields.insert("scope".into(), "A key cannot make a key with more scope than its own.".into());
    }
    let (Some(description), Some(expires_at), true) = (description, expires_at, fields.is_empty()) else {
        return Err(AppError::invalid_fields(fields));
    };
    let key = random_secret(KEY_PREFIX);
    let id = Uuid::now_v7();
    let txn = state.changes.begin(&state.db).await?;
    entity::Entity::insert(entity::ActiveModel {
        id: Set(id),
        account_id: Set(actor.account_id().0),
        organisation_id: Set(organisation.0),
        description: Set(description.as_str().into()),
        scope: Set(input.scope.as_str().into()),
        key_hash: Set(sha256_hex(&key)),
        display: Set(display_form(&key)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        last_used_ip: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    audit(
        &txn,
        AuditRecord::by(actor, "api_key.created", "api_key", id).detail(serde_json::json!({
            "description": description.as_str(), "scope": input.scope.as_str(), "expires_at": expires_at, "organisation": organisation,
        })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(CreatedApiKey { key, details: get(state, actor.account_id(), id).await? })
}

pub async fn get(state: &AppState, account: AccountId, id: Uuid) -> Result<ApiKeyView, AppError> {
    let model = entity::Entity::find_by_id(id)
        .filter(entity::Column::AccountId.eq(account.0))
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("API key"))?;
    view(model, Utc::now())
}

/// The account's keys, newest first; `None` lists every account's (the operator's CLI).
pub async fn list(state: &AppState, account: Option<AccountId>) -> Result<Vec<ApiKeyView>, AppError> {
    let mut query = entity::Entity::find().order_by_desc(entity::Column::CreatedAt);
    if let Some(account) = account {
        query = query.filter(entity::Column::AccountId.eq(account.0));
    }
    let now = Utc::now();
    query.all(&state.db).await?.into_iter().map(|m| view(m, now)).collect()
}

/// Revokes one of the actor's keys; it stops working with the next request. Idempotent.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), key = %id))]
pub async fn revoke(state: &AppState, actor: &Actor, id: Uuid) -> Result<ApiKeyView, AppError> {
    let key = get(state, actor.account_id(), id).await?;
    if key.revoked_at.is_none() {
        let txn = state.changes.begin(&state.db).await?;
        let changed = entity::Entity::update_many()
            .col_expr(entity::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
            .filter(entity::Column::Id.eq(id))
            .filter(entity::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if changed.rows_affected > 0 {
            audit(
                &txn,
                AuditRecord::by(actor, "api_key.revoked", "api_key", id).detail(serde_json::json!({
                    "description": key.description, "display": key.display,
                })),
            )
            .await?;
        }
        state.changes.commit(&state.db, txn).await?;
    }
    get(state, actor.account_id(), id).await
}

/// The owner of a live key, as the actor it acts as. Unknown, revoked and expired keys, and keys
/// of disabled accounts, all get the same 401 but for the words.
pub async fn authenticate(state: &AppState, presented: &str, ip: Option<String>) -> Result<Actor, AppError> {
    let refused = |why: &str| AppError::new(ErrorCode::Unauthenticated, why.to_string());
    let Some(model) = entity::Entity::find().filter(entity::Column::KeyHash.eq(sha256_hex(presented))).one(&state.db).await? else {
        return Err(refused("This API key is not valid. Make one on the Account page or with `gatehouse api-key create`."));
    };
    let now = Utc::now();
    match ApiKeyStatus::of(model.revoked_at, model.expires_at, now) {
        ApiKeyStatus::Active => {}
        ApiKeyStatus::Revoked => return Err(refused("This API key was revoked.")),
        ApiKeyStatus::Expired => return Err(refused("This API key has expired.")),
    }
    let account =
        accounts::Entity::find_by_id(model.account_id).one(&state.db).await?.ok_or_else(|| refused("This API key is not valid."))?;
    let account = AccountView::try_from(account)?;
    if account.status != AccountStatus::Active {
        return Err(AppError::new(ErrorCode::AccountDisabled, "This key's account has been disabled."));
    }
    let scope = ApiScope::parse(&model.scope).map_err(AppError::internal)?;
    let within = crate::organisations::ssr::within(&state.db, &account, OrganisationId(model.organisation_id)).await?;
    if within.role.is_none() {
        return Err(refused("This API key's account is no longer a member of the organisation the key acts in."));
    }
    if model.last_used_at.is_none_or(|at| now - at >= LAST_USED_EVERY) || model.last_used_ip != ip {
        entity::Entity::update_many()
            .col_expr(entity::Column::LastUsedAt, sea_orm::sea_query::Expr::value(now))
            .col_expr(entity::Column::LastUsedIp, sea_orm::sea_query::Expr::value(ip.clone()))
            .filter(entity::Column::Id.eq(model.id))
            .exec(&state.db)
            .await?;
    }
    Ok(Actor { account, ip, via: Via::ApiKey { id: model.id, scope }, within })
}

/// A key by id, whoever owns it (the operator's CLI).
pub async fn entity_by_id(state: &AppState, id: Uuid) -> Result<Option<entity::Model>, AppError> {
    Ok(entity::Entity::find_by_id(id).one(&state.db).await?)
}
