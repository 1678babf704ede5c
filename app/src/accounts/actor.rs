//! Who makes a request: an account, how it proved itself, and where from (what the audit log
//! records).
use super::domain::{AccountId, AccountView};
pub use crate::api_keys::ApiScope;

#[derive(Debug, Clone)]
pub struct Actor {
    pub account: AccountView,
    pub ip: Option<String>,
    pub via: Via,
}

/// The credential behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A login session (the dashboard, or the REST API with the cookie).
    Session,
    /// One of the account's API keys, limited to its scope.
    ApiKey { id: uuid::Uuid, scope: ApiScope },
    /// The `gatehouse` command line, run by whoever may read the database: the operator.
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Session => "session",
            Via::ApiKey { .. } => "api_key",
            Via::Cli => "cli",
        }
    }

    pub fn api_key(self) -> Option<uuid::Uuid> {
        match self {
            Via::ApiKey { id, .. } => Some(id),
            _ => None,
        }
    }

    /// May this credential do what `needed` allows? Sessions and the CLI may do whatever the
    /// account may.
    pub fn allows(self, needed: ApiScope) -> bool {
        match self {
            Via::ApiKey { scope, .. } => scope >= needed,
            Via::Session | Via::Cli => true,
        }
    }
}

impl Actor {
    pub fn account_id(&self) -> AccountId {
        self.account.id
    }

    /// The operator at the command line, acting for `account`.
    pub fn cli(account: AccountView) -> Self {
        Self { account, ip: None, via: Via::Cli }
    }
}
