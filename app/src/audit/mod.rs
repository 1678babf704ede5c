//! The audit log: who changed what, when, from where.
pub mod domain;
pub mod functions;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

pub use domain::*;
pub use pages::AuditPage;
