//! What Gatehouse last found when it connected to each server's upstream: up or down, since
//! when, why, and what the upstream offers (its tools, prompts and resources, as JSON). One row
//! per server, written by whichever process checked; `claimed_until` lets one process of many
//! take a periodic check so the others do not repeat it.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerHealth::Table)
                    .col(pk_uuid(ServerHealth::ServerId))
                    // up | down | unchecked (claimed, never checked)
                    .col(string_len(ServerHealth::Status, 12))
                    .col(timestamp_with_time_zone(ServerHealth::CheckedAt))
                    // When the current status began (the first check that found it).
                    .col(timestamp_with_time_zone(ServerHealth::Since))
                    .col(integer(ServerHealth::LatencyMs))
                    .col(string_len_null(ServerHealth::ProblemKind, 32))
                    .col(text_null(ServerHealth::Problem))
                    // The last successful discovery (JSON), kept while the server is down.
                    .col(text_null(ServerHealth::Discovery))
                    .col(timestamp_with_time_zone_null(ServerHealth::ClaimedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ServerHealth::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ServerHealth {
    Table,
    ServerId,
    Status,
    CheckedAt,
    Since,
    LatencyMs,
    ProblemKind,
    Problem,
    Discovery,
    ClaimedUntil,
}
