//! `gatehouse account …`
use app::{
    accounts::{
        AccountStatus, AccountView, NewAccount, Role,
        actor::Actor,
        ssr::{self, Admission},
    },
    state::AppState,
};

use super::{
    AccountCommand, CliError,
    output::{Output, table, when},
    prompt,
};

/// The account with `email`, or bad input that says how to find one.
pub async fn by_email(state: &AppState, email: &str) -> Result<AccountView, CliError> {
    ssr::find_by_email(&state.db, email)
        .await?
        .ok_or_else(|| CliError::bad_input(format!("No account has the email \"{}\". `gatehouse account list` shows them.", email.trim())))
}

/// The account with `email`, or every account (oldest first) when none is given.
pub async fn accounts_or_all(state: &AppState, email: Option<String>) -> Result<Vec<AccountView>, CliError> {
    match email {
        Some(email) => Ok(vec![by_email(state, &email).await?]),
        None => Ok(ssr::list_accounts(&state.db).await?),
    }
}

/// An object with its owner's email, for output that spans accounts.
#[derive(serde::Serialize)]
pub struct Owned<T> {
    pub account: String,
    #[serde(flatten)]
    pub item: T,
}

impl<T> Owned<T> {
    pub fn by(owner: &AccountView, item: T) -> Self {
        Self { account: owner.email.to_string(), item }
    }
}

/// The operator acting for the account with `email`, within its personal organisation.
pub async fn actor_for(state: &AppState, email: &str) -> Result<Actor, CliError> {
    Ok(Actor::cli_personal(by_email(state, email).await?))
}

pub async fn run(command: AccountCommand, state: &AppState, out: &Output) -> Result<(), CliError> {
    match command {
        AccountCommand::Create { email, password_stdin, admin } => {
            let email = prompt::required(email, "--email", "Email")?;
            let password = prompt::new_password(password_stdin)?;
            let new = NewAccount::parse(&email, password)?;
            let mut account = ssr::register(state, new, None, Admission::Operator).await?;
            if admin && !account.is_admin() {
                account = ssr::set_role(state, &Actor::cli_personal(account.clone()), account.id, Role::Admin).await?;
            }
            out.print(&account, || format!("Created {} ({}), id {}", account.email, account.role.as_str(), account.id));
        }
        AccountCommand::List => {
            let accounts = ssr::list_accounts(&state.db).await?;
            out.print(&accounts, || {
                let rows = accounts
                    .iter()
                    .map(|a| {
                        vec![
                            a.email.to_string(),
                            a.role.as_str().into(),
                            a.status.as_str().into(),
                            when(Some(a.created_at), ""),
                            a.id.to_string(),
                        ]
                    })
                    .collect();
                table(&["EMAIL", "ROLE", "STATUS", "CREATED", "ID"], rows, "No accounts yet. Make one with `gatehouse account create`.")
            });
        }
        AccountCommand::Disable { email } => status(state, out, &email, AccountStatus::Disabled).await?,
        AccountCommand::Enable { email } => status(state, out, &email, AccountStatus::Active).await?,
        AccountCommand::SetRole { email, role } => {
            let actor = actor_for(state, &email).await?;
            let role = Role::parse(&role).ok_or_else(|| CliError::bad_input("The role must be admin or user."))?;
            let account = ssr::set_role(state, &actor, actor.account_id(), role).await?;
            out.print(&account, || format!("{} is now {}", account.email, account.role.as_str()));
        }
        AccountCommand::Invite { expires } => {
            let expires_at = ssr::invites::expires_at(&expires).map_err(CliError::bad_input)?;
            let admin = first_admin(state).await?;
            let invite = ssr::invites::create(state, &Actor::cli_personal(admin), expires_at).await?;
            out.print(&invite, || format!("{}\n(one use, until {})", invite.url, when(Some(invite.expires_at), "")));
        }
    }
    Ok(())
}

async fn status(state: &AppState, out: &Output, email: &str, status: AccountStatus) -> Result<(), CliError> {
    let actor = actor_for(state, email).await?;
    let account = ssr::set_status(state, &actor, actor.account_id(), status).await?;
    out.print(&account, || format!("{} is {}", account.email, account.status.as_str()));
    Ok(())
}

/// Invites are recorded as made by an admin: the operator acts as the oldest one.
async fn first_admin(state: &AppState) -> Result<AccountView, CliError> {
    ssr::list_accounts(&state.db)
        .await?
        .into_iter()
        .find(AccountView::is_admin)
        .ok_or_else(|| CliError::bad_input("There is no admin yet: the first account signs up without an invite."))
}
