//! The dashboard's home: what is happening across the account, what needs attention, and the
//! first steps for a new account.
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::components::*;
use crate::error::AppError;
use crate::servers::pages::Loading;
use crate::tokens::{TokenList, TokenView};
use crate::usage::{
    Usage,
    chart::{Span, UsageChart},
};

/// Everything the overview shows, in one round trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub servers: usize,
    pub active_tokens: usize,
    pub usage: Usage,
    /// Active tokens expiring within 7 days, soonest first.
    pub expiring: Vec<TokenView>,
    /// The most recently used tokens.
    pub recent: Vec<TokenView>,
}

#[server(prefix = "/rpc", endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, AppError> {
    use crate::tokens::{
        TokenOrder, TokenStatus,
        ssr::{TokenQuery, list_tokens},
    };
    crate::server_fns::with_status(
        async move {
            let (state, actor) = crate::accounts::ssr::sign_in::require_actor().await?;
            let now = chrono::Utc::now();
            let servers = crate::servers::ssr::list_servers(&state, &actor).await?.len();
            let tokens = list_tokens(&state, &actor, &TokenQuery { order: TokenOrder::LastUsed, ..Default::default() }).await?;
            let active_tokens = tokens.iter().filter(|t| t.status == TokenStatus::Active).count();
            let mut expiring: Vec<TokenView> = tokens.iter().filter(|t| t.expires_soon(now)).cloned().collect();
            expiring.sort_by_key(|t| t.expires_at);
            let recent = tokens.into_iter().filter(|t| t.last_used_at.is_some()).take(5).collect();
            let usage = crate::usage::ssr::organisation_usage(&state.db, &actor, now).await?;
            Ok(Overview { servers, active_tokens, usage, expiring, recent })
        }
        .await,
    )
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_overview());
    view! {
        <Title text="Overview · Gatehouse"/>
        <PageHeader title="Overview" description="Your MCP servers, behind tokens you control.">
            <a href="/tokens/new" class=PRIMARY_BUTTON>"New token"</a>
        </PageHeader>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(o) if o.servers == 0 && o.active_tokens == 0 => view! { <FirstSteps/> }.into_any(),
                    Ok(o) => view! { <Summary overview=o/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Summary(overview: Overview) -> impl IntoView {
    let Overview { servers, active_tokens, usage, expiring, recent } = overview;
    let requests: i64 = usage.hourly.iter().map(|p| p.requests).sum();
    let refusals: i64 = usage.hourly.iter().map(|p| p.refusals).sum();
    let tiles = [
        ("Servers", servers.to_string(), "/servers"),
        ("Active tokens", active_tokens.to_string(), "/tokens?status=active"),
        ("Requests, 24 h", requests.to_string(), "/tokens?sort=last_used"),
        ("Refused, 24 h", refusals.to_string(), "/servers"),
    ];
    view! {
        <dl class="grid grid-cols-2 gap-4 lg:grid-cols-4">
            {tiles.into_iter().map(|(label, value, href)| view! {
                <a href=href class="rounded-xl border border-slate-200 bg-white p-5 hover:border-indigo-300 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:border-slate-800 dark:bg-slate-900 dark:hover:border-indigo-700">
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
                    <dd class="mt-1 text-2xl font-semibold tabular-nums text-slate-900 dark:text-white">{value}</dd>
                </a>
            }).collect_view()}
        </dl>
        {(!expiring.is_empty()).then(|| view! {
            <section class="mt-10" aria-labelledby="expiring">
                <div class="mb-3 flex items-center justify-between">
                    <h2 id="expiring" class="text-sm font-semibold uppercase tracking-wide text-amber-700 dark:text-amber-400">{format!("Expiring within {} days", crate::tokens::EXPIRING_SOON_DAYS)}</h2>
                    <a href="/tokens?status=expiring" class=LINK>"All expiring tokens"</a>
                </div>
                <TokenList tokens=expiring/>
            </section>
        })}
        <section class="mt-10 grid gap-4 lg:grid-cols-2" aria-label="Usage across all tokens">
            <UsageChart title="All requests per hour, last 24 hours" span=Span::Hourly points=usage.hourly/>
            <UsageChart title="All requests per day, last 30 days" span=Span::Daily points=usage.daily/>
        </section>
        <section class="mt-10" aria-labelledby="recent">
            <h2 id="recent" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Recently used tokens"</h2>
            {if recent.is_empty() {
                view! {
                    <p class="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
                        "No token has been used yet. Paste one into an MCP client with its server's endpoint; its first request shows up here."
                    </p>
                }.into_any()
            } else {
                view! { <TokenList tokens=recent/> }.into_any()
            }}
        </section>
    }
    .into_any()
}

/// The three steps from nothing to a connected client.
#[component]
fn FirstSteps() -> impl IntoView {
    let steps = [
        ("1", "Register an MCP server", "Give Gatehouse your server's upstream URL and get a hosted endpoint for it.", "/servers/new"),
        ("2", "Create a token", "Tokens are signed with your account's own key. Choose how long each one lives.", "/tokens/new"),
        ("3", "Connect a client", "Paste the endpoint and token into your IDE, agent or SDK. Revoke it any time.", "/tokens"),
    ];
    view! {
        <ol class="grid gap-4 md:grid-cols-3">
            {steps.into_iter().map(|(n, title, body, href)| view! {
                <li class="rounded-xl border border-slate-200 bg-white p-5 dark:border-slate-800 dark:bg-slate-900">
                    <span class="grid h-8 w-8 place-items-center rounded-full bg-indigo-50 text-sm font-semibold text-indigo-700 dark:bg-indigo-950 dark:text-indigo-300">{n}</span>
                    <h2 class="mt-3 font-semibold">{title}</h2>
                    <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{body}</p>
                    <a href=href class="mt-3 inline-block text-sm font-medium text-indigo-600 hover:text-indigo-500 dark:text-indigo-400">"Go →"</a>
                </li>
            }).collect_view()}
        </ol>
    }
}
