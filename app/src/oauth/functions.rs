//! Server functions behind the consent page, Connected apps and the operator's client list.
use leptos::prelude::*;
use uuid::Uuid;

use super::domain::{ClientView, ConnectedApp, ConsentView};
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::with_status;

#[server(prefix = "/rpc", endpoint = "oauth_consent")]
pub async fn consent_details(request: Uuid) -> Result<ConsentView, AppError> {
    with_status(
        async move {
            // The session is taken from the request before the first await: a page rendered on
            // the server may run this twice, and the copy it throws away loses the request
            // context at its first await (an error there broke hydration of the page).
            let session = leptos::prelude::use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<tower_sessions::Session>().cloned())
                .ok_or_else(|| AppError::internal("no session in the request"))?;
            let (state, actor) = require_actor().await?;
            let csrf = super::ssr::csrf_token(&session).await?;
            super::ssr::grants::consent_view(&state, &actor, request, csrf).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "connected_apps")]
pub async fn connected_apps() -> Result<Vec<ConnectedApp>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::grants::connected_apps(&state, &actor).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "disconnect_app")]
pub async fn disconnect_app(client: Uuid) -> Result<u64, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::grants::disconnect(&state, &actor, client).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "list_oauth_clients")]
pub async fn list_oauth_clients() -> Result<Vec<ClientView>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            actor.admin()?;
            super::ssr::clients::list(&state).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_oauth_client")]
pub async fn delete_oauth_client(id: Uuid) -> Result<(), AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let admin = actor.admin()?;
            super::ssr::clients::delete(&state, Some(&admin), id).await.map(|_| ())
        }
        .await,
    )
}
