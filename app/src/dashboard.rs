//! Dashboard pages that have nothing to list yet show their empty state and the next step.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::{EmptyState, PageHeader};

const STEP_LINK: &str = "inline-flex items-center rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40";

#[component]
pub fn OverviewPage() -> impl IntoView {
    let steps = [
        ("1", "Register an MCP server", "Give Gatehouse your server's upstream URL and get a hosted endpoint for it.", "/servers"),
        ("2", "Create a token", "Tokens are signed with your account's own key. Choose how long each one lives.", "/tokens"),
        ("3", "Connect a client", "Paste the endpoint and token into your IDE, agent or SDK. Revoke it any time.", "/tokens"),
    ];
    view! {
        <Title text="Overview · Gatehouse"/>
        <PageHeader title="Overview" description="Your MCP servers, behind tokens you control."/>
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

#[component]
pub fn ServersPage() -> impl IntoView {
    view! {
        <Title text="Servers · Gatehouse"/>
        <PageHeader title="Servers" description="MCP servers you host behind Gatehouse."/>
        <EmptyState title="No servers yet" body="Register an MCP server by its upstream URL; Gatehouse gives it a hosted endpoint that only your tokens can reach.">
            <a href="/servers" class=STEP_LINK>"Add a server"</a>
        </EmptyState>
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    view! {
        <Title text="Tokens · Gatehouse"/>
        <PageHeader title="Tokens" description="Bearer tokens your MCP clients present to your servers."/>
        <EmptyState title="No tokens yet" body="Create a token for each client app, so you can see where it is used and revoke it on its own.">
            <a href="/servers" class=STEP_LINK>"Start with a server"</a>
        </EmptyState>
    }
}

#[component]
pub fn SigningKeyPage() -> impl IntoView {
    view! {
        <Title text="Signing key · Gatehouse"/>
        <PageHeader title="Signing key" description="The secret your tokens are signed with. It never leaves Gatehouse."/>
        <EmptyState title="No signing key yet" body="Your account's key is made when you create your first token. You can rotate it here later.">
            <a href="/tokens" class=STEP_LINK>"Go to tokens"</a>
        </EmptyState>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <Title text="Audit log · Gatehouse"/>
        <PageHeader title="Audit log" description="Who changed what, when, and from where."/>
        <EmptyState title="Nothing recorded yet" body="Changes to your servers, tokens and keys will be listed here.">
            <a href="/servers" class=STEP_LINK>"Add a server"</a>
        </EmptyState>
    }
}
