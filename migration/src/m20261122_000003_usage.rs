//! Usage buckets for charts: requests and refusals per token, server and hour, and refusals by
//! reason per server (tokens that cannot be told apart are counted there).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UsageBuckets::Table)
                    .col(uuid(UsageBuckets::TokenId))
                    .col(uuid(UsageBuckets::ServerId))
                    .col(timestamp_with_time_zone(UsageBuckets::Hour))
                    .col(big_integer(UsageBuckets::Requests).default(0))
                    .col(big_integer(UsageBuckets::Refusals).default(0))
                    .primary_key(Index::create().col(UsageBuckets::TokenId).col(UsageBuckets::ServerId).col(UsageBuckets::Hour))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UsageBuckets::Table, UsageBuckets::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_usage_buckets_server_hour")
                    .table(UsageBuckets::Table)
                    .col(UsageBuckets::ServerId)
                    .col(UsageBuckets::Hour)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefusalBuckets::Table)
                    .col(uuid(RefusalBuckets::ServerId))
                    .col(timestamp_with_time_zone(RefusalBuckets::Hour))
                    .col(string_len(RefusalBuckets::Reason, 32))
                    .col(big_integer(RefusalBuckets::Count).default(0))
                    .primary_key(Index::create().col(RefusalBuckets::ServerId).col(RefusalBuckets::Hour).col(RefusalBuckets::Reason))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RefusalBuckets::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(UsageBuckets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UsageBuckets {
    Table,
    TokenId,
    ServerId,
    Hour,
    Requests,
    Refusals,
}

#[derive(DeriveIden)]
enum RefusalBuckets {
    Table,
    ServerId,
    Hour,
    Reason,
    Count,
}
