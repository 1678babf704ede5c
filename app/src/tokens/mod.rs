//! Tokens: bearer JWTs MCP clients present, with status, expiry and server associations.
pub mod domain;
pub mod functions;
mod pages;
pub mod snippets;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use pages::{NewTokenPage, TokenDetailPage, TokenList, TokensPage};
