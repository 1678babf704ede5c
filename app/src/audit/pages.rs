//! The audit log page, newest first, with paging.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::functions::audit_log;
use crate::components::*;
use crate::servers::pages::Loading;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(1).max(1);
    let everything = move || query.read().get("scope").as_deref() == Some("all");
    let entries = Resource::new(move || (page(), everything()), |(page, all)| audit_log(page, all));
    view! {
        <Title text="Audit log · Gatehouse"/>
        <PageHeader title="Audit log" description="Who changed what, when, and from where."/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(log) if log.entries.is_empty() && log.page == 1 => view! {
                        <EmptyState title="Nothing recorded yet" body="Changes to your servers, tokens and keys will be listed here.">
                            <a href="/servers/new" class=PRIMARY_BUTTON>"Add a server"</a>
                        </EmptyState>
                    }.into_any(),
                    Ok(log) => {
                        let pages = log.pages();
                        let scope = if everything() { "&scope=all" } else { "" };
                        view! {
                            <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
                                <table class="min-w-full divide-y divide-slate-200 text-left text-sm dark:divide-slate-800">
                                    <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                                        <tr>
                                            <th scope="col" class="px-4 py-3 font-medium">"When"</th>
                                            <th scope="col" class="px-4 py-3 font-medium">"Action"</th>
                                            <th scope="col" class="px-4 py-3 font-medium">"By"</th>
                                            <th scope="col" class="px-4 py-3 font-medium">"Object"</th>
                                            <th scope="col" class="px-4 py-3 font-medium">"Details"</th>
                                            <th scope="col" class="px-4 py-3 font-medium">"From"</th>
                                        </tr>
                                    </thead>
                                    <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                        {log.entries.into_iter().map(|e| {
                                            let detail = if e.detail.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { e.detail.to_string() };
                                            view! {
                                                <tr>
                                                    <td class="whitespace-nowrap px-4 py-3"><RelativeTime at=Some(e.created_at)/></td>
                                                    <td class="whitespace-nowrap px-4 py-3 font-mono text-xs">{e.action}</td>
                                                    <td class="px-4 py-3">
                                                        {e.actor_email.unwrap_or_else(|| "—".into())}
                                                        {match (e.via.as_deref(), e.api_key_id) {
                                                            (Some("api_key"), Some(key)) => Some((" · API key", key.to_string())),
                                                            (Some("cli"), _) => Some((" · command line", String::new())),
                                                            _ => None,
                                                        }.map(|(via, key)| view! { <span class="text-xs text-slate-500" title=key>{via}</span> })}
                                                    </td>
                                                    <td class="px-4 py-3 font-mono text-xs">{format!("{} {}", e.object_type, e.object_id.map(|id| id.chars().take(8).collect::<String>()).unwrap_or_default())}</td>
                                                    <td class="max-w-xs truncate px-4 py-3 font-mono text-xs text-slate-500" title=detail.clone()>{detail.clone()}</td>
                                                    <td class="whitespace-nowrap px-4 py-3 text-slate-500">{e.ip.unwrap_or_default()}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <nav aria-label="Pages" class="mt-4 flex items-center justify-between text-sm">
                                <span class="text-slate-500">{format!("Page {} of {pages} · {} entries", log.page, log.total)}</span>
                                <span class="flex gap-2">
                                    {(log.page > 1).then(|| view! { <a class=SECONDARY_BUTTON href=format!("/audit?page={}{scope}", log.page - 1)>"Newer"</a> })}
                                    {(log.page < pages).then(|| view! { <a class=SECONDARY_BUTTON href=format!("/audit?page={}{scope}", log.page + 1)>"Older"</a> })}
                                </span>
                            </nav>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
