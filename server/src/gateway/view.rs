//! The in-memory token view: everything a gateway check needs (accounts, keys, tokens, servers,
//! associations), so verification never queries the database per request. Loaded at start and
//! kept fresh object by object as change events arrive.
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock, RwLockReadGuard},
};

use chrono::{DateTime, Utc};
use http::{HeaderName, HeaderValue};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use uuid::Uuid;

use app::{
    accounts::{AccountStatus, ssr::entity as accounts},
    events::ChangeKind,
    servers::{Transport, UpstreamUrl, ssr::{entity as servers, token_servers, upstream_headers}},
    signing_keys::{KeyState, ssr::{entity as keys, secret}},
    state::AppState,
    tokens::ssr::entity as tokens,
};

pub struct KeyEntry {
    pub account: Uuid,
    pub revoked: bool,
    /// HMAC-SHA256 keyed with the key's secret once, cloned per check.
    pub mac: Hmac<Sha256>,
}

impl KeyEntry {
    pub fn new(account: Uuid, revoked: bool, secret: &[u8]) -> Self {
        let mac = Hmac::new_from_slice(secret).expect("HMAC takes keys of every length");
        Self { account, revoked, mac }
    }
}

#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub account: Uuid,
    pub key: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

#[derive(Debug)]
pub struct ServerEntry {
    pub id: Uuid,
    pub account: Uuid,
    /// Parsed once here, not on every request.
    pub upstream: url::Url,
    /// Why the upstream may not be contacted: an address literal the operator's policy refuses
    /// (host names are checked when they are resolved, see `resolver`).
    pub refused: Option<&'static str>,
    pub transport: Transport,
    pub require_token: bool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Default)]
pub struct ViewData {
    pub accounts: HashMap<Uuid, bool>,
    pub keys: HashMap<Uuid, KeyEntry>,
    pub tokens: HashMap<Uuid, TokenEntry>,
    pub servers: HashMap<Uuid, Arc<ServerEntry>>,
    pub links: HashSet<(Uuid, Uuid)>,
}

pub struct TokenView {
    data: RwLock<ViewData>,
}

impl TokenView {
    pub fn empty() -> Self {
        Self { data: RwLock::new(ViewData::default()) }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, ViewData> {
        self.data.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ViewData> {
        self.data.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads everything. Reads happen outside the lock; the swap is instant.
    pub async fn load(&self, state: &AppState) -> Result<(), DbErr> {
        let mut data = ViewData::default();
        for account in accounts::Entity::find().all(&state.db).await? {
            data.accounts.insert(account.id, account.status == AccountStatus::Active.as_str());
        }
        for key in keys::Entity::find().all(&state.db).await? {
            if let Some(entry) = key_entry(state, &key) {
                data.keys.insert(key.id, entry);
            }
        }
        for token in tokens::Entity::find().all(&state.db).await? {
            data.tokens.insert(token.id, token_entry(&token));
        }
        for server in servers::Entity::find().all(&state.db).await? {
            if let Some(entry) = server_entry(state, &server) {
                data.servers.insert(server.id, Arc::new(entry));
            }
        }
        for link in token_servers::Entity::find().all(&state.db).await? {
            data.links.insert((link.token_id, link.server_id));
        }
        *self.write() = data;
        Ok(())
    }

    /// Brings one object up to date from the database: applying an event twice, or out of
    /// order, leaves the same view.
    pub async fn refresh(&self, state: &AppState, kind: ChangeKind, id: Uuid) -> Result<(), DbErr> {
        match kind {
            ChangeKind::Account => {
                let account = accounts::Entity::find_by_id(id).one(&state.db).await?;
                let mut data = self.write();
                match account {
                    Some(a) => data.accounts.insert(id, a.status == AccountStatus::Active.as_str()),
                    None => data.accounts.remove(&id),
                };
            }
            ChangeKind::SigningKey => {
                let key = keys::Entity::find_by_id(id).one(&state.db).await?;
                let entry = key.as_ref().and_then(|k| key_entry(state, k));
                let mut data = self.write();
                match entry {
                    Some(entry) => data.keys.insert(id, entry),
                    None => data.keys.remove(&id),
                };
            }
            ChangeKind::Token => {
                let token = tokens::Entity::find_by_id(id).one(&state.db).await?;
                let links = links_where(&state.db, token_servers::Column::TokenId, id).await?;
                let mut data = self.write();
                data.links.retain(|(t, _)| *t != id);
                match token {
                    Some(t) => {
                        data.tokens.insert(id, token_entry(&t));
                        data.links.extend(links);
                    }
                    None => {
                        data.tokens.remove(&id);
                    }
                }
            }
            ChangeKind::Server => {
                let server = servers::Entity::find_by_id(id).one(&state.db).await?;
                let entry = server.as_ref().and_then(|s| server_entry(state, s));
                let links = links_where(&state.db, token_servers::Column::ServerId, id).await?;
                let mut data = self.write();
                data.links.retain(|(_, s)| *s != id);
                match entry {
                    Some(entry) => {
                        data.servers.insert(id, Arc::new(entry));
                        data.links.extend(links);
                    }
                    None => {
                        data.servers.remove(&id);
                    }
                }
            }
        }
        Ok(())
    }
}

async fn links_where(db: &DatabaseConnection, column: token_servers::Column, id: Uuid) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    Ok(token_servers::Entity::find()
        .filter(column.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.token_id, l.server_id))
        .collect())
}

fn key_entry(state: &AppState, key: &keys::Model) -> Option<KeyEntry> {
    match secret(state, key) {
        Ok(bytes) => Some(KeyEntry::new(key.account_id, key.state == KeyState::Revoked.as_str(), bytes.expose_secret())),
        Err(e) => {
            // A key that cannot be decrypted verifies nothing (fail closed), and says why.
            tracing::error!(key = %key.id, error = %e.message, "cannot decrypt signing key; its tokens are refused");
            None
        }
    }
}

fn token_entry(token: &tokens::Model) -> TokenEntry {
    TokenEntry {
        account: token.account_id,
        key: token.signing_key_id,
        expires_at: token.expires_at,
        revoked: token.revoked_at.is_some(),
    }
}

fn server_entry(state: &AppState, server: &servers::Model) -> Option<ServerEntry> {
    let headers = match upstream_headers(state, server) {
        Ok(headers) => headers,
        Err(e) => {
            tracing::error!(server = %server.id, error = %e.message, "cannot decrypt upstream headers; server unavailable");
            return None;
        }
    };
    let Ok(upstream) = UpstreamUrl::parse(&server.upstream_url) else {
        tracing::error!(server = %server.id, "the stored upstream URL does not parse; server unavailable");
        return None;
    };
    Some(ServerEntry {
        id: server.id,
        refused: upstream.ip().and_then(|ip| state.settings.upstream_policy.refuses(ip)),
        account: server.account_id,
        upstream: upstream.url().clone(),
        transport: Transport::parse(&server.transport)?,
        require_token: server.require_token,
        headers: headers
            .into_iter()
            .filter_map(|(name, value)| Some((HeaderName::try_from(name).ok()?, HeaderValue::try_from(value).ok()?)))
            .collect(),
    })
}
