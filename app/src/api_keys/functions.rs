//! Server functions behind the API keys section of the Account page.
use leptos::prelude::*;
use uuid::Uuid;

use super::domain::{ApiKeyView, CreatedApiKey};
#[cfg(feature = "ssr")]
use super::domain::{ApiScope, NewApiKeyInput};
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::with_status;

#[server(prefix = "/rpc", endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::list(&state, Some(actor.account_id())).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_api_key")]
pub async fn create_api_key(description: String, scope: String, expires: String) -> Result<CreatedApiKey, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let scope = ApiScope::parse(&scope).map_err(|e| AppError::invalid_fields([("scope".to_string(), e)].into()))?;
            super::ssr::create(&state, &actor, NewApiKeyInput { description, scope, expires }).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: Uuid) -> Result<ApiKeyView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::revoke(&state, &actor, id).await
        }
        .await,
    )
}
