//! Tokens: bearer JWTs MCP clients present, with status, expiry and server associations.
pub mod domain;
pub mod functions;
pub mod inspect;
pub mod networks;
mod pages;
pub mod refusal;
pub mod snippets;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use inspect::InspectPage;
pub use pages::{NewTokenPage, TokenDetailPage, TokenList, TokensPage};
pub use refusal::Refusal;
