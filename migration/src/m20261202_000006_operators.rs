//! What operators need to run Gatehouse without a browser: a fingerprint per token (the
//! SHA-256 of the token string, never the string), personal API keys for the REST API, invite
//! links for sign-up, and which credential acted in the audit log.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Tokens made before this migration have no fingerprint until the gateway next sees
        // them (the string itself was never kept).
        manager.alter_table(Table::alter().table(Tokens::Table).add_column(string_len_null(Tokens::Fingerprint, 64)).to_owned()).await?;
        manager
            .create_index(Index::create().name("idx_tokens_fingerprint").table(Tokens::Table).col(Tokens::Fingerprint).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(pk_uuid(ApiKeys::Id))
                    .col(uuid(ApiKeys::AccountId))
                    .col(string_len(ApiKeys::Description, 200))
                    .col(string_len(ApiKeys::Scope, 16))
                    .col(string_len_uniq(ApiKeys::KeyHash, 64))
                    .col(string_len(ApiKeys::Display, 32))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(string_len_null(ApiKeys::LastUsedIp, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("idx_api_keys_account").table(ApiKeys::Table).col(ApiKeys::AccountId).to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(Invites::Table)
                    .col(pk_uuid(Invites::Id))
                    .col(string_len_uniq(Invites::CodeHash, 64))
                    .col(uuid_null(Invites::CreatedBy))
                    .col(timestamp_with_time_zone(Invites::CreatedAt))
                    .col(timestamp_with_time_zone(Invites::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invites::UsedAt))
                    .col(uuid_null(Invites::UsedBy))
                    .to_owned(),
            )
            .await?;

        // `session`, `api_key` or `cli`; null for rows written before.
        manager.alter_table(Table::alter().table(AuditEvents::Table).add_column(string_len_null(AuditEvents::Via, 16)).to_owned()).await?;
        manager.alter_table(Table::alter().table(AuditEvents::Table).add_column(uuid_null(AuditEvents::ApiKeyId)).to_owned()).await?;
        // Retention deletes by age.
        manager
            .create_index(Index::create().name("idx_audit_events_created").table(AuditEvents::Table).col(AuditEvents::CreatedAt).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_audit_events_created").table(AuditEvents::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(AuditEvents::Table).drop_column(AuditEvents::ApiKeyId).to_owned()).await?;
        manager.alter_table(Table::alter().table(AuditEvents::Table).drop_column(AuditEvents::Via).to_owned()).await?;
        manager.drop_table(Table::drop().table(Invites::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_tokens_fingerprint").table(Tokens::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Tokens::Table).drop_column(Tokens::Fingerprint).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Fingerprint,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    AccountId,
    Description,
    Scope,
    KeyHash,
    Display,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    LastUsedIp,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    CodeHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedBy,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    CreatedAt,
    Via,
    ApiKeyId,
}
