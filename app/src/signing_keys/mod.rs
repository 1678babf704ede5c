//! Signing keys: the per-account HS256 secrets tokens are signed with.
pub mod domain;
pub mod functions;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use pages::SigningKeyPage;
