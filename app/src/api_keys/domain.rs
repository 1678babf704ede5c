use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an API key may do, in increasing order: each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    /// Read anything the owner can read.
    Read,
    /// Also create, change and revoke the owner's servers, tokens and keys.
    Write,
    /// Also what only an admin may do (the owner must be an admin).
    Admin,
}

impl ApiScope {
    pub const ALL: [ApiScope; 3] = [ApiScope::Read, ApiScope::Write, ApiScope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Read => "read",
            ApiScope::Write => "write",
            ApiScope::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("\"{}\" is not a scope. Use read, write or admin.", raw.trim()))
    }
}

/// Every key starts with this, so a secret scanner (or a person) can tell a Gatehouse API key
/// from an MCP token, and the gateway can say what was sent to it.
pub const KEY_PREFIX: &str = "ghk_";

/// Whether `presented` has the shape of an API key (it may still be unknown).
pub fn looks_like_api_key(presented: &str) -> bool {
    presented.starts_with(KEY_PREFIX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ApiKeyStatus {
    Active,
    Expired,
    Revoked,
}

impl ApiKeyStatus {
    pub fn of(revoked_at: Option<DateTime<Utc>>, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        if revoked_at.is_some() {
            ApiKeyStatus::Revoked
        } else if expires_at.is_some_and(|at| at <= now) {
            ApiKeyStatus::Expired
        } else {
            ApiKeyStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyStatus::Active => "active",
            ApiKeyStatus::Expired => "expired",
            ApiKeyStatus::Revoked => "revoked",
        }
    }
}

/// What the owner sees of a key. The key itself is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: Uuid,
    /// The organisation the key acts within.
    pub organisation_id: Uuid,
    pub description: String,
    pub scope: ApiScope,
    pub status: ApiKeyStatus,
    /// A prefix and suffix of the key, e.g. `ghk_Xy3…9Qk`.
    pub display: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyInput {
    #[cfg_attr(feature = "ssr", schema(example = "deploy script"))]
    pub description: String,
    /// `read`, `write` or `admin`; never more than the owner's role allows.
    pub scope: ApiScope,
    /// `never`, a duration (`30m 12h 7d 2w 90d 1y`) or a date (`2027-01-31`).
    #[cfg_attr(feature = "ssr", schema(example = "30d"))]
    pub expires: String,
}

/// The answer to creating a key: the only time `key` is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    pub key: String,
    pub details: ApiKeyView,
}

/// `ghk_AbCdEfGh…wxyz`: enough to tell keys apart, too little to use.
pub fn display_form(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 16 {
        return "…".into();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn status_prefers_revoked_then_expired() {
        let now = Utc::now();
        assert_eq!(ApiKeyStatus::of(Some(now), Some(now - Duration::days(1)), now), ApiKeyStatus::Revoked);
        assert_eq!(ApiKeyStatus::of(None, Some(now), now), ApiKeyStatus::Expired);
        assert_eq!(ApiKeyStatus::of(None, Some(now + Duration::seconds(1)), now), ApiKeyStatus::Active);
        assert_eq!(ApiKeyStatus::of(None, None, now), ApiKeyStatus::Active);
    }

    #[test]
    fn scopes_are_ordered_and_parsed_strictly() {
        assert!(ApiScope::Admin > ApiScope::Write && ApiScope::Write > ApiScope::Read);
        assert_eq!(ApiScope::parse(" Write ").unwrap(), ApiScope::Write);
        let err = ApiScope::parse("root").unwrap_err();
        assert!(err.contains("read, write or admin"), "{err}");
    }

    #[test]
    fn display_keeps_only_the_ends() {
        assert_eq!(display_form("ghk_abcdefghijklmnopqrstuvwxyz"), "ghk_abcd…wxyz");
        assert_eq!(display_form("ghk_short"), "…");
    }
}
