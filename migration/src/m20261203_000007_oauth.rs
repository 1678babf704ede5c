//! Gatehouse as the OAuth authorization server for its own endpoints (MCP authorization spec):
//! the clients it knows (registered or described by a metadata document), each authorization
//! from request to code to token, and the refresh tokens of each grant, kept only as hashes.
//! A grant is an ordinary token (`tokens.oauth_client_id` says whose), so association, last
//! used, charts and revocation need nothing new. Servers made before this keep today's
//! static-token answers (`oauth_enabled` false): Cursor drops configured headers once a server
//! offers OAuth discovery, so turning it on for them is their owner's choice.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Servers::Table).add_column(boolean(Servers::OauthEnabled).default(false)).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Tokens::Table).add_column(uuid_null(Tokens::OauthClientId)).to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthClients::Table)
                    .col(pk_uuid(OauthClients::Id))
                    // The registered id, or the metadata document's URL.
                    .col(string_len_uniq(OauthClients::ClientId, 2048))
                    .col(string_len(OauthClients::Kind, 24))
                    .col(string_len(OauthClients::Name, 200))
                    // JSON array of strings.
                    .col(text(OauthClients::RedirectUris))
                    .col(string_len(OauthClients::AuthMethod, 32))
                    .col(string_len_null(OauthClients::SecretHash, 64))
                    .col(string_len_null(OauthClients::RegistrationTokenHash, 64))
                    // The client's metadata as registered or last fetched (JSON).
                    .col(text(OauthClients::Metadata))
                    .col(timestamp_with_time_zone(OauthClients::CreatedAt))
                    .col(timestamp_with_time_zone(OauthClients::UpdatedAt))
                    .col(timestamp_with_time_zone_null(OauthClients::ExpiresAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthAuthorizations::Table)
                    .col(pk_uuid(OauthAuthorizations::Id))
                    .col(uuid(OauthAuthorizations::ClientId))
                    .col(string_len(OauthAuthorizations::RedirectUri, 2048))
                    .col(string_len(OauthAuthorizations::CodeChallenge, 128))
                    .col(string_len_null(OauthAuthorizations::State, 2048))
                    .col(string_len(OauthAuthorizations::Scope, 512))
                    .col(string_len(OauthAuthorizations::Resource, 2048))
                    .col(uuid(OauthAuthorizations::ServerId))
                    .col(timestamp_with_time_zone(OauthAuthorizations::CreatedAt))
                    .col(timestamp_with_time_zone(OauthAuthorizations::ExpiresAt))
                    // Set when the owner consents: who, to which servers, until when, and the code.
                    .col(uuid_null(OauthAuthorizations::AccountId))
                    .col(text_null(OauthAuthorizations::ServerIds))
                    .col(timestamp_with_time_zone_null(OauthAuthorizations::GrantExpiresAt))
                    .col(string_len_null(OauthAuthorizations::CodeHash, 64))
                    // Set when the code is exchanged: a second use revokes what the first issued.
                    .col(timestamp_with_time_zone_null(OauthAuthorizations::UsedAt))
                    .col(uuid_null(OauthAuthorizations::TokenId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oauth_authorizations_code")
                    .table(OauthAuthorizations::Table)
                    .col(OauthAuthorizations::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthRefreshTokens::Table)
                    .col(string_len(OauthRefreshTokens::TokenHash, 64).primary_key())
                    .col(uuid(OauthRefreshTokens::TokenId))
                    .col(uuid(OauthRefreshTokens::ClientId))
                    .col(string_len(OauthRefreshTokens::Scope, 512))
                    .col(string_len(OauthRefreshTokens::Resource, 2048))
                    .col(timestamp_with_time_zone(OauthRefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(OauthRefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthRefreshTokens::SpentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthRefreshTokens::Table, OauthRefreshTokens::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oauth_refresh_tokens_token")
                    .table(OauthRefreshTokens::Table)
                    .col(OauthRefreshTokens::TokenId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_tokens_oauth_client").table(Tokens::Table).col(Tokens::OauthClientId).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_tokens_oauth_client").table(Tokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OauthRefreshTokens::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OauthAuthorizations::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OauthClients::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Tokens::Table).drop_column(Tokens::OauthClientId).to_owned()).await?;
        manager.alter_table(Table::alter().table(Servers::Table).drop_column(Servers::OauthEnabled).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    OauthEnabled,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    OauthClientId,
}

#[derive(DeriveIden)]
enum OauthClients {
    Table,
    Id,
    ClientId,
    Kind,
    Name,
    RedirectUris,
    AuthMethod,
    SecretHash,
    RegistrationTokenHash,
    Metadata,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OauthAuthorizations {
    Table,
    Id,
    ClientId,
    RedirectUri,
    CodeChallenge,
    State,
    Scope,
    Resource,
    ServerId,
    CreatedAt,
    ExpiresAt,
    AccountId,
    ServerIds,
    GrantExpiresAt,
    CodeHash,
    UsedAt,
    TokenId,
}

#[derive(DeriveIden)]
enum OauthRefreshTokens {
    Table,
    TokenHash,
    TokenId,
    ClientId,
    Scope,
    Resource,
    CreatedAt,
    ExpiresAt,
    SpentAt,
}
