//! Server functions behind the organisation switcher, the Members page and the join page.
//! Each works as a plain form POST too.
use leptos::prelude::*;

use super::domain::{CreatedInvitation, MemberView, OrganisationId, OrganisationView};
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::{app_state, request_session, with_status};

/// The organisation the dashboard acts within, and every one the account may switch to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OrganisationContext {
    /// The signed-in account's id.
    pub me: uuid::Uuid,
    pub current: OrganisationView,
    pub all: Vec<OrganisationView>,
}

#[server(prefix = "/rpc", endpoint = "current_organisation")]
pub async fn current_organisation() -> Result<OrganisationContext, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let current = super::ssr::get(&state, &actor.account, actor.organisation()).await?;
            let all = super::ssr::list_for(&state.db, actor.account.id.0).await?;
            Ok(OrganisationContext { me: actor.account.id.0, current, all })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "switch_organisation")]
pub async fn switch_organisation(id: OrganisationId) -> Result<(), AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            crate::accounts::ssr::sign_in::choose_organisation(&state, &request_session().await?, &actor.account, id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_organisation")]
pub async fn create_organisation(name: String) -> Result<(), AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let created = super::ssr::create(&state, &actor, &name).await?;
            crate::accounts::ssr::sign_in::choose_organisation(&state, &request_session().await?, &actor.account, created.id).await?;
            leptos_axum::redirect("/members");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "list_members")]
pub async fn list_members() -> Result<Vec<MemberView>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::members(&state, &actor).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "invite_member")]
pub async fn invite_member(role: String, email: Option<String>) -> Result<CreatedInvitation, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let role = super::Role::parse(&role).map_err(|e| AppError::invalid_fields([("role".to_string(), e)].into()))?;
            super::ssr::invite(&state, &actor, role, email.as_deref(), None).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_member_role")]
pub async fn change_member_role(account: uuid::Uuid, role: String) -> Result<MemberView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let role = super::Role::parse(&role).map_err(|e| AppError::invalid_fields([("role".to_string(), e)].into()))?;
            super::ssr::set_role(&state, &actor, account, role).await
        }
        .await,
    )
}

/// Removes a member (or, for one's own account, leaves); `hand_to` keeps their tokens working
/// as another member's.
#[server(prefix = "/rpc", endpoint = "remove_member")]
pub async fn remove_member(account: uuid::Uuid, hand_to: Option<String>) -> Result<u64, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let tokens = match hand_to.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
                None => super::TokensOfRemoved::Revoke,
                Some(heir) => super::TokensOfRemoved::HandTo(heir.parse().map_err(|_| {
                    AppError::invalid_fields([("hand_to".to_string(), "Choose a member to hand the tokens to.".to_string())].into())
                })?),
            };
            let leaving = account == actor.account.id.0;
            let moved = super::ssr::remove_member(&state, &actor, account, tokens).await?;
            if leaving {
                leptos_axum::redirect("/");
            }
            Ok(moved)
        }
        .await,
    )
}

/// What an invitation offers (anyone with the link may see it; joining needs a login).
#[server(prefix = "/rpc", endpoint = "invitation_offer")]
pub async fn get_invitation_offer(code: String) -> Result<super::InvitationOffer, AppError> {
    with_status(async move { super::ssr::offer(&app_state().db, &code).await.map(|(_, offer)| offer) }.await)
}

#[server(prefix = "/rpc", endpoint = "accept_invitation")]
pub async fn accept_invitation(code: String) -> Result<(), AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let joined = super::ssr::accept(&state, &actor.account, &code).await?;
            crate::accounts::ssr::sign_in::choose_organisation(&state, &request_session().await?, &actor.account, joined.id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}
