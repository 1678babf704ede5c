//! Sign-up, log-in, account and user-list pages.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use super::functions::{ChangePassword, CreateInvite, Login, Logout, Register, UpdateAccount, current_account, list_accounts};
use super::{AccountStatus, Role};
use crate::components::{
    Badge, Confirm, DANGER_BUTTON, EmptyState, ErrorPanel, Field, FormAlert, PageHeader, SECONDARY_BUTTON, SubmitButton, Tone,
    action_error, encode_query_value, field_error, format_time,
};

/// The `next` query parameter, carried through the auth forms.
fn next_param() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("next").unwrap_or_default())
}

#[component]
fn AuthCard(title: &'static str, subtitle: &'static str, children: Children) -> impl IntoView {
    view! {
        <main class="flex min-h-screen items-center justify-center bg-slate-50 px-4 py-12 dark:bg-slate-950">
            <div class="w-full max-w-md">
                <a href="/" class="mb-8 flex items-center justify-center gap-2 text-lg font-semibold text-slate-900 dark:text-white">
                    <span class="grid h-9 w-9 place-items-center rounded-lg bg-indigo-600 text-white">"G"</span>
                    "Gatehouse"
                </a>
                <div class="rounded-2xl border border-slate-200 bg-white p-8 shadow-sm dark:border-slate-800 dark:bg-slate-900">
                    <h1 class="text-xl font-semibold text-slate-900 dark:text-white">{title}</h1>
                    <p class="mb-6 mt-1 text-sm text-slate-600 dark:text-slate-400">{subtitle}</p>
                    {children()}
                </div>
            </div>
        </main>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let error = action_error(action);
    let next = next_param();
    view! {
        <Title text="Log in · Gatehouse"/>
        <AuthCard title="Log in" subtitle="Manage your MCP servers and their access tokens.">
            <ActionForm action=action attr:class="space-y-5" attr:novalidate="">
                <input type="hidden" name="next" value=next/>
                <FormAlert error/>
                <Field label="Email" name="email" input_type="email" autocomplete="email" error=field_error(error, "email")/>
                <Field label="Password" name="password" input_type="password" autocomplete="current-password" error=field_error(error, "password")/>
                <SubmitButton label="Log in" pending_label="Logging in…" pending=action.pending()/>
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600 dark:text-slate-400">
                "New to Gatehouse? "
                <A href=move || format!("/signup?next={}", encode_query_value(&next.get())) attr:class="font-medium text-indigo-600 hover:text-indigo-500 dark:text-indigo-400">
                    "Create an account"
                </A>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let error = action_error(action);
    let next = next_param();
    let query = leptos_router::hooks::use_query_map();
    let invite = move || query.read().get("invite").unwrap_or_default();
    view! {
        <Title text="Create your account · Gatehouse"/>
        <AuthCard title="Create your account" subtitle="Put your MCP servers behind tokens you control.">
            <ActionForm action=action attr:class="space-y-5" attr:novalidate="">
                <input type="hidden" name="next" value=next/>
                <input type="hidden" name="invite" value=invite/>
                <Show when=move || field_error(error, "invite").get().is_some()>
                    <p class="text-sm text-rose-600 dark:text-rose-400" data-field-error="invite">{move || field_error(error, "invite").get()}</p>
                </Show>
                <FormAlert error/>
                <Field label="Email" name="email" input_type="email" autocomplete="email" error=field_error(error, "email")/>
                <Field label="Password" name="password" input_type="password" autocomplete="new-password"
                    hint="8 to 128 characters. A long passphrase is best." error=field_error(error, "password")/>
                <SubmitButton label="Create account" pending_label="Creating account…" pending=action.pending()/>
            </ActionForm>
            <p class="mt-6 text-center text-sm text-slate-600 dark:text-slate-400">
                "Already have an account? "
                <A href=move || format!("/login?next={}", encode_query_value(&next.get())) attr:class="font-medium text-indigo-600 hover:text-indigo-500 dark:text-indigo-400">
                    "Log in"
                </A>
            </p>
        </AuthCard>
    }
}

/// A log-out button; a plain form, so it works before hydration too.
#[component]
pub fn LogoutButton(#[prop(optional)] class: &'static str) -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=action>
            <button type="submit" class=class disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Logging out…" } else { "Log out" }}
            </button>
        </ActionForm>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let account = Resource::new(|| (), |_| current_account());
    view! {
        <Title text="Account · Gatehouse"/>
        <PageHeader title="Account" description="Your login and role on this Gatehouse."/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(Some(a)) => view! {
                        <dl class="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900">
                            <Row label="Email" value=a.email.to_string()/>
                            <Row label="Role" value=a.role.as_str().to_string()/>
                            <Row label="Member since" value=format_time(a.created_at)/>
                        </dl>
                        <div class="mt-6">
                            <LogoutButton class="rounded-lg border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-200"/>
                        </div>
                        <PasswordForm/>
                    }.into_any(),
                    Ok(None) => view! { <p>"You are logged out."</p> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
        // Beside the account's Suspense, not inside it: a resource made inside another's
        // suspended view does not hydrate (tachys panics on the mismatch).
        <crate::api_keys::ApiKeysSection/>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = action_error(action);
    let done = move || action.value().get().is_some_and(|r| r.is_ok());
    view! {
        <section class="mt-10 max-w-md" aria-labelledby="password">
            <h2 id="password" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Change password"</h2>
            <ActionForm action=action attr:class="space-y-4" attr:novalidate="">
                <FormAlert error/>
                <Field label="Current password" name="current_password" input_type="password" autocomplete="current-password" error=field_error(error, "current_password")/>
                <Field label="New password" name="new_password" input_type="password" autocomplete="new-password"
                    hint="8 to 128 characters. Your other sessions will be logged out." error=field_error(error, "new_password")/>
                <SubmitButton label="Change password" pending_label="Changing…" pending=action.pending()/>
                <Show when=done><p role="status" class="text-sm text-emerald-700 dark:text-emerald-400">"Password changed. Other sessions were logged out."</p></Show>
            </ActionForm>
        </section>
    }
}

#[component]
fn Row(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="grid grid-cols-3 gap-4 px-5 py-4 text-sm">
            <dt class="font-medium text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="col-span-2 text-slate-900 dark:text-slate-100">{value}</dd>
        </div>
    }
}

/// Makes a one-use sign-up link and shows it once.
#[component]
fn InviteForm() -> impl IntoView {
    let action = ServerAction::<CreateInvite>::new();
    let error = action_error(action);
    let made = move || action.value().get().and_then(Result::ok);
    view! {
        <section class="mb-6 rounded-xl border border-slate-200 bg-white p-5 dark:border-slate-800 dark:bg-slate-900" aria-labelledby="invite">
            <h2 id="invite" class="mb-1 text-sm font-semibold text-slate-900 dark:text-slate-100">"Invite someone"</h2>
            <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">"A sign-up link that works once, even when sign-up is by invitation only."</p>
            <ActionForm action=action attr:class="flex flex-wrap items-end gap-3">
                <div class="space-y-1.5">
                    <label for="field-invite-expires" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Works for"</label>
                    <select id="field-invite-expires" name="expires" class=crate::components::INPUT>
                        <option value="24h">"24 hours"</option>
                        <option value="7d" selected=true>"7 days"</option>
                        <option value="30d">"30 days"</option>
                    </select>
                </div>
                <SubmitButton label="Make invite link" pending_label="Making…" pending=action.pending()/>
            </ActionForm>
            <div class="mt-3"><FormAlert error/></div>
            {move || made().map(|invite| view! {
                <div role="status" class="mt-3 space-y-2 text-sm">
                    <p class="text-emerald-800 dark:text-emerald-300">"Send this link to the person. It works once, until " {format_time(invite.expires_at)} "."</p>
                    <crate::components::CopyField value=invite.url label="Invite link"/>
                </div>
            })}
        </section>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let update = ServerAction::<UpdateAccount>::new();
    let accounts = Resource::new(move || update.version().get(), |_| list_accounts());
    let update_error = action_error(update);
    crate::toast::toast_on(update, |a| format!("{} is now {} ({}).", a.email, a.status.as_str(), a.role.as_str()));
    view! {
        <Title text="Users · Gatehouse"/>
        <PageHeader title="Users" description="Every account on this Gatehouse."/>
        <InviteForm/>
        <FormAlert error=update_error/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match accounts.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No users yet" body="Accounts appear here as people sign up.">
                            <span></span>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="overflow-x-auto rounded-xl border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
                            <table class="min-w-full divide-y divide-slate-200 text-left text-sm dark:divide-slate-800">
                                <thead class="bg-slate-50 text-xs uppercase tracking-wide text-slate-500 dark:bg-slate-800/50 dark:text-slate-400">
                                    <tr>
                                        <th scope="col" class="px-5 py-3 font-medium">"Email"</th>
                                        <th scope="col" class="px-5 py-3 font-medium">"Role"</th>
                                        <th scope="col" class="px-5 py-3 font-medium">"Status"</th>
                                        <th scope="col" class="px-5 py-3 font-medium">"Created"</th>
                                        <th scope="col" class="px-5 py-3 font-medium"><span class="sr-only">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                    {list.into_iter().map(|a| {
                                        let disabled = a.status == AccountStatus::Disabled;
                                        let (next_status, status_label) = if disabled { ("active", format!("Enable {}", a.email)) } else { ("disabled", format!("Disable {}", a.email)) };
                                        let (next_role, role_label) = if a.role == Role::Admin { ("user", "Make user") } else { ("admin", "Make admin") };
                                        let (id, id2) = (a.id.to_string(), a.id.to_string());
                                        view! {
                                            <tr>
                                                <td class="px-5 py-3 text-slate-900 dark:text-slate-100">{a.email.to_string()}</td>
                                                <td class="px-5 py-3">{a.role.as_str()}</td>
                                                <td class="px-5 py-3">
                                                    {if disabled { view! { <Badge text="disabled" tone=Tone::Bad/> }.into_any() } else { view! { <Badge text="active" tone=Tone::Good/> }.into_any() }}
                                                </td>
                                                <td class="whitespace-nowrap px-5 py-3 text-slate-500">{format_time(a.created_at)}</td>
                                                <td class="whitespace-nowrap px-5 py-3">
                                                    <div class="flex gap-2">
                                                        {if disabled {
                                                            view! {
                                                                <ActionForm action=update>
                                                                    <input type="hidden" name="id" value=id/>
                                                                    <input type="hidden" name="status" value=next_status/>
                                                                    <button type="submit" class=SECONDARY_BUTTON aria-label=status_label.clone() disabled=move || update.pending().get()>"Enable"</button>
                                                                </ActionForm>
                                                            }.into_any()
                                                        } else {
                                                            view! {
                                                                <Confirm summary="Disable…".to_string()
                                                                    warning=format!("{} is signed out, and their servers and tokens stop working at once.", a.email)>
                                                                    <ActionForm action=update>
                                                                        <input type="hidden" name="id" value=id/>
                                                                        <input type="hidden" name="status" value=next_status/>
                                                                        <button type="submit" class=DANGER_BUTTON disabled=move || update.pending().get()>{status_label.clone()}</button>
                                                                    </ActionForm>
                                                                </Confirm>
                                                            }.into_any()
                                                        }}
                                                        <ActionForm action=update>
                                                            <input type="hidden" name="id" value=id2/>
                                                            <input type="hidden" name="role" value=next_role/>
                                                            <button type="submit" class=SECONDARY_BUTTON>{role_label}</button>
                                                        </ActionForm>
                                                    </div>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
        <crate::oauth::OAuthClientsSection/>
    }
}
