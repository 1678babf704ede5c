//! The API keys section of the Account page: make one (shown once), see them, revoke.
use leptos::prelude::*;

use super::domain::{ApiKeyStatus, ApiScope};
use super::functions::{CreateApiKey, RevokeApiKey, list_api_keys};
use crate::components::{
    Badge, Confirm, CopyField, DANGER_BUTTON, ErrorPanel, Field, FormAlert, INPUT, RelativeTime, SubmitButton, Tone, action_error,
    field_error,
};
use crate::tokens::EXPIRY_PRESETS;

#[component]
pub fn ApiKeysSection() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_api_keys());
    let error = action_error(create);
    let created = move || create.value().get().and_then(Result::ok);
    view! {
        <section class="mt-10" aria-labelledby="api-keys">
            <h2 id="api-keys" class="mb-1 text-sm font-semibold uppercase tracking-wide text-slate-500">"API keys"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "For scripts: send " <code class="font-mono text-xs">"Authorization: Bearer <key>"</code>
                " to /api/v1. A key acts as you within its scope: read (GET only), write (your servers, tokens and keys) or admin (admins only). MCP clients need a token instead."
            </p>
            {move || created().map(|c| view! {
                <div role="status" class="mb-4 space-y-2 rounded-lg border border-emerald-200 bg-emerald-50 p-4 text-sm dark:border-emerald-900 dark:bg-emerald-950">
                    <p class="font-medium text-emerald-800 dark:text-emerald-300">"Copy this key now. It will not be shown again."</p>
                    <CopyField value=c.key label="New API key"/>
                </div>
            })}
            <ActionForm action=create attr:class="grid max-w-3xl gap-4 sm:grid-cols-4 sm:items-end" attr:novalidate="">
                <div class="sm:col-span-4"><FormAlert error/></div>
                <div class="sm:col-span-2">
                    <Field label="Description" name="description" hint="What uses it, e.g. deploy script." error=field_error(error, "description")/>
                </div>
                <div class="space-y-1.5">
                    <label for="field-scope" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Scope"</label>
                    <select id="field-scope" name="scope" class=INPUT>
                        {ApiScope::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=s == ApiScope::Read>{s.as_str()}</option> }).collect_view()}
                    </select>
                    <Show when=move || field_error(error, "scope").get().is_some()>
                        <p class="text-sm text-rose-600 dark:text-rose-400" data-field-error="scope">{move || field_error(error, "scope").get()}</p>
                    </Show>
                </div>
                <div class="space-y-1.5">
                    <label for="field-key-expires" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Expires"</label>
                    <select id="field-key-expires" name="expires" class=INPUT>
                        {EXPIRY_PRESETS.iter().map(|(value, label)| view! { <option value=*value selected=*value == "90d">{*label}</option> }).collect_view()}
                    </select>
                </div>
                <div><SubmitButton label="Create API key" pending_label="Creating…" pending=create.pending()/></div>
            </ActionForm>
            <Suspense fallback=|| view! { <p class="mt-4 text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(list) if list.is_empty() => view! { <p class="mt-4 text-sm text-slate-500">"No API keys yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="mt-4 divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                                {list.into_iter().map(|k| {
                                    let tone = match k.status { ApiKeyStatus::Active => Tone::Good, ApiKeyStatus::Expired => Tone::Warn, ApiKeyStatus::Revoked => Tone::Bad };
                                    let id = k.id.to_string();
                                    let row_id = id.clone();
                                    view! {
                                        <li class="flex flex-wrap items-center gap-3 px-5 py-3 text-sm" data-api-key=row_id>
                                            <span class="font-medium">{k.description.clone()}</span>
                                            <code class="font-mono text-xs text-slate-500">{k.display}</code>
                                            <Badge text=k.scope.as_str() tone=Tone::Muted/>
                                            <Badge text=k.status.as_str() tone/>
                                            <span class="text-slate-500">"expires " <RelativeTime at=k.expires_at none="never"/></span>
                                            <span class="text-slate-500">"last used " <RelativeTime at=k.last_used_at/></span>
                                            {(k.status == ApiKeyStatus::Active).then(|| view! {
                                                <span class="ml-auto">
                                                    <Confirm summary="Revoke".into() warning=format!("Scripts using “{}” will get 401 from their next request.", k.description)>
                                                        <ActionForm action=revoke>
                                                            <input type="hidden" name="id" value=id.clone()/>
                                                            <button type="submit" class=DANGER_BUTTON>"Revoke key"</button>
                                                        </ActionForm>
                                                    </Confirm>
                                                </span>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
