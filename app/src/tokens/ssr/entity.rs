//! The `tokens` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The member who made it (for an OAuth grant: who consented).
    pub account_id: Uuid,
    pub organisation_id: Uuid,
    pub signing_key_id: Uuid,
    pub description: String,
    pub display: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub last_used_ip: Option<String>,
    pub use_count: i64,
    /// SHA-256 of the token string, hex; absent for tokens made before fingerprints.
    pub fingerprint: Option<String>,
    /// Set for an OAuth grant: the client it was granted to (`oauth_clients.id`).
    pub oauth_client_id: Option<Uuid>,
    /// The client addresses it may be used from: a JSON array of CIDRs (none: any).
    pub allowed_networks: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
