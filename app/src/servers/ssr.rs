//! Server-only server logic: queries, validation against the operator's address policy, and
//! encrypted upstream headers. Every query takes the organisation's id: tenant isolation is in
//! the signature, and every action asks the one rule ([`Actor::may`]) first.
use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, SqlErr,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::domain::*;
use super::health::{Discovery, ServerHealth};
use super::health_ssr;
use crate::accounts::actor::Actor;
use crate::audit::ssr::{AuditRecord, record as audit};
use crate::error::{AppError, ErrorCode};
use crate::events::{ChangeKind, record_change};
use crate::organisations::{Action, OrganisationId};
use crate::state::{AppState, ProbeTarget};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "servers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The member who registered it.
        pub account_id: Uuid,
        pub organisation_id: Uuid,
        pub name: String,
        pub upstream_url: String,
        pub transport: String,
        pub require_token: bool,
        /// Whether OAuth sign-in is offered: discovery metadata and a 401 that names it.
        pub oauth_enabled: bool,
        pub upstream_header_names: String,
        pub upstream_headers_ciphertext: Option<String>,
        /// The URL's query, sealed; `upstream_url` shows it with every value hidden.
        pub upstream_query_ciphertext: Option<String>,
        /// The header that tells the upstream who is calling (none: it is not told).
        pub identity_header: Option<String>,
        /// `calls` or `arguments` when tool calls are recorded.
        pub tool_audit: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod token_servers {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "token_servers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub server_id: Uuid,
        pub created_at: DateTimeUtc,
        /// Which of the server's tools the token may call: [`crate::tools::ToolRule::stored`].
        pub tool_rule: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tool_calls {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tool_calls")]
    pub struct Model {
        /// UUIDv7: newer calls sort after older ones, so the id is the page cursor.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub server_id: Uuid,
        pub token_id: Uuid,
        pub account_id: Uuid,
        pub tool: String,
        pub at: DateTimeUtc,
        pub outcome: String,
        pub arguments: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A server input that passed every rule, headers resolved against what was saved before.
struct ValidServer {
    name: ServerName,
    url: UpstreamUrl,
    transport: Transport,
    require_token: bool,
    oauth_enabled: bool,
    headers: BTreeMap<String, String>,
    identity_header: Option<String>,
    tool_audit: ToolAudit,
}

fn headers_context(id: Uuid) -> String {
    format!("server_headers:{id}")
}

fn query_context(id: Uuid) -> String {
    format!("server_query:{id}")
}

/// The saved upstream URL's query, decrypted (`None`: it has none).
pub fn upstream_query(state: &AppState, server: &entity::Model) -> Result<Option<String>, AppError> {
    match &server.upstream_query_ciphertext {
        None => Ok(None),
        Some(sealed) => {
            let plain = state.cipher.open_string(sealed, &query_context(server.id))?;
            Ok(Some(plain.expose_secret().to_string()))
        }
    }
}

/// The upstream URL the gateway contacts: the stored one with its real query. Rows saved before
/// queries were sealed hold theirs in `upstream_url` until startup seals them.
pub fn upstream_url(state: &AppState, server: &entity::Model) -> Result<UpstreamUrl, AppError> {
    let stored = &server.upstream_url;
    let full = match upstream_query(state, server)? {
        None => stored.clone(),
        Some(query) => format!("{}?{query}", stored.split_once('?').map_or(stored.as_str(), |(base, _)| base)),
    };
    UpstreamUrl::parse(&full).map_err(AppError::internal)
}

fn seal_query(state: &AppState, id: Uuid, url: &UpstreamUrl) -> Result<Option<String>, AppError> {
    url.query().map(|query| state.cipher.seal(query.as_bytes(), &query_context(id))).transpose()
}

/// Seals the query of every server saved before queries were sealed, and hides the values in
/// their audit records. Idempotent; the server runs it at start.
pub async fn seal_stored_queries(state: &AppState) -> Result<usize, AppError> {
    let legacy = entity::Entity::find()
        .filter(entity::Column::UpstreamQueryCiphertext.is_null())
        .filter(entity::Column::UpstreamUrl.contains("?"))
        .all(&state.db)
        .await?;
    for server in &legacy {
        let Ok(url) = UpstreamUrl::parse(&server.upstream_url) else { continue };
        let txn = state.changes.begin(&state.db).await?;
        entity::Entity::update_many()
            .col_expr(entity::Column::UpstreamUrl, sea_orm::sea_query::Expr::value(url.redacted()))
            .col_expr(entity::Column::UpstreamQueryCiphertext, sea_orm::sea_query::Expr::value(seal_query(state, server.id, &url)?))
            .filter(entity::Column::Id.eq(server.id))
            .exec(&txn)
            .await?;
        record_change(&txn, ChangeKind::Server, server.id).await?;
        crate::audit::ssr::redact_upstream_urls(&txn, server.id).await?;
        txn.commit().await?;
    }
    if !legacy.is_empty() {
        tracing::info!(servers = legacy.len(), "sealed the query strings of upstream URLs saved before they were sealed");
    }
    Ok(legacy.len())
}

/// The saved upstream headers, decrypted. Only the gateway and edits need the values.
pub fn upstream_headers(state: &AppState, server: &entity::Model) -> Result<BTreeMap<String, String>, AppError> {
    match &server.upstream_headers_ciphertext {
        None => Ok(BTreeMap::new()),
        Some(sealed) => {
            let plain = state.cipher.open(sealed, &headers_context(server.id))?;
            serde_json::from_slice(plain.expose_secret()).map_err(AppError::internal)
        }
    }
}

async fn validate(
    state: &AppState,
    input: ServerInput,
    saved_headers: BTreeMap<String, String>,
    saved_query: Option<String>,
) -> Result<ValidServer, AppError> {
    let mut fields = BTreeMap::new();
    let name = ServerName::parse(&input.name).map_err(|e| fields.insert("name".into(), e.into())).ok();
    let url = valid_url(state, &input.upstream_url, saved_query.as_deref()).await.map_err(|e| fields.insert("upstream_url".into(), e)).ok();
    let headers = match input.upstream_headers {
        None => saved_headers,
        Some(list) => valid_headers(list, &saved_headers).unwrap_or_else(|e| {
            fields.insert("upstream_headers".into(), e);
            BTreeMap::new()
        }),
    };
    let identity_header = match input.identity_header.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match parse_header_name(raw) {
            Ok(name) if headers.contains_key(&name) => {
                fields.insert("identity_header".into(), format!("\"{name}\" is already an upstream header; choose another name."));
                None
            }
            Ok(name) if name == "authorization" => {
                fields.insert("identity_header".into(), "Use a header of its own, not Authorization.".into());
                None
            }
            Ok(name) => Some(name),
            Err(e) => {
                fields.insert("identity_header".into(), e);
                None
            }
        },
    };
    match (name, url, fields.is_empty()) {
        (Some(name), Some(url), true) => Ok(ValidServer {
            name,
            url,
            transport: input.transport,
            require_token: input.require_token,
            oauth_enabled: input.oauth_enabled,
            headers,
            identity_header,
            tool_audit: input.tool_audit,
        }),
        _ => Err(AppError::invalid_fields(fields)),
    }
}

/// The upstream URL as submitted (hidden query values put back from `saved_query`), checked
/// against the syntax rules and the operator's address policy.
async fn valid_url(state: &AppState, submitted: &str, saved_query: Option<&str>) -> Result<UpstreamUrl, String> {
    let url = UpstreamUrl::parse(&restore_hidden_values(submitted, saved_query))?;
    check_upstream_address(&url, state.settings.upstream_policy).await?;
    Ok(url)
}

/// The submitted upstream headers, a header without a value keeping the one in `saved`.
fn valid_headers(list: Vec<HeaderInput>, saved: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    if list.len() > MAX_UPSTREAM_HEADERS {
        return Err(format!("At most {MAX_UPSTREAM_HEADERS} headers."));
    }
    let mut headers = BTreeMap::new();
    for header in list {
        let name = parse_header_name(&header.name)?;
        let value = match header.value {
            Some(value) => value,
            None => saved.get(&name).cloned().ok_or_else(|| format!("Give a value for \"{name}\"."))?,
        };
        check_header_value(&name, &value)?;
        if headers.insert(name.clone(), value).is_some() {
            return Err(format!("\"{name}\" is listed twice."));
        }
    }
    Ok(headers)
}

/// Resolves the upstream's host and checks every address against the operator's policy.
pub async fn check_upstream_address(url: &UpstreamUrl, policy: UpstreamPolicy) -> Result<(), String> {
    let host = url.host().to_string();
    let addresses: Vec<std::net::IpAddr> = match url.ip() {
        Some(ip) => vec![ip],
        None => {
            let lookup = tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((host.as_str(), url.port()))).await;
            match lookup {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                Ok(Err(_)) => return Err(format!("Could not find the host \"{host}\". Check the URL.")),
                Err(_) => return Err(format!("Looking up \"{host}\" took too long. Try again.")),
            }
        }
    };
    if addresses.is_empty() {
        return Err(format!("\"{host}\" has no addresses."));
    }
    for ip in addresses {
        if let Some(reason) = policy.refuses(ip) {
            return Err(format!("{host} resolves to {ip}: {reason}."));
        }
    }
    Ok(())
}

/// What Gatehouse connects to for `model`: its URL with the real query and its headers.
fn probe_target(state: &AppState, model: &entity::Model, transport: Option<Transport>) -> Result<ProbeTarget, AppError> {
    Ok(ProbeTarget {
        server: Some(model.id),
        url: upstream_url(state, model)?.url().clone(),
        transport,
        headers: upstream_headers(state, model)?.into_iter().collect(),
    })
}

/// Connects to `model`'s upstream on its transport now, and records what was found.
pub async fn check(state: &AppState, model: &entity::Model) -> Result<ServerHealth, AppError> {
    let transport = Transport::parse(&model.transport);
    let target = probe_target(state, model, transport)?;
    let started = std::time::Instant::now();
    let outcome = state.probe.probe(target).await;
    let took = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    if let Err(problem) = &outcome {
        tracing::info!(server = %model.id, kind = problem.kind.as_str(), "upstream check failed");
    }
    health_ssr::record(&state.db, model.id, &outcome, took, Utc::now()).await
}

/// "Check now": the organisation's server, checked while the caller waits.
#[tracing::instrument(skip_all, fields(account = %actor.account_id(), server = %id))]
pub async fn check_server(state: &AppState, actor: &Actor, id: ServerId) -> Result<ServerHealth, AppError> {
    let organisation = actor.may(Action::ChangeServers)?;
    let model = find_model(&state.db, organisation, id).await?;
    check(state, &model).await
}

/// The check made when a server is saved: waited for up to [`SAVE_CHECK_WAIT`] so the page
/// that follows usually shows it, and left to finish in the background after that.
async fn check_after_save(state: &AppState, id: Uuid) {
    let state = state.clone();
    let task = tokio::spawn(async move {
        let model = entity::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| AppError::not_found("server"))?;
        check(&state, &model).await
    });
    match tokio::time::timeout(SAVE_CHECK_WAIT, task).await {
        Ok(Ok(Err(err))) => tracing::warn!(server = %id, %err, "could not record the check made on save"),
        Ok(Err(err)) => tracing::error!(server = %id, %err, "the check made on save panicked"),
        _ => {}
    }
}

const SAVE_CHECK_WAIT: Duration = Duration::from_secs(2);

/// "Detect": which transport answers as MCP at `upstream_url`, with these headers (a header
/// without a value, or a hidden query value, takes the one saved on server `id`).
#[tracing::instrument(skip_all, fields(account = %actor.account_id()))]
pub async fn detect_transport(
    state: &AppState,
    actor: &Actor,
    id: Option<ServerId>,
    upstream_url: &str,
    headers: Option<Vec<HeaderInput>>,
) -> Result<Discovery, AppError> {
    let organisation = actor.may(Action::ChangeServers)?;
    let saved = match id {
        Some(id) => Some(find_model(&state.db, organisation, id).await?),
        None => None,
    };
    // Saved secrets (header values, hidden query values) go only where they were meant to:
    // to the saved server's own origin, never to another URL typed in the form.
    let same_origin = |model: &entity::Model| {
        let typed = url::Url::parse(upstream_url.trim()).ok().map(|u| u.origin());
        let saved = url::Url::parse(&model.upstream_url).ok().map(|u| u.origin());
        typed.is_some() && typed == saved
    };
    let (saved_headers, saved_query) = match &saved {
        Some(model) if same_origin(model) => (upstream_headers(state, model)?, upstream_query(state, model)?),
        _ => (BTreeMap::new(), None),
    };
    let url = valid_url(state, upstream_url, saved_query.as_deref())
        .await
        .map_err(|e| AppError::invalid_fields([("upstream_url".to_string(), e)].into()))?;
    let headers = match headers {
        None => saved_headers,
        Some(list) => {
            valid_headers(list, &saved_headers).map_err(|e| AppError::invalid_fields([("upstream_headers".to_string(), e)].into()))?
        }
    };
    let target = ProbeTarget { server: None, url: url.url().clone(), transport: None, headers: headers.into_iter().collect() };
    state
        .probe
        .probe(target)
        .await
        .map_err(|problem| AppError::new(ErrorCode::InvalidInput, problem.message.clone()).with_field("upstream_url", problem.message))
}

/// Checks every server whose last check is older than `interval`, a few at a time; with several
/// processes, each server is checked by one of them.
pub async fn check_due(state: &AppState, interval: Duration, at_once: usize) -> Result<usize, AppError> {
    let now = Utc::now();
    let due_before = now - chrono::Duration::from_std(interval).map_err(AppError::internal)?;
    let servers = entity::Entity::find().all(&state.db).await?;
    let not_due = health_ssr::not_due(&state.db, due_before, now).await?;
    let mut running = tokio::task::JoinSet::new();
    let mut count = 0;
    for server in servers.into_iter().filter(|s| !not_due.contains(&s.id)) {
        while running.len() >= at_once.max(1) {
            running.join_next().await;
        }
        // Claimed only once a slot is free, with the time of the claim itself, so a long pass
        // never writes a claim that has already run out.
        match health_ssr::claim(&state.db, server.id, due_before, Utc::now()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!(server = %server.id, %err, "could not claim the upstream's check");
                continue;
            }
        }
        count += 1;
        let state = state.clone();
        running.spawn(async move {
            if let Err(err) = check(&state, &server).await {
                tracing::warn!(server = %server.id, %err, "could not check the upstream");
            }
        });
    }
    while running.join_next().await.is_some() {}
    Ok(count)
}

fn name_taken(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn name_conflict() -> AppError {
    AppError::new(ErrorCode::Conflict, "This organisation already has a server with this name.")
        .with_field("name", "This organisation already has a server with this name.")
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id()))]
pub async fn create_server(state: &AppState, actor: &Actor, input: ServerInput) -> Result<ServerView, AppError> {
    let organisation = actor.may(Action::ChangeServers)?;
    let valid = validate(state, input, BTreeMap::new(), None).await?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let txn = state.changes.begin(&state.db).await?;
    let inserted = entity::Entity::insert(entity::ActiveModel {
        id: Set(id),
        account_id: Set(actor.account_id().0),
        organisation_id: Set(organisation.0),
        name: Set(valid.name.as_str().into()),
        upstream_url: Set(valid.url.redacted()),
        transport: Set(valid.transport.as_str().into()),
        require_token: Set(valid.require_token),
        oauth_enabled: Set(valid.oauth_enabled),
        upstream_header_names: Set(header_names_json(&valid.headers)),
        upstream_headers_ciphertext: Set(seal_headers(state, id, &valid.headers)?),
        upstream_query_ciphertext: Set(seal_query(state, id, &valid.url)?),
        identity_header: Set(valid.identity_header.clone()),
        tool_audit: Set(valid.tool_audit.stored()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await;
    match inserted {
        Err(e) if name_taken(&e) => return Err(name_conflict()),
        other => other?,
    };
    record_change(&txn, ChangeKind::Server, id).await?;
    audit(
        &txn,
        AuditRecord::by(actor, "server.created", "server", id).detail(serde_json::json!({
            "name": valid.name.as_str(), "upstream_url": valid.url.redacted(), "transport": valid.transport.as_str(),
            "require_token": valid.require_token, "oauth_enabled": valid.oauth_enabled, "upstream_headers": valid.headers.keys().collect::<Vec<_>>(),
            "identity_header": valid.identity_header, "tool_audit": valid.tool_audit.as_str(),
        })),
    )
    .await?;
    state.changes.commit(&state.db, txn).await?;
    check_after_save(state, id).await;
    get_server(state, actor, ServerId(id)).await
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id(), server = %id))]
pub async fn update_server(state: &AppState, actor: &Actor, id: ServerId, input: ServerInput) -> Result<ServerView, AppError> {
    let organisation = actor.may(Action::ChangeServers)?;
    let existing = find_model(&state.db, organisation, id).await?;
    let saved_headers = upstream_headers(state, &existing)?;
    let saved_query = upstream_query(state, &existing)?;
    let valid = validate(state, input, saved_headers, saved_query.clone()).await?;
    let txn = state.changes.begin(&state.db).await?;
    let updated = entity::Entity::update_many()
        .set(entity::ActiveModel {
            name: Set(valid.name.as_str().into()),
            upstream_url: Set(valid.url.redacted()),
            transport: Set(valid.transport.as_str().into()),
            require_token: Set(valid.require_token),
            oauth_enabled: Set(valid.oauth_enabled),
            upstream_header_names: Set(header_names_json(&valid.headers)),
            upstream_headers_ciphertext: Set(seal_headers(state, existing.id, &valid.headers)?),
            upstream_query_ciphertext: Set(seal_query(state, existing.id, &valid.url)?),
            identity_header: Set(valid.identity_header.clone()),
            tool_audit: Set(valid.tool_audit.stored()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        })
        .filter(entity::Column::Id.eq(existing.id))
        .filter(entity::Column::OrganisationId.eq(organisation.0))
        .exec(&txn)
        .await;
    match updated {
        Err(e) if name_taken(&e) => return Err(name_conflict()),
        other => other?,
    };
    record_change(&txn, ChangeKind::Server, existing.id).await?;
    let mut changed = serde_json::Map::new();
    let redacted = valid.url.redacted();
    for (key, before, after) in [
        ("name", existing.name.as_str(), valid.name.as_str()),
        ("upstream_url", existing.upstream_url.as_str(), redacted.as_str()),
        ("transport", existing.transport.as_str(), valid.transport.as_str()),
    ] {
        if before != after {
            changed.insert(key.into(), serde_json::json!({ "from": before, "to": after }));
        }
    }
    if existing.require_token != valid.require_token {
        changed.insert("require_token".into(), serde_json::json!({ "from": existing.require_token, "to": valid.require_token }));
    }
    if existing.oauth_enabled != valid.oauth_enabled {
        changed.insert("oauth_enabled".into(), serde_json::json!({ "from": existing.oauth_enabled, "to": valid.oauth_enabled }));
    }
    if existing.tool_audit != valid.tool_audit.stored() {
        changed.insert("tool_audit".into(), serde_json::json!({ "from": existing.tool_audit, "to": valid.tool_audit.as_str() }));
    }
    if existing.identity_header != valid.identity_header {
        changed.insert("identity_header".into(), serde_json::json!({ "from": existing.identity_header, "to": valid.identity_header }));
    }
    if saved_query.as_deref() != valid.url.query() {
        // Which values changed is a secret too: only that the query did.
        changed.insert("upstream_query".into(), serde_json::json!("changed"));
    }
    changed.insert("upstream_headers".into(), serde_json::json!(valid.headers.keys().collect::<Vec<_>>()));
    audit(&txn, AuditRecord::by(actor, "server.edited", "server", existing.id).detail(changed.into())).await?;
    state.changes.commit(&state.db, txn).await?;
    check_after_save(state, existing.id).await;
    get_server(state, actor, id).await
}

#[tracing::instrument(skip_all, fields(account = %actor.account_id(), server = %id))]
pub async fn delete_server(state: &AppState, actor: &Actor, id: ServerId) -> Result<(), AppError> {
    let organisation = actor.may(Action::ChangeServers)?;
    let existing = find_model(&state.db, organisation, id).await?;
    let txn = state.changes.begin(&state.db).await?;
    token_servers::Entity::delete_many().filter(token_servers::Column::ServerId.eq(existing.id)).exec(&txn).await?;
    entity::Entity::delete_by_id(existing.id).filter(entity::Column::OrganisationId.eq(organisation.0)).exec(&txn).await?;
    health_ssr::forget(&txn, existing.id).await?;
    tool_calls::Entity::delete_many().filter(tool_calls::Column::ServerId.eq(existing.id)).exec(&txn).await?;
    record_change(&txn, ChangeKind::Server, existing.id).await?;
    audit(&txn, AuditRecord::by(actor, "server.deleted", "server", existing.id).detail(serde_json::json!({ "name": existing.name })))
        .await?;
    state.changes.commit(&state.db, txn).await?;
    Ok(())
}

pub async fn find_model(db: &impl ConnectionTrait, organisation: OrganisationId, id: ServerId) -> Result<entity::Model, AppError> {
    entity::Entity::find_by_id(id.0)
        .filter(entity::Column::OrganisationId.eq(organisation.0))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("server"))
}

pub async fn get_server(state: &AppState, actor: &Actor, id: ServerId) -> Result<ServerView, AppError> {
    let organisation = actor.may(Action::Read)?;
    let model = find_model(&state.db, organisation, id).await?;
    let count = token_servers::Entity::find().filter(token_servers::Column::ServerId.eq(model.id)).count(&state.db).await?;
    let name = crate::organisations::ssr::name_of(&state.db, organisation).await?;
    let health = health_ssr::read_one(&state.db, model.id).await?;
    view(state, model, count, &name, health)
}

pub async fn list_servers(state: &AppState, actor: &Actor) -> Result<Vec<ServerView>, AppError> {
    let organisation = actor.may(Action::Read)?;
    let models = entity::Entity::find()
        .filter(entity::Column::OrganisationId.eq(organisation.0))
        .order_by_asc(entity::Column::Name)
        .all(&state.db)
        .await?;
    let counts = association_counts(&state.db, models.iter().map(|m| m.id).collect()).await?;
    let mut health = health_ssr::read(&state.db, models.iter().map(|m| m.id).collect()).await?;
    let name = crate::organisations::ssr::name_of(&state.db, organisation).await?;
    models
        .into_iter()
        .map(|m| {
            let count = counts.get(&m.id).copied().unwrap_or(0);
            let health = health.remove(&m.id).unwrap_or_else(ServerHealth::unchecked);
            view(state, m, count, &name, health)
        })
        .collect()
}

async fn association_counts(db: &DatabaseConnection, ids: Vec<Uuid>) -> Result<BTreeMap<Uuid, u64>, AppError> {
    let mut counts = BTreeMap::new();
    if ids.is_empty() {
        return Ok(counts);
    }
    for row in token_servers::Entity::find().filter(token_servers::Column::ServerId.is_in(ids)).all(db).await? {
        *counts.entry(row.server_id).or_insert(0) += 1;
    }
    Ok(counts)
}

fn view(state: &AppState, m: entity::Model, token_count: u64, organisation: &str, health: ServerHealth) -> Result<ServerView, AppError> {
    let base = &state.settings.public_url;
    Ok(ServerView {
        id: ServerId(m.id),
        organisation_id: m.organisation_id,
        organisation: organisation.to_string(),
        sse_endpoint: format!("{base}/s/{}/sse", m.id),
        mcp_endpoint: format!("{base}/s/{}/mcp", m.id),
        name: m.name,
        upstream_url: m.upstream_url,
        transport: Transport::parse(&m.transport).ok_or_else(|| AppError::internal(format!("bad transport {}", m.transport)))?,
        require_token: m.require_token,
        oauth_enabled: m.oauth_enabled,
        identity_header: m.identity_header,
        tool_audit: m.tool_audit.as_deref().and_then(ToolAudit::parse).unwrap_or_default(),
        upstream_header_names: serde_json::from_str(&m.upstream_header_names).map_err(AppError::internal)?,
        token_count,
        health,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn header_names_json(headers: &BTreeMap<String, String>) -> String {
    serde_json::to_string(&headers.keys().collect::<Vec<_>>()).expect("names serialise")
}

fn seal_headers(state: &AppState, id: Uuid, headers: &BTreeMap<String, String>) -> Result<Option<String>, AppError> {
    if headers.is_empty() {
        return Ok(None);
    }
    let plain = serde_json::to_vec(headers).map_err(AppError::internal)?;
    state.cipher.seal(&plain, &headers_context(id)).map(Some)
}
