//! A token may be limited to some client addresses: a JSON array of CIDRs (no value: any).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tokens::Table).add_column(text_null(Tokens::AllowedNetworks)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Tokens::Table).drop_column(Tokens::AllowedNetworks).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    AllowedNetworks,
}
