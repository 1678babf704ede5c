//! The clients Gatehouse knows: registered ones (RFC 7591, read, changed and deleted through
//! their registration access token, RFC 7592) and ones described by a client ID metadata
//! document (kept as a row so that grants can name them; the server crate fetches documents).
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::clients as entity;
use crate::accounts::actor::Actor;
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::AppError;
use crate::oauth::domain::*;
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;

pub use entity::Model as ClientModel;

pub use crate::oauth::domain::{METADATA_DOCUMENT_KIND as METADATA_DOCUMENT, REGISTERED_KIND as REGISTERED};
const MAX_REDIRECT_URIS: usize = 20;
const MAX_NAME: usize = 200;
/// The columns that keep URIs hold 2048 characters.
const MAX_URI: usize = 2048;

/// The client metadata of RFC 7591 §2 that Gatehouse reads; a metadata document has the same
/// fields plus `client_id`. Unknown fields are kept as registered, never interpreted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
}

/// What a registration answers (RFC 7591 §3.2.1): the metadata as accepted plus the credentials.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    pub client_id: String,
    pub client_id_issued_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire before the client does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

/// Metadata that passed every rule.
struct Accepted {
    name: String,
    redirect_uris: Vec<String>,
    auth_method: String,
    metadata: ClientMetadata,
}

fn invalid(description: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

/// Checks metadata as RFC 7591 §2 and the MCP spec ask. `default_method` is what an absent
/// `token_endpoint_auth_method` means: `client_secret_basic` for registration (RFC 7591 §2),
/// `none` for a metadata document (such a client cannot hold a secret Gatehouse gave it).
fn accept(metadata: ClientMetadata, default_method: &str) -> Result<Accepted, OAuthError> {
    if metadata.redirect_uris.is_empty() {
        return Err(OAuthError::new(OAuthErrorCode::InvalidRedirectUri, "List at least one redirect URI in redirect_uris."));
    }
    if metadata.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(OAuthErrorCode::InvalidRedirectUri, format!("List at most {MAX_REDIRECT_URIS} redirect URIs.")));
    }
    for uri in &metadata.redirect_uris {
        if uri.len() > MAX_URI {
            return Err(OAuthError::new(OAuthErrorCode::InvalidRedirectUri, format!("A redirect URI may be at most {MAX_URI} bytes.")));
        }
        check_redirect_uri(uri).map_err(|why| OAuthError::new(OAuthErrorCode::InvalidRedirectUri, why))?;
    }
    // No database stores a NUL in text (PostgreSQL refuses it).
    if serde_json::to_string(&metadata).is_ok_and(|json| json.contains("\\u0000")) {
        return Err(invalid("The metadata holds a NUL character."));
    }
    let auth_method = metadata.token_endpoint_auth_method.clone().unwrap_or_else(|| default_method.to_string());
    if !matches!(auth_method.as_str(), "none" | "client_secret_post" | "client_secret_basic") {
        return Err(invalid(format!(
            "token_endpoint_auth_method \"{auth_method}\" is not supported; use none, client_secret_post or client_secret_basic."
        )));
    }
    if let Some(grants) = &metadata.grant_types
        && let Some(other) = grants.iter().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(invalid(format!("grant type \"{other}\" is not supported; use authorization_code and refresh_token.")));
    }
    if let Some(types) = &metadata.response_types
        && let Some(other) = types.iter().find(|t| t.as_str() != "code")
    {
        return Err(invalid(format!("response type \"{other}\" is not supported; use code.")));
    }
    let name = metadata.client_name.as_deref().map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Unnamed app");
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("client_name must be at most {MAX_NAME} characters, without control characters.")));
    }
    Ok(Accepted { name: name.to_string(), redirect_uris: metadata.redirect_uris.clone(), auth_method, metadata })
}

fn registration(state: &AppState, model: &ClientModel, secret: Option<String>, registration_token: Option<String>) -> Registration {
    let metadata: ClientMetadata = serde_json::from_str(&model.metadata).unwrap_or_default();
    Registration {
        client_id: model.client_id.clone(),
        client_id_issued_at: model.created_at.timestamp(),
        client_secret_expires_at: secret.as_ref().map(|_| model.expires_at.map_or(0, |at| at.timestamp())),
        client_secret: secret,
        registration_access_token: registration_token,
        registration_client_uri: format!("{}/oauth/register/{}", state.settings.public_url, model.client_id),
        client_name: model.name.clone(),
        redirect_uris: redirect_uris(model),
        token_endpoint_auth_method: model.auth_method.clone(),
        grant_types: metadata.grant_types.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]),
        response_types: vec!["code".into()],
        scope: SCOPE.to_string(),
        client_uri: metadata.client_uri,
        logo_uri: metadata.logo_uri,
    }
}

pub fn redirect_uris(model: &ClientModel) -> Vec<String> {
    serde_json::from_str(&model.redirect_uris).unwrap_or_default()
}

fn expiry(state: &AppState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    state.settings.oauth.client_lifetime_seconds.map(|s| now + Duration::seconds(s))
}

/// Dynamic client registration (RFC 7591).
#[tracing::instrument(skip_all)]
pub async fn register(state: &AppState, metadata: ClientMetadata, ip: Option<String>) -> Result<Registration, OAuthError> {
    if !state.settings.oauth.registration_open {
        return Err(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "This Gatehouse does not accept dynamic client registration; use a client ID metadata document.",
        ));
    }
    let accepted = accept(ClientMetadata { client_id: None, ..metadata }, "client_secret_basic")?;
    let now = Utc::now();
    let client_id = format!("ghc_{}", Uuid::new_v4().simple());
    let secret = (accepted.auth_method != "none").then(|| random_secret("ghcs_"));
    let registration_token = random_secret("ghra_");
    let model = entity::Model {
        id: Uuid::now_v7(),
        client_id,
        kind: REGISTERED.into(),
        name: accepted.name,
        redirect_uris: serde_json::to_string(&accepted.redirect_uris).map_err(server_error)?,
        auth_method: accepted.auth_method,
        secret_hash: secret.as_deref().map(sha256_hex),
        registration_token_hash: Some(sha256_hex(&registration_token)),
        metadata: serde_json::to_string(&accepted.metadata).map_err(server_error)?,
        created_at: now,
        updated_at: now,
        expires_at: expiry(state, now),
    };
    let txn = crate::events::begin_write(&state.db).await.map_err(server_error)?;
    entity::Entity::insert(entity::ActiveModel::from(model.clone())).exec_without_returning(&txn).await.map_err(server_error)?;
    let record = AuditRecord::anonymous(None, ip, "oauth.client_registered").detail(serde_json::json!({
        "client_id": model.client_id, "client_name": model.name, "redirect_uris": redirect_uris(&model),
    }));
    audit(&txn, record).await.map_err(app_error)?;
    txn.commit().await.map_err(server_error)?;
    Ok(registration(state, &model, secret, Some(registration_token)))
}

/// The registered client `client_id`, if `registration_token` is its registration access token
/// (RFC 7592 §2: otherwise 401, saying nothing of whether the client exists).
async fn by_registration_token(state: &AppState, client_id: &str, registration_token: Option<&str>) -> Result<ClientModel, OAuthError> {
    let refused = || OAuthError::new(OAuthErrorCode::InvalidClient, "The registration access token is missing, wrong or expired.");
    let presented = registration_token.ok_or_else(refused)?;
    let model = find(state, client_id).await?.filter(|m| m.kind == REGISTERED).ok_or_else(refused)?;
    match &model.registration_token_hash {
        Some(hash) if crate::secrets::constant_time_eq(hash.as_bytes(), sha256_hex(presented).as_bytes()) => Ok(model),
        _ => Err(refused()),
    }
}

/// RFC 7592 read.
pub async fn read(state: &AppState, client_id: &str, registration_token: Option<&str>) -> Result<Registration, OAuthError> {
    let model = by_registration_token(state, client_id, registration_token).await?;
    Ok(registration(state, &model, None, None))
}

/// RFC 7592 update: the new metadata replaces the old; the credentials stay.
pub async fn update(
    state: &AppState,
    client_id: &str,
    registration_token: Option<&str>,
    metadata: ClientMetadata,
) -> Result<Registration, OAuthError> {
    let model = by_registration_token(state, client_id, registration_token).await?;
    if metadata.client_id.as_deref().is_some_and(|id| id != model.client_id) {
        return Err(invalid("client_id in the body must be the client's own."));
    }
    let accepted = accept(ClientMetadata { client_id: None, ..metadata }, &model.auth_method)?;
    if accepted.auth_method != model.auth_method {
        return Err(invalid("token_endpoint_auth_method cannot change; register a new client instead."));
    }
    let updated = entity::Model {
        name: accepted.name,
        redirect_uris: serde_json::to_string(&accepted.redirect_uris).map_err(server_error)?,
        metadata: serde_json::to_string(&accepted.metadata).map_err(server_error)?,
        updated_at: Utc::now(),
        ..model
    };
    entity::Entity::update(entity::ActiveModel {
        id: Set(updated.id),
        name: Set(updated.name.clone()),
        redirect_uris: Set(updated.redirect_uris.clone()),
        metadata: Set(updated.metadata.clone()),
        updated_at: Set(updated.updated_at),
        ..Default::default()
    })
    .exec(&state.db)
    .await
    .map_err(server_error)?;
    Ok(registration(state, &updated, None, None))
}

/// RFC 7592 delete: the client and every grant it holds end.
pub async fn delete_registered(state: &AppState, client_id: &str, registration_token: Option<&str>) -> Result<(), OAuthError> {
    let model = by_registration_token(state, client_id, registration_token).await?;
    remove(state, &model, None, "the client (RFC 7592)").await.map(|_| ()).map_err(app_error)
}

/// A client known by `client_id` that has not expired.
pub async fn find(state: &AppState, client_id: &str) -> Result<Option<ClientModel>, OAuthError> {
    let found = entity::Entity::find().filter(entity::Column::ClientId.eq(client_id)).one(&state.db).await.map_err(server_error)?;
    Ok(found.filter(|m| m.expires_at.is_none_or(|at| at > Utc::now())))
}

pub async fn find_by_row(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<ClientModel>, AppError> {
    Ok(entity::Entity::find_by_id(id).one(db).await?)
}

/// Records what a client's metadata document (already fetched from `url`, under the address
/// policy) says, once it passed the rules: its `client_id` is exactly `url`.
pub async fn remember_document(state: &AppState, url: &str, document: ClientMetadata) -> Result<ClientModel, OAuthError> {
    if document.client_id.as_deref() != Some(url) {
        return Err(OAuthError::client(format!(
            "The client metadata document at {url} names another client_id; it must be its own URL exactly."
        )));
    }
    let accepted =
        accept(document, "none").map_err(|e| OAuthError::client(format!("The client metadata document at {url}: {}", e.description)))?;
    if accepted.auth_method != "none" {
        return Err(OAuthError::client(format!(
            "The client metadata document at {url} asks for {}; Gatehouse accepts metadata-document clients only as public clients (none).",
            accepted.auth_method
        )));
    }
    let now = Utc::now();
    let row = entity::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_id: Set(url.to_string()),
        kind: Set(METADATA_DOCUMENT.into()),
        name: Set(accepted.name),
        redirect_uris: Set(serde_json::to_string(&accepted.redirect_uris).map_err(server_error)?),
        auth_method: Set("none".into()),
        secret_hash: Set(None),
        registration_token_hash: Set(None),
        metadata: Set(serde_json::to_string(&accepted.metadata).map_err(server_error)?),
        created_at: Set(now),
        updated_at: Set(now),
        expires_at: Set(None),
    };
    entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::Column::ClientId)
                .update_columns([entity::Column::Name, entity::Column::RedirectUris, entity::Column::Metadata, entity::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await
        .map_err(server_error)?;
    find(state, url).await?.ok_or_else(|| server_error("the client row just written is gone"))
}

/// Checks the client's credentials at the token or revocation endpoint: public clients
/// present none (an empty Basic password counts as none); confidential ones their secret,
/// by HTTP Basic or in the body — RFC 6749 §2.3.1 has servers accept Basic from every
/// confidential client, so which of the two a client registered is not enforced.
pub fn authenticate(model: &ClientModel, secret: Option<&str>) -> Result<(), OAuthError> {
    match (model.auth_method.as_str(), secret.filter(|s| !s.is_empty())) {
        ("none", None) => Ok(()),
        ("none", Some(_)) => Err(OAuthError::client("This client is public (token_endpoint_auth_method none); send no client secret.")),
        (_, Some(presented)) => match &model.secret_hash {
            Some(hash) if crate::secrets::constant_time_eq(hash.as_bytes(), sha256_hex(presented).as_bytes()) => Ok(()),
            _ => Err(OAuthError::client("The client secret is wrong.")),
        },
        (registered, None) => Err(OAuthError::client(format!("This client must authenticate ({registered}); its secret is missing."))),
    }
}

/// Every client, newest first, with how many grants each still holds (the operator's list).
pub async fn list(state: &AppState) -> Result<Vec<ClientView>, AppError> {
    use crate::tokens::ssr::entity as tokens;
    let clients = entity::Entity::find().order_by_desc(entity::Column::CreatedAt).all(&state.db).await?;
    let now = Utc::now();
    let live = tokens::Entity::find()
        .filter(tokens::Column::OauthClientId.is_not_null())
        .filter(tokens::Column::RevokedAt.is_null())
        .all(&state.db)
        .await?
        .into_iter()
        .filter(|t| t.expires_at.is_none_or(|at| at > now))
        .fold(std::collections::HashMap::<Uuid, u64>::new(), |mut counts, t| {
            *counts.entry(t.oauth_client_id.unwrap_or_default()).or_default() += 1;
            counts
        });
    Ok(clients
        .into_iter()
        .map(|m| ClientView {
            live_grants: live.get(&m.id).copied().unwrap_or(0),
            redirect_uris: redirect_uris(&m),
            id: m.id,
            client_id: m.client_id,
            name: m.name,
            kind: m.kind,
            created_at: m.created_at,
            expires_at: m.expires_at,
        })
        .collect())
}

/// The operator deletes a client (in the dashboard `admin` is the admin; at the command line,
/// `None`): every grant it holds is revoked (their streams end) first. How many grants ended.
pub async fn delete(state: &AppState, admin: Option<&Actor>, id: Uuid) -> Result<u64, AppError> {
    let model = find_by_row(&state.db, id).await?.ok_or_else(|| AppError::not_found("client"))?;
    remove(state, &model, admin, if admin.is_some() { "an admin" } else { "the operator (CLI)" }).await
}

async fn remove(state: &AppState, model: &ClientModel, admin: Option<&Actor>, by: &str) -> Result<u64, AppError> {
    let txn = state.changes.begin(&state.db).await?;
    let ended = super::grants::revoke_client_grants(&txn, model.id, None).await?;
    super::entity::authorizations::Entity::delete_many()
        .filter(super::entity::authorizations::Column::ClientId.eq(model.id))
        .exec(&txn)
        .await?;
    entity::Entity::delete_by_id(model.id).exec(&txn).await?;
    let detail = serde_json::json!({ "client_id": model.client_id, "client_name": model.name, "grants_revoked": ended, "by": by });
    let record = match admin {
        Some(admin) => AuditRecord::by(admin, "oauth.client_deleted", "oauth_client", model.id),
        None => AuditRecord::anonymous(None, None, "oauth.client_deleted"),
    };
    audit(&txn, record.detail(detail)).await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(ended)
}

pub(super) fn server_error(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "OAuth request failed");
    OAuthError::new(OAuthErrorCode::ServerError, "Gatehouse could not complete this request. Try again shortly.")
}

pub(super) fn app_error(e: AppError) -> OAuthError {
    server_error(e.message)
}
