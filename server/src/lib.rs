//! The `gatehouse` server: configuration, startup, REST API, operations endpoints and CLI.
pub mod api;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod db;
pub mod demo_mcp;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod gateway;
pub mod master_key;
pub mod memory;
pub mod metrics;
pub mod oauth;
pub mod ops;
pub mod origin_check;
pub mod panics;
pub mod probe;
pub mod retention;
pub mod serve;
pub mod sessions;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod unread_body;

pub use config::Config;
pub use startup::Application;
