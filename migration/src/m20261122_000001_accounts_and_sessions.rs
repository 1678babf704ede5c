use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(pk_uuid(Accounts::Id))
                    // Stored normalised (lower case), so a plain unique index is case-insensitive.
                    .col(string_len_uniq(Accounts::Email, 254))
                    .col(string(Accounts::PasswordHash))
                    .col(string_len(Accounts::Role, 16))
                    .col(string_len(Accounts::Status, 16))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .to_owned(),
            )
            .await?;

        // One row per claim that may be made only once, e.g. "first account is admin":
        // the primary key settles races between concurrent sign-ups on both engines.
        manager
            .create_table(
                Table::create()
                    .table(InstanceClaims::Table)
                    .col(string_len(InstanceClaims::Name, 64).primary_key())
                    .col(uuid(InstanceClaims::AccountId))
                    .col(timestamp_with_time_zone(InstanceClaims::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(text(Sessions::Data))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_sessions_expires_at").table(Sessions::Table).col(Sessions::ExpiresAt).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(InstanceClaims::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Accounts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InstanceClaims {
    Table,
    Name,
    AccountId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Data,
    ExpiresAt,
}
