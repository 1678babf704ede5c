//! Usage: requests and refusals per token, server and hour, written in batches by the gateway
//! and drawn as charts on the token and server pages.
pub mod chart;
pub mod domain;
pub mod functions;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
