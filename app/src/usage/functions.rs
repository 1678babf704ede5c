//! Server functions behind the usage charts.
use std::collections::HashMap;

use leptos::prelude::*;

use super::domain::{ServerUsage, ToolCount, Usage};
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::with_status;
use crate::servers::ServerId;
use crate::tokens::TokenId;

#[server(prefix = "/rpc", endpoint = "token_usage")]
pub async fn get_token_usage(id: TokenId) -> Result<Usage, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::token_usage(&state.db, &actor, id, chrono::Utc::now()).await
        }
        .await,
    )
}

/// A token's most-called tools over the last 30 days.
#[server(prefix = "/rpc", endpoint = "token_tools")]
pub async fn get_token_tools(id: TokenId) -> Result<Vec<ToolCount>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::token_tools(&state.db, &actor, id, chrono::Utc::now()).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "server_usage")]
pub async fn get_server_usage(id: ServerId) -> Result<ServerUsage, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::server_usage(&state.db, &actor, id, chrono::Utc::now()).await
        }
        .await,
    )
}

/// Requests per hour over the last 24 hours, per token that had any.
#[server(prefix = "/rpc", endpoint = "token_activity")]
pub async fn token_activity() -> Result<HashMap<TokenId, Vec<i64>>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::recent_activity(&state.db, &actor, chrono::Utc::now()).await
        }
        .await,
    )
}
