//! Tools of an upstream server, and the rules that limit which of them a token may call.
mod domain;

pub use domain::*;
