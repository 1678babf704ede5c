//! Organisations (teams): what servers, keys, tokens, API keys, grants, usage and audit belong
//! to, the roles of their members, and the one rule that says who may do what to them.
#[cfg(feature = "ssr")]
pub mod deletion;
pub mod domain;
pub mod functions;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use functions::*;
pub use pages::{JoinPage, MembersPage, OrganisationSwitcher};
