//! Personal API keys: how scripts call the REST API without holding a password. Shown once,
//! kept as a SHA-256 hash, scoped, expiring, revocable; never accepted by the gateway.
pub mod domain;
pub mod functions;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use pages::ApiKeysSection;
