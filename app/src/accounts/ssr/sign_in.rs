//! The one sign-in gate: every REST handler takes an [`Actor`] (the extractor below), every
//! server function opens with [`require_actor`], and whatever only an admin may do goes on
//! through [`Actor::admin`].
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use leptos::prelude::*;
use tower_sessions::Session;

use crate::accounts::AccountView;
use crate::accounts::actor::{Actor, ApiScope, Via, Within};
use crate::error::AppError;
use crate::organisations::OrganisationId;
use crate::server_fns::app_state;
use crate::state::AppState;

impl Actor {
    /// The actor, if an admin (and, through an API key, one with the admin scope); anyone else
    /// gets 403.
    pub fn admin(self) -> Result<Actor, AppError> {
        if !self.account.is_admin() {
            return Err(AppError::forbidden());
        }
        if !self.via.allows(ApiScope::Admin) {
            return Err(scope_too_small(ApiScope::Admin));
        }
        Ok(self)
    }

    /// This actor acting within `organisation` instead of its own (a request's header, a REST
    /// path): a session may name any organisation, with the role it has there (none if not a
    /// member: 404s); an API key only its own, anything else is 404.
    pub async fn acting_within(self, state: &AppState, organisation: OrganisationId) -> Result<Actor, AppError> {
        if self.organisation() == organisation {
            return Ok(self);
        }
        if matches!(self.via, Via::ApiKey { .. }) {
            return Err(AppError::not_found("organisation"));
        }
        let within = crate::organisations::ssr::within(&state.db, &self.account, organisation).await?;
        Ok(Actor { within, ..self })
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    /// An API key in `Authorization: Bearer` wins over any cookie: such a request is the key's
    /// alone. A read key may only read (GET, HEAD).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let named = named_organisation(parts)?;
        let actor = if let Some(presented) = bearer(parts)? {
            let actor = crate::api_keys::ssr::authenticate(state, presented, client_ip(parts)).await?;
            if !matches!(parts.method, http::Method::GET | http::Method::HEAD) && !actor.via.allows(ApiScope::Write) {
                return Err(scope_too_small(ApiScope::Write));
            }
            actor
        } else {
            let session = Session::from_request_parts(parts, state).await.map_err(|(_, e)| AppError::internal(e))?;
            let account = super::require_account(state, &session).await?;
            // Named on the request, the session's choice is not needed.
            let within = match named {
                Some(_) => Within::personal(&account),
                None => session_organisation(state, &session, &account).await?,
            };
            Actor { account, ip: client_ip(parts), via: Via::Session, within }
        };
        match named {
            Some(organisation) => actor.acting_within(state, organisation).await,
            None => Ok(actor),
        }
    }
}

/// The request header that names the organisation a request acts within (REST clients with a
/// session; an API key may only name its own).
pub const ORGANISATION_HEADER: &str = "gatehouse-organisation";

fn named_organisation(parts: &Parts) -> Result<Option<OrganisationId>, AppError> {
    let Some(value) = parts.headers.get(ORGANISATION_HEADER) else { return Ok(None) };
    let id = value.to_str().ok().and_then(|v| uuid::Uuid::parse_str(v.trim()).ok()).ok_or_else(|| {
        AppError::new(crate::error::ErrorCode::InvalidInput, format!("The {ORGANISATION_HEADER} header must be an organisation's id."))
    })?;
    Ok(Some(OrganisationId(id)))
}

/// The session's key for the organisation chosen in the switcher.
pub const SESSION_ORGANISATION_KEY: &str = "organisation";

/// The organisation a session acts within: the one chosen in the switcher while the account is
/// still a member of it (read on every request, so a removal or role change applies at once),
/// else its personal one.
async fn session_organisation(state: &AppState, session: &Session, account: &AccountView) -> Result<Within, AppError> {
    let chosen = session.get::<OrganisationId>(SESSION_ORGANISATION_KEY).await.map_err(AppError::from)?;
    if let Some(organisation) = chosen.filter(|o| o.0 != account.id.0) {
        let within = crate::organisations::ssr::within(&state.db, account, organisation).await?;
        // The instance admin may look into any organisation (the rule lets it read, not act).
        if within.role.is_some() || account.is_admin() {
            return Ok(within);
        }
    }
    Ok(Within::personal(account))
}

/// Chooses the organisation this session acts within (the switcher): the account must be a
/// member of it (or the instance admin, who may then read it); anything else is 404.
pub async fn choose_organisation(
    state: &AppState,
    session: &Session,
    account: &AccountView,
    organisation: OrganisationId,
) -> Result<(), AppError> {
    let within = crate::organisations::ssr::within(&state.db, account, organisation).await?;
    if within.role.is_none() && !account.is_admin() {
        return Err(AppError::not_found("organisation"));
    }
    session.insert(SESSION_ORGANISATION_KEY, organisation).await.map_err(AppError::from)
}

/// The API key a request presents in `Authorization: Bearer`. Other schemes (Basic credentials
/// a proxy in front may ask for) are not Gatehouse's: the request goes on to the session. A
/// Bearer credential that is not an API key (an MCP token) is refused with what to send instead.
fn bearer(parts: &Parts) -> Result<Option<&str>, AppError> {
    let Some(presented) = bearer_value(&parts.headers) else { return Ok(None) };
    let refused = |why: &str| AppError::new(crate::error::ErrorCode::Unauthenticated, why.to_string());
    if !crate::api_keys::looks_like_api_key(presented) {
        return Err(refused(
            "The REST API takes an API key (ghk_…) or a login session. MCP tokens are only for the gateway's /s/… endpoints.",
        ));
    }
    Ok(Some(presented))
}

fn scope_too_small(needed: ApiScope) -> AppError {
    AppError::new(
        crate::error::ErrorCode::Forbidden,
        format!("This API key's scope does not allow that; it needs the {} scope.", needed.as_str()),
    )
}

fn bearer_value(headers: &http::HeaderMap) -> Option<&str> {
    headers.get(http::header::AUTHORIZATION)?.to_str().ok().and_then(crate::tokens::bearer_token)
}

/// Whether a request authenticates with an API key rather than a cookie (the cross-site check
/// guards only ambient credentials; a browser may attach cached Basic credentials on its own,
/// never a Bearer key).
pub fn presents_api_key(headers: &http::HeaderMap) -> bool {
    bearer_value(headers).is_some_and(crate::api_keys::looks_like_api_key)
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
