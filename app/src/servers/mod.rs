//! Servers: the upstream MCP servers an account hosts behind Gatehouse.
pub mod domain;
pub mod functions;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use pages::{NewServerPage, ServerDetailPage, ServersPage};
