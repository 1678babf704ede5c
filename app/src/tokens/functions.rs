//! Server functions behind the token pages.
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::domain::NewTokenInput;
use super::domain::{CreatedToken, TokenId, TokenPage, TokenView};
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::{is_form_post, request_session, with_status};
use crate::servers::ServerId;

/// Where a token made by a plain form post waits, in the maker's session, to be shown once.
#[cfg(feature = "ssr")]
fn shown_once_key(id: TokenId) -> String {
    format!("created_token:{id}")
}

/// One page of the account's tokens, filtered and sorted.
#[server(prefix = "/rpc", endpoint = "list_tokens")]
pub async fn list_tokens(status: Option<String>, sort: Option<String>, page: Option<usize>) -> Result<TokenPage, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let query = super::ssr::TokenQuery::parse(status.as_deref(), sort.as_deref())?;
            super::ssr::page_of_tokens(&state, &actor, &query, page.unwrap_or(1)).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_token")]
pub async fn get_token(id: TokenId) -> Result<TokenView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::get_token(&state, &actor, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "server_tokens")]
pub async fn server_tokens(server: ServerId) -> Result<Vec<TokenView>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::tokens_of_server(&state, &actor, server).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_token")]
pub async fn create_token(
    description: String,
    expires: String,
    #[server(default)] expires_on: String,
    #[server(default)] servers: Vec<ServerId>,
    #[server(default)] tools: String,
    #[server(default)] networks: String,
) -> Result<CreatedToken, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            // The date picker only counts when "on a date" is chosen.
            let expires = if expires == "date" { expires_on } else { expires };
            let tools = match tools.trim() {
                "" => None,
                words => Some(crate::tools::ToolRule::parse(words).map_err(crate::tools::invalid_rule)?),
            };
            let input = NewTokenInput { description, expires, server_ids: servers, allowed_networks: vec![networks], tools };
            let created = super::ssr::create_token(&state, &actor, input).await?;
            if is_form_post() {
                // Without JavaScript the answer is a redirect, so the token page shows it, once. Until
                // then it waits in the session store, sealed under the master key like every secret
                // at rest (the key names the token, so a sealed value cannot be moved to another).
                let key = shown_once_key(created.details.id);
                let sealed = state.cipher.seal(created.token.as_bytes(), &key)?;
                request_session().await?.insert(&key, &sealed).await.map_err(AppError::internal)?;
                leptos_axum::redirect(&format!("/tokens/{}", created.details.id));
            }
            Ok(created)
        }
        .await,
    )
}

/// The token string made by a plain form post, the first time it is asked for; then never.
#[server(prefix = "/rpc", endpoint = "take_created_token")]
pub async fn take_created_token(id: TokenId) -> Result<Option<String>, AppError> {
    with_status(
        async move {
            let (state, _) = require_actor().await?;
            let session = request_session().await?;
            let taken = use_context::<crate::server_fns::TakenFromSession>().unwrap_or_default();
            let key = shown_once_key(id);
            let Some(sealed) = taken.take(&session, &key).await? else { return Ok(None) };
            let token = state.cipher.open_string(&sealed, &key)?;
            Ok(Some(secrecy::ExposeSecret::expose_secret(&token).to_string()))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_token")]
pub async fn revoke_token(id: TokenId) -> Result<TokenView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::revoke_token(&state, &actor, id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "associate_server")]
pub async fn associate_server(id: TokenId, server: ServerId) -> Result<TokenView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::associate(&state, &actor, id, server).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "dissociate_server")]
pub async fn dissociate_server(id: TokenId, server: ServerId) -> Result<TokenView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::dissociate(&state, &actor, id, server).await
        }
        .await,
    )
}

/// Limits the client addresses the token may be used from: CIDRs or addresses separated by
/// commas or spaces; empty or `any`: any address.
#[server(prefix = "/rpc", endpoint = "allow_networks")]
pub async fn allow_networks(id: TokenId, #[server(default)] networks: String) -> Result<TokenView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::set_allowed_networks(&state, &actor, id, vec![networks]).await
        }
        .await,
    )
}

/// Limits which of the server's tools the token may call: `all`, `read-only`, or tool names
/// separated by commas.
#[server(prefix = "/rpc", endpoint = "limit_tools")]
pub async fn limit_tools(id: TokenId, server: ServerId, tools: String) -> Result<TokenView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let rule = crate::tools::ToolRule::parse(&tools).map_err(crate::tools::invalid_rule)?;
            super::ssr::set_tool_rule(&state, &actor, id, server, rule).await
        }
        .await,
    )
}
