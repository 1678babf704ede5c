//! Servers: the upstream MCP servers an account hosts behind Gatehouse.
pub mod domain;
pub mod functions;
pub mod health;
pub mod health_pages;
#[cfg(feature = "ssr")]
pub mod health_ssr;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod tool_calls_ssr;

pub use domain::*;
pub use pages::{NewServerPage, ServerDetailPage, ServersPage};
