//! Gatehouse's pages, components and server functions. Everything that touches the database,
//! secrets or crypto is behind the `ssr` feature, so the wasm build never compiles it.
#![recursion_limit = "256"]

pub mod accounts;
pub mod api_keys;
pub mod audit;

/// The site's facts, stated once in the workspace's `[[workspace.metadata.leptos]]` and read
/// from there by `build.rs` (and by `./dev`).
pub mod site {
    /// The name of the built wasm, JS and CSS files.
    pub const OUTPUT_NAME: &str = env!("GATEHOUSE_SITE_OUTPUT_NAME");
    /// Where under the site root they are served.
    pub const PKG_DIR: &str = env!("GATEHOUSE_SITE_PKG_DIR");
    /// The built site, relative to the working directory, unless configured.
    pub const ROOT: &str = env!("GATEHOUSE_SITE_ROOT");
    /// `PROD` or `DEV`.
    pub const ENV: &str = env!("GATEHOUSE_SITE_ENV");
    /// The stylesheet's address.
    pub const STYLESHEET: &str = concat!("/", env!("GATEHOUSE_SITE_PKG_DIR"), "/", env!("GATEHOUSE_SITE_OUTPUT_NAME"), ".css");
}
pub mod components;
pub mod dashboard;
pub mod error;
#[cfg(feature = "ssr")]
pub mod events;
pub mod layout;
pub mod oauth;
pub mod organisations;
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod server_fns;
pub mod servers;
pub mod signing_keys;
#[cfg(feature = "ssr")]
pub mod state;
pub mod toast;
pub mod tokens;
pub mod tools;
pub mod usage;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{ParentRoute, Route, Router, Routes},
    path,
};

use accounts::{AccountPage, LoginPage, SignupPage, UsersPage};
use audit::AuditPage;
use dashboard::OverviewPage;
use layout::SignedInLayout;
use servers::{NewServerPage, ServerDetailPage, ServersPage};
use signing_keys::SigningKeyPage;
use tokens::{InspectPage, NewTokenPage, TokenDetailPage, TokensPage};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="antialiased">
                <App/>
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from here or carrying this response's
/// nonce (Leptos puts it on its inline hydration scripts), wasm allowed to compile, nothing
/// framed, no plugins, forms only to here.
#[cfg(feature = "ssr")]
fn content_security_policy_for(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
        return;
    };
    if let Ok(value) = axum::http::HeaderValue::from_str(&content_security_policy_for(&nonce.to_string())) {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Every page waits for its data before the first byte, so status codes and redirects
    // (e.g. to the login page) are real HTTP ones and forms work without JavaScript.
    view! {
        <Stylesheet id="gatehouse" href=site::STYLESHEET/>
        <Title text="Gatehouse"/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/signup") view=SignupPage ssr=SsrMode::Async/>
                <Route path=path!("/join") view=organisations::JoinPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=SignedInLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("servers") view=ServersPage ssr=SsrMode::Async/>
                    <Route path=path!("servers/new") view=NewServerPage ssr=SsrMode::Async/>
                    <Route path=path!("servers/:id") view=ServerDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("tokens") view=TokensPage ssr=SsrMode::Async/>
                    <Route path=path!("tokens/new") view=NewTokenPage ssr=SsrMode::Async/>
                    <Route path=path!("inspect") view=InspectPage ssr=SsrMode::Async/>
                    <Route path=path!("tokens/:id") view=TokenDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("signing-key") view=SigningKeyPage ssr=SsrMode::Async/>
                    <Route path=path!("audit") view=AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("members") view=organisations::MembersPage ssr=SsrMode::Async/>
                    <Route path=path!("admin/users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("oauth/consent") view=oauth::ConsentPage ssr=SsrMode::Async/>
                    <Route path=path!("connected-apps") view=oauth::ConnectedAppsPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Gatehouse"/>
        <main class="flex min-h-screen flex-col items-center justify-center gap-3 bg-slate-50 px-4 text-center dark:bg-slate-950">
            <p class="text-sm font-semibold text-indigo-600 dark:text-indigo-400">"404"</p>
            <h1 class="text-2xl font-semibold text-slate-900 dark:text-white">"Page not found"</h1>
            <p class="text-sm text-slate-600 dark:text-slate-400">"The page you asked for does not exist."</p>
            <a href="/" class="mt-2 text-sm font-medium text-indigo-600 hover:text-indigo-500 dark:text-indigo-400">"Back to the dashboard"</a>
        </main>
    }
}
