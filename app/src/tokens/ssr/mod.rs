//! Server-only token logic: minting JWTs, listing with computed status, revocation and
//! server associations. Every query takes the organisation's id; every action asks the one
//! rule ([`Actor::may`], [`Actor::may_token`]) first.
use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::domain::*;
use crate::accounts::actor::Actor;
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::organisations::{Action, OrganisationId, Whose};
use crate::servers::{
    ServerId, ServerRef,
    ssr::{entity as servers, token_servers},
};
use crate::signing_keys::{KeyState, ssr as signing_keys};
use crate::state::AppState;

pub mod entity;
pub mod operator;

/// Filters and order for the token list.
#[derive(Debug, Clone, Default)]
pub struct TokenQuery {
    pub filter: TokenFilter,
    pub order: TokenOrder,
}

impl TokenQuery {
    /// From the `status` and `sort` query values, strictly (an unknown one is a 422).
    pub fn parse(status: Option<&str>, sort: Option<&str>) -> Result<Self, AppError> {
        Ok(Self { filter: TokenFilter::parse(status)?, order: TokenOrder::parse(sort)? })
    }
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id()))]
pub async fn create_token(state: &AppState, actor: &Actor, input: NewTokenInput) -> Result<CreatedToken, AppError> {
    let organisation = actor.may(Action::CreateToken)?;
    let now = Utc::now();
    let mut fields = BTreeMap::new();
    let description = TokenDescription::parse(&input.description).map_err(|e| fields.insert("description".to_string(), e.to_string())).ok();
    let expires_at = Expiry::parse(&input.expires).and_then(|e| e.resolve(now)).map_err(|e| fields.insert("expires".to_string(), e)).ok();
    let server_ids: BTreeSet<Uuid> = input.server_ids.iter().map(|s| s.0).collect();
    let owned = owned_servers(&state.db, organisation, &server_ids).await?;
    if owned.len() != server_ids.len() {
        fields.insert("server_ids".into(), "One of the chosen servers does not exist.".into());
    }
    let networks =
        crate::tokens::networks::parse(&input.allowed_networks).map_err(|e| fields.insert("allowed_networks".to_string(), e)).ok();
    let rule = input.tools.unwrap_or_default();
    if let crate::tools::ToolRule::Only(names) = &rule
        && let Err(e) = crate::tools::ToolRule::only(names.iter().map(|n| n.as_str()))
    {
        fields.insert("tools".to_string(), e);
    }
    let (Some(description), Some(expires_at), Some(networks), true) = (description, expires_at, networks, fields.is_empty()) else {
        return Err(AppError::invalid_fields(fields));
    };

    let id = Uuid::now_v7();
    let txn = state.changes.begin(&state.db).await?;
    let key = signing_keys::active_key(&txn, state, organisation, actor.account_id()).await?;
    let claims = TokenClaims {
        iss: state.settings.issuer.clone(),
        sub: organisation.to_string(),
        aud: state.settings.audience.clone(),
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: expires_at.map(|at| at.timestamp()),
        jti: id.to_string(),
    };
    let token = sign(state, &key, &claims)?;

    entity::Entity::insert(entity::ActiveModel {
        id: Set(id),
        account_id: Set(actor.account_id().0),
        organisation_id: Set(organisation.0),
        signing_key_id: Set(key.id),
        description: Set(description.as_str().into()),
        display: Set(display_form(&token)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        last_used_ip: Set(None),
        use_count: Set(0),
        fingerprint: Set(Some(crate::secrets::sha256_hex(&token))),
        oauth_client_id: Set(None),
        allowed_networks: Set(crate::tokens::networks::stored(&networks)),
    })
    .exec_without_returning(&txn)
    .await?;
    for server in &server_ids {
        insert_association(&txn, id, *server).await?;
    }
    if let Some(stored) = rule.stored() {
        token_servers::Entity::update_many()
            .col_expr(token_servers::Column::ToolRule, sea_orm::sea_query::Expr::value(stored))
            .filter(token_servers::Column::TokenId.eq(id))
            .exec(&txn)
            .await?;
    }
    record_change(&txn, ChangeKind::Token, id).await?;
    audit(
        &txn,
        AuditRecord::by(actor, "token.created", "token", id).detail(serde_json::json!({
            "description": description.as_str(),
            "expires_at": expires_at,
            "servers": server_ids,
            "signing_key": key.id,
            "allowed_networks": networks.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            "tools": rule,
        })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(CreatedToken { token, details: get_token(state, actor, TokenId(id)).await? })
}

/// A JWT of `claims`, HS256 with `key` (its id in `kid`): every Gatehouse token is made here.
pub fn sign(state: &AppState, key: &signing_keys::entity::Model, claims: &impl serde::Serialize) -> Result<String, AppError> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.id.to_string());
    let secret = signing_keys::secret(state, key)?;
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret.expose_secret())).map_err(AppError::internal)
}

/// The `jti` a token string claims, unverified: only to find the row to verify it against, or
/// to attribute a refusal made after the signature checked out.
pub fn claimed_token_id(token: &str) -> Option<Uuid> {
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<serde_json::Value>(&payload).ok()?.get("jti")?.as_str()?.parse().ok()
}

pub async fn owned_servers(
    db: &impl ConnectionTrait,
    organisation: OrganisationId,
    ids: &BTreeSet<Uuid>,
) -> Result<Vec<servers::Model>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(servers::Entity::find()
        .filter(servers::Column::OrganisationId.eq(organisation.0))
        .filter(servers::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?)
}

pub async fn insert_association(db: &impl ConnectionTrait, token: Uuid, server: Uuid) -> Result<(), AppError> {
    token_servers::Entity::insert(token_servers::ActiveModel {
        token_id: Set(token),
        server_id: Set(server),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(OnConflict::columns([token_servers::Column::TokenId, token_servers::Column::ServerId]).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn find_model(db: &impl ConnectionTrait, organisation: OrganisationId, id: TokenId) -> Result<entity::Model, AppError> {
    entity::Entity::find_by_id(id.0)
        .filter(entity::Column::OrganisationId.eq(organisation.0))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("token"))
}

/// The token `id` of the actor's organisation, if the actor may see it (and, with `change`,
/// change it); 404 otherwise.
pub async fn visible_model(db: &impl ConnectionTrait, actor: &Actor, id: TokenId, change: bool) -> Result<entity::Model, AppError> {
    let model = find_model(db, actor.may(Action::Read).map_err(|_| AppError::not_found("token"))?, id).await?;
    actor.may_token(model.account_id, change)?;
    Ok(model)
}

pub async fn get_token(state: &AppState, actor: &Actor, id: TokenId) -> Result<TokenView, AppError> {
    let model = visible_model(&state.db, actor, id, false).await?;
    Ok(views(&state.db, actor.organisation(), vec![model]).await?.remove(0))
}

pub async fn list_tokens(state: &AppState, actor: &Actor, query: &TokenQuery) -> Result<Vec<TokenView>, AppError> {
    let models = select(state, actor, query).await?;
    views(&state.db, actor.organisation(), models).await
}

/// One page of [`list_tokens`]: only that page's tokens get full views (servers and all), so
/// the dashboard's list costs the same whatever the account holds.
pub async fn page_of_tokens(state: &AppState, actor: &Actor, query: &TokenQuery, page: usize) -> Result<TokenPage, AppError> {
    let shown = TokenPage::of(select(state, actor, query).await?, page);
    Ok(TokenPage { tokens: views(&state.db, actor.organisation(), shown.tokens).await?, total: shown.total, page: shown.page })
}

/// The tokens of the actor's organisation it may see (a member sees their own), as a query.
pub fn visible(actor: &Actor) -> Result<sea_orm::Select<entity::Entity>, AppError> {
    let organisation = actor.may(Action::Read)?;
    let query = entity::Entity::find().filter(entity::Column::OrganisationId.eq(organisation.0));
    Ok(if actor.may(Action::ReadToken(Whose::Another)).is_ok() {
        query
    } else {
        query.filter(entity::Column::AccountId.eq(actor.account_id().0))
    })
}

/// The visible tokens matching `query`, in its order, as rows.
async fn select(state: &AppState, actor: &Actor, query: &TokenQuery) -> Result<Vec<entity::Model>, AppError> {
    let mut models = visible(actor)?.order_by_desc(entity::Column::CreatedAt).all(&state.db).await?;
    if query.filter != TokenFilter::All {
        let revoked_keys = revoked_keys(&state.db, actor.organisation()).await?;
        let now = Utc::now();
        models.retain(|m| {
            let status = TokenStatus::of(m.revoked_at.is_some() || revoked_keys.contains(&m.signing_key_id), m.expires_at, now);
            match query.filter {
                TokenFilter::All => true,
                TokenFilter::Status(wanted) => wanted == status,
                TokenFilter::ExpiringSoon => status.expires_soon(m.expires_at, now),
            }
        });
    }
    if query.order == TokenOrder::LastUsed {
        // Most recently used first; never-used tokens last.
        models.sort_by_key(|m| std::cmp::Reverse(m.last_used_at));
    }
    Ok(models)
}

/// The ids of the organisation's revoked signing keys (their tokens count as revoked), by the
/// rule [`views`] uses: revoked, with the time it happened.
async fn revoked_keys(db: &impl ConnectionTrait, organisation: OrganisationId) -> Result<BTreeSet<Uuid>, AppError> {
    Ok(signing_keys::entity::Entity::find()
        .filter(signing_keys::entity::Column::OrganisationId.eq(organisation.0))
        .filter(signing_keys::entity::Column::State.eq(KeyState::Revoked.as_str()))
        .filter(signing_keys::entity::Column::RevokedAt.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect())
}

/// Builds the views of `models`, all of `organisation`: status, key state, servers, maker.
pub async fn views(
    db: &impl ConnectionTrait,
    organisation: OrganisationId,
    models: Vec<entity::Model>,
) -> Result<Vec<TokenView>, AppError> {
    use crate::accounts::ssr::entity as accounts;
    let token_ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
    let makers: BTreeSet<Uuid> = models.iter().map(|m| m.account_id).collect();
    let organisation_name = crate::organisations::ssr::name_of(db, organisation).await?;
    let emails: BTreeMap<Uuid, String> =
        accounts::Entity::find().filter(accounts::Column::Id.is_in(makers)).all(db).await?.into_iter().map(|a| (a.id, a.email)).collect();
    let keys: BTreeMap<Uuid, signing_keys::entity::Model> = signing_keys::entity::Entity::find()
        .filter(signing_keys::entity::Column::OrganisationId.eq(organisation.0))
        .all(db)
        .await?
        .into_iter()
        .map(|k| (k.id, k))
        .collect();
    let links = if token_ids.is_empty() {
        Vec::new()
    } else {
        token_servers::Entity::find().filter(token_servers::Column::TokenId.is_in(token_ids)).all(db).await?
    };
    let names: BTreeMap<Uuid, String> = servers::Entity::find()
        .filter(servers::Column::OrganisationId.eq(organisation.0))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut servers_of: BTreeMap<Uuid, Vec<ServerRef>> = BTreeMap::new();
    for link in links {
        if let Some(name) = names.get(&link.server_id) {
            servers_of.entry(link.token_id).or_default().push(ServerRef {
                id: ServerId(link.server_id),
                name: name.clone(),
                tools: crate::tools::ToolRule::from_stored(link.tool_rule.as_deref()),
            });
        }
    }
    let now = Utc::now();
    Ok(models
        .into_iter()
        .map(|m| {
            let key = keys.get(&m.signing_key_id);
            let key_revoked_at = key.filter(|k| k.state == KeyState::Revoked.as_str()).and_then(|k| k.revoked_at);
            let (revoked_at, revoked_by) = match (m.revoked_at, key_revoked_at) {
                (Some(at), _) => (Some(at), Some("owner".to_string())),
                (None, Some(at)) => (Some(at), Some("signing_key".to_string())),
                (None, None) => (None, None),
            };
            let mut servers = servers_of.remove(&m.id).unwrap_or_default();
            servers.sort_by(|a, b| a.name.cmp(&b.name));
            TokenView {
                id: TokenId(m.id),
                organisation_id: m.organisation_id,
                organisation: organisation_name.clone(),
                made_by: emails.get(&m.account_id).cloned().unwrap_or_default(),
                status: TokenStatus::of(revoked_at.is_some(), m.expires_at, now),
                revoked_by,
                description: m.description,
                display: m.display,
                fingerprint: m.fingerprint.as_deref().map(shown_fingerprint),
                signing_key_id: m.signing_key_id,
                created_at: m.created_at,
                expires_at: m.expires_at,
                revoked_at,
                last_used_at: m.last_used_at,
                last_used_ip: m.last_used_ip,
                use_count: m.use_count,
                servers,
                allowed_networks: crate::tokens::networks::from_stored(m.allowed_networks.as_deref())
                    .unwrap_or_default()
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
                oauth_client: m.oauth_client_id,
            }
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id(), token = %id))]
pub async fn revoke_token(state: &AppState, actor: &Actor, id: TokenId) -> Result<TokenView, AppError> {
    let token = visible_model(&state.db, actor, id, true).await?;
    if token.revoked_at.is_none() {
        let txn = state.changes.begin(&state.db).await?;
        // Only the first revocation counts: a concurrent second one changes nothing.
        let changed = entity::Entity::update_many()
            .col_expr(entity::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
            .filter(entity::Column::Id.eq(token.id))
            .filter(entity::Column::OrganisationId.eq(token.organisation_id))
            .filter(entity::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if changed.rows_affected > 0 {
            record_change(&txn, ChangeKind::Token, token.id).await?;
            audit(
                &txn,
                AuditRecord::by(actor, "token.revoked", "token", token.id).detail(serde_json::json!({
                    "description": token.description, "display": token.display,
                })),
            )
            .await?;
        }
        state.changes.commit(&state.db, txn).await?;
    }
    get_token(state, actor, id).await
}

/// Lets `token` reach `server`; both must be the organisation's, and the token one the actor
/// may change. Idempotent.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), token = %token_id, server = %server_id))]
pub async fn associate(state: &AppState, actor: &Actor, token_id: TokenId, server_id: ServerId) -> Result<TokenView, AppError> {
    let token = visible_model(&state.db, actor, token_id, true).await?;
    let server = crate::servers::ssr::find_model(&state.db, actor.organisation(), server_id).await?;
    if TokenStatus::of(token.revoked_at.is_some(), token.expires_at, Utc::now()) == TokenStatus::Revoked {
        return Err(AppError::new(ErrorCode::Conflict, "This token is revoked; create a new one instead."));
    }
    let txn = state.changes.begin(&state.db).await?;
    insert_association(&txn, token.id, server.id).await?;
    record_change(&txn, ChangeKind::Token, token.id).await?;
    audit(
        &txn,
        AuditRecord::by(actor, "token.associated", "token", token.id).detail(serde_json::json!({
            "server": server.id, "server_name": server.name,
        })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    get_token(state, actor, token_id).await
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id(), token = %token_id, server = %server_id))]
pub async fn dissociate(state: &AppState, actor: &Actor, token_id: TokenId, server_id: ServerId) -> Result<TokenView, AppError> {
    let token = visible_model(&state.db, actor, token_id, true).await?;
    let server = crate::servers::ssr::find_model(&state.db, actor.organisation(), server_id).await?;
    let txn = state.changes.begin(&state.db).await?;
    let removed = token_servers::Entity::delete_many()
        .filter(token_servers::Column::TokenId.eq(token.id))
        .filter(token_servers::Column::ServerId.eq(server.id))
        .exec(&txn)
        .await?;
    if removed.rows_affected > 0 {
        record_change(&txn, ChangeKind::Token, token.id).await?;
        audit(
            &txn,
            AuditRecord::by(actor, "token.dissociated", "token", token.id).detail(serde_json::json!({
                "server": server.id, "server_name": server.name,
            })),
        )
        .await?;
    }
    state.changes.commit(&state.db, txn).await?;
    get_token(state, actor, token_id).await
}

/// Limits what a token may call on one of its servers (or lifts the limit with
/// [`ToolRule::All`]). The token must already reach the server; the gateway applies the rule
/// to the next request, on every process, through the token's change event.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), token = %token_id, server = %server_id))]
pub async fn set_tool_rule(
    state: &AppState,
    actor: &Actor,
    token_id: TokenId,
    server_id: ServerId,
    rule: crate::tools::ToolRule,
) -> Result<TokenView, AppError> {
    if let crate::tools::ToolRule::Only(names) = &rule {
        // JSON names were checked one by one when read; the list as a whole is checked here.
        crate::tools::ToolRule::only(names.iter().map(|n| n.as_str())).map_err(crate::tools::invalid_rule)?;
    }
    let token = visible_model(&state.db, actor, token_id, true).await?;
    let server = crate::servers::ssr::find_model(&state.db, actor.organisation(), server_id).await?;
    let txn = state.changes.begin(&state.db).await?;
    let link = token_servers::Entity::find_by_id((token.id, server.id))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::Conflict, "This token does not reach that server; add the server to the token first."))?;
    if crate::tools::ToolRule::from_stored(link.tool_rule.as_deref()) != rule {
        let mut link: token_servers::ActiveModel = link.into();
        link.tool_rule = Set(rule.stored());
        link.update(&txn).await?;
        record_change(&txn, ChangeKind::Token, token.id).await?;
        audit(
            &txn,
            AuditRecord::by(actor, "token.tools_limited", "token", token.id).detail(serde_json::json!({
                "server": server.id, "server_name": server.name, "tools": rule,
            })),
        )
        .await?;
    }
    state.changes.commit(&state.db, txn).await?;
    get_token(state, actor, token_id).await
}

/// Replaces the client addresses `token_id` may be used from (empty: any). The next request on
/// every process follows it.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), token = %token_id))]
pub async fn set_allowed_networks(state: &AppState, actor: &Actor, token_id: TokenId, input: Vec<String>) -> Result<TokenView, AppError> {
    let networks =
        crate::tokens::networks::parse(&input).map_err(|e| AppError::invalid_fields([("allowed_networks".to_string(), e)].into()))?;
    let token = visible_model(&state.db, actor, token_id, true).await?;
    let stored = crate::tokens::networks::stored(&networks);
    if token.allowed_networks != stored {
        let txn = state.changes.begin(&state.db).await?;
        entity::Entity::update_many()
            .col_expr(entity::Column::AllowedNetworks, sea_orm::sea_query::Expr::value(stored))
            .filter(entity::Column::Id.eq(token.id))
            .exec(&txn)
            .await?;
        record_change(&txn, ChangeKind::Token, token.id).await?;
        audit(
            &txn,
            AuditRecord::by(actor, "token.networks_limited", "token", token.id).detail(serde_json::json!({
                "allowed_networks": networks.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            })),
        )
        .await?;
        state.changes.commit(&state.db, txn).await?;
    }
    get_token(state, actor, token_id).await
}

/// Tokens that may reach a server (those the actor may see), for its detail page.
pub async fn tokens_of_server(state: &AppState, actor: &Actor, server: ServerId) -> Result<Vec<TokenView>, AppError> {
    crate::servers::ssr::find_model(&state.db, actor.may(Action::Read)?, server).await?;
    let ids: Vec<Uuid> = token_servers::Entity::find()
        .filter(token_servers::Column::ServerId.eq(server.0))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|l| l.token_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let models = visible(actor)?.filter(entity::Column::Id.is_in(ids)).order_by_desc(entity::Column::CreatedAt).all(&state.db).await?;
    views(&state.db, actor.organisation(), models).await
}
