//! Identity for upstreams: the deployment's Ed25519 keys that sign the assertions Gatehouse
//! sends upstream (published at `/.well-known/jwks.json`), and per server the header that
//! carries them (no value: the upstream is not told who is calling).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdentityKeys::Table)
                    // The JWK's `kid`.
                    .col(pk_uuid(IdentityKeys::Id))
                    // The 32-byte Ed25519 seed, sealed with the master key.
                    .col(text(IdentityKeys::PrivateKeyCiphertext))
                    // The public key, base64url (the JWK's `x`).
                    .col(string_len(IdentityKeys::PublicKey, 64))
                    .col(timestamp_with_time_zone(IdentityKeys::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table(Servers::Table).add_column(string_len_null(Servers::IdentityHeader, 100)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::IdentityHeader).to_owned()).await?;
        manager.drop_table(Table::drop().table(IdentityKeys::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum IdentityKeys {
    Table,
    Id,
    PrivateKeyCiphertext,
    PublicKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    IdentityHeader,
}
