//! Gatehouse as the OAuth authorization server for its own endpoints (MCP authorization spec
//! 2026-07-28): the consent page, Connected apps, and the grants behind them, which are
//! ordinary tokens. The HTTP endpoints (metadata, authorize, token, register, revoke) are the
//! server crate's `oauth` module.
pub mod domain;
pub mod functions;
pub mod help;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use help::ConnectClients;
pub use pages::{ConnectedAppsPage, ConsentPage, OAuthClientsSection};
