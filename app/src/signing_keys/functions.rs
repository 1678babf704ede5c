//! Server functions behind the signing key page.
use leptos::prelude::*;
use uuid::Uuid;

use super::domain::SigningKeyView;
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::with_status;

#[server(prefix = "/rpc", endpoint = "list_signing_keys")]
pub async fn list_signing_keys() -> Result<Vec<SigningKeyView>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::list(&state, &actor).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "rotate_signing_key")]
pub async fn rotate_signing_key() -> Result<SigningKeyView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::rotate(&state, &actor).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_signing_key")]
pub async fn revoke_signing_key(id: Uuid) -> Result<SigningKeyView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::revoke(&state, &actor, id).await
        }
        .await,
    )
}
