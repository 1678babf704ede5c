//! The consent page an MCP client's sign-in lands on, and Connected apps: the grants, by client.
//!
//! The consent form is a plain `<form method="post">` to `/oauth/authorize` (the server crate
//! answers it with a redirect to the client): it works without JavaScript, carries only the
//! request's id and the session's CSRF token, and what the client asked for stays on the server.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

use super::domain::{GRANT_LIFETIMES, METADATA_DOCUMENT_KIND};
use super::functions::{DeleteOauthClient, DisconnectApp, connected_apps, consent_details, list_oauth_clients};
use crate::components::*;
use crate::servers::pages::Loading;
use crate::tokens::TokenStatus;

#[component]
pub fn ConsentPage() -> impl IntoView {
    let query = use_query_map();
    let request = move || query.read().get("request").and_then(|r| r.parse::<Uuid>().ok());
    let details = Resource::new(request, |request| async move {
        match request {
            Some(id) => consent_details(id).await,
            None => Err(crate::error::AppError::new(
                crate::error::ErrorCode::NotFound,
                "This sign-in link is incomplete. Start again from the app.",
            )),
        }
    });
    view! {
        <Title text="Connect an app · Gatehouse"/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(c) => {
                        let kind = if c.client_kind == METADATA_DOCUMENT_KIND {
                            format!("Identified by its published metadata at {}", c.client_id)
                        } else {
                            "Registered itself with this Gatehouse (its name is its own claim)".to_string()
                        };
                        let requested = c.requested.id.to_string();
                        view! {
                            <PageHeader title=format!("Connect {} to your servers?", c.client_name)
                                description="An MCP client asks to use your Gatehouse endpoints as you. It gets a token you can see and revoke under Tokens and Connected apps."/>
                            <section class=format!("{CARD} max-w-2xl space-y-4") aria-labelledby="consent-client" data-consent=c.request.to_string()>
                                <dl class="grid gap-3 text-sm sm:grid-cols-2">
                                    <div><dt class="text-slate-500">"App"</dt><dd id="consent-client" class="font-medium">{c.client_name.clone()}</dd></div>
                                    <div><dt class="text-slate-500">"Sends you back to"</dt><dd class="break-all font-mono text-xs" data-redirect-host="">{c.redirect_host.clone()}</dd></div>
                                    <div class="sm:col-span-2"><dt class="text-slate-500">"Who it is"</dt><dd class="break-all text-xs">{kind}</dd></div>
                                    <div><dt class="text-slate-500">"Asks for"</dt><dd class="font-medium">{c.requested.name.clone()}</dd></div>
                                    <div><dt class="text-slate-500">"Scope"</dt><dd class="font-mono text-xs">{c.scope.clone()}</dd></div>
                                </dl>
                                <form method="post" action="/oauth/authorize" class="space-y-4">
                                    <input type="hidden" name="request" value=c.request.to_string()/>
                                    <input type="hidden" name="csrf" value=c.csrf.clone()/>
                                    <fieldset class="space-y-2">
                                        <legend class="text-sm font-medium text-slate-700 dark:text-slate-200">"Servers it may use"</legend>
                                        {c.servers.iter().map(|s| {
                                            let id = s.id.to_string();
                                            let checked = id == requested;
                                            view! {
                                                <label class="flex items-center gap-2 text-sm">
                                                    <input type="checkbox" name="server" value=id checked=checked/>
                                                    <span>{s.name.clone()}</span>
                                                </label>
                                            }
                                        }).collect_view()}
                                    </fieldset>
                                    <div class="space-y-1.5">
                                        <label for="field-lifetime" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"For how long"</label>
                                        <select id="field-lifetime" name="lifetime" class=INPUT>
                                            {GRANT_LIFETIMES.iter().map(|(value, label)| view! { <option value=*value selected=*value == "90d">{*label}</option> }).collect_view()}
                                        </select>
                                    </div>
                                    <div class="flex flex-wrap gap-3">
                                        <button type="submit" name="decision" value="allow" class=PRIMARY_BUTTON>"Allow"</button>
                                        <button type="submit" name="decision" value="deny" class=SECONDARY_BUTTON>"Deny"</button>
                                    </div>
                                </form>
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn ConnectedAppsPage() -> impl IntoView {
    let disconnect = ServerAction::<DisconnectApp>::new();
    let apps = Resource::new(move || disconnect.version().get(), |_| connected_apps());
    crate::toast::toast_on(disconnect, |n| format!("Disconnected: {n} grant(s) revoked; their streams ended."));
    view! {
        <Title text="Connected apps · Gatehouse"/>
        <PageHeader title="Connected apps" description="MCP clients you signed in with OAuth. Each grant is a token: revoke one under Tokens, or disconnect an app to end all of its grants."/>
        <FormAlert error=action_error(disconnect)/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match apps.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No connected apps" body="When Claude, ChatGPT, VS Code, Cursor or another MCP client signs in to one of your endpoints with OAuth, it appears here.">
                            <a href="/servers" class=SECONDARY_BUTTON>"Your servers"</a>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="space-y-6">
                            {list.into_iter().map(|app| {
                                let live = app.grants.iter().filter(|g| g.status == TokenStatus::Active).count();
                                let client = app.client.to_string();
                                let section_id = client.clone();
                                view! {
                                    <section class=CARD data-connected-app=section_id>
                                        <div class="flex flex-wrap items-center justify-between gap-3">
                                            <div>
                                                <h2 class="font-semibold">{app.name.clone()}</h2>
                                                <p class="break-all text-xs text-slate-500">{app.client_id.clone()}</p>
                                            </div>
                                            {(live > 0).then(|| view! {
                                                <Confirm summary="Disconnect".into() warning=format!("{} loses every grant ({live} live); its open streams end now.", app.name)>
                                                    <ActionForm action=disconnect>
                                                        <input type="hidden" name="client" value=client/>
                                                        <button type="submit" class=DANGER_BUTTON>"Disconnect app"</button>
                                                    </ActionForm>
                                                </Confirm>
                                            })}
                                        </div>
                                        <ul class="mt-4 divide-y divide-slate-200 text-sm dark:divide-slate-800">
                                            {app.grants.into_iter().map(|g| {
                                                let tone = match g.status { TokenStatus::Active => Tone::Good, TokenStatus::Expired => Tone::Warn, TokenStatus::Revoked => Tone::Bad };
                                                let servers = g.servers.iter().map(|s| s.name.clone()).collect::<Vec<_>>().join(", ");
                                                view! {
                                                    <li class="flex flex-wrap items-center gap-3 py-2">
                                                        <a href=format!("/tokens/{}", g.id) class=LINK>{g.description.clone()}</a>
                                                        <Badge text=g.status.as_str() tone/>
                                                        <span class="text-slate-500">{servers}</span>
                                                        <span class="text-slate-500">"last used " <RelativeTime at=g.last_used_at/></span>
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    </section>
                                }
                            }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The operator's list of OAuth clients on the Users page: who registered or is known by a
/// metadata document, how many grants each holds, and delete (which revokes them).
#[component]
pub fn OAuthClientsSection() -> impl IntoView {
    let delete = ServerAction::<DeleteOauthClient>::new();
    let clients = Resource::new(move || delete.version().get(), |_| list_oauth_clients());
    crate::toast::toast_on(delete, |_| "Client deleted; its grants are revoked and their streams ended.".to_string());
    view! {
        <section class="mt-10" aria-labelledby="oauth-clients">
            <h2 id="oauth-clients" class="mb-1 text-sm font-semibold uppercase tracking-wide text-slate-500">"OAuth clients"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">
                "Apps that registered themselves (dynamic registration) or are known by their client metadata URL. Deleting one revokes every grant it holds."
            </p>
            <FormAlert error=action_error(delete)/>
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match clients.await {
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-slate-500">"No OAuth clients yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                                {list.into_iter().map(|c| {
                                    let id = c.id.to_string();
                                    let row = id.clone();
                                    let kind = if c.kind == METADATA_DOCUMENT_KIND { "metadata document" } else { "registered" };
                                    view! {
                                        <li class="flex flex-wrap items-center gap-3 px-5 py-3 text-sm" data-oauth-client=row>
                                            <span class="font-medium">{c.name.clone()}</span>
                                            <Badge text=kind tone=Tone::Muted/>
                                            <span class="break-all font-mono text-xs text-slate-500">{c.client_id.clone()}</span>
                                            <span class="text-slate-500">{format!("{} live grant(s)", c.live_grants)}</span>
                                            <span class="text-slate-500">"expires " <RelativeTime at=c.expires_at none="never"/></span>
                                            <span class="ml-auto">
                                                <Confirm summary="Delete".into() warning=format!("{} loses its registration and its {} live grant(s); their streams end now.", c.name, c.live_grants)>
                                                    <ActionForm action=delete>
                                                        <input type="hidden" name="id" value=id.clone()/>
                                                        <button type="submit" class=DANGER_BUTTON>"Delete client"</button>
                                                    </ActionForm>
                                                </Confirm>
                                            </span>
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
