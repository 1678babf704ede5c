//! The organisation switcher in the header, the Members page (invite, change role, remove) and
//! the page an invitation link opens.
use leptos::prelude::*;
use leptos_meta::Title;

use super::domain::{MemberView, Role};
use super::functions::{
    AcceptInvitation, ChangeMemberRole, CreateOrganisation, InviteMember, RemoveMember, SwitchOrganisation, current_organisation,
    get_invitation_offer, list_members,
};
use crate::components::{
    CopyField, DANGER_BUTTON, ErrorPanel, Field, FormAlert, INPUT, PRIMARY_BUTTON, PageHeader, SECONDARY_BUTTON, SubmitButton,
    action_error, encode_query_value, field_error,
};

/// Loads `to` afresh once an action that changed the session's organisation succeeded: every
/// resource on the page, the switcher's among them, then reads the new one. (Without the wasm
/// bundle, the form post's redirect does the same.)
fn load_afresh(done: Signal<bool>, to: &'static str) {
    Effect::new(move || {
        if done.get() {
            let _ = window().location().set_href(to);
        }
    });
}

/// The current organisation's name, and a menu to switch to another or make a new one.
#[component]
pub fn OrganisationSwitcher() -> impl IntoView {
    let context = Resource::new(|| (), |_| current_organisation());
    let switch = ServerAction::<SwitchOrganisation>::new();
    load_afresh(Signal::derive(move || matches!(switch.value().get(), Some(Ok(())))), "/");
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                context.await.ok().map(|c| view! {
                    <details class="relative text-sm" data-testid="organisation-switcher">
                        <summary class="flex max-w-[8rem] cursor-pointer list-none items-center rounded-lg border border-slate-200 px-3 py-1.5 font-medium sm:max-w-xs dark:border-slate-700">
                            <span class="sr-only">"Organisation: "</span>
                            <span class="truncate" data-testid="current-organisation">{c.current.name.clone()}</span>
                            {c.current.role.map(|r| view! { <span class="ml-2 hidden text-xs text-slate-500 sm:inline">{r.as_str()}</span> })}
                        </summary>
                        <div class="absolute right-0 z-20 mt-2 w-64 rounded-xl border border-slate-200 bg-white p-2 shadow-lg dark:border-slate-700 dark:bg-slate-900">
                            <ul class="space-y-1">
                                {c.all.into_iter().map(|o| {
                                    let current = o.id == c.current.id;
                                    view! {
                                        <li>
                                            <ActionForm action=switch>
                                                <input type="hidden" name="id" value=o.id.to_string()/>
                                                <button type="submit" class="w-full rounded-lg px-3 py-2 text-left hover:bg-slate-100 dark:hover:bg-slate-800"
                                                    aria-current=current.then_some("true")>
                                                    <span class="font-medium">{o.name.clone()}</span>
                                                    <span class="ml-2 text-xs text-slate-500">{if o.personal { "personal".to_string() } else { o.role.map(|r| r.as_str().to_string()).unwrap_or_default() }}</span>
                                                </button>
                                            </ActionForm>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <a href="/members" class="mt-2 block rounded-lg px-3 py-2 font-medium text-indigo-600 hover:bg-slate-100 dark:text-indigo-400 dark:hover:bg-slate-800">"Members and new organisation"</a>
                        </div>
                    </details>
                })
            })}
        </Suspense>
    }
}

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL.into_iter().map(move |r| view! { <option value=r.as_str() selected=r == selected>{r.as_str()}</option> }).collect_view()
}

/// Members of the current organisation: invite by link, change roles, remove; and a form to
/// make a new organisation.
#[component]
pub fn MembersPage() -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let leave = ServerAction::<RemoveMember>::new();
    let create = ServerAction::<CreateOrganisation>::new();
    let context = Resource::new(|| (), |_| current_organisation());
    let members = Resource::new(move || (change.version().get(), remove.version().get()), |_| list_members());
    let invite_error = action_error(invite);
    let create_error = action_error(create);
    let change_error = action_error(change);
    let remove_error = action_error(remove);
    let invited = move || invite.value().get().and_then(Result::ok);
    load_afresh(Signal::derive(move || matches!(create.value().get(), Some(Ok(())))), "/members");
    load_afresh(Signal::derive(move || matches!(leave.value().get(), Some(Ok(_)))), "/");
    let leave_error = action_error(leave);
    view! {
        <Title text="Members · Gatehouse"/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                context.await.ok().map(|c| view! {
                    <PageHeader title=format!("Members of {}", c.current.name)
                        description="Everyone here shares the organisation's servers and signing key. Owners: everything; admins: members, servers, keys and any token; members: their own tokens; viewers: read only."/>
                })
            })}
        </Suspense>
        <FormAlert error=Signal::derive(move || change_error.get().or(remove_error.get()).or(leave_error.get()))/>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (list, c) = (members.await, context.await);
                match (list, c) {
                    (Ok(list), Ok(c)) => {
                        // Only admins and owners get the controls; the rule decides either way.
                        let manage = c.current.role.is_some_and(|r| r <= Role::Admin);
                        let (me, personal) = (c.me, c.current.personal);
                        view! { <MemberList list change remove leave me manage personal/> }.into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>

        <section class="mt-10 max-w-3xl" aria-labelledby="invite">
            <h2 id="invite" class="mb-1 text-sm font-semibold uppercase tracking-wide text-slate-500">"Invite someone"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">"A link that works once, for 7 days. Whoever opens it signs in or signs up, and joins with the role you choose."</p>
            {move || invited().map(|i| view! {
                <div role="status" class="mb-4 space-y-2 rounded-lg border border-emerald-200 bg-emerald-50 p-4 text-sm dark:border-emerald-900 dark:bg-emerald-950">
                    <p class="font-medium text-emerald-800 dark:text-emerald-300">{format!("Send this link; it joins as {}.", i.role.as_str())}</p>
                    <CopyField value=i.url label="Invitation link"/>
                </div>
            })}
            <ActionForm action=invite attr:class="grid gap-4 sm:grid-cols-3 sm:items-end" attr:novalidate="">
                <div class="sm:col-span-3"><FormAlert error=Signal::derive(move || invite_error.get().filter(|e| e.fields.is_empty()))/></div>
                <div class="space-y-1.5">
                    <label for="field-invite-role" class="block text-sm font-medium text-slate-700 dark:text-slate-200">"Role"</label>
                    <select id="field-invite-role" name="role" class=INPUT>{role_options(Role::Member)}</select>
                </div>
                <Field label="Only for this email (optional)" name="email" input_type="email" error=field_error(invite_error, "email")/>
                <div><SubmitButton label="Make invitation link" pending_label="Making…" pending=invite.pending()/></div>
            </ActionForm>
        </section>

        <section class="mt-10 max-w-3xl" aria-labelledby="new-organisation">
            <h2 id="new-organisation" class="mb-1 text-sm font-semibold uppercase tracking-wide text-slate-500">"New organisation"</h2>
            <p class="mb-4 text-sm text-slate-600 dark:text-slate-400">"For a team: its servers and tokens stay with it when people come and go. You will be its owner."</p>
            <ActionForm action=create attr:class="flex flex-wrap items-end gap-4" attr:novalidate="">
                <div class="min-w-64 flex-1"><Field label="Name" name="name" error=field_error(create_error, "name")/></div>
                <SubmitButton label="Create organisation" pending_label="Creating…" pending=create.pending()/>
            </ActionForm>
        </section>
    }
}

#[component]
fn MemberList(
    list: Vec<MemberView>,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
    leave: ServerAction<RemoveMember>,
    me: uuid::Uuid,
    manage: bool,
    personal: bool,
) -> impl IntoView {
    let heirs: Vec<(String, String)> =
        list.iter().filter(|m| m.role.may_hold_tokens()).map(|m| (m.account_id.to_string(), m.email.clone())).collect();
    view! {
        <ul class="divide-y divide-slate-200 rounded-xl border border-slate-200 bg-white dark:divide-slate-800 dark:border-slate-800 dark:bg-slate-900" data-testid="members">
            {list.into_iter().map(|m| {
                let id = m.account_id.to_string();
                let heirs = heirs.iter().filter(|(h, _)| *h != id).cloned().collect::<Vec<_>>();
                let (role_id, hand_id) = (format!("role-{id}"), format!("hand-{id}"));
                let role_label = format!("Role of {}", m.email);
                let remove_label = format!("Remove {}", m.email);
                let (email, row) = (m.email.clone(), m.email);
                let (change_account, remove_account, leave_account) = (id.clone(), id.clone(), id);
                let own = m.account_id == me;
                let controls = manage && !(own && personal);
                view! {
                    <li class="flex flex-wrap items-center gap-3 px-5 py-3 text-sm" data-member=row>
                        <span class="font-medium">{email}</span>
                        {(!controls || own).then(|| view! { <span class="text-slate-500">{m.role.as_str()}</span> })}
                        {(own && !personal).then(|| view! {
                            <ActionForm action=leave attr:class="ml-auto">
                                <input type="hidden" name="account" value=leave_account/>
                                <button type="submit" class=SECONDARY_BUTTON>"Leave this organisation"</button>
                            </ActionForm>
                        })}
                        {(controls && !own).then(|| view! {
                        <ActionForm action=change attr:class="flex items-center gap-2">
                            <input type="hidden" name="account" value=change_account/>
                            <label class="sr-only" for=role_id.clone()>{role_label}</label>
                            <select id=role_id name="role" class="rounded-lg border border-slate-300 px-2 py-1 text-sm dark:border-slate-600 dark:bg-slate-900">{role_options(m.role)}</select>
                            <button type="submit" class=SECONDARY_BUTTON>"Change role"</button>
                        </ActionForm>
                        <details class="ml-auto">
                            <summary class="cursor-pointer text-rose-700 dark:text-rose-400">"Remove"</summary>
                            <ActionForm action=remove attr:class="mt-2 flex flex-wrap items-center gap-2">
                                <input type="hidden" name="account" value=remove_account/>
                                <label for=hand_id.clone() class="text-slate-600 dark:text-slate-400">"Their tokens"</label>
                                <select id=hand_id name="hand_to" class="rounded-lg border border-slate-300 px-2 py-1 text-sm dark:border-slate-600 dark:bg-slate-900">
                                    <option value="">"revoke them"</option>
                                    {heirs.into_iter().map(|(h, email)| view! { <option value=h>{format!("hand them to {email}")}</option> }).collect_view()}
                                </select>
                                <button type="submit" class=DANGER_BUTTON>{remove_label}</button>
                            </ActionForm>
                        </details>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// The page an invitation link opens: what it offers, and Join (or log in / sign up first).
#[component]
pub fn JoinPage() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let code = move || query.read().get("code").unwrap_or_default();
    let offer = Resource::new(code, get_invitation_offer);
    let signed_in = Resource::new(|| (), |_| crate::accounts::current_account());
    let accept = ServerAction::<AcceptInvitation>::new();
    let error = action_error(accept);
    load_afresh(Signal::derive(move || matches!(accept.value().get(), Some(Ok(())))), "/");
    view! {
        <Title text="Join an organisation · Gatehouse"/>
        <main class="mx-auto max-w-lg px-4 py-16">
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let account = signed_in.await.ok().flatten();
                    match offer.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(o) => {
                            let here = format!("/join?code={}", encode_query_value(&code()));
                            view! {
                                <h1 class="text-2xl font-semibold tracking-tight">{format!("Join {}", o.organisation)}</h1>
                                <p class="mt-2 text-sm text-slate-600 dark:text-slate-400" data-testid="offer">
                                    {format!("You are invited as {}: {}", o.role.as_str(), o.role.summary())}
                                </p>
                                {match account {
                                    Some(a) => view! {
                                        <ActionForm action=accept attr:class="mt-6 space-y-4">
                                            <FormAlert error/>
                                            <input type="hidden" name="code" value=code()/>
                                            <p class="text-sm">{format!("Signed in as {}.", a.email)}</p>
                                            <button type="submit" class=PRIMARY_BUTTON>{format!("Join {}", o.organisation)}</button>
                                        </ActionForm>
                                    }.into_any(),
                                    None => view! {
                                        <div class="mt-6 flex gap-3">
                                            <a class=PRIMARY_BUTTON href=format!("/signup?invite={}&next={}", encode_query_value(&code()), encode_query_value("/"))>"Sign up to join"</a>
                                            <a class=SECONDARY_BUTTON href=format!("/login?next={}", encode_query_value(&here))>"Log in to join"</a>
                                        </div>
                                    }.into_any(),
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </main>
    }
}
