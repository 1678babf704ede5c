//! The OAuth tables (migration `m20261203_000007_oauth`).

pub mod clients {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The registered id, or the metadata document's URL.
        pub client_id: String,
        /// `registered` or `metadata_document`.
        pub kind: String,
        pub name: String,
        /// JSON array of strings.
        pub redirect_uris: String,
        /// `none`, `client_secret_post` or `client_secret_basic`.
        pub auth_method: String,
        pub secret_hash: Option<String>,
        pub registration_token_hash: Option<String>,
        pub metadata: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod authorizations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_authorizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// `oauth_clients.id`.
        pub client_id: Uuid,
        pub redirect_uri: String,
        pub code_challenge: String,
        pub state: Option<String>,
        pub scope: String,
        pub resource: String,
        pub server_id: Uuid,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub account_id: Option<Uuid>,
        /// JSON array of server ids.
        pub server_ids: Option<String>,
        pub grant_expires_at: Option<DateTimeUtc>,
        pub code_hash: Option<String>,
        pub used_at: Option<DateTimeUtc>,
        pub token_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_tokens {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "oauth_refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        /// The grant: `tokens.id`.
        pub token_id: Uuid,
        /// `oauth_clients.id`.
        pub client_id: Uuid,
        pub scope: String,
        pub resource: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub spent_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
