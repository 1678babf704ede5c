//! The authorization code flow, from request to consent to code to tokens, and the grant's
//! life after: refresh with rotation and reuse detection, revocation (RFC 7009), disconnecting.
//!
//! A grant is an ordinary Gatehouse token (`tokens.oauth_client_id` names the client): its row
//! carries the servers, last used, the chart and the revocation, so the gateway, the inspector
//! and live revocation treat it like any other. Each access token is a JWT with that token's
//! `jti` and a short `exp` (never past the grant's end); a refresh issues a new one.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde::Serialize;
use uuid::Uuid;

use super::clients::{ClientModel, app_error, find_by_row, server_error};
use super::entity::{authorizations, refresh_tokens};
use crate::accounts::actor::Actor;
use crate::accounts::{AccountId, AccountStatus, ssr::entity as accounts};
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::oauth::domain::*;
use crate::organisations::{Action, OrganisationId};
use crate::secrets::{random_secret, sha256_hex};
use crate::servers::{ServerId, ServerRef, ssr::entity as servers};
use crate::state::AppState;
use crate::tokens::{Expiry, ssr as tokens};

/// An authorization request that passed every check that needs no signed-in user.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Uuid,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub state: Option<String>,
    pub scope: String,
    pub resource: String,
    pub server: Uuid,
}

/// What the token endpoint answers (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
}

/// An OAuth access token's claims: a Gatehouse token's, with the resource in `aud` beside the
/// gateway's audience (RFC 8707), and the client and scope (RFC 9068 §2.2).
#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: [&'a str; 2],
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    client_id: &'a str,
    scope: &'a str,
}

/// Stores a request awaiting consent; its id is what the consent page and form carry, so
/// nothing the client asked for can be changed in the browser.
pub async fn begin(state: &AppState, request: AuthorizationRequest) -> Result<Uuid, OAuthError> {
    let id = Uuid::new_v4();
    let now = Utc::now();
    authorizations::Entity::insert(authorizations::ActiveModel {
        id: Set(id),
        client_id: Set(request.client),
        redirect_uri: Set(request.redirect_uri),
        code_challenge: Set(request.code_challenge),
        state: Set(request.state),
        scope: Set(request.scope),
        resource: Set(request.resource),
        server_id: Set(request.server),
        created_at: Set(now),
        expires_at: Set(now + Duration::seconds(REQUEST_SECONDS)),
        account_id: Set(None),
        server_ids: Set(None),
        grant_expires_at: Set(None),
        code_hash: Set(None),
        used_at: Set(None),
        token_id: Set(None),
    })
    .exec_without_returning(&state.db)
    .await
    .map_err(server_error)?;
    Ok(id)
}

fn request_gone() -> AppError {
    AppError::new(ErrorCode::NotFound, "This sign-in request has expired or was already answered. Start again from the app.")
}

/// A request still waiting for its answer, with its client.
async fn pending(state: &AppState, id: Uuid) -> Result<(authorizations::Model, ClientModel), AppError> {
    let row = authorizations::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|r| r.account_id.is_none() && r.expires_at > Utc::now())
        .ok_or_else(request_gone)?;
    let client = find_by_row(&state.db, row.client_id).await?.ok_or_else(request_gone)?;
    Ok((row, client))
}

/// The servers of `organisation` that can be granted through OAuth (those that offer it), by name.
async fn grantable(db: &impl ConnectionTrait, organisation: OrganisationId) -> Result<Vec<servers::Model>, AppError> {
    let mut found = servers::Entity::find()
        .filter(servers::Column::OrganisationId.eq(organisation.0))
        .filter(servers::Column::OauthEnabled.eq(true))
        .all(db)
        .await?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn not_yours() -> AppError {
    AppError::new(
        ErrorCode::Forbidden,
        "The app asked for a server you may not grant. Only a member of the server's organisation who may create tokens \
         (member or above) can connect an app to it: sign in as one.",
    )
}

/// The actor as it stands in the organisation of the requested server, which must let it create
/// tokens (the one rule, as for a token made in the dashboard).
async fn consenting(state: &AppState, actor: &Actor, server: Uuid) -> Result<Actor, AppError> {
    let Some(server) = servers::Entity::find_by_id(server).one(&state.db).await? else { return Err(not_yours()) };
    let within = crate::organisations::ssr::within(&state.db, &actor.account, OrganisationId(server.organisation_id)).await?;
    let actor = Actor { within, ..actor.clone() };
    actor.may(Action::CreateToken).map_err(|_| not_yours())?;
    Ok(actor)
}

/// What the consent page shows for request `id` to `actor`. Only a member of the requested
/// server's organisation who may create tokens may answer it.
pub async fn consent_view(state: &AppState, actor: &Actor, id: Uuid, csrf: String) -> Result<ConsentView, AppError> {
    let (row, client) = pending(state, id).await?;
    let actor = consenting(state, actor, row.server_id).await?;
    let mut servers = grantable(&state.db, actor.organisation()).await?;
    let Some(at) = servers.iter().position(|s| s.id == row.server_id) else { return Err(not_yours()) };
    let requested = servers.remove(at);
    servers.insert(0, requested);
    let refs: Vec<ServerRef> =
        servers.into_iter().map(|s| ServerRef { id: ServerId(s.id), name: s.name, tools: Default::default() }).collect();
    Ok(ConsentView {
        request: row.id,
        csrf,
        client_name: client.name,
        client_id: client.client_id,
        client_kind: client.kind,
        redirect_host: redirect_host(&row.redirect_uri),
        redirect_uri: row.redirect_uri,
        scope: row.scope,
        requested: refs[0].clone(),
        servers: refs,
    })
}

fn redirect_host(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(url) => match url.host_str() {
            Some(host) => match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            },
            None => format!("{}:", url.scheme()),
        },
        Err(_) => uri.to_string(),
    }
}

/// The owner's answer on the consent page.
#[derive(Debug, Clone)]
pub enum Decision {
    Allow { servers: Vec<Uuid>, lifetime: String },
    Deny,
}

/// Where the browser goes with the answer: the client's redirect URI with `params`, `state` and
/// `iss` (RFC 9207) added to whatever query it has.
pub fn answer_url(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>, issuer: &str) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else { return redirect_uri.to_string() };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.to_string()
}

/// Records the owner's answer and returns where to send the browser: with a code (valid for
/// [`CODE_SECONDS`], bound to the client, the redirect URI and the PKCE challenge), or with
/// `access_denied`.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), request = %id))]
pub async fn decide(state: &AppState, actor: &Actor, id: Uuid, decision: Decision) -> Result<String, AppError> {
    let (row, client) = pending(state, id).await?;
    let issuer = &state.settings.issuer;
    let actor = &consenting(state, actor, row.server_id).await?;
    let grantable = grantable(&state.db, actor.organisation()).await?;
    if !grantable.iter().any(|s| s.id == row.server_id) {
        return Err(not_yours());
    }
    let (servers, lifetime) = match decision {
        Decision::Deny => {
            answered(state, &row, None).await?;
            let record = AuditRecord::by(actor, "oauth.denied", "oauth_client", client.id)
                .detail(serde_json::json!({ "client_id": client.client_id, "client_name": client.name }));
            audit(&state.db, record).await?;
            let params = [("error", "access_denied"), ("error_description", "The owner did not allow this app.")];
            return Ok(answer_url(&row.redirect_uri, &params, row.state.as_deref(), issuer));
        }
        Decision::Allow { servers, lifetime } => (servers, lifetime),
    };
    let chosen: BTreeSet<Uuid> = servers.into_iter().collect();
    if chosen.is_empty() {
        return Err(AppError::invalid_fields([("servers".to_string(), "Choose at least one server for this app.".to_string())].into()));
    }
    if !chosen.iter().all(|id| grantable.iter().any(|s| s.id == *id)) {
        return Err(AppError::invalid_fields([("servers".to_string(), "One of the chosen servers is not yours.".to_string())].into()));
    }
    let grant_expires_at = Expiry::parse(&lifetime)
        .and_then(|e| e.resolve(Utc::now()))
        .map_err(|e| AppError::invalid_fields([("lifetime".to_string(), e)].into()))?;
    let code = random_secret("ghac_");
    let consent = Consent { account: actor.account_id(), servers: &chosen, grant_expires_at, code_hash: sha256_hex(&code) };
    answered(state, &row, Some(consent)).await?;
    let record = AuditRecord::by(actor, "oauth.consented", "oauth_client", client.id).detail(serde_json::json!({
        "client_id": client.client_id, "client_name": client.name, "servers": chosen, "grant_expires_at": grant_expires_at,
        "redirect_uri": row.redirect_uri,
    }));
    audit(&state.db, record).await?;
    Ok(answer_url(&row.redirect_uri, &[("code", &code)], row.state.as_deref(), issuer))
}

struct Consent<'a> {
    account: AccountId,
    servers: &'a BTreeSet<Uuid>,
    grant_expires_at: Option<DateTime<Utc>>,
    code_hash: String,
}

/// Marks the request answered, once: a second answer (another tab, a replayed form) finds it gone.
async fn answered(state: &AppState, row: &authorizations::Model, consent: Option<Consent<'_>>) -> Result<(), AppError> {
    let now = Utc::now();
    let mut update = authorizations::Entity::update_many();
    update = match consent {
        Some(c) => update
            .col_expr(authorizations::Column::AccountId, Expr::value(c.account.0))
            .col_expr(authorizations::Column::ServerIds, Expr::value(serde_json::to_string(c.servers).map_err(AppError::internal)?))
            .col_expr(authorizations::Column::GrantExpiresAt, Expr::value(c.grant_expires_at))
            .col_expr(authorizations::Column::CodeHash, Expr::value(c.code_hash))
            .col_expr(authorizations::Column::ExpiresAt, Expr::value(now + Duration::seconds(CODE_SECONDS))),
        // Denied: nothing to exchange, and the row is spent.
        None => update
            .col_expr(authorizations::Column::AccountId, Expr::value(Uuid::nil()))
            .col_expr(authorizations::Column::ExpiresAt, Expr::value(now)),
    };
    let done = update
        .filter(authorizations::Column::Id.eq(row.id))
        .filter(authorizations::Column::AccountId.is_null())
        .filter(authorizations::Column::ExpiresAt.gt(now))
        .exec(&state.db)
        .await?;
    if done.rows_affected == 1 { Ok(()) } else { Err(request_gone()) }
}

/// The S256 challenge of `verifier` (RFC 7636 §4.2).
fn challenge_of(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).
#[tracing::instrument(skip_all, fields(client = %client.client_id))]
pub async fn exchange_code(
    state: &AppState,
    client: &ClientModel,
    code: Option<&str>,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    resource: Option<&str>,
    ip: Option<String>,
) -> Result<IssuedTokens, OAuthError> {
    let code = code.filter(|c| !c.is_empty()).ok_or_else(|| OAuthError::request("code is missing."))?;
    let verifier = verifier.ok_or_else(|| OAuthError::request("code_verifier is missing: Gatehouse requires PKCE (S256)."))?;
    let unknown = || OAuthError::grant("The authorization code is unknown or has expired. Sign in again from the app.");
    let row = authorizations::Entity::find()
        .filter(authorizations::Column::CodeHash.eq(sha256_hex(code)))
        .one(&state.db)
        .await
        .map_err(server_error)?
        .ok_or_else(unknown)?;
    if row.used_at.is_some() {
        replayed(state, &row, ip).await?;
        return Err(OAuthError::grant(
            "This authorization code was already used. Codes are single-use, so the tokens it gave were revoked. Sign in again from the app.",
        ));
    }
    if row.expires_at <= Utc::now() {
        return Err(unknown());
    }
    if row.client_id != client.id {
        return Err(OAuthError::grant("This authorization code was issued to another client."));
    }
    if redirect_uri != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::grant("redirect_uri must be the one sent to the authorization endpoint."));
    }
    if !well_formed_verifier(verifier)
        || !crate::secrets::constant_time_eq(challenge_of(verifier).as_bytes(), row.code_challenge.as_bytes())
    {
        return Err(OAuthError::grant("code_verifier does not match the code_challenge (PKCE S256)."));
    }
    if resource.is_some_and(|r| r != row.resource) {
        return Err(OAuthError::new(OAuthErrorCode::InvalidTarget, "resource must be the one the authorization was for."));
    }
    let (Some(account), Some(server_ids)) = (row.account_id, row.server_ids.as_deref()) else { return Err(unknown()) };
    let servers: BTreeSet<Uuid> = serde_json::from_str(server_ids).map_err(server_error)?;
    let account = AccountId(account);
    live_account(&state.db, account).await?;
    // The grant belongs to the requested server's organisation, made by the member who consented.
    let organisation = servers::Entity::find_by_id(row.server_id)
        .one(&state.db)
        .await
        .map_err(server_error)?
        .map(|s| OrganisationId(s.organisation_id))
        .ok_or_else(|| OAuthError::grant("The server this authorization was for no longer exists."))?;

    let txn = state.changes.begin(&state.db).await.map_err(server_error)?;
    // Single use, even against a concurrent exchange of the same code.
    let claimed = authorizations::Entity::update_many()
        .col_expr(authorizations::Column::UsedAt, Expr::value(Utc::now()))
        .filter(authorizations::Column::Id.eq(row.id))
        .filter(authorizations::Column::UsedAt.is_null())
        .exec(&txn)
        .await
        .map_err(server_error)?;
    if claimed.rows_affected != 1 {
        // Another exchange of this code won the race: a replay, answered as one.
        drop(txn);
        let row = authorizations::Entity::find_by_id(row.id).one(&state.db).await.map_err(server_error)?.ok_or_else(unknown)?;
        replayed(state, &row, ip).await?;
        return Err(OAuthError::grant("This authorization code was already used. Sign in again from the app."));
    }
    let now = Utc::now();
    let key = crate::signing_keys::ssr::active_key(&txn, state, organisation, account).await.map_err(app_error)?;
    let token_id = Uuid::now_v7();
    let access = access_token(state, &key, organisation, token_id, client, &row.resource, &row.scope, row.grant_expires_at, now)?;
    let description: String = format!("via OAuth: {}", client.name).chars().take(100).collect();
    tokens::entity::Entity::insert(tokens::entity::ActiveModel {
        id: Set(token_id),
        account_id: Set(account.0),
        organisation_id: Set(organisation.0),
        signing_key_id: Set(key.id),
        description: Set(description.clone()),
        display: Set(crate::tokens::display_form(&access.0)),
        created_at: Set(now),
        expires_at: Set(row.grant_expires_at),
        revoked_at: Set(None),
        last_used_at: Set(None),
        last_used_ip: Set(None),
        use_count: Set(0),
        fingerprint: Set(Some(sha256_hex(&access.0))),
        oauth_client_id: Set(Some(client.id)),
        allowed_networks: Set(None),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(server_error)?;
    for server in &servers {
        tokens::insert_association(&txn, token_id, *server).await.map_err(app_error)?;
    }
    authorizations::Entity::update_many()
        .col_expr(authorizations::Column::TokenId, Expr::value(token_id))
        .filter(authorizations::Column::Id.eq(row.id))
        .exec(&txn)
        .await
        .map_err(server_error)?;
    let refresh = new_refresh_token(state, &txn, token_id, client.id, &row.scope, &row.resource, row.grant_expires_at, now).await?;
    record_change(&txn, ChangeKind::Token, token_id).await.map_err(app_error)?;
    let record = AuditRecord::by_client(account, ip, "oauth.token_issued", "token", token_id).in_organisation(organisation).detail(
        serde_json::json!({
            "client_id": client.client_id, "client_name": client.name, "description": description, "servers": servers,
            "resource": row.resource, "grant_expires_at": row.grant_expires_at,
        }),
    );
    audit(&txn, record).await.map_err(app_error)?;
    kept_alive(state, &txn, client).await?;
    state.changes.commit(&state.db, txn).await.map_err(app_error)?;
    Ok(IssuedTokens { access_token: access.0, token_type: "Bearer", expires_in: access.1, refresh_token: refresh, scope: row.scope })
}

/// A registered client's lifetime counts from its last use, not its registration: a client
/// in use (a grant "until I revoke it" refreshing daily) must not stop at day 90 of its
/// registration; one unused for that long goes.
async fn kept_alive(state: &AppState, db: &impl ConnectionTrait, client: &ClientModel) -> Result<(), OAuthError> {
    use super::entity::clients;
    let Some(seconds) = state.settings.oauth.client_lifetime_seconds else { return Ok(()) };
    if client.expires_at.is_none() {
        return Ok(());
    }
    clients::Entity::update_many()
        .col_expr(clients::Column::ExpiresAt, Expr::value(Some(Utc::now() + Duration::seconds(seconds))))
        .filter(clients::Column::Id.eq(client.id))
        .exec(db)
        .await
        .map_err(server_error)?;
    Ok(())
}

/// A code used twice: the first use may have been an attacker's, so what it issued ends.
async fn replayed(state: &AppState, row: &authorizations::Model, ip: Option<String>) -> Result<(), OAuthError> {
    let Some(token) = row.token_id else { return Ok(()) };
    let txn = state.changes.begin(&state.db).await.map_err(server_error)?;
    let ended = revoke_grant(&txn, token, ip, "oauth.code_replayed").await.map_err(app_error)?;
    state.changes.commit(&state.db, txn).await.map_err(app_error)?;
    if ended {
        tracing::warn!(%token, "an authorization code was used twice; its grant was revoked");
    }
    Ok(())
}

async fn live_account(db: &impl ConnectionTrait, account: AccountId) -> Result<(), OAuthError> {
    let found = accounts::Entity::find_by_id(account.0).one(db).await.map_err(server_error)?;
    match found {
        Some(a) if a.status == AccountStatus::Active.as_str() => Ok(()),
        _ => Err(OAuthError::grant("The account that granted this is disabled.")),
    }
}

/// A signed access token for grant `token_id`, and its lifetime in seconds: the configured one,
/// cut short by the grant's end.
#[allow(clippy::too_many_arguments)]
fn access_token(
    state: &AppState,
    key: &crate::signing_keys::ssr::entity::Model,
    organisation: OrganisationId,
    token_id: Uuid,
    client: &ClientModel,
    resource: &str,
    scope: &str,
    grant_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(String, i64), OAuthError> {
    let mut exp = now.timestamp() + state.settings.oauth.access_token_seconds;
    if let Some(end) = grant_expires_at {
        exp = exp.min(end.timestamp());
    }
    let claims = AccessClaims {
        iss: &state.settings.issuer,
        sub: organisation.to_string(),
        aud: [&state.settings.audience, resource],
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp,
        jti: token_id.to_string(),
        client_id: &client.client_id,
        scope,
    };
    let token = tokens::sign(state, key, &claims).map_err(app_error)?;
    Ok((token, exp - now.timestamp()))
}

#[allow(clippy::too_many_arguments)]
async fn new_refresh_token(
    state: &AppState,
    db: &impl ConnectionTrait,
    token_id: Uuid,
    client: Uuid,
    scope: &str,
    resource: &str,
    grant_expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<String, OAuthError> {
    let refresh = random_secret("ghrt_");
    let mut expires_at = now + Duration::seconds(state.settings.oauth.refresh_token_seconds);
    if let Some(end) = grant_expires_at {
        expires_at = expires_at.min(end);
    }
    refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
        token_hash: Set(sha256_hex(&refresh)),
        token_id: Set(token_id),
        client_id: Set(client),
        scope: Set(scope.to_string()),
        resource: Set(resource.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        spent_at: Set(None),
    })
    .exec_without_returning(db)
    .await
    .map_err(server_error)?;
    Ok(refresh)
}

/// The refresh token grant (RFC 6749 §6), rotating: each use spends the token and issues a new
/// one; a spent one used again means it was stolen (or the client lost track), so the whole
/// grant is revoked and its live streams end (OAuth 2.1 §4.3.1).
#[tracing::instrument(skip_all, fields(client = %client.client_id))]
pub async fn refresh(
    state: &AppState,
    client: &ClientModel,
    presented: Option<&str>,
    resource: Option<&str>,
    ip: Option<String>,
) -> Result<IssuedTokens, OAuthError> {
    let presented = presented.filter(|t| !t.is_empty()).ok_or_else(|| OAuthError::request("refresh_token is missing."))?;
    let unknown = || OAuthError::grant("The refresh token is unknown, expired or revoked. Sign in again from the app.");
    let row = refresh_tokens::Entity::find_by_id(sha256_hex(presented)).one(&state.db).await.map_err(server_error)?.ok_or_else(unknown)?;
    if row.client_id != client.id {
        return Err(OAuthError::grant("This refresh token was issued to another client."));
    }
    let now = Utc::now();
    let txn = state.changes.begin(&state.db).await.map_err(server_error)?;
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::SpentAt, Expr::value(now))
        .filter(refresh_tokens::Column::TokenHash.eq(row.token_hash.clone()))
        .filter(refresh_tokens::Column::SpentAt.is_null())
        .exec(&txn)
        .await
        .map_err(server_error)?;
    if spent.rows_affected != 1 {
        let ended = revoke_grant(&txn, row.token_id, ip, "oauth.refresh_reused").await.map_err(app_error)?;
        state.changes.commit(&state.db, txn).await.map_err(app_error)?;
        if ended {
            tracing::warn!(token = %row.token_id, "a spent refresh token was used again; its grant was revoked");
        }
        return Err(OAuthError::grant(
            "This refresh token was already used. Each refresh token works once, so Gatehouse revoked the grant. Sign in again from the app.",
        ));
    }
    if row.expires_at <= now {
        return Err(unknown());
    }
    if resource.is_some_and(|r| r != row.resource) {
        return Err(OAuthError::new(OAuthErrorCode::InvalidTarget, "resource must be the one the grant was for."));
    }
    let token = tokens::entity::Entity::find_by_id(row.token_id).one(&txn).await.map_err(server_error)?.ok_or_else(unknown)?;
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|at| at <= now) {
        return Err(unknown());
    }
    let key = crate::signing_keys::ssr::entity::Entity::find_by_id(token.signing_key_id)
        .one(&txn)
        .await
        .map_err(server_error)?
        .filter(|k| k.state != crate::signing_keys::KeyState::Revoked.as_str())
        .ok_or_else(unknown)?;
    let account = AccountId(token.account_id);
    // In the transaction: a second connection while SQLite's write lock is held could wait
    // for a pool full of writers queued behind it.
    live_account(&txn, account).await?;
    let organisation = OrganisationId(token.organisation_id);
    let access = access_token(state, &key, organisation, token.id, client, &row.resource, &row.scope, token.expires_at, now)?;
    let refresh = new_refresh_token(state, &txn, token.id, client.id, &row.scope, &row.resource, token.expires_at, now).await?;
    let record = AuditRecord::by_client(account, ip, "oauth.token_refreshed", "token", token.id)
        .in_organisation(organisation)
        .detail(serde_json::json!({ "client_id": client.client_id, "client_name": client.name }));
    audit(&txn, record).await.map_err(app_error)?;
    kept_alive(state, &txn, client).await?;
    txn.commit().await.map_err(server_error)?;
    Ok(IssuedTokens { access_token: access.0, token_type: "Bearer", expires_in: access.1, refresh_token: refresh, scope: row.scope })
}

/// Revocation (RFC 7009): a refresh token or an access token of `client`'s ends its whole
/// grant. Unknown tokens, and other clients' tokens, change nothing (§2.2: still a 200).
#[tracing::instrument(skip_all, fields(client = %client.client_id))]
pub async fn revoke(state: &AppState, client: &ClientModel, presented: &str, ip: Option<String>) -> Result<(), OAuthError> {
    let by_refresh = refresh_tokens::Entity::find_by_id(sha256_hex(presented)).one(&state.db).await.map_err(server_error)?;
    let token = match by_refresh {
        Some(row) => (row.client_id == client.id).then_some(row.token_id),
        None => access_token_id(state, presented).await?.filter(|(_, owner)| *owner == Some(client.id)).map(|(id, _)| id),
    };
    let Some(token) = token else { return Ok(()) };
    let txn = state.changes.begin(&state.db).await.map_err(server_error)?;
    revoke_grant(&txn, token, ip, "oauth.revoked_by_client").await.map_err(app_error)?;
    state.changes.commit(&state.db, txn).await.map_err(app_error)
}

/// The grant an access token belongs to, if it is a live one the gateway would accept.
async fn access_token_id(state: &AppState, presented: &str) -> Result<Option<(Uuid, Option<Uuid>)>, OAuthError> {
    let Some(id) = tokens::claimed_token_id(presented) else { return Ok(None) };
    let Some(row) = tokens::entity::Entity::find_by_id(id).one(&state.db).await.map_err(server_error)? else { return Ok(None) };
    match state.gateway.verify(row.organisation_id, presented) {
        Ok(verified) if verified == row.id => Ok(Some((row.id, row.oauth_client_id))),
        _ => Ok(None),
    }
}

/// Revokes grant `token` (its access tokens, refresh chain and live streams) on the client's
/// behalf or on Gatehouse's (`action` says why). Whether it was live.
pub async fn revoke_grant(db: &impl ConnectionTrait, token: Uuid, ip: Option<String>, action: &'static str) -> Result<bool, AppError> {
    let Some(row) = tokens::entity::Entity::find_by_id(token).one(db).await? else { return Ok(false) };
    let changed = tokens::entity::Entity::update_many()
        .col_expr(tokens::entity::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(tokens::entity::Column::Id.eq(token))
        .filter(tokens::entity::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if changed.rows_affected == 0 {
        return Ok(false);
    }
    record_change(db, ChangeKind::Token, token).await?;
    let record = AuditRecord::by_client(AccountId(row.account_id), ip, action, "token", token)
        .in_organisation(OrganisationId(row.organisation_id))
        .detail(serde_json::json!({ "description": row.description, "display": row.display }));
    audit(db, record).await?;
    Ok(true)
}

/// Revokes every live grant `client` holds (of `account` only, when given). How many ended.
pub async fn revoke_client_grants(db: &impl ConnectionTrait, client: Uuid, account: Option<&Actor>) -> Result<u64, AppError> {
    let mut find = tokens::entity::Entity::find()
        .filter(tokens::entity::Column::OauthClientId.eq(client))
        .filter(tokens::entity::Column::RevokedAt.is_null());
    if let Some(actor) = account {
        find = find.filter(tokens::entity::Column::AccountId.eq(actor.account_id().0));
    }
    let mut ended = 0;
    for token in find.all(db).await? {
        let action = if account.is_some() { "oauth.disconnected" } else { "oauth.client_removed" };
        if revoke_grant(db, token.id, account.and_then(|a| a.ip.clone()), action).await? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// The Connected apps page: the grants the actor may see in its organisation, by client, newest
/// client first.
pub async fn connected_apps(state: &AppState, actor: &Actor) -> Result<Vec<ConnectedApp>, AppError> {
    let grants = tokens::list_tokens(state, actor, &tokens::TokenQuery::default()).await?;
    let mut apps: Vec<ConnectedApp> = Vec::new();
    for grant in grants.into_iter().filter(|t| t.oauth_client.is_some()) {
        let client = grant.oauth_client.unwrap_or_default();
        match apps.iter_mut().find(|a| a.client == client) {
            Some(app) => app.grants.push(grant),
            None => {
                let known = find_by_row(&state.db, client).await?;
                let (name, client_id) = known.map(|c| (c.name, c.client_id)).unwrap_or_else(|| ("A removed app".into(), String::new()));
                apps.push(ConnectedApp { client, name, client_id, grants: vec![grant] });
            }
        }
    }
    Ok(apps)
}

/// The user disconnects an app: every grant of theirs it holds is revoked.
pub async fn disconnect(state: &AppState, actor: &Actor, client: Uuid) -> Result<u64, AppError> {
    let txn = state.changes.begin(&state.db).await?;
    let ended = revoke_client_grants(&txn, client, Some(actor)).await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(ended)
}
