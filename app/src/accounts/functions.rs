//! Server functions behind the account pages. Each works as a plain form POST too.
use leptos::prelude::*;

use super::domain::AccountView;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::state::{app_state, request_session, with_status};

#[server(prefix = "/rpc", endpoint = "register")]
pub async fn register(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    with_status(
        async move {
            let new = super::NewAccount::parse(&email, password)?;
            let state = app_state();
            let account = super::ssr::register(&state, new).await?;
            super::ssr::start_session(&request_session().await?, account.id).await?;
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
            let account = super::ssr::authenticate(&state, &email, &password).await?;
            super::ssr::start_session(&request_session().await?, account.id).await?;
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
            let state = app_state();
            super::ssr::require_admin(&state, &request_session().await?).await?;
            super::ssr::list_accounts(&state.db).await
        }
        .await,
    )
}
