//! Schema migrations. Every migration runs on SQLite and PostgreSQL; the server applies
//! pending ones at start and `gatehouse migrate` applies them on demand.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_accounts_and_sessions;
mod m20261122_000002_management;
mod m20261122_000003_usage;
mod m20261122_000004_login_throttles;
mod m20261201_000005_upstream_query;
mod m20261202_000006_operators;
mod m20261203_000007_oauth;
mod m20261204_000008_organisations;
mod m20261207_000009_tool_rules;
mod m20261208_000010_server_health;
mod m20261208_000011_identity;
mod m20261208_000012_token_networks;
mod m20261208_000013_tool_usage;
mod m20261208_000014_tool_calls;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts_and_sessions::Migration),
            Box::new(m20261122_000002_management::Migration),
            Box::new(m20261122_000003_usage::Migration),
            Box::new(m20261122_000004_login_throttles::Migration),
            Box::new(m20261201_000005_upstream_query::Migration),
            Box::new(m20261202_000006_operators::Migration),
            Box::new(m20261203_000007_oauth::Migration),
            Box::new(m20261204_000008_organisations::Migration),
            Box::new(m20261207_000009_tool_rules::Migration),
            Box::new(m20261208_000010_server_health::Migration),
            Box::new(m20261208_000011_identity::Migration),
            Box::new(m20261208_000012_token_networks::Migration),
            Box::new(m20261208_000013_tool_usage::Migration),
            Box::new(m20261208_000014_tool_calls::Migration),
        ]
    }
}
