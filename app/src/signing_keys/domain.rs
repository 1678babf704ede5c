use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum KeyState {
    /// Signs new tokens, and verifies them.
    Active,
    /// Replaced by a newer key; still verifies the tokens it signed.
    Retired,
    /// Verifies nothing: every token it signed stopped working.
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(KeyState::Active),
            "retired" => Some(KeyState::Retired),
            "revoked" => Some(KeyState::Revoked),
            _ => None,
        }
    }
}

/// What the owner sees of a signing key. The secret itself never leaves the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SigningKeyView {
    /// The JWT `kid` of the tokens it signs.
    pub id: Uuid,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Tokens this key signed, in any state.
    pub tokens_signed: u64,
    /// Of those, the ones that still work (not revoked, not expired).
    pub live_tokens: u64,
}
