//! The in-memory token view: everything a gateway check needs (accounts, memberships, keys,
//! tokens, servers, associations), so verification never queries the database per request. Loaded at start and
//! kept fresh object by object as change events arrive.
use std::{
    collections::HashMap,
    sync::{Arc, RwLock, RwLockReadGuard},
};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use secrecy::ExposeSecret;
use sha2::Sha256;
use uuid::Uuid;

use app::{
    accounts::{AccountStatus, ssr::entity as accounts},
    events::ChangeKind,
    organisations::{
        Role,
        ssr::{entity as organisations, memberships, stored_role},
    },
    servers::{
        Transport,
        ssr::{entity as servers, token_servers, upstream_headers, upstream_url},
    },
    signing_keys::{
        KeyState,
        ssr::{entity as keys, secret},
    },
    state::AppState,
    tokens::ssr::entity as tokens,
    tools::ToolRule,
};

pub struct KeyEntry {
    pub organisation: Uuid,
    pub revoked: bool,
    /// HMAC-SHA256 keyed with the key's secret once, cloned per check.
    pub mac: Hmac<Sha256>,
}

impl KeyEntry {
    pub fn new(organisation: Uuid, revoked: bool, secret: &[u8]) -> Self {
        let mac = Hmac::new_from_slice(secret).expect("HMAC takes keys of every length");
        Self { organisation, revoked, mac }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    pub organisation: Uuid,
    /// The member who made it: it stands only while they are a member who may hold tokens.
    pub maker: Uuid,
    pub key: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    /// Its fingerprint is stored (tokens made before fingerprints learn theirs on first use).
    pub fingerprinted: bool,
    /// An OAuth grant: its access tokens are renewed by refresh, each with its own `exp` no later
    /// than `expires_at` (the grant's end), rather than one string with exactly that `exp`.
    pub renewable: bool,
    /// The client addresses it may be used from (`None`: any).
    pub networks: Option<Arc<[ipnet::IpNet]>>,
}

#[derive(Debug)]
pub struct ServerEntry {
    pub id: Uuid,
    pub organisation: Uuid,
    /// Parsed once here, not on every request.
    pub upstream: url::Url,
    /// Why the upstream may not be contacted: an address literal the operator's policy refuses
    /// (host names are checked when they are resolved, see `resolver`).
    pub refused: Option<&'static str>,
    pub transport: Transport,
    pub require_token: bool,
    /// OAuth sign-in is offered: the 401 names the protected resource metadata.
    pub oauth: bool,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Tell the upstream who is calling: in which header, for which audience.
    pub identity: Option<IdentityHeader>,
    /// Whether tool calls on it are recorded (and with their arguments).
    pub tool_audit: app::servers::ToolAudit,
    /// The stored row this entry was made from, hashed (headers still sealed), so that
    /// reconciling compares rows without decrypting anything.
    pub row: u64,
}

#[derive(Debug)]
pub struct IdentityHeader {
    pub header: HeaderName,
    /// The assertion's `aud`: the upstream URL without its query (which may hold a secret).
    pub audience: String,
}

#[derive(Default)]
pub struct AccessTables {
    pub accounts: HashMap<Uuid, bool>,
    /// Each account's email, for the identity assertions sent upstream.
    pub emails: HashMap<Uuid, Arc<str>>,
    /// Each account's memberships: organisation and role. An account has a few.
    pub members: HashMap<Uuid, Memberships>,
    /// Every organisation, and whether it is enabled.
    pub organisations: HashMap<Uuid, bool>,
    pub keys: HashMap<Uuid, KeyEntry>,
    pub tokens: HashMap<Uuid, TokenEntry>,
    pub servers: HashMap<Uuid, Arc<ServerEntry>>,
    /// (token, server) → the tool rule when it limits the tools (`None`: every tool).
    pub links: HashMap<(Uuid, Uuid), Option<Arc<ToolRule>>>,
}

pub struct AccessIndex {
    data: RwLock<AccessTables>,
}

impl AccessIndex {
    pub fn empty() -> Self {
        Self { data: RwLock::new(AccessTables::default()) }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, AccessTables> {
        self.data.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, AccessTables> {
        self.data.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads everything. Reads happen outside the lock; the swap is instant.
    pub async fn load(&self, state: &AppState) -> Result<(), DbErr> {
        let mut data = AccessTables::default();
        for account in accounts::Entity::find().all(&state.db).await? {
            data.accounts.insert(account.id, is_active(&account));
            data.emails.insert(account.id, account.email.as_str().into());
        }
        data.members = all_memberships(&state.db).await?;
        data.organisations = all_organisations(&state.db).await?;
        for key in keys::Entity::find().all(&state.db).await? {
            if let Some(entry) = key_entry(state, &key) {
                data.keys.insert(key.id, entry);
            }
        }
        let now = chrono::Utc::now();
        for token in tokens::Entity::find().all(&state.db).await?.iter().filter(|t| may_be_accepted_again(t, now)) {
            data.tokens.insert(token.id, token_entry(token));
        }
        for server in servers::Entity::find().all(&state.db).await? {
            if let Some(entry) = server_entry(state, &server) {
                data.servers.insert(server.id, Arc::new(entry));
            }
        }
        data.links = token_servers::Entity::find().all(&state.db).await?.into_iter().map(link).collect();
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
                    Some(a) => {
                        data.emails.insert(id, a.email.as_str().into());
                        data.accounts.insert(id, is_active(&a))
                    }
                    None => {
                        data.emails.remove(&id);
                        data.accounts.remove(&id)
                    }
                };
            }
            ChangeKind::Organisation => {
                let found = organisations::Entity::find_by_id(id).one(&state.db).await?;
                let mut data = self.write();
                match found {
                    Some(o) => data.organisations.insert(id, o.disabled_at.is_none()),
                    None => data.organisations.remove(&id),
                };
            }
            ChangeKind::Membership => {
                let held = memberships_of(&state.db, id).await?;
                let mut data = self.write();
                if held.is_empty() {
                    data.members.remove(&id);
                } else {
                    data.members.insert(id, held);
                }
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
                data.links.retain(|(t, _), _| *t != id);
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
                data.links.retain(|(_, s), _| *s != id);
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

impl AccessIndex {
    /// Compares the whole view with the database and reads again every object that differs:
    /// the safety net under change events (a transaction that committed after its sequence gap
    /// stopped being watched, or anything else missed). Returns the objects refreshed. Nothing
    /// is decrypted unless it differs, so a reconcile that finds nothing costs only the reads.
    pub async fn reconcile(&self, state: &AppState) -> Result<Vec<(ChangeKind, Uuid)>, DbErr> {
        let db = &state.db;
        let accounts: HashMap<Uuid, bool> = accounts::Entity::find().all(db).await?.into_iter().map(|a| (a.id, is_active(&a))).collect();
        let members = all_memberships(db).await?;
        let organisations = all_organisations(db).await?;
        let keys: HashMap<Uuid, (Uuid, bool)> =
            keys::Entity::find().all(db).await?.into_iter().map(|k| (k.id, (k.organisation_id, is_revoked(&k)))).collect();
        let now = chrono::Utc::now();
        let mut tokens: HashMap<Uuid, TokenEntry> = tokens::Entity::find()
            .all(db)
            .await?
            .iter()
            .filter(|t| may_be_accepted_again(t, now))
            .map(|t| (t.id, token_entry(t)))
            .collect();
        // A dead token the view holds (it died while this process ran) is compared as it is, so
        // reconciling neither drops it nor reads it again.
        {
            let view = self.read();
            for (id, held) in &view.tokens {
                if !tokens.contains_key(id) && (held.revoked || held.expires_at.is_some_and(|at| at <= now)) {
                    tokens.insert(*id, held.clone());
                }
            }
        }
        let servers: HashMap<Uuid, u64> = servers::Entity::find().all(db).await?.iter().map(|s| (s.id, row_digest(s))).collect();
        let links: HashMap<(Uuid, Uuid), Option<Arc<ToolRule>>> =
            token_servers::Entity::find().all(db).await?.into_iter().map(link).collect();

        let stale = {
            let view = self.read();
            let mut stale = differing(ChangeKind::Account, &view.accounts, &accounts, |held, stored| held == stored);
            stale.extend(differing(ChangeKind::Membership, &view.members, &members, |held, stored| held == stored));
            stale.extend(differing(ChangeKind::Organisation, &view.organisations, &organisations, |held, stored| held == stored));
            stale.extend(differing(ChangeKind::SigningKey, &view.keys, &keys, |held, (organisation, revoked)| {
                held.organisation == *organisation && held.revoked == *revoked
            }));
            stale.extend(differing(ChangeKind::Token, &view.tokens, &tokens, |held, stored| held == stored));
            stale.extend(differing(ChangeKind::Server, &view.servers, &servers, |held, row| held.row == *row));
            // An association is read again with its token.
            stale.extend(differing_keys(&view.links, &links, |held, stored| held == stored).map(|(token, _)| (ChangeKind::Token, token)));
            stale.sort_by_key(|(kind, id)| (kind.as_str(), *id));
            stale.dedup();
            stale
        };
        for (kind, id) in &stale {
            self.refresh(state, *kind, *id).await?;
        }
        Ok(stale)
    }
}

/// The ids held and stored that are not the same in both, as change events of `kind`. A key or
/// server the view left out because it could not be decrypted is stored but not held: reading
/// it again is harmless, and logs why it is still left out.
fn differing<H, S>(
    kind: ChangeKind,
    held: &HashMap<Uuid, H>,
    stored: &HashMap<Uuid, S>,
    same: impl Fn(&H, &S) -> bool,
) -> Vec<(ChangeKind, Uuid)> {
    differing_keys(held, stored, same).map(|id| (kind, id)).collect()
}

/// The keys held and stored that are not the same in both (changed, new or gone).
fn differing_keys<'a, K: Eq + std::hash::Hash + Copy, H, S>(
    held: &'a HashMap<K, H>,
    stored: &'a HashMap<K, S>,
    same: impl Fn(&H, &S) -> bool + 'a,
) -> impl Iterator<Item = K> + 'a {
    let changed = stored.iter().filter(move |(key, s)| held.get(*key).is_none_or(|h| !same(h, s))).map(|(key, _)| *key);
    let gone = held.keys().filter(|key| !stored.contains_key(*key)).copied();
    changed.chain(gone)
}

/// The stored columns a server entry is made from, hashed.
fn row_digest(server: &servers::Model) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (&server.organisation_id, &server.upstream_url, &server.transport, server.require_token, server.oauth_enabled).hash(&mut hasher);
    (&server.upstream_headers_ciphertext, &server.upstream_query_ciphertext, &server.identity_header, &server.tool_audit).hash(&mut hasher);
    hasher.finish()
}

/// An account's memberships as the view holds them: (organisation, role), sorted, so that two
/// readings compare equal. A role the code cannot read is left out (it grants nothing).
pub type Memberships = Vec<(Uuid, Role)>;

async fn memberships_of(db: &DatabaseConnection, account: Uuid) -> Result<Memberships, DbErr> {
    let rows = memberships::Entity::find().filter(memberships::Column::AccountId.eq(account)).all(db).await?;
    let mut held: Memberships = rows.iter().filter_map(|m| Some((m.organisation_id, stored_role(&m.role)?))).collect();
    held.sort();
    Ok(held)
}

async fn all_organisations(db: &DatabaseConnection) -> Result<HashMap<Uuid, bool>, DbErr> {
    Ok(organisations::Entity::find().all(db).await?.into_iter().map(|o| (o.id, o.disabled_at.is_none())).collect())
}

async fn all_memberships(db: &DatabaseConnection) -> Result<HashMap<Uuid, Memberships>, DbErr> {
    let mut members: HashMap<Uuid, Memberships> = HashMap::new();
    for m in memberships::Entity::find().all(db).await? {
        if let Some(role) = stored_role(&m.role) {
            members.entry(m.account_id).or_default().push((m.organisation_id, role));
        }
    }
    members.values_mut().for_each(|held| held.sort());
    Ok(members)
}

type Link = ((Uuid, Uuid), Option<Arc<ToolRule>>);

/// A stored association as the view holds it; a rule that allows every tool is no rule.
fn link(row: token_servers::Model) -> Link {
    let rule = ToolRule::from_stored(row.tool_rule.as_deref());
    ((row.token_id, row.server_id), (!rule.is_all()).then(|| Arc::new(rule)))
}

async fn links_where(db: &DatabaseConnection, column: token_servers::Column, id: Uuid) -> Result<Vec<Link>, DbErr> {
    Ok(token_servers::Entity::find().filter(column.eq(id)).all(db).await?.into_iter().map(link).collect())
}

fn key_entry(state: &AppState, key: &keys::Model) -> Option<KeyEntry> {
    match secret(state, key) {
        Ok(bytes) => Some(KeyEntry::new(key.organisation_id, is_revoked(key), bytes.expose_secret())),
        Err(e) => {
            // A key that cannot be decrypted verifies nothing (fail closed), and says why.
            tracing::error!(key = %key.id, error = %e.message, "cannot decrypt signing key; its tokens are refused");
            None
        }
    }
}

/// What the view keeps of an account: whether it is active (load, refresh and reconcile alike).
fn is_active(account: &accounts::Model) -> bool {
    account.status == AccountStatus::Active.as_str()
}

/// What the view keeps of a key's state: whether it is revoked.
fn is_revoked(key: &keys::Model) -> bool {
    key.state == KeyState::Revoked.as_str()
}

/// Revoked and expired tokens can never be accepted again: the view does not load them (the
/// gateway answers a validly signed token it does not hold as unknown), so memory holds only
/// the live.
fn may_be_accepted_again(token: &tokens::Model, now: chrono::DateTime<chrono::Utc>) -> bool {
    token.revoked_at.is_none() && token.expires_at.is_none_or(|at| at > now)
}

fn token_entry(token: &tokens::Model) -> TokenEntry {
    TokenEntry {
        organisation: token.organisation_id,
        maker: token.account_id,
        key: token.signing_key_id,
        expires_at: token.expires_at,
        revoked: token.revoked_at.is_some(),
        fingerprinted: token.fingerprint.is_some(),
        renewable: token.oauth_client_id.is_some(),
        networks: app::tokens::networks::from_stored(token.allowed_networks.as_deref()).map(Arc::from),
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
    let upstream = match upstream_url(state, server) {
        Ok(upstream) => upstream,
        Err(e) => {
            tracing::error!(server = %server.id, error = %e.message, "cannot read the stored upstream URL; server unavailable");
            return None;
        }
    };
    Some(ServerEntry {
        id: server.id,
        refused: upstream.ip().and_then(|ip| state.settings.upstream_policy.refuses(ip)),
        organisation: server.organisation_id,
        upstream: upstream.url().clone(),
        transport: Transport::parse(&server.transport)?,
        require_token: server.require_token,
        oauth: server.oauth_enabled,
        headers: headers
            .into_iter()
            .filter_map(|(name, value)| Some((HeaderName::try_from(name).ok()?, HeaderValue::try_from(value).ok()?)))
            .collect(),
        identity: server.identity_header.as_deref().and_then(|name| {
            let mut audience = upstream.url().clone();
            audience.set_query(None);
            Some(IdentityHeader { header: HeaderName::try_from(name).ok()?, audience: audience.to_string() })
        }),
        tool_audit: server.tool_audit.as_deref().and_then(app::servers::ToolAudit::parse).unwrap_or_default(),
        row: row_digest(server),
    })
}
