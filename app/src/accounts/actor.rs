//! Who makes a request: a signed-in account, and where from (what the audit log records).
use super::domain::{AccountId, AccountView};

#[derive(Debug, Clone)]
pub struct Actor {
    pub account: AccountView,
    pub ip: Option<String>,
}

impl Actor {
    pub fn account_id(&self) -> AccountId {
        self.account.id
    }
}
