//! Organisations own servers, signing keys, tokens, API keys and audit; accounts belong to them
//! as members with a role. Every account gets a personal organisation whose id is the account's
//! own id: every existing row moves to it by copying `account_id`, and the tokens already handed
//! out (whose `sub` is that id) keep verifying unchanged. `account_id` stays on each row as the
//! member who made it.
//!
//! The new `organisation_id` columns are added nullable: SQLite cannot add a column that both
//! references another table and is `NOT NULL`. The backfill leaves no row without one, every
//! insert sets it, and on PostgreSQL the column is made `NOT NULL` as well.
use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DbBackend},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows move from an account to its personal organisation.
const OWNED: [&str; 5] = ["servers", "signing_keys", "tokens", "api_keys", "audit_events"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organisations::Table)
                    .col(pk_uuid(Organisations::Id))
                    .col(string_len(Organisations::Name, 80))
                    // Made with its account; never deleted while the account exists.
                    .col(boolean(Organisations::Personal).default(false))
                    .col(timestamp_with_time_zone(Organisations::CreatedAt))
                    // Set by the instance admin: every token of it is refused until enabled.
                    .col(timestamp_with_time_zone_null(Organisations::DisabledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(uuid(Memberships::OrganisationId))
                    .col(uuid(Memberships::AccountId))
                    .col(string_len(Memberships::Role, 16))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .primary_key(Index::create().col(Memberships::OrganisationId).col(Memberships::AccountId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::OrganisationId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::AccountId)
                            .to(Accounts::Table, Accounts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_memberships_account").table(Memberships::Table).col(Memberships::AccountId).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(pk_uuid(Invitations::Id))
                    .col(uuid(Invitations::OrganisationId))
                    .col(string_len(Invitations::Role, 16))
                    // When set, only the account with this email may accept.
                    .col(string_len_null(Invitations::Email, 254))
                    .col(string_len_uniq(Invitations::CodeHash, 64))
                    .col(uuid(Invitations::InvitedBy))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invitations::UsedAt))
                    .col(uuid_null(Invitations::UsedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invitations::Table, Invitations::OrganisationId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        // Personal organisations, named after their account's email (cut to the 80 characters a
        // name may have; the owner can rename it), each with its account as owner.
        db.execute_unprepared(
            "INSERT INTO organisations (id, name, personal, created_at) SELECT id, substr(email, 1, 80), true, created_at FROM accounts",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO memberships (organisation_id, account_id, role, created_at) SELECT id, id, 'owner', created_at FROM accounts",
        )
        .await?;
        let uuid_type = if postgres { "uuid" } else { "uuid_text" };
        for table in OWNED {
            // Audit rows outlive nothing: an organisation's log goes with it.
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN organisation_id {uuid_type} REFERENCES organisations (id) ON DELETE CASCADE"
            ))
            .await?;
            db.execute_unprepared(&format!("UPDATE {table} SET organisation_id = account_id")).await?;
            if postgres && table != "audit_events" {
                db.execute_unprepared(&format!("ALTER TABLE {table} ALTER COLUMN organisation_id SET NOT NULL")).await?;
            }
        }
        // Audit rows of the instance (no account) stay without an organisation.
        // Names are unique per organisation now, and one key is active per organisation.
        manager.drop_index(Index::drop().name("idx_servers_account_name").table(Servers::Table).to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_servers_organisation_name")
                    .table(Servers::Table)
                    .col(Servers::OrganisationId)
                    .col(Servers::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager.drop_index(Index::drop().name("idx_signing_keys_one_active").table(SigningKeys::Table).to_owned()).await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_signing_keys_one_active_per_organisation ON signing_keys (organisation_id) WHERE state = 'active'",
        )
        .await?;
        manager
            .create_index(Index::create().name("idx_tokens_organisation").table(Tokens::Table).col(Tokens::OrganisationId).to_owned())
            .await?;
        manager
            .create_index(Index::create().name("idx_api_keys_organisation").table(ApiKeys::Table).col(ApiKeys::OrganisationId).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_organisation")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrganisationId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            // SQLite cannot drop a column that references another table.
            return Err(DbErr::Migration("organisations cannot be undone on SQLite: restore the backup taken before upgrading".into()));
        }
        for index in ["idx_audit_events_organisation", "idx_api_keys_organisation", "idx_tokens_organisation"] {
            db.execute_unprepared(&format!("DROP INDEX {index}")).await?;
        }
        db.execute_unprepared("DROP INDEX idx_signing_keys_one_active_per_organisation").await?;
        db.execute_unprepared("CREATE UNIQUE INDEX idx_signing_keys_one_active ON signing_keys (account_id) WHERE state = 'active'")
            .await?;
        db.execute_unprepared("DROP INDEX idx_servers_organisation_name").await?;
        db.execute_unprepared("CREATE UNIQUE INDEX idx_servers_account_name ON servers (account_id, name)").await?;
        for table in OWNED {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN organisation_id")).await?;
        }
        for table in [Invitations::Table.into_iden(), Memberships::Table.into_iden(), Organisations::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    Personal,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    OrganisationId,
    AccountId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrganisationId,
    Role,
    Email,
    CodeHash,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    UsedBy,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Servers {
    Table,
    OrganisationId,
    Name,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    OrganisationId,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    OrganisationId,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    OrganisationId,
    Id,
}
