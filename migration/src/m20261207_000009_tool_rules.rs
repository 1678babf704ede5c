//! A token may be limited to some tools of a server: the rule lives on the link between them
//! (no value: every tool; `read-only`; or a JSON array of tool names).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(TokenServers::Table).add_column(text_null(TokenServers::ToolRule)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(TokenServers::Table).drop_column(TokenServers::ToolRule).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum TokenServers {
    Table,
    ToolRule,
}
