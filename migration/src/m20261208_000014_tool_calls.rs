//! The tool-call audit: per server (off unless its owner turns it on), who called which tool
//! when, and the outcome; the arguments only when the owner asks for them.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Servers::Table).add_column(string_len_null(Servers::ToolAudit, 16)).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(ToolCalls::Table)
                    .col(pk_uuid(ToolCalls::Id))
                    .col(uuid(ToolCalls::ServerId))
                    .col(uuid(ToolCalls::TokenId))
                    .col(uuid(ToolCalls::AccountId))
                    .col(string_len(ToolCalls::Tool, 128))
                    .col(timestamp_with_time_zone(ToolCalls::At))
                    .col(string_len(ToolCalls::Outcome, 64))
                    .col(text_null(ToolCalls::Arguments))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("tool_calls_server_id").table(ToolCalls::Table).col(ToolCalls::ServerId).col(ToolCalls::Id).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ToolCalls::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::ToolAudit).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    ToolAudit,
}

#[derive(DeriveIden)]
enum ToolCalls {
    Table,
    Id,
    ServerId,
    TokenId,
    AccountId,
    Tool,
    At,
    Outcome,
    Arguments,
}
