//! An upstream URL's query can hold a key (`?api_key=…`): it is sealed under the master key in a
//! column of its own, and `upstream_url` keeps the URL with every query value hidden. Rows saved
//! before are sealed by the server at start (a migration has no master key).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Servers::Table).add_column(text_null(Servers::UpstreamQueryCiphertext)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::UpstreamQueryCiphertext).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    UpstreamQueryCiphertext,
}
