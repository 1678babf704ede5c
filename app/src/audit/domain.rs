use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntryView {
    pub id: i64,
    /// Who did it; absent for anonymous attempts such as a failed login.
    pub actor_email: Option<String>,
    /// What happened, e.g. `token.revoked`.
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    /// What changed, as the action recorded it.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub detail: serde_json::Value,
    /// The client address the request came from.
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The credential that acted: `session`, `api_key` or `cli` (absent for anonymous
    /// attempts and for records older than this field).
    pub via: Option<String>,
    /// The API key that acted, when `via` is `api_key`.
    pub api_key_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

impl AuditPage {
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 200;
