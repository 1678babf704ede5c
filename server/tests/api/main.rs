//! Whole-app tests: each starts Gatehouse in-process on port 0 against a fresh database, and
//! every test runs once on SQLite and once on PostgreSQL.
mod helpers;

mod accounts;
mod admin;
mod audit;
mod dashboard;
mod forged;
mod gateway;
mod gateway_rules;
mod headers;
mod health;
mod identity;
mod late_commits;
mod migration;
mod networks;
mod oauth;
mod openapi;
mod operations;
mod operators;
mod organisation_functions;
mod organisations;
mod secrets;
mod servers;
mod sessions;
mod signing_keys;
mod throttling;
mod tokens;
mod tool_audit;
mod tool_rules;
mod usage;
