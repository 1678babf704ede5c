//! Whole-app tests: each starts Gatehouse in-process on port 0 against a fresh database, and
//! every test runs once on SQLite and once on PostgreSQL.
mod helpers;

mod accounts;
mod admin;
mod audit;
mod gateway;
mod gateway_rules;
mod openapi;
mod servers;
mod signing_keys;
mod tokens;
mod dashboard;
mod operations;
mod usage;
mod sessions;
mod secrets;
mod throttling;
mod forged;
mod headers;
mod late_commits;
