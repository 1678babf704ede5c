//! Identity for upstreams: on servers that ask for it, the gateway adds a header holding a
//! short-lived JWT that says who is calling (the member, their email, organisation and role, the
//! token), signed with one of the deployment's Ed25519 keys. The public keys are served at
//! `/.well-known/jwks.json`, so an upstream verifies the assertion with any JWT library and never
//! sees the client's own token.
//!
//! Keys rotate with overlap: a new key is made when the newest is [`ROTATE_AFTER`] old, is
//! published for [`PUBLISH_BEFORE_USE`] before it signs (upstreams that cache the key set learn
//! it first), and the key it replaces stays published for [`KEEP_AFTER_REPLACED`] (far longer
//! than any assertion it signed lives). Every process reloads the keys every minute; a key made
//! by any of them is used by all.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
use secrecy::ExposeSecret;
use serde::Serialize;
use uuid::Uuid;

use app::{error::AppError, state::AppState};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "identity_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub private_key_ciphertext: String,
        pub public_key: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub const ROTATE_AFTER: chrono::Duration = chrono::Duration::days(30);
pub const PUBLISH_BEFORE_USE: chrono::Duration = chrono::Duration::hours(1);
pub const KEEP_AFTER_REPLACED: chrono::Duration = chrono::Duration::days(1);
/// How long an assertion is good for (the bound: at most 60 s).
pub const LIFETIME: Duration = Duration::from_secs(60);
/// An assertion is reused for the same token and server until it has this long left.
const REUSE_UNTIL_LEFT: Duration = Duration::from_secs(30);

fn sealing_context(id: Uuid) -> String {
    format!("identity_key:{id}")
}

/// One key as loaded: its id, public half, when it was made, and (once opened) the signing half.
struct LoadedKey {
    id: Uuid,
    public: String,
    created_at: DateTime<Utc>,
    signing: EncodingKey,
}

/// The keys of the deployment: which one signs now, and which are published.
#[derive(Default)]
struct KeySet {
    keys: Vec<LoadedKey>,
}

impl KeySet {
    /// The newest key published for long enough; the oldest one when none is (a new deployment).
    fn signing(&self, now: DateTime<Utc>) -> Option<&LoadedKey> {
        self.keys.iter().filter(|k| k.created_at <= now - PUBLISH_BEFORE_USE).max_by_key(|k| k.created_at).or_else(|| self.keys.first())
    }

    /// The keys an upstream may meet: the one signing, newer ones about to, and older ones for
    /// [`KEEP_AFTER_REPLACED`] after the key that replaced them began to sign.
    fn published(&self, now: DateTime<Utc>) -> Vec<&LoadedKey> {
        let Some(signing) = self.signing(now) else { return Vec::new() };
        let signing_since = signing.created_at + PUBLISH_BEFORE_USE;
        self.keys.iter().filter(|k| k.created_at >= signing.created_at || signing_since + KEEP_AFTER_REPLACED > now).collect()
    }
}

/// Who is calling, as the upstream is told.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    /// The member's account id.
    pub sub: Uuid,
    pub email: String,
    /// The organisation the token belongs to.
    pub org: Uuid,
    pub role: &'static str,
    /// The Gatehouse token (or OAuth grant) the request carried.
    pub token_id: Uuid,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    #[serde(flatten)]
    caller: &'a Caller,
    iat: i64,
    exp: i64,
    jti: Uuid,
}

/// An assertion kept for reuse: good until, a hash of what it says, and the header value.
type Made = (Instant, u64, HeaderValue);

/// Signs assertions with the deployment's current key and serves the published ones.
pub struct Identity {
    state: AppState,
    keys: RwLock<Arc<KeySet>>,
    /// Assertions made recently, by (token, server): reused for half a lifetime while what they
    /// say (audience, member, email, organisation, role) is unchanged.
    made: Mutex<HashMap<(Uuid, Uuid), Made>>,
}

impl Identity {
    pub fn new(state: AppState) -> Arc<Self> {
        Arc::new(Self { state, keys: RwLock::default(), made: Mutex::default() })
    }

    /// Makes a key if none is young enough, then loads them all. Run at start and every minute.
    pub async fn refresh(&self) -> Result<(), AppError> {
        let now = Utc::now();
        let rows = entity::Entity::find().order_by_asc(entity::Column::CreatedAt).all(&self.state.db).await?;
        let rows = if rows.last().is_none_or(|newest| newest.created_at <= now - ROTATE_AFTER) {
            self.make_key(now).await?;
            entity::Entity::find().order_by_asc(entity::Column::CreatedAt).all(&self.state.db).await?
        } else {
            rows
        };
        let mut keys = Vec::new();
        for row in rows {
            match self.open(&row) {
                Ok(signing) => keys.push(LoadedKey { id: row.id, public: row.public_key, created_at: row.created_at, signing }),
                Err(err) => tracing::error!(key = %row.id, %err, "cannot open an identity key; it is not used"),
            }
        }
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(KeySet { keys });
        Ok(())
    }

    async fn make_key(&self, now: DateTime<Utc>) -> Result<(), AppError> {
        let seed: [u8; 32] = rand::random();
        let key = SigningKey::from_bytes(&seed);
        let id = Uuid::now_v7();
        entity::Entity::insert(entity::ActiveModel {
            id: Set(id),
            private_key_ciphertext: Set(self.state.cipher.seal(&seed, &sealing_context(id))?),
            public_key: Set(URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())),
            created_at: Set(now),
        })
        .exec_without_returning(&self.state.db)
        .await?;
        tracing::info!(key = %id, "made a new identity key for upstream assertions");
        Ok(())
    }

    fn open(&self, row: &entity::Model) -> Result<EncodingKey, AppError> {
        let seed = self.state.cipher.open(&row.private_key_ciphertext, &sealing_context(row.id))?;
        let seed: [u8; 32] =
            seed.expose_secret().as_slice().try_into().map_err(|_| AppError::internal("an identity key is not 32 bytes"))?;
        let der = SigningKey::from_bytes(&seed).to_pkcs8_der().map_err(AppError::internal)?;
        Ok(EncodingKey::from_ed_der(der.as_bytes()))
    }

    fn current(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The assertion for `caller` on a request to `server` at `audience` (reused while it has
    /// more than half its life left). `None` only when no key could be loaded.
    pub fn assertion(&self, server: Uuid, audience: &str, caller: &Caller) -> Option<HeaderValue> {
        let key = (caller.token_id, server);
        let said = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::hash::DefaultHasher::new();
            (audience, caller.sub, &caller.email, caller.org, caller.role).hash(&mut hasher);
            hasher.finish()
        };
        let now = Instant::now();
        if let Some((until, made_for, value)) = self.made.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *made_for == said
            && until.saturating_duration_since(now) > REUSE_UNTIL_LEFT
        {
            return Some(value.clone());
        }
        let keys = self.current();
        let wall = Utc::now();
        let signing = keys.signing(wall)?;
        let claims = Claims {
            iss: &self.state.settings.issuer,
            aud: audience,
            caller,
            iat: wall.timestamp(),
            exp: wall.timestamp() + LIFETIME.as_secs() as i64,
            jti: Uuid::new_v4(),
        };
        let header = Header { kid: Some(signing.id.to_string()), ..Header::new(Algorithm::EdDSA) };
        let token = jsonwebtoken::encode(&header, &claims, &signing.signing)
            .inspect_err(|err| tracing::error!(%err, "could not sign an identity assertion"))
            .ok()?;
        let value = HeaderValue::try_from(token).ok()?;
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        if made.len() > 100_000 {
            made.retain(|_, (until, _, _)| *until > now);
        }
        made.insert(key, (now + LIFETIME, said, value.clone()));
        Some(value)
    }

    /// The JWK set upstreams verify with.
    pub fn jwks(&self) -> serde_json::Value {
        let keys = self.current();
        let published: Vec<serde_json::Value> = keys
            .published(Utc::now())
            .into_iter()
            .map(|k| serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": k.public, "kid": k.id.to_string(), "alg": "EdDSA", "use": "sig" }))
            .collect();
        serde_json::json!({ "keys": published })
    }

    /// Loads the keys every minute (and rotates them when due), until the process stops.
    pub async fn run(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(err) = self.refresh().await {
                tracing::warn!(%err, "could not load the identity keys");
            }
        }
    }
}

/// `GET /.well-known/jwks.json`: the public keys of the identity assertions.
pub async fn serve_jwks(axum::extract::State(identity): axum::extract::State<Arc<Identity>>) -> impl axum::response::IntoResponse {
    (
        [(http::header::CACHE_CONTROL, "public, max-age=300"), (http::header::CONTENT_TYPE, "application/jwk-set+json")],
        identity.jwks().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(created_at: DateTime<Utc>) -> LoadedKey {
        LoadedKey { id: Uuid::now_v7(), public: String::new(), created_at, signing: EncodingKey::from_ed_der(&[]) }
    }

    #[test]
    fn a_new_key_is_published_before_it_signs_and_the_old_one_stays_a_day() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let first = key(start);
        let first_id = first.id;
        let mut set = KeySet { keys: vec![first] };
        assert_eq!(set.signing(start).unwrap().id, first_id, "a new deployment signs with its first key at once");
        let rotated = start + ROTATE_AFTER;
        set.keys.push(key(rotated));
        let second_id = set.keys[1].id;
        assert_eq!(set.signing(rotated).unwrap().id, first_id, "the new key is not used yet");
        assert_eq!(set.published(rotated).len(), 2, "but it is published");
        let switched = rotated + PUBLISH_BEFORE_USE;
        assert_eq!(set.signing(switched).unwrap().id, second_id);
        assert_eq!(set.published(switched + KEEP_AFTER_REPLACED - chrono::Duration::minutes(1)).len(), 2, "overlap");
        let later = set.published(switched + KEEP_AFTER_REPLACED + chrono::Duration::minutes(1));
        assert_eq!(later.iter().map(|k| k.id).collect::<Vec<_>>(), [second_id], "the old key leaves after the overlap");
    }
}
