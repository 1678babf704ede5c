//! The REST API under `/api/v1`: JSON in, JSON out, errors with stable codes, and an OpenAPI
//! document built from the same route declarations, so the two cannot drift apart.
mod account;
mod admin;
mod api_keys;
mod audit;
mod auth;
mod json;
mod organisations;
mod servers;
mod signing_keys;
mod tokens;

use axum::{Json, Router, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use app::state::AppState;

pub use json::ApiJson;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gatehouse API", description = "Manage MCP servers, signing keys and tokens. Authenticate with an API key \
        (`Authorization: Bearer ghk_…`, made on the Account page or with `gatehouse api-key create`) or with the session cookie \
        from `POST /auth/login`. Servers, tokens and signing keys belong to organisations: these routes act within the credential's \
        organisation (an API key's own; for a session, the one chosen in the dashboard, else the account's personal one), and the \
        member's role there decides what they may do. A `read` key may only GET; `write` may change objects; `admin` also the admin routes."),
    servers((url = "/api/v1")),
    modifiers(&SessionCookie),
    security(("api_key" = []), ("session" = [])),
    tags(
        (name = "auth", description = "Sign up, log in, log out"),
        (name = "organisations", description = "Organisations, their members and invitations"),
        (name = "servers", description = "Upstream MCP servers and their hosted endpoints"),
        (name = "tokens", description = "Bearer tokens for MCP clients"),
        (name = "signing-keys", description = "The account's HS256 signing keys"),
        (name = "audit", description = "Who changed what"),
        (name = "account", description = "The signed-in account"),
        (name = "api-keys", description = "The account's API keys for this API"),
        (name = "admin", description = "Every account (admins only)"),
    )
)]
struct ApiDoc;

struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::sessions::SESSION_COOKIE))));
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (ghk_…). MCP tokens are refused here; API keys are refused by the gateway."))
                    .build(),
            ),
        );
    }
}

/// Answers every operation can give that its own annotation does not list: a malformed path or
/// query (400), no session where one is needed (401), a body that is not JSON (415) or not of
/// the documented shape (422), and the database being unreachable (503).
fn document_common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, ResponseBuilder};
    let described = |text: &str| RefOr::T(ResponseBuilder::new().description(text).build());
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            // `security(())` (sign-up, login) opts out of the session requirement.
            let needs_session = operation.security.as_ref().is_none_or(|s| s.iter().any(|r| *r != Default::default()));
            if has_parameters {
                responses.entry("400".into()).or_insert_with(|| described("The path or query is malformed."));
            }
            if needs_session {
                responses.entry("401".into()).or_insert_with(|| described("Not logged in, or the session has ended."));
            }
            if operation.request_body.is_some() {
                responses.entry("415".into()).or_insert_with(|| described("The body is not `application/json`."));
                responses.entry("422".into()).or_insert_with(|| described("The body is not a JSON object of the documented shape."));
            }
            responses.entry("503".into()).or_insert_with(|| described("The database is unavailable right now; try again shortly."));
        }
    }
}

pub fn router() -> Router<AppState> {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(organisations::list, organisations::create))
        .routes(routes!(organisations::get_one, organisations::rename, organisations::delete))
        .routes(routes!(organisations::members, organisations::add_member))
        .routes(routes!(organisations::set_role, organisations::remove_member))
        .routes(routes!(organisations::invite))
        .routes(routes!(organisations::accept))
        .routes(routes!(servers::list, servers::create))
        .routes(routes!(servers::get_one, servers::update, servers::delete))
        .routes(routes!(servers::tokens))
        .routes(routes!(servers::check))
        .routes(routes!(servers::detect))
        .routes(routes!(servers::tool_calls))
        .routes(routes!(servers::tool_calls_export))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::get_one))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tokens::associate, tokens::dissociate))
        .routes(routes!(tokens::limit_tools))
        .routes(routes!(tokens::allow_networks))
        .routes(routes!(signing_keys::list))
        .routes(routes!(signing_keys::rotate))
        .routes(routes!(signing_keys::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(account::change_password))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(admin::list))
        .routes(routes!(admin::update))
        .routes(routes!(admin::invite))
        .routes(routes!(admin::organisations))
        .routes(routes!(admin::update_organisation))
        .split_for_parts();
    let mut openapi = openapi;
    document_common_responses(&mut openapi);
    let openapi = std::sync::Arc::new(openapi);
    router
        .route(
            "/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .fallback(json::not_found)
}
