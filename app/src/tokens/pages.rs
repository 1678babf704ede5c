//! The token pages: list, create (with the shown-once dialog), detail.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use std::collections::HashMap;

use super::domain::{CreatedToken, EXPIRY_PRESETS, TokenFilter, TokenId, TokenOrder, TokenPage, TokenStatus, TokenView};
use super::functions::{
    AllowNetworks, AssociateServer, CreateToken, DissociateServer, LimitTools, RevokeToken, get_token, list_tokens, take_created_token,
};
use super::snippets::snippets;
use crate::components::*;
use crate::error::AppError;
use crate::servers::{ServerView, Transport, functions::list_servers, pages::Loading};
use crate::toast::toast_on;
use crate::usage::{
    chart::{Span, Sparkline, UsageChart},
    functions::{get_token_usage, token_activity},
};

fn status_badge(status: TokenStatus) -> impl IntoView {
    let tone = match status {
        TokenStatus::Active => Tone::Good,
        TokenStatus::Expired => Tone::Muted,
        TokenStatus::Revoked => Tone::Bad,
    };
    view! { <Badge text=status.as_str() tone/> }
}

/// "expires in 3 days", for active tokens close to their expiry.
fn expiring_badge(token: &TokenView) -> Option<impl IntoView + use<>> {
    let now = chrono::Utc::now();
    let at = token.expires_at.filter(|_| token.expires_soon(now))?;
    Some(view! { <span title=format_time(at)><Badge text=format!("expires {}", relative(at, now)) tone=Tone::Warn/></span> })
}

/// Tokens as a table; revoked and expired ones greyed. With `activity`, a sparkline of each
/// token's requests over the last day.
#[component]
pub fn TokenList(tokens: Vec<TokenView>, #[prop(optional)] activity: Option<HashMap<TokenId, Vec<i64>>>) -> impl IntoView {
    let with_activity = activity.is_some();
    let activity = activity.unwrap_or_default();
    view! {
        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
            <table class="min-w-full divide-y divide-slate-200 text-left text-sm dark:divide-slate-800">
                <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                    <tr>
                        <th scope="col" class="px-4 py-3 font-medium">"Description"</th>
                        <th scope="col" class="px-4 py-3 font-medium">"Fingerprint"</th>
                        <th scope="col" class="px-4 py-3 font-medium">"Status"</th>
                        <th scope="col" class="px-4 py-3 font-medium">"Created"</th>
                        <th scope="col" class="px-4 py-3 font-medium">"Expires"</th>
                        <th scope="col" class="px-4 py-3 font-medium">"Last used"</th>
                        {with_activity.then(|| view! { <th scope="col" class="px-4 py-3 font-medium">"Last 24 h"</th> })}
                        <th scope="col" class="px-4 py-3 font-medium">"Servers"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {tokens.into_iter().map(|t| {
                        let dim = if t.status == TokenStatus::Active { "" } else { "opacity-60" };
                        let expiring = expiring_badge(&t);
                        let spark = with_activity.then(|| {
                            let counts = activity.get(&t.id).cloned().unwrap_or_else(|| vec![0; crate::usage::HOURS as usize]);
                            view! { <td class="px-4 py-3"><Sparkline counts/></td> }
                        });
                        let servers = if t.servers.is_empty() { "—".to_string() } else { t.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ") };
                        view! {
                            <tr class=dim data-token-row=t.id.to_string()>
                                <td class="px-4 py-3"><A href=format!("/tokens/{}", t.id) attr:class=LINK>{t.description.clone()}</A></td>
                                <td class="whitespace-nowrap px-4 py-3 font-mono text-xs" data-fingerprint=t.fingerprint.clone()>{t.fingerprint.clone().unwrap_or_else(|| t.display.clone())}</td>
                                <td class="px-4 py-3"><span class="flex flex-wrap gap-1">{status_badge(t.status)}{expiring}</span></td>
                                <td class="whitespace-nowrap px-4 py-3"><RelativeTime at=Some(t.created_at)/></td>
                                <td class="whitespace-nowrap px-4 py-3"><RelativeTime at=t.expires_at/></td>
                                <td class="whitespace-nowrap px-4 py-3"><RelativeTime at=t.last_used_at/></td>
                                {spark}
                                <td class="px-4 py-3 text-slate-600 dark:text-slate-400">{servers}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// "Showing 51–100 of 1,001" with links to the previous and next pages, keeping the filter
/// and the order. Nothing when everything fits on one page.
#[component]
fn Pager(list: TokenPage, status: Option<String>, sort: Option<String>) -> impl IntoView {
    let pages = list.pages();
    if pages <= 1 {
        return ().into_any();
    }
    let href = move |page: usize| {
        let mut q = Vec::new();
        if let Some(s) = &status {
            q.push(format!("status={}", encode_query_value(s)));
        }
        if let Some(s) = &sort {
            q.push(format!("sort={}", encode_query_value(s)));
        }
        q.push(format!("page={page}"));
        format!("/tokens?{}", q.join("&"))
    };
    let (first, last) = list.shown();
    let link = move |page: usize, label: &'static str, rel: &'static str| {
        view! { <a href=href(page) rel=rel class=SECONDARY_BUTTON>{label}</a> }
    };
    view! {
        <nav aria-label="Token pages" class="mt-4 flex flex-wrap items-center gap-3 text-sm text-slate-600 dark:text-slate-400">
            <span>{format!("Showing {first}–{last} of {}", group_thousands(list.total))}</span>
            <span class="ml-auto"></span>
            {(list.page > 1).then(|| link(list.page - 1, "Previous", "prev"))}
            <span>{format!("Page {} of {pages}", list.page)}</span>
            {(list.page < pages).then(|| link(list.page + 1, "Next", "next"))}
        </nav>
    }
    .into_any()
}

/// 1001 → "1,001".
fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let query = use_query_map();
    let status = move || query.read().get("status");
    let sort = move || query.read().get("sort");
    let page = move || query.read().get("page").and_then(|p| p.parse::<usize>().ok());
    let tokens = Resource::new(move || (status(), sort(), page()), |(status, sort, page)| list_tokens(status, sort, page));
    let activity = Resource::new(|| (), |_| token_activity());
    let filters = TokenFilter::ALL.map(|f| (if f == TokenFilter::All { "" } else { f.as_str() }, f.label()));
    let last_used = TokenOrder::LastUsed.as_str();
    view! {
        <Title text="Tokens · Gatehouse"/>
        <PageHeader title="Tokens" description="Bearer tokens your MCP clients present to your servers.">
            <a href="/inspect" class=SECONDARY_BUTTON>"Inspect a token"</a>
            <a href="/tokens/new" class=PRIMARY_BUTTON>"New token"</a>
        </PageHeader>
        <nav aria-label="Filter tokens" class="mb-4 flex flex-wrap items-center gap-2 text-sm">
            {filters.into_iter().map(|(value, label)| {
                let href = move || {
                    let mut q = Vec::new();
                    if !value.is_empty() { q.push(format!("status={value}")); }
                    if let Some(s) = sort() { q.push(format!("sort={}", encode_query_value(&s))); }
                    if q.is_empty() { "/tokens".to_string() } else { format!("/tokens?{}", q.join("&")) }
                };
                let current = move || status().unwrap_or_default() == value;
                view! {
                    <a href=href aria-current=move || current().then_some("page")
                        class=move || if current() { "rounded-full bg-indigo-600 px-3 py-1 font-medium text-white" } else { "rounded-full px-3 py-1 font-medium text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800" }>
                        {label}
                    </a>
                }
            }).collect_view()}
            <span class="ml-auto"></span>
            <a class=LINK href=move || {
                let by_use = sort().as_deref() == Some(last_used);
                let mut q = Vec::new();
                if let Some(s) = status() { q.push(format!("status={}", encode_query_value(&s))); }
                if !by_use { q.push(format!("sort={last_used}")); }
                if q.is_empty() { "/tokens".to_string() } else { format!("/tokens?{}", q.join("&")) }
            }>
                {move || if sort().as_deref() == Some(last_used) { "Sort by created" } else { "Sort by last used" }}
            </a>
        </nav>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let activity = activity.await.unwrap_or_default();
                match tokens.await {
                    Ok(list) if list.total == 0 && status().is_none() => view! {
                        <EmptyState title="No tokens yet" body="Create a token for each client app, so you can see where it is used and revoke it on its own.">
                            <a href="/tokens/new" class=PRIMARY_BUTTON>"Create your first token"</a>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) if list.total == 0 => view! {
                        <p class="rounded-lg border border-dashed border-slate-300 p-6 text-center text-sm text-slate-600 dark:border-slate-700">"No tokens match this filter."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <TokenList tokens=list.tokens.clone() activity/>
                        <Pager list status=status() sort=sort()/>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn NewTokenPage() -> impl IntoView {
    let action = ServerAction::<CreateToken>::new();
    let error = action_error(action);
    let query = use_query_map();
    let preselected = move || query.read().get("server");
    let servers = Resource::new(|| (), |_| list_servers());
    let created = move || action.value().get().and_then(Result::ok);
    view! {
        <Title text="New token · Gatehouse"/>
        <PageHeader title="New token" description="Each client app should get its own token, so you can revoke it alone."/>
        <ActionForm action=action attr:class="max-w-2xl space-y-5" attr:novalidate="">
            <FormAlert error/>
            <Field label="Description" name="description" autocomplete="off" hint="What uses it, e.g. \"Cursor on my laptop\"." error=field_error(error, "description")/>
            <div class="grid gap-4 sm:grid-cols-2">
                <div class="space-y-1.5">
                    <label for="field-expires" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Expires"</label>
                    <select id="field-expires" name="expires" class=INPUT>
                        {EXPIRY_PRESETS.iter().map(|(value, label)| view! { <option value=*value selected=*value == "30d">{*label}</option> }).collect_view()}
                        <option value="date">"On a date…"</option>
                    </select>
                </div>
                <div class="space-y-1.5">
                    <label for="field-expires_on" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Date (if “On a date…”)"</label>
                    <input id="field-expires_on" type="date" name="expires_on" class=INPUT/>
                </div>
            </div>
            <Show when=move || field_error(error, "expires").get().is_some()>
                <p class="text-sm text-rose-600 dark:text-rose-400" data-field-error="expires">{move || field_error(error, "expires").get()}</p>
            </Show>
            <fieldset class="space-y-2">
                <legend class="text-sm font-medium text-slate-700 dark:text-slate-200">"Servers it may reach"</legend>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match servers.await {
                            Ok(list) if list.is_empty() => view! {
                                <p class="text-sm text-slate-500">"You have no servers yet; you can add this token to servers later."</p>
                            }.into_any(),
                            Ok(list) => list.into_iter().enumerate().map(|(i, s)| {
                                let checked = preselected().as_deref() == Some(s.id.to_string().as_str());
                                view! {
                                    <label class="flex items-center gap-2 text-sm">
                                        <input type="checkbox" name=format!("servers[{i}]") value=s.id.to_string() checked=checked/>
                                        {s.name.clone()}
                                    </label>
                                }
                            }).collect_view().into_any(),
                            Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        }
                    })}
                </Suspense>
            </fieldset>
            <Field label="Tools it may call" name="tools" autocomplete="off"
                hint="all (the default), read-only (tools the server marks readOnlyHint), or names such as echo,add; on every chosen server. Each server's page lists its tools."
                error=field_error(error, "tools")/>
            <Field label="Allowed addresses" name="networks" autocomplete="off"
                hint="Empty: any address. Or CIDRs and addresses, e.g. 10.0.0.0/8, 203.0.113.7: requests from anywhere else are refused."
                error=field_error(error, "allowed_networks")/>
            <button type="submit" class=PRIMARY_BUTTON disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Creating…" } else { "Create token" }}
            </button>
        </ActionForm>
        {move || created().map(|c| view! { <CreatedDialog created=c servers=servers.get().and_then(Result::ok).unwrap_or_default()/> })}
    }
}

/// The one time a token is shown: copy it now, with examples filled in.
#[component]
fn CreatedDialog(created: CreatedToken, servers: Vec<ServerView>) -> impl IntoView {
    // The examples are filled in for one of the token's servers at a time.
    let mut targets: Vec<(String, Transport, String)> = created
        .details
        .servers
        .iter()
        .filter_map(|linked| servers.iter().find(|s| s.id == linked.id))
        .map(|s| (s.name.clone(), s.transport, s.endpoint().to_string()))
        .collect();
    if targets.is_empty() {
        targets.push(("gatehouse".into(), Transport::StreamableHttp, "https://YOUR-GATEHOUSE/s/SERVER-ID/mcp".into()));
    }
    let several = (targets.len() > 1).then(|| targets.iter().map(|t| t.0.clone()).collect::<Vec<_>>());
    // How to connect the clients people use, for the first of the token's servers.
    let first = created.details.servers.first().and_then(|linked| servers.iter().find(|s| s.id == linked.id));
    let connect = (targets[0].2.clone(), first.is_some_and(ServerView::offers_oauth));
    let chosen = RwSignal::new(0usize);
    let token = created.token.clone();
    let examples = {
        let token = token.clone();
        Memo::new(move |_| {
            let (name, transport, endpoint) = &targets[chosen.get().min(targets.len() - 1)];
            snippets(name, *transport, endpoint, &token)
        })
    };
    let labels: Vec<&'static str> = examples.with_untracked(|e| e.iter().map(|x| x.0).collect());
    let tab = RwSignal::new(0usize);
    view! {
        <div class="fixed inset-0 z-50 flex items-end justify-center bg-slate-900/50 p-0 sm:items-center sm:p-4">
            <div role="dialog" aria-modal="true" aria-labelledby="created-title"
                class="max-h-[95vh] w-full max-w-2xl overflow-y-auto rounded-t-2xl bg-white p-6 shadow-xl sm:rounded-2xl dark:bg-slate-900">
                <h2 id="created-title" class="text-lg font-semibold text-slate-900 dark:text-white">"Your new token"</h2>
                <p class="mt-1 text-sm text-amber-800 dark:text-amber-300" role="note">
                    "Copy it now. Gatehouse keeps only its first and last characters; it will not be shown again."
                </p>
                <div class="mt-4 flex items-start gap-2">
                    <textarea readonly rows="3" aria-label="Token" data-testid="new-token"
                        class="min-w-0 flex-1 resize-none break-all rounded-lg border border-slate-300 bg-slate-50 p-3 font-mono text-xs text-slate-900 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100">{token.clone()}</textarea>
                    <CopyButton text=Signal::derive(move || token.clone()) label="Copy token"/>
                </div>
                <div class="mt-6">
                    {several.map(|names| view! {
                        <div class="mb-3 flex flex-wrap items-center gap-2 text-sm">
                            <label for="example-server" class="font-medium text-slate-700 dark:text-slate-200">"Examples for"</label>
                            <select id="example-server" class="rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-600 dark:bg-slate-800"
                                on:change=move |ev| chosen.set(event_target_value(&ev).parse().unwrap_or(0))>
                                {names.into_iter().enumerate().map(|(i, name)| view! { <option value=i.to_string()>{name}</option> }).collect_view()}
                            </select>
                        </div>
                    })}
                    <div role="tablist" aria-label="Examples" class="flex flex-wrap gap-1 border-b border-slate-200 dark:border-slate-700">
                        {labels.iter().copied().enumerate().map(|(i, label)| view! {
                            <button type="button" role="tab" aria-selected=move || (tab.get() == i).to_string() on:click=move |_| tab.set(i)
                                class=move || if tab.get() == i { "-mb-px border-b-2 border-indigo-600 px-3 py-2 text-sm font-medium text-indigo-700 dark:text-indigo-300" } else { "px-3 py-2 text-sm text-slate-600 hover:text-slate-900 dark:text-slate-400" }>
                                {label}
                            </button>
                        }).collect_view()}
                    </div>
                    {labels.iter().copied().enumerate().map(|(i, label)| {
                        let code = move || examples.with(|e| e[i].2.clone());
                        let language = examples.with_untracked(|e| e[i].1);
                        view! {
                            <div role="tabpanel" aria-label=label hidden=move || tab.get() != i class="mt-3 overflow-hidden rounded-lg bg-slate-950">
                                <div class="flex items-center justify-between border-b border-slate-800 px-3 py-1.5">
                                    <span class="text-xs text-slate-400">{language}</span>
                                    <CopyButton text=Signal::derive(code)/>
                                </div>
                                <pre class="overflow-x-auto p-4 text-xs text-slate-100" data-language=language><code>{code}</code></pre>
                            </div>
                        }
                    }).collect_view()}
                </div>
                <crate::oauth::ConnectClients url=connect.0 oauth=connect.1 token=created.token.clone()/>
                <div class="mt-6 flex justify-end gap-2">
                    <a href=format!("/tokens/{}", created.details.id) class=PRIMARY_BUTTON>"I have copied it"</a>
                </div>
            </div>
        </div>
    }
    .into_any()
}

#[component]
pub fn TokenDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse().ok()).map(TokenId);
    let revoke = ServerAction::<RevokeToken>::new();
    let associate = ServerAction::<AssociateServer>::new();
    let dissociate = ServerAction::<DissociateServer>::new();
    let limit = ServerAction::<LimitTools>::new();
    let allow = ServerAction::<AllowNetworks>::new();
    let token = Resource::new(
        move || {
            (
                id(),
                revoke.version().get(),
                associate.version().get(),
                dissociate.version().get(),
                limit.version().get(),
                allow.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => get_token(id).await,
                None => Err(AppError::not_found("token")),
            }
        },
    );
    let usage = Resource::new(
        move || (id(), revoke.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_token_usage(id).await.ok(),
                None => None,
            }
        },
    );
    toast_on(revoke, |t| format!("“{}” revoked. It no longer works anywhere.", t.description));
    toast_on(associate, |t| {
        format!("“{}” can now reach {}.", t.description, t.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "))
    });
    toast_on(dissociate, |t| format!("Server removed from “{}”.", t.description));
    toast_on(limit, |t| format!("Tool rules of “{}” saved.", t.description));
    toast_on(allow, |t| format!("Addresses of “{}” saved.", t.description));
    let tool_counts = Resource::new(
        move || (id(), revoke.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => crate::usage::functions::get_token_tools(id).await.unwrap_or_default(),
                None => Vec::new(),
            }
        },
    );
    let servers = Resource::new(|| (), |_| list_servers());
    let shown_once = Resource::new(id, |id| async move {
        match id {
            Some(id) => take_created_token(id).await.ok().flatten(),
            None => None,
        }
    });
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let all_servers = servers.await.unwrap_or_default();
                let fresh = shown_once.await;
                let usage = usage.await;
                let tool_counts = tool_counts.await;
                match token.await {
                    Ok(t) => {
                        let dialog = fresh.map(|token| view! {
                            <CreatedDialog created=CreatedToken { token, details: t.clone() } servers=all_servers.clone()/>
                        });
                        view! { <TokenDetail token=t all_servers usage tool_counts revoke associate dissociate limit allow/> {dialog} }.into_any()
                    }
                    Err(error) => view! { <Title text="Token · Gatehouse"/><ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TokenDetail(
    token: TokenView,
    all_servers: Vec<ServerView>,
    usage: Option<crate::usage::Usage>,
    tool_counts: Vec<crate::usage::domain::ToolCount>,
    revoke: ServerAction<RevokeToken>,
    associate: ServerAction<AssociateServer>,
    dissociate: ServerAction<DissociateServer>,
    limit: ServerAction<LimitTools>,
    allow: ServerAction<AllowNetworks>,
) -> impl IntoView {
    let id = token.id.to_string();
    let id_for_allow = id.clone();
    let allow_error = action_error(allow);
    let networks_words = token.allowed_networks.join(", ");
    let networks_said = if token.allowed_networks.is_empty() {
        "May be used from any address.".to_string()
    } else {
        format!("May be used only from {}.", token.allowed_networks.join(", "))
    };
    let (id_for_add, id_for_revoke) = (id.clone(), id.clone());
    let active = token.status == TokenStatus::Active;
    let linked = token.servers.clone();
    let revoke_summary = format!("Revoke “{}”…", token.description);
    let revoke_warning =
        format!("“{}” ({}) stops working at once, on every server, and cannot be restored.", token.description, token.display);
    let revoke_label = format!("Revoke “{}”", token.description);
    let others: Vec<ServerView> = all_servers.iter().filter(|s| !token.servers.iter().any(|t| t.id == s.id)).cloned().collect();
    let example = match token.servers.first().and_then(|s| all_servers.iter().find(|a| a.id == s.id)) {
        Some(s) => snippets(&s.name, s.transport, s.endpoint(), "YOUR-TOKEN").remove(0).2,
        None => snippets("gatehouse", Transport::StreamableHttp, "https://YOUR-GATEHOUSE/s/SERVER-ID/mcp", "YOUR-TOKEN").remove(0).2,
    };
    let assoc_error = action_error(associate);
    let limit_error = action_error(limit);
    let expiring = expiring_badge(&token);
    let revoked_note = match (token.revoked_by.as_deref(), token.revoked_at) {
        (Some("signing_key"), Some(at)) => Some(format!("Revoked {} with its signing key.", format_time(at))),
        (Some(_), Some(at)) => Some(format!("Revoked {}.", format_time(at))),
        _ => None,
    };
    view! {
        <Title text=format!("{} · Tokens · Gatehouse", token.description)/>
        <PageHeader title=token.description.clone() description=match &token.fingerprint {
            Some(fingerprint) => format!("Token {} · fingerprint {fingerprint} · made by {} in {}", token.display, token.made_by, token.organisation),
            None => format!("Token {} · made by {} in {}", token.display, token.made_by, token.organisation),
        }>
            {status_badge(token.status)}
            {expiring}
        </PageHeader>
        {revoked_note.map(|note| view! { <p class="mb-6 rounded-lg bg-rose-50 px-4 py-3 text-sm text-rose-800 dark:bg-rose-950 dark:text-rose-200">{note}</p> })}
        <dl class="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-4">
            <Stat label="Created"><RelativeTime at=Some(token.created_at)/></Stat>
            <Stat label="Expires"><RelativeTime at=token.expires_at none="never"/></Stat>
            <Stat label="Last used" testid="last-used"><RelativeTime at=token.last_used_at/></Stat>
            <Stat label="Requests">{token.use_count}</Stat>
        </dl>
        {token.last_used_ip.clone().map(|ip| view! { <p class="mt-2 text-xs text-slate-500">"Last used from " {ip}</p> })}

        <section class="mt-10" aria-labelledby="servers">
            <h2 id="servers" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Servers it may reach"</h2>
            <ul class="divide-y divide-slate-100 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                {token.servers.is_empty().then(|| view! { <li class="px-4 py-3 text-sm text-slate-500">"None yet: this token cannot reach any server."</li> })}
                {linked.into_iter().map(|s| {
                    let (id, id_for_limit) = (id.clone(), id.clone());
                    let remove_label = format!("Remove {}", s.name);
                    let tools_label = format!("Tools on {}", s.name);
                    let limit_label = format!("Save tools for {}", s.name);
                    let marker = s.name.clone();
                    let words = s.tools.words();
                    // What the server's last check found, to choose from.
                    let discovered = all_servers.iter().find(|a| a.id == s.id).and_then(|a| a.health.discovery.as_ref()).map(|d| {
                        let names: Vec<String> =
                            d.tools.iter().map(|t| if t.read_only { format!("{} (read-only)", t.name) } else { t.name.clone() }).collect();
                        format!("Its tools: {}", if names.is_empty() { "none".into() } else { names.join(", ") })
                    });
                    view! {
                    <li class="flex flex-wrap items-center justify-between gap-3 px-4 py-3 text-sm" data-server=marker>
                        <div>
                            <A href=format!("/servers/{}", s.id) attr:class=LINK>{s.name.clone()}</A>
                            <p class="text-xs text-slate-500" data-testid="tool-rule">{format!("May call {}", s.tools)}</p>
                            {discovered.map(|d| view! { <p class="text-xs text-slate-400" data-testid="discovered-tools">{d}</p> })}
                        </div>
                        <div class="flex flex-wrap items-end gap-2">
                            {active.then(|| view! {
                                <ActionForm action=limit attr:class="flex items-end gap-2">
                                    <input type="hidden" name="id" value=id_for_limit/>
                                    <input type="hidden" name="server" value=s.id.to_string()/>
                                    <input type="text" name="tools" value=words class=INPUT aria-label=tools_label
                                        placeholder="all, read-only or echo,add"/>
                                    <button type="submit" class=SECONDARY_BUTTON aria-label=limit_label>"Save tools"</button>
                                </ActionForm>
                            })}
                            <ActionForm action=dissociate>
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="server" value=s.id.to_string()/>
                                <button type="submit" class=SECONDARY_BUTTON>{remove_label}</button>
                            </ActionForm>
                        </div>
                    </li>
                }}).collect_view()}
            </ul>
            <FormAlert error=limit_error/>
            <h3 class="mb-2 mt-6 text-sm font-semibold text-slate-700 dark:text-slate-300">"Where it may be used from"</h3>
            <p class="text-sm text-slate-600 dark:text-slate-400" data-testid="allowed-networks">{networks_said}</p>
            {active.then(|| view! {
                <ActionForm action=allow attr:class="mt-2 flex flex-wrap items-end gap-2">
                    <input type="hidden" name="id" value=id_for_allow/>
                    <input type="text" name="networks" value=networks_words class=INPUT aria-label="Allowed addresses"
                        placeholder="any, or 10.0.0.0/8, 203.0.113.7"/>
                    <button type="submit" class=SECONDARY_BUTTON>"Save addresses"</button>
                </ActionForm>
            })}
            <FormAlert error=allow_error/>
            {(active && !others.is_empty()).then(|| view! {
                <ActionForm action=associate attr:class="mt-3 flex flex-wrap items-end gap-2">
                    <input type="hidden" name="id" value=id_for_add/>
                    <div class="space-y-1.5">
                        <label for="field-server" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Add a server"</label>
                        <select id="field-server" name="server" class=INPUT>
                            {others.iter().map(|s| view! { <option value=s.id.to_string()>{s.name.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <button type="submit" class=SECONDARY_BUTTON disabled=move || associate.pending().get()>"Add"</button>
                </ActionForm>
                <FormAlert error=assoc_error/>
            })}
        </section>

        {usage.map(|usage| view! {
            <section class="mt-10" aria-labelledby="usage">
                <h2 id="usage" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Usage"</h2>
                <div class="grid gap-4 lg:grid-cols-2">
                    <UsageChart title="Requests per hour, last 24 hours" span=Span::Hourly points=usage.hourly/>
                    <UsageChart title="Requests per day, last 30 days" span=Span::Daily points=usage.daily/>
                </div>
                <h3 class="mb-2 mt-6 text-sm font-semibold text-slate-700 dark:text-slate-300">"Most-called tools, last 30 days"</h3>
                <crate::usage::chart::ToolCounts counts=tool_counts/>
            </section>
        })}

        <section class="mt-10" aria-labelledby="how-to">
            <h2 id="how-to" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"How to use it"</h2>
            <pre class="overflow-x-auto rounded-lg bg-slate-950 p-4 text-xs text-slate-100"><code>{example}</code></pre>
        </section>

        {active.then(|| view! {
            <section class="mt-10 max-w-2xl" aria-labelledby="revoke">
                <h2 id="revoke" class="mb-3 text-sm font-semibold uppercase tracking-wide text-rose-600">"Revoke"</h2>
                <Confirm summary=revoke_summary warning=revoke_warning>
                    <ActionForm action=revoke>
                        <input type="hidden" name="id" value=id_for_revoke/>
                        <button type="submit" class=DANGER_BUTTON disabled=move || revoke.pending().get() aria-busy=move || revoke.pending().get().then_some("true")>
                            {move || if revoke.pending().get() { "Revoking…".to_string() } else { revoke_label.clone() }}
                        </button>
                    </ActionForm>
                </Confirm>
            </section>
        })}
    }
}

#[component]
fn Stat(label: &'static str, #[prop(optional)] testid: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class=CARD>
            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
            <dd class="mt-1 text-sm font-semibold text-slate-900 dark:text-white" data-testid=(!testid.is_empty()).then_some(testid)>{children()}</dd>
        </div>
    }
}
