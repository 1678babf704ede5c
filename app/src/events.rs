//! Change events: every change that matters to a gateway's in-memory token view also writes a
//! row here, in the same transaction, so other processes (and this one) can catch up by
//! sequence number.
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QuerySelect};
use tokio::sync::{Notify, watch};

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
    /// An account's memberships (its object id is the account's).
    Membership,
    /// An organisation made, deleted, disabled or enabled.
    Organisation,
}

impl ChangeKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "account" => Some(ChangeKind::Account),
            "signing_key" => Some(ChangeKind::SigningKey),
            "server" => Some(ChangeKind::Server),
            "token" => Some(ChangeKind::Token),
            "membership" => Some(ChangeKind::Membership),
            "organisation" => Some(ChangeKind::Organisation),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Account => "account",
            ChangeKind::SigningKey => "signing_key",
            ChangeKind::Server => "server",
            ChangeKind::Token => "token",
            ChangeKind::Membership => "membership",
            ChangeKind::Organisation => "organisation",
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

/// How this process's change follower and the code making changes meet: a change made here is
/// visible to this process's gateway by the time the request that made it answers.
#[derive(Debug)]
pub struct ChangeFeed {
    wake: Notify,
    applied: watch::Sender<i64>,
    following: AtomicBool,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        Self { wake: Notify::new(), applied: watch::Sender::new(0), following: AtomicBool::new(false) }
    }
}

impl ChangeFeed {
    /// The follower waits on this between polls.
    pub fn wake(&self) -> &Notify {
        &self.wake
    }

    /// The follower says it runs, and how far it has applied.
    pub fn applied_up_to(&self, seq: i64) {
        self.following.store(true, Ordering::Relaxed);
        self.applied.send_if_modified(|current| {
            let newer = seq > *current;
            if newer {
                *current = seq;
            }
            newer
        });
    }

    /// The last sequence number this process's follower has applied (0 before it runs).
    pub fn applied(&self) -> i64 {
        *self.applied.borrow()
    }

    /// Wakes the follower and waits (briefly) until it has applied every change committed so far.
    pub async fn settle(&self, db: &DatabaseConnection) {
        if !self.following.load(Ordering::Relaxed) {
            return;
        }
        let Ok(Some(Some(latest))) =
            entity::Entity::find().select_only().column_as(entity::Column::Seq.max(), "max").into_tuple::<Option<i64>>().one(db).await
        else {
            return;
        };
        self.wake.notify_one();
        let mut applied = self.applied.subscribe();
        // Milliseconds normally; the bound only matters on a starved machine.
        let _ = tokio::time::timeout(Duration::from_secs(5), applied.wait_for(|seq| *seq >= latest)).await;
    }
}

impl ChangeFeed {
    /// Begins a transaction that records changes (see [`begin_write`]).
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        begin_write(db).await
    }

    /// Commits a transaction that recorded changes, then waits until this process's gateway has
    /// applied them.
    pub async fn commit(&self, db: &DatabaseConnection, txn: DatabaseTransaction) -> Result<(), AppError> {
        txn.commit().await?;
        self.settle(db).await;
        Ok(())
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing with
/// "database is locked" when a read transaction tries to become a write one. PostgreSQL
/// ignores the option.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
    db.begin_with_options(options).await
}
