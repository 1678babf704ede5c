//! Servers, signing keys, tokens and their associations, the audit log, and the change
//! events that keep every process's token view fresh.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Bumped when a password changes: sessions from before then stop working.
        manager
            .alter_table(Table::alter().table(Accounts::Table).add_column(integer(Accounts::SessionEpoch).default(0)).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(pk_uuid(SigningKeys::Id))
                    .col(uuid(SigningKeys::AccountId))
                    .col(text(SigningKeys::SecretCiphertext))
                    .col(string_len(SigningKeys::State, 16))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SigningKeys::Table, SigningKeys::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_signing_keys_account", SigningKeys::Table, &[SigningKeys::AccountId]).await?;
        // At most one active key per account, enforced by the database on both engines.
        manager
            .get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX idx_signing_keys_one_active ON signing_keys (account_id) WHERE state = 'active'")
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Servers::Table)
                    .col(pk_uuid(Servers::Id))
                    .col(uuid(Servers::AccountId))
                    .col(string_len(Servers::Name, 64))
                    .col(text(Servers::UpstreamUrl))
                    .col(string_len(Servers::Transport, 32))
                    .col(boolean(Servers::RequireToken).default(true))
                    .col(text(Servers::UpstreamHeaderNames))
                    .col(text_null(Servers::UpstreamHeadersCiphertext))
                    .col(timestamp_with_time_zone(Servers::CreatedAt))
                    .col(timestamp_with_time_zone(Servers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Servers::Table, Servers::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_servers_account_name")
                    .table(Servers::Table)
                    .col(Servers::AccountId)
                    .col(Servers::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(pk_uuid(Tokens::Id))
                    .col(uuid(Tokens::AccountId))
                    .col(uuid(Tokens::SigningKeyId))
                    .col(string_len(Tokens::Description, 200))
                    .col(string_len(Tokens::Display, 32))
                    .col(timestamp_with_time_zone(Tokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(Tokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Tokens::RevokedAt))
                    .col(timestamp_with_time_zone_null(Tokens::LastUsedAt))
                    .col(string_len_null(Tokens::LastUsedIp, 64))
                    .col(big_integer(Tokens::UseCount).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tokens::Table, Tokens::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tokens::Table, Tokens::SigningKeyId)
                            .to(SigningKeys::Table, SigningKeys::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_tokens_account", Tokens::Table, &[Tokens::AccountId]).await?;
        index(manager, "idx_tokens_signing_key", Tokens::Table, &[Tokens::SigningKeyId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenServers::Table)
                    .col(uuid(TokenServers::TokenId))
                    .col(uuid(TokenServers::ServerId))
                    .col(timestamp_with_time_zone(TokenServers::CreatedAt))
                    .primary_key(Index::create().col(TokenServers::TokenId).col(TokenServers::ServerId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenServers::Table, TokenServers::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenServers::Table, TokenServers::ServerId)
                            .to(Servers::Table, Servers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_token_servers_server", TokenServers::Table, &[TokenServers::ServerId]).await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(uuid_null(AuditEvents::AccountId))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::ObjectType, 32))
                    .col(string_len_null(AuditEvents::ObjectId, 64))
                    .col(text(AuditEvents::Detail))
                    .col(string_len_null(AuditEvents::Ip, 64))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        index(manager, "idx_audit_events_account", AuditEvents::Table, &[AuditEvents::AccountId, AuditEvents::Id]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Seq))
                    .col(string_len(Events::Kind, 32))
                    .col(string_len(Events::ObjectId, 64))
                    .col(timestamp_with_time_zone(Events::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Events::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            TokenServers::Table.into_iden(),
            Tokens::Table.into_iden(),
            Servers::Table.into_iden(),
            SigningKeys::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table(Accounts::Table).drop_column(Accounts::SessionEpoch).to_owned()).await
    }
}

async fn index<T: Iden + Copy + 'static, C: Iden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(*column);
    }
    manager.create_index(index.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Accounts {
    Table,
    Id,
    SessionEpoch,
}

#[derive(DeriveIden, Clone, Copy)]
enum SigningKeys {
    Table,
    Id,
    AccountId,
    SecretCiphertext,
    State,
    CreatedAt,
    RetiredAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Servers {
    Table,
    Id,
    AccountId,
    Name,
    UpstreamUrl,
    Transport,
    RequireToken,
    UpstreamHeaderNames,
    UpstreamHeadersCiphertext,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tokens {
    Table,
    Id,
    AccountId,
    SigningKeyId,
    Description,
    Display,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
    LastUsedIp,
    UseCount,
}

#[derive(DeriveIden, Clone, Copy)]
enum TokenServers {
    Table,
    TokenId,
    ServerId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    AccountId,
    ActorId,
    Action,
    ObjectType,
    ObjectId,
    Detail,
    Ip,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Seq,
    Kind,
    ObjectId,
    CreatedAt,
}
