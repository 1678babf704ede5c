//! Server functions behind the server pages.
use leptos::prelude::*;

use super::domain::ToolCallPage;
use super::domain::{HeaderInput, ServerId, ServerView};
#[cfg(feature = "ssr")]
use super::domain::{ServerInput, Transport};
use super::health::{Discovery, ServerHealth};
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::with_status;

/// Reads the header box: one `Name: value` a line; a name alone keeps its saved value.
pub fn parse_header_lines(text: &str) -> Vec<HeaderInput> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once(':') {
            Some((name, value)) if !value.trim().is_empty() => HeaderInput { name: name.trim().into(), value: Some(value.trim().into()) },
            Some((name, _)) => HeaderInput { name: name.trim().into(), value: None },
            None => HeaderInput { name: line.into(), value: None },
        })
        .collect()
}

/// The form's fields, as a browser posts them.
#[cfg(feature = "ssr")]
#[allow(clippy::too_many_arguments)]
fn form_input(
    name: String,
    upstream_url: String,
    transport: String,
    require_token: Option<String>,
    confirm_open: Option<String>,
    oauth: Option<String>,
    headers: String,
    identity: Option<String>,
    identity_header: String,
    tool_audit: String,
) -> Result<ServerInput, AppError> {
    let require_token = require_token.is_some();
    if !require_token && confirm_open.is_none() {
        return Err(AppError::invalid_fields(
            [("confirm_open".to_string(), "Confirm that anyone who knows the URL may use this server.".to_string())].into(),
        ));
    }
    Ok(ServerInput {
        name,
        upstream_url,
        transport: Transport::parse(&transport).unwrap_or(Transport::StreamableHttp),
        require_token,
        oauth_enabled: oauth.is_some(),
        upstream_headers: Some(parse_header_lines(&headers)),
        identity_header: identity.map(|_| match identity_header.trim() {
            "" => super::domain::DEFAULT_IDENTITY_HEADER.to_string(),
            name => name.to_string(),
        }),
        tool_audit: super::domain::ToolAudit::parse(&tool_audit).unwrap_or_default(),
    })
}

#[server(prefix = "/rpc", endpoint = "list_servers")]
pub async fn list_servers() -> Result<Vec<ServerView>, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::list_servers(&state, &actor).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_server")]
pub async fn get_server(id: ServerId) -> Result<ServerView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::get_server(&state, &actor, id).await
        }
        .await,
    )
}

#[allow(clippy::too_many_arguments)]
#[server(prefix = "/rpc", endpoint = "create_server")]
pub async fn create_server(
    name: String,
    upstream_url: String,
    transport: String,
    require_token: Option<String>,
    confirm_open: Option<String>,
    #[server(default)] oauth: Option<String>,
    #[server(default)] headers: String,
    #[server(default)] identity: Option<String>,
    #[server(default)] identity_header: String,
    #[server(default)] tool_audit: String,
) -> Result<ServerView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let input = form_input(
                name,
                upstream_url,
                transport,
                require_token,
                confirm_open,
                oauth,
                headers,
                identity,
                identity_header,
                tool_audit,
            )?;
            let server = super::ssr::create_server(&state, &actor, input).await?;
            leptos_axum::redirect(&format!("/servers/{}", server.id));
            Ok(server)
        }
        .await,
    )
}

// One argument per form field: a server function's arguments are the names the browser posts.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/rpc", endpoint = "update_server")]
pub async fn update_server(
    id: ServerId,
    name: String,
    upstream_url: String,
    transport: String,
    require_token: Option<String>,
    confirm_open: Option<String>,
    #[server(default)] oauth: Option<String>,
    #[server(default)] headers: String,
    #[server(default)] identity: Option<String>,
    #[server(default)] identity_header: String,
    #[server(default)] tool_audit: String,
) -> Result<ServerView, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let input = form_input(
                name,
                upstream_url,
                transport,
                require_token,
                confirm_open,
                oauth,
                headers,
                identity,
                identity_header,
                tool_audit,
            )?;
            super::ssr::update_server(&state, &actor, id, input).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_server")]
pub async fn delete_server(id: ServerId) -> Result<(), AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::delete_server(&state, &actor, id).await?;
            leptos_axum::redirect("/servers");
            Ok(())
        }
        .await,
    )
}

/// A page of the server's recorded tool calls, newest first.
#[server(prefix = "/rpc", endpoint = "server_tool_calls")]
pub async fn server_tool_calls(id: ServerId, #[server(default)] before: Option<uuid::Uuid>) -> Result<ToolCallPage, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::tool_calls_ssr::page(&state.db, &actor, id, before, super::tool_calls_ssr::PAGE).await
        }
        .await,
    )
}

/// "Check now" on the server page (a plain form post without JavaScript).
#[server(prefix = "/rpc", endpoint = "check_server")]
pub async fn check_server(id: ServerId) -> Result<ServerHealth, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::check_server(&state, &actor, id).await
        }
        .await,
    )
}

/// "Detect" on the server form: which transport answers at the URL typed so far.
#[server(prefix = "/rpc", endpoint = "detect_transport")]
pub async fn detect_transport(
    upstream_url: String,
    #[server(default)] headers: String,
    #[server(default)] id: Option<ServerId>,
) -> Result<Discovery, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            let headers = (!headers.trim().is_empty()).then(|| parse_header_lines(&headers));
            super::ssr::detect_transport(&state, &actor, id, &upstream_url, headers).await
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_parse_names_and_values() {
        let parsed = parse_header_lines("Authorization: Bearer abc:def\n\n  x-team :blue \nx-keep:\nx-also-keep");
        assert_eq!(
            parsed,
            vec![
                HeaderInput { name: "Authorization".into(), value: Some("Bearer abc:def".into()) },
                HeaderInput { name: "x-team".into(), value: Some("blue".into()) },
                HeaderInput { name: "x-keep".into(), value: None },
                HeaderInput { name: "x-also-keep".into(), value: None },
            ]
        );
    }
}
