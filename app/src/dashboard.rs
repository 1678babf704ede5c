//! The dashboard's overview: the three steps from nothing to a connected client.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::PageHeader;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let steps = [
        ("1", "Register an MCP server", "Give Gatehouse your server's upstream URL and get a hosted endpoint for it.", "/servers/new"),
        ("2", "Create a token", "Tokens are signed with your account's own key. Choose how long each one lives.", "/tokens/new"),
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
