//! Server functions behind the account pages. Each works as a plain form POST too.
use leptos::prelude::*;

use super::domain::AccountView;
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::request_ip;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::{app_state, request_session, with_status};

#[server(prefix = "/rpc", endpoint = "register")]
pub async fn register(email: String, password: String, next: Option<String>, invite: Option<String>) -> Result<(), AppError> {
    with_status(
        async move {
            let new = super::NewAccount::parse(&email, password)?;
            let state = app_state();
            let admission = super::ssr::Admission::Public { invite: invite.as_deref() };
            // An organisation's invitation: the new account starts out in the organisation it joined.
            let joins = match invite.as_deref().filter(|c| crate::organisations::ssr::is_invitation(c)) {
                Some(code) => Some(crate::organisations::ssr::offer(&state.db, code).await?.0.organisation_id),
                None => None,
            };
            let account = super::ssr::register(&state, new, request_ip(), admission).await?;
            let session = request_session().await?;
            super::ssr::start_session(&session, account.id, 0).await?;
            if let Some(organisation) = joins {
                let organisation = crate::organisations::OrganisationId(organisation);
                crate::accounts::ssr::sign_in::choose_organisation(&state, &session, &account, organisation).await?;
            }
            remember_device(&state, account.email.as_str(), None)?;
            leptos_axum::redirect(&super::safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    with_status(
        async move {
            super::check_login_fields(&email, &password)?;
            let state = app_state();
            let parts = use_context::<http::request::Parts>();
            let cookies = parts.as_ref().and_then(|p| p.headers.get(http::header::COOKIE));
            let device = super::ssr::device::recognised(&state, cookies, &email);
            let (account, epoch) = super::ssr::authenticate(&state, &email, &password, request_ip(), device.clone()).await?;
            super::ssr::start_session(&request_session().await?, account.id, epoch).await?;
            remember_device(&state, &email, device)?;
            leptos_axum::redirect(&super::safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    with_status(
        async move {
            super::ssr::end_session(&request_session().await?).await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// The signed-in account, or `None` when logged out.
#[server(prefix = "/rpc", endpoint = "current_account")]
pub async fn current_account() -> Result<Option<AccountView>, AppError> {
    with_status(super::ssr::session_account(&app_state(), &request_session().await?).await)
}

#[server(prefix = "/rpc", endpoint = "list_accounts")]
pub async fn list_accounts() -> Result<Vec<AccountView>, AppError> {
    with_status(
        async move {
            let (state, actor) = crate::accounts::ssr::sign_in::require_actor().await?;
            actor.admin()?;
            super::ssr::list_accounts(&state.db).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    with_status(
        async move {
            let (state, actor) = crate::accounts::ssr::sign_in::require_actor().await?;
            super::ssr::change_password(&state, &actor, &request_session().await?, &current_password, new_password).await
        }
        .await,
    )
}

/// Admins: disable (`disabled`) or enable (`active`) an account, or set its role.
#[server(prefix = "/rpc", endpoint = "update_account")]
pub async fn update_account(id: super::AccountId, status: Option<String>, role: Option<String>) -> Result<AccountView, AppError> {
    with_status(
        async move {
            let (state, actor) = crate::accounts::ssr::sign_in::require_actor().await?;
            let admin = actor.admin()?;
            let bad = |what: &str| AppError::new(crate::error::ErrorCode::InvalidInput, format!("Unknown {what}."));
            let status = status.map(|s| super::AccountStatus::parse(&s).ok_or_else(|| bad("status"))).transpose()?;
            let role = role.map(|r| super::Role::parse(&r).ok_or_else(|| bad("role"))).transpose()?;
            super::ssr::update_account(&state, &admin, id, status, role).await
        }
        .await,
    )
}

/// Admins: a one-use sign-up link that works for `expires` (a duration such as `7d`).
#[server(prefix = "/rpc", endpoint = "create_invite")]
pub async fn create_invite(expires: String) -> Result<super::domain::CreatedInvite, AppError> {
    with_status(
        async move {
            let (state, actor) = crate::accounts::ssr::sign_in::require_actor().await?;
            let admin = actor.admin()?;
            let expires_at =
                super::ssr::invites::expires_at(&expires).map_err(|why| AppError::invalid_fields([("expires".to_string(), why)].into()))?;
            super::ssr::invites::create(&state, &admin, expires_at).await
        }
        .await,
    )
}

/// Gives the browser its device cookie for `email` (see `ssr::device`).
#[cfg(feature = "ssr")]
fn remember_device(state: &crate::state::AppState, email: &str, device: Option<String>) -> Result<(), AppError> {
    let cookie = super::ssr::device::cookie_for(state, email, device)?;
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.append_header(http::header::SET_COOKIE, cookie);
    }
    Ok(())
}
