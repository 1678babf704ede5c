//! Usage: requests and refusals per token, server and hour, written in batches by the gateway.
#[cfg(feature = "ssr")]
pub mod ssr {
    pub mod buckets {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "usage_buckets")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub token_id: Uuid,
            #[sea_orm(primary_key, auto_increment = false)]
            pub server_id: Uuid,
            #[sea_orm(primary_key, auto_increment = false)]
            pub hour: DateTimeUtc,
            pub requests: i64,
            pub refusals: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod refusals {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "refusal_buckets")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub server_id: Uuid,
            #[sea_orm(primary_key, auto_increment = false)]
            pub hour: DateTimeUtc,
            #[sea_orm(primary_key, auto_increment = false)]
            pub reason: String,
            pub count: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}
