//! The server pages: list, add, detail with edit and delete.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use super::domain::{ServerId, ServerView, Transport};
use super::functions::{CheckServer, CreateServer, DeleteServer, UpdateServer, get_server, list_servers, server_tool_calls};
use super::health::HealthStatus;
use super::health_pages::{DetectButton, HealthPanel, ToolCallsPanel};
use crate::components::*;
use crate::error::AppError;
use crate::toast::toast_on;
use crate::tokens::{TokenList, functions::server_tokens};
use crate::usage::{
    ServerUsage,
    chart::{RefusalReasons, Span, ToolCounts, UsageChart},
    functions::get_server_usage,
};

#[component]
pub fn ServersPage() -> impl IntoView {
    let servers = Resource::new(|| (), |_| list_servers());
    view! {
        <Title text="Servers · Gatehouse"/>
        <PageHeader title="Servers" description="MCP servers you host behind Gatehouse.">
            <a href="/servers/new" class=PRIMARY_BUTTON>"Add server"</a>
        </PageHeader>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match servers.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No servers yet" body="Register an MCP server by its upstream URL; Gatehouse gives it a hosted endpoint that only your tokens can reach.">
                            <a href="/servers/new" class=PRIMARY_BUTTON>"Add your first server"</a>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="grid gap-4">
                            {list.into_iter().map(|s| view! { <ServerCard server=s/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="text-sm text-slate-500" role="status">"Loading…"</p> }
}

#[component]
fn ServerCard(server: ServerView) -> impl IntoView {
    let href = format!("/servers/{}", server.id);
    let endpoint = match server.transport {
        Transport::Sse => server.sse_endpoint.clone(),
        Transport::StreamableHttp => server.mcp_endpoint.clone(),
    };
    view! {
        <li class=CARD>
            <div class="flex flex-wrap items-center justify-between gap-3">
                <div class="flex min-w-0 items-center gap-2">
                    <A href=href attr:class="truncate text-base font-semibold text-slate-900 hover:text-indigo-600 dark:text-white">{server.name.clone()}</A>
                    <Badge text=server.transport.label() tone=Tone::Muted/>
                    {match server.health.status {
                        HealthStatus::Up => view! { <Badge text="Up" tone=Tone::Good/> }.into_any(),
                        HealthStatus::Down => view! { <Badge text="Down" tone=Tone::Bad/> }.into_any(),
                        HealthStatus::Unchecked => ().into_any(),
                    }}
                    {(!server.require_token).then(|| view! { <Badge text="No token required" tone=Tone::Warn/> })}
                </div>
                <span class="text-sm text-slate-500">{format!("{} token{}", server.token_count, if server.token_count == 1 { "" } else { "s" })}</span>
            </div>
            <div class="mt-3"><CopyField value=endpoint label="Hosted endpoint"/></div>
        </li>
    }
}

/// The fields shared by the add and edit forms.
#[component]
fn ServerFields(server: Option<ServerView>, error: Signal<Option<AppError>>) -> impl IntoView {
    let transport = server.as_ref().map(|s| s.transport).unwrap_or(Transport::StreamableHttp);
    let require_token = server.as_ref().is_none_or(|s| s.require_token);
    let oauth = server.as_ref().is_none_or(|s| s.oauth_enabled);
    let identity = server.as_ref().and_then(|s| s.identity_header.clone());
    let identity_on = identity.is_some();
    let identity_name = identity.unwrap_or_else(|| super::domain::DEFAULT_IDENTITY_HEADER.to_string());
    let audit = server.as_ref().map(|s| s.tool_audit).unwrap_or_default();
    let header_names =
        server.as_ref().map(|s| s.upstream_header_names.iter().map(|n| format!("{n}:\n")).collect::<String>()).unwrap_or_default();
    let name = server.as_ref().map(|s| s.name.clone()).unwrap_or_default();
    let url = server.as_ref().map(|s| s.upstream_url.clone()).unwrap_or_default();
    view! {
        <FormAlert error/>
        <Field label="Name" name="name" value=name autocomplete="off" error=field_error(error, "name")/>
        <Field label="Upstream URL" name="upstream_url" input_type="url" value=url autocomplete="off"
            hint="Where your MCP server listens, e.g. https://mcp.example.com/mcp. Query values are sealed once saved and shown as ***; leave *** to keep a saved one." error=field_error(error, "upstream_url")/>
        <div class="space-y-1.5">
            <label for="field-transport" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Upstream transport"</label>
            <select id="field-transport" name="transport" class=INPUT>
                <option value="streamable_http" selected=transport == Transport::StreamableHttp>"Streamable HTTP"</option>
                <option value="sse" selected=transport == Transport::Sse>"SSE (HTTP+SSE, 2024-11-05)"</option>
            </select>
            <DetectButton id=server.as_ref().map(|s| s.id)/>
        </div>
        <div class="space-y-1.5">
            <label for="field-headers" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Upstream headers"</label>
            <textarea id="field-headers" name="headers" rows="3" class=format!("{INPUT} font-mono")
                aria-describedby="field-headers-hint" placeholder="Authorization: Bearer sk-…">{header_names}</textarea>
            <p id="field-headers-hint" class="text-xs text-slate-500 dark:text-slate-400">
                "One \"Name: value\" per line, sent to your server instead of the client's credentials. Values are encrypted and never shown again; a name alone keeps its saved value."
            </p>
            <Show when=move || field_error(error, "upstream_headers").get().is_some()>
                <p class="text-sm text-rose-600 dark:text-rose-400">{move || field_error(error, "upstream_headers").get()}</p>
            </Show>
        </div>
        <fieldset class="space-y-2 rounded-lg border border-slate-200 p-4 dark:border-slate-700">
            <legend class="px-1 text-sm font-medium text-slate-700 dark:text-slate-200">"Access"</legend>
            <label class="flex items-start gap-2 text-sm">
                <input type="checkbox" name="require_token" value="on" checked=require_token class="mt-0.5"/>
                <span>"Require a token " <span class="text-slate-500">"(recommended)"</span></span>
            </label>
            <label class="flex items-start gap-2 text-sm text-amber-800 dark:text-amber-300">
                <input type="checkbox" name="confirm_open" value="yes" checked=!require_token class="mt-0.5"/>
                <span>"If tokens are not required, I understand that anyone who knows the endpoint URL can use this server."</span>
            </label>
            <Show when=move || field_error(error, "confirm_open").get().is_some()>
                <p class="text-sm text-rose-600 dark:text-rose-400">{move || field_error(error, "confirm_open").get()}</p>
            </Show>
            <label class="flex items-start gap-2 text-sm">
                <input type="checkbox" name="oauth" value="on" checked=oauth class="mt-0.5"/>
                <span>
                    "Offer OAuth sign-in to MCP clients "
                    <span class="text-slate-500">"(Claude, ChatGPT, VS Code and Cursor then need only the URL; Cursor ignores a pasted token header once this is on)"</span>
                </span>
            </label>
            <label class="flex items-start gap-2 text-sm">
                <input type="checkbox" name="identity" value="on" checked=identity_on class="mt-0.5"/>
                <span>
                    "Tell the upstream who is calling "
                    <span class="text-slate-500">"(a signed JWT naming the member, their organisation and role, valid 60 s; verify it with the keys at /.well-known/jwks.json)"</span>
                </span>
            </label>
            <Field label="Identity header" name="identity_header" value=identity_name autocomplete="off" error=field_error(error, "identity_header")/>
            <div class="space-y-1.5">
                <label for="field-tool_audit" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Record tool calls"</label>
                <select id="field-tool_audit" name="tool_audit" class=INPUT>
                    <option value="off" selected=audit == super::domain::ToolAudit::Off>"Off"</option>
                    <option value="calls" selected=audit == super::domain::ToolAudit::Calls>"Who called which tool, when, and the outcome"</option>
                    <option value="arguments" selected=audit == super::domain::ToolAudit::Arguments>"The same, with each call's arguments"</option>
                </select>
            </div>
        </fieldset>
    }
}

#[component]
pub fn NewServerPage() -> impl IntoView {
    let action = ServerAction::<CreateServer>::new();
    let error = action_error(action);
    view! {
        <Title text="Add server · Gatehouse"/>
        <PageHeader title="Add a server" description="Gatehouse will host an endpoint for it that checks every request's token."/>
        <ActionForm action=action attr:class="max-w-2xl space-y-5" attr:novalidate="">
            <ServerFields server=None error/>
            <button type="submit" class=PRIMARY_BUTTON disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Adding…" } else { "Add server" }}
            </button>
        </ActionForm>
    }
}

#[component]
pub fn ServerDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse().ok()).map(ServerId);
    let update = ServerAction::<UpdateServer>::new();
    let check = ServerAction::<CheckServer>::new();
    let server = Resource::new(
        move || (id(), update.version().get(), check.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => get_server(id).await,
                None => Err(AppError::not_found("server")),
            }
        },
    );
    let tokens = Resource::new(id, |id| async move {
        match id {
            Some(id) => server_tokens(id).await,
            None => Ok(Vec::new()),
        }
    });
    let usage = Resource::new(id, |id| async move {
        match id {
            Some(id) => get_server_usage(id).await.ok(),
            None => None,
        }
    });
    let query = use_query_map();
    let calls = Resource::new(
        move || (id(), query.read().get("before").and_then(|b| b.parse::<uuid::Uuid>().ok())),
        |(id, before)| async move {
            match id {
                Some(id) => server_tool_calls(id, before).await.ok(),
                None => None,
            }
        },
    );
    toast_on(update, |s| format!("“{}” saved.", s.name));
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let usage = usage.await;
                let calls = calls.await;
                match server.await {
                    Ok(s) => view! { <ServerDetail server=s update check tokens usage calls/> }.into_any(),
                    Err(error) => view! { <Title text="Server · Gatehouse"/><ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ServerDetail(
    server: ServerView,
    update: ServerAction<UpdateServer>,
    check: ServerAction<CheckServer>,
    tokens: Resource<Result<Vec<crate::tokens::TokenView>, AppError>>,
    usage: Option<ServerUsage>,
    calls: Option<super::domain::ToolCallPage>,
) -> impl IntoView {
    let delete = ServerAction::<DeleteServer>::new();
    let deleted_name = server.name.clone();
    toast_on(delete, move |_| format!("“{deleted_name}” deleted."));
    let error = action_error(update);
    let saved = move || update.value().get().is_some_and(|r| r.is_ok());
    let id = server.id.to_string();
    let (id_for_update, id_for_delete) = (id.clone(), id.clone());
    let name = server.name.clone();
    let delete_summary = format!("Delete “{name}”…");
    let delete_warning = format!(
        "Clients using {name} lose access at once; its {} token association(s) are removed. Tokens themselves stay.",
        server.token_count
    );
    let delete_label = format!("Delete “{name}”");
    let editable = server.clone();
    view! {
        <Title text=format!("{} · Servers · Gatehouse", server.name)/>
        <PageHeader title=server.name.clone() description=format!("Upstream {} ({}) · in {}", server.upstream_url, server.transport.label(), server.organisation)>
            {(!server.require_token).then(|| view! { <Badge text="No token required" tone=Tone::Warn/> })}
        </PageHeader>
        <section class="space-y-3" aria-labelledby="endpoints">
            <h2 id="endpoints" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Hosted endpoints"</h2>
            // The gateway serves the transport the upstream speaks, so only that endpoint works.
            {match server.transport {
                Transport::StreamableHttp => view! {
                    <div><p class="mb-1 text-xs text-slate-500">"Streamable HTTP"</p><CopyField value=server.mcp_endpoint.clone() label="Streamable HTTP endpoint"/></div>
                }.into_any(),
                Transport::Sse => view! {
                    <div><p class="mb-1 text-xs text-slate-500">"SSE (the client posts messages to the endpoint it is given)"</p><CopyField value=server.sse_endpoint.clone() label="SSE endpoint"/></div>
                }.into_any(),
            }}
        </section>
        <HealthPanel id=server.id health=server.health.clone() check/>
        <crate::oauth::ConnectClients url=server.endpoint().to_string() oauth=server.offers_oauth()/>
        {usage.map(|u| view! {
            <section class="mt-10" aria-labelledby="usage">
                <h2 id="usage" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Usage"</h2>
                <div class="grid gap-4 lg:grid-cols-2">
                    <UsageChart title="Requests per hour, last 24 hours" span=Span::Hourly points=u.usage.hourly/>
                    <UsageChart title="Requests per day, last 30 days" span=Span::Daily points=u.usage.daily/>
                </div>
                <h3 class="mb-2 mt-6 text-sm font-semibold text-slate-700 dark:text-slate-300">"Why requests were refused"</h3>
                <RefusalReasons counts=u.refusals/>
                <h3 class="mb-2 mt-6 text-sm font-semibold text-slate-700 dark:text-slate-300">"Most-called tools, last 30 days"</h3>
                <ToolCounts counts=u.tools/>
            </section>
        })}
        {calls.map(|page| view! { <ToolCallsPanel id=server.id audit=server.tool_audit page/> })}
        <section class="mt-10" aria-labelledby="tokens">
            <div class="mb-3 flex items-center justify-between">
                <h2 id="tokens" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Tokens that can reach it"</h2>
                <a href=format!("/tokens/new?server={id}") class=SECONDARY_BUTTON>"New token for this server"</a>
            </div>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
                                "No token can reach this server yet. Create one, or add this server to an existing token."
                            </p>
                        }.into_any(),
                        Ok(list) => view! { <TokenList tokens=list/> }.into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="mt-10" aria-labelledby="settings">
            <h2 id="settings" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Settings"</h2>
            <ActionForm action=update attr:class="max-w-2xl space-y-5" attr:novalidate="">
                <input type="hidden" name="id" value=id_for_update/>
                <ServerFields server=Some(editable) error/>
                <div class="flex items-center gap-3">
                    <button type="submit" class=PRIMARY_BUTTON disabled=move || update.pending().get()>
                        {move || if update.pending().get() { "Saving…" } else { "Save changes" }}
                    </button>
                    <Show when=saved><span role="status" class="text-sm text-emerald-700 dark:text-emerald-400">"Saved."</span></Show>
                </div>
            </ActionForm>
        </section>
        <section class="mt-10 max-w-2xl" aria-labelledby="danger">
            <h2 id="danger" class="mb-3 text-sm font-semibold uppercase tracking-wide text-rose-600">"Delete"</h2>
            <Confirm summary=delete_summary warning=delete_warning>
                <ActionForm action=delete>
                    <input type="hidden" name="id" value=id_for_delete/>
                    <button type="submit" class=DANGER_BUTTON disabled=move || delete.pending().get() aria-busy=move || delete.pending().get().then_some("true")>
                        {move || if delete.pending().get() { "Deleting…".to_string() } else { delete_label.clone() }}
                    </button>
                </ActionForm>
            </Confirm>
        </section>
    }
}
