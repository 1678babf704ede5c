//! Change events: every change that matters to a gateway's in-memory token view also writes a
//! row here, in the same transaction, so other processes (and this one) can catch up by
//! sequence number.
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::error::AppError;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub kind: String,
        pub object_id: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Account,
    SigningKey,
    Server,
    Token,
}

impl ChangeKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "account" => Some(ChangeKind::Account),
            "signing_key" => Some(ChangeKind::SigningKey),
            "server" => Some(ChangeKind::Server),
            "token" => Some(ChangeKind::Token),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Account => "account",
            ChangeKind::SigningKey => "signing_key",
            ChangeKind::Server => "server",
            ChangeKind::Token => "token",
        }
    }
}

pub async fn record_change(db: &impl ConnectionTrait, kind: ChangeKind, object_id: impl ToString) -> Result<(), AppError> {
    entity::Entity::insert(entity::ActiveModel {
        kind: Set(kind.as_str().into()),
        object_id: Set(object_id.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // Delivered at commit: wakes every process listening, at once.
        db.execute_unprepared(&format!("NOTIFY {NOTIFY_CHANNEL}")).await?;
    }
    Ok(())
}

/// The PostgreSQL channel change events are announced on.
pub const NOTIFY_CHANNEL: &str = "gatehouse_events";
