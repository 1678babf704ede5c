//! The server page's health panel ("Up · 12 tools · checked 2 minutes ago", with "Check now"
//! and what the upstream offers) and the form's "Detect" button.
use leptos::prelude::*;

use super::domain::ServerId;
use super::functions::CheckServer;
use super::health::{HealthStatus, ServerHealth};
use crate::components::*;

#[component]
pub fn HealthPanel(id: ServerId, health: ServerHealth, check: ServerAction<CheckServer>) -> AnyView {
    let (label, tone) = match health.status {
        HealthStatus::Up => ("Up", Tone::Good),
        HealthStatus::Down => ("Down", Tone::Bad),
        HealthStatus::Unchecked => ("Not checked", Tone::Muted),
    };
    let summary = health.summary(chrono::Utc::now());
    let error = action_error(check);
    let discovery = health.discovery.clone();
    let about = discovery.as_ref().map(|d| {
        let version = d.server_version.as_ref().map(|v| format!(" {v}")).unwrap_or_default();
        format!("{}{version} · protocol {} · {}", d.server_name, d.protocol_version, d.transport.label())
    });
    let stale = health.status == HealthStatus::Down && discovery.is_some();
    view! {
        <section class="mt-10" aria-labelledby="health">
            <h2 id="health" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Upstream"</h2>
            <div class=CARD>
                <div class="flex flex-wrap items-center justify-between gap-3">
                    <p class="flex items-center gap-2 text-sm text-slate-800 dark:text-slate-200" data-health=health.status.as_str()>
                        <Badge text=label tone/>
                        <span data-health-summary="">{summary}</span>
                    </p>
                    <ActionForm action=check>
                        <input type="hidden" name="id" value=id.to_string()/>
                        <button type="submit" class=SECONDARY_BUTTON disabled=move || check.pending().get()>
                            {move || if check.pending().get() { "Checking…" } else { "Check now" }}
                        </button>
                    </ActionForm>
                </div>
                <FormAlert error/>
                {about.map(|about| view! { <p class="mt-2 text-xs text-slate-500">{about}</p> })}
                {stale.then(|| view! { <p class="mt-2 text-xs text-amber-700 dark:text-amber-300">"As of the last check that worked:"</p> })}
                {discovery.map(|d| view! {
                    <div class="mt-4 grid gap-4 md:grid-cols-3">
                        <div>
                            <h3 class="mb-1 text-sm font-semibold text-slate-700 dark:text-slate-300">{format!("Tools ({})", d.tools.len())}</h3>
                            <ul class="space-y-1 text-sm" data-tools="">
                                {d.tools.into_iter().map(|t| view! {
                                    <li data-tool=t.name.clone()>
                                        <code class="font-mono text-xs">{t.name.clone()}</code>
                                        {t.read_only.then(|| view! { " " <Badge text="read-only" tone=Tone::Muted/> })}
                                        {t.description.map(|d| view! { <p class="text-xs text-slate-500">{d}</p> })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </div>
                        <div>
                            <h3 class="mb-1 text-sm font-semibold text-slate-700 dark:text-slate-300">{format!("Prompts ({})", d.prompts.len())}</h3>
                            <ul class="space-y-1 text-sm">
                                {d.prompts.into_iter().map(|p| view! { <li><code class="font-mono text-xs">{p.name}</code></li> }).collect_view()}
                            </ul>
                        </div>
                        <div>
                            <h3 class="mb-1 text-sm font-semibold text-slate-700 dark:text-slate-300">{format!("Resources ({})", d.resources.len())}</h3>
                            <ul class="space-y-1 text-sm">
                                {d.resources.into_iter().map(|r| view! { <li><code class="break-all font-mono text-xs">{r.uri}</code></li> }).collect_view()}
                            </ul>
                        </div>
                    </div>
                }.into_any())}
            </div>
        </section>
    }
    .into_any()
}

/// Finds the transport of the URL typed in the form by trying both, and selects it. Needs
/// JavaScript; without it the check made on save says when the transport is wrong.
#[component]
pub fn DetectButton(id: Option<ServerId>) -> impl IntoView {
    let said = RwSignal::new(None::<Result<String, String>>);
    let pending = RwSignal::new(false);
    let detect = move |_| {
        #[cfg(feature = "hydrate")]
        {
            use web_sys::wasm_bindgen::JsCast;
            let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
            let element = |id: &str| document.get_element_by_id(id);
            let url = element("field-upstream_url").and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok()).map(|e| e.value());
            let headers = element("field-headers").and_then(|e| e.dyn_into::<web_sys::HtmlTextAreaElement>().ok()).map(|e| e.value());
            let transport = element("field-transport").and_then(|e| e.dyn_into::<web_sys::HtmlSelectElement>().ok());
            pending.set(true);
            leptos::task::spawn_local(async move {
                match super::functions::detect_transport(url.unwrap_or_default(), headers.unwrap_or_default(), id).await {
                    Ok(found) => {
                        if let Some(select) = transport {
                            select.set_value(found.transport.as_str());
                        }
                        let tools = found.tools.len();
                        said.set(Some(Ok(format!(
                            "{} answers over {} ({tools} tool{}); the transport is set.",
                            found.server_name,
                            found.transport.label(),
                            if tools == 1 { "" } else { "s" }
                        ))));
                    }
                    Err(e) => said.set(Some(Err(e.fields.get("upstream_url").cloned().unwrap_or(e.message)))),
                }
                pending.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (id, said, pending);
    };
    view! {
        <div class="flex flex-wrap items-center gap-3">
            <button type="button" on:click=detect class=SECONDARY_BUTTON data-detect="" disabled=move || pending.get()>
                {move || if pending.get() { "Detecting…" } else { "Detect" }}
            </button>
            <span role="status" class="text-sm">
                {move || said.get().map(|said| match said {
                    Ok(text) => view! { <span class="text-emerald-700 dark:text-emerald-400">{text}</span> }.into_any(),
                    Err(text) => view! { <span class="text-rose-600 dark:text-rose-400">{text}</span> }.into_any(),
                })}
            </span>
        </div>
    }
}

/// The server's recorded tool calls, newest first, fifty a page ("Older" follows the cursor in
/// the address, so paging works without JavaScript).
#[component]
pub fn ToolCallsPanel(id: ServerId, audit: super::domain::ToolAudit, page: super::domain::ToolCallPage) -> AnyView {
    if audit == super::domain::ToolAudit::Off && page.calls.is_empty() {
        return view! {
            <section class="mt-10" aria-labelledby="tool-calls">
                <h2 id="tool-calls" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Tool calls"</h2>
                <p class="text-sm text-slate-500" data-testid="tool-calls-off">"Not recorded. Turn on \"Record tool calls\" in the settings below to see who called which tool."</p>
            </section>
        }
        .into_any();
    }
    let export = format!("/api/v1/servers/{id}/tool-calls.jsonl");
    let older = page.next.map(|next| format!("/servers/{id}?before={next}"));
    view! {
        <section class="mt-10" aria-labelledby="tool-calls">
            <div class="mb-3 flex items-center justify-between">
                <h2 id="tool-calls" class="text-sm font-semibold uppercase tracking-wide text-slate-500">"Tool calls"</h2>
                <a href=export class=SECONDARY_BUTTON download="">"Export (JSON lines)"</a>
            </div>
            {if page.calls.is_empty() {
                view! { <p class="text-sm text-slate-500">"No tool calls recorded yet."</p> }.into_any()
            } else {
                view! {
                    <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
                        <table class="min-w-full text-left text-sm" data-testid="tool-calls">
                            <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                                <tr>
                                    <th scope="col" class="px-4 py-2 font-medium">"When"</th>
                                    <th scope="col" class="px-4 py-2 font-medium">"Member"</th>
                                    <th scope="col" class="px-4 py-2 font-medium">"Tool"</th>
                                    <th scope="col" class="px-4 py-2 font-medium">"Outcome"</th>
                                    <th scope="col" class="px-4 py-2 font-medium">"Arguments"</th>
                                </tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                {page.calls.into_iter().map(|c| view! {
                                    <tr data-call=c.id.to_string()>
                                        <td class="px-4 py-2 whitespace-nowrap">{crate::components::format_time(c.at)}</td>
                                        <td class="px-4 py-2">{c.member}</td>
                                        <td class="px-4 py-2"><code class="font-mono text-xs">{c.tool}</code></td>
                                        <td class="px-4 py-2">{c.outcome}</td>
                                        <td class="px-4 py-2"><code class="break-all font-mono text-xs">{c.arguments.unwrap_or_default()}</code></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
            {older.map(|href| view! { <a href=href class=format!("mt-3 {SECONDARY_BUTTON}") rel="next">"Older calls"</a> })}
        </section>
    }
    .into_any()
}
