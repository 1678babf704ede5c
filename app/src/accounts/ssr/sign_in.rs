//! The one sign-in gate: every REST handler takes an [`Actor`] (the extractor below), every
//! server function opens with [`require_actor`], and whatever only an admin may do goes on
//! through [`Actor::admin`].
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use leptos::prelude::*;
use tower_sessions::Session;

use crate::accounts::actor::Actor;
use crate::error::AppError;
use crate::server_fns::app_state;
use crate::state::AppState;

impl Actor {
    /// The actor, if an admin; anyone else gets 403.
    pub fn admin(self) -> Result<Actor, AppError> {
        if self.account.is_admin() { Ok(self) } else { Err(AppError::forbidden()) }
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state).await.map_err(|(_, e)| AppError::internal(e))?;
        let account = super::require_account(state, &session).await?;
        Ok(Actor { account, ip: client_ip(parts) })
    }
}

/// Opens every server function that needs a login.
pub async fn require_actor() -> Result<(AppState, Actor), AppError> {
    let state = app_state();
    let mut parts = use_context::<Parts>().ok_or_else(|| AppError::internal("no request parts in context"))?;
    let actor = Actor::from_request_parts(&mut parts, &state).await?;
    Ok((state, actor))
}

/// The client's address as this process saw it.
pub fn client_ip(parts: &Parts) -> Option<String> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The client's address inside a server function.
pub fn request_ip() -> Option<String> {
    use_context::<Parts>().as_ref().and_then(client_ip)
}
