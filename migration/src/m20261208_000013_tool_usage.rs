//! Calls by tool: per token, server, tool and UTC day, how many `tools/call` requests the
//! gateway let through and how many it refused (the token's tool rule).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ToolUsage::Table)
                    .col(uuid(ToolUsage::TokenId))
                    .col(uuid(ToolUsage::ServerId))
                    .col(string_len(ToolUsage::Tool, 128))
                    .col(timestamp_with_time_zone(ToolUsage::Day))
                    .col(big_integer(ToolUsage::Calls))
                    .col(big_integer(ToolUsage::Refusals))
                    .primary_key(Index::create().col(ToolUsage::TokenId).col(ToolUsage::ServerId).col(ToolUsage::Tool).col(ToolUsage::Day))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tool_usage_server_day")
                    .table(ToolUsage::Table)
                    .col(ToolUsage::ServerId)
                    .col(ToolUsage::Day)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ToolUsage::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ToolUsage {
    Table,
    TokenId,
    ServerId,
    Tool,
    Day,
    Calls,
    Refusals,
}
