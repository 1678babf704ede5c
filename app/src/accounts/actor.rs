//! Who makes a request: an account, how it proved itself, where from (what the audit log
//! records), and the organisation it acts within.
use super::domain::{AccountId, AccountView};
pub use crate::api_keys::ApiScope;
use crate::error::{AppError, ErrorCode};
use crate::organisations::{Action, Denied, OrganisationId, Role, Standing, Whose, decide};

#[derive(Debug, Clone)]
pub struct Actor {
    pub account: AccountView,
    pub ip: Option<String>,
    pub via: Via,
    pub within: Within,
}

/// The organisation a request acts within, and the actor's role there, read for this request
/// (a role changed since applies to the next request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Within {
    pub organisation: OrganisationId,
    /// `None`: not a member (everything is answered 404, but the instance admin's reads).
    pub role: Option<Role>,
}

impl Within {
    /// The account's personal organisation, which it always owns.
    pub fn personal(account: &AccountView) -> Self {
        Self { organisation: OrganisationId(account.id.0), role: Some(Role::Owner) }
    }
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

    /// The operator at the command line, acting for `account` within `within`.
    pub fn cli(account: AccountView, within: Within) -> Self {
        Self { account, ip: None, via: Via::Cli, within }
    }

    /// The operator at the command line, acting for `account` within its personal organisation.
    pub fn cli_personal(account: AccountView) -> Self {
        let within = Within::personal(&account);
        Self::cli(account, within)
    }

    pub fn organisation(&self) -> OrganisationId {
        self.within.organisation
    }

    pub fn standing(&self) -> Standing {
        Standing { role: self.within.role, instance_admin: self.account.is_admin() }
    }

    /// The one authorization rule ([`decide`]) for this actor: the organisation to act on, or
    /// 404 (not a member: nothing is learnt) or 403 (a member whose role does not allow it).
    pub fn may(&self, action: Action) -> Result<OrganisationId, AppError> {
        match decide(self.standing(), action) {
            Ok(()) => Ok(self.within.organisation),
            Err(Denied::Hidden) => Err(AppError::not_found("organisation")),
            Err(Denied::Forbidden { needs }) => Err(AppError::new(
                ErrorCode::Forbidden,
                format!("Your role in this organisation does not allow that; it needs {} or above.", needs.as_str()),
            )),
        }
    }

    /// Whose a token made by `maker` is, seen from this actor.
    pub fn whose(&self, maker: uuid::Uuid) -> Whose {
        if maker == self.account.id.0 { Whose::Own } else { Whose::Another }
    }

    /// May this actor see, and then do `change` to, a token `maker` made? A token it may not
    /// see is 404, like one that does not exist.
    pub fn may_token(&self, maker: uuid::Uuid, change: bool) -> Result<OrganisationId, AppError> {
        let whose = self.whose(maker);
        self.may(Action::ReadToken(whose)).map_err(|_| AppError::not_found("token"))?;
        if change { self.may(Action::ChangeToken(whose)) } else { Ok(self.within.organisation) }
    }
}
