//! The signing key page: the active key, rotation, and retired keys to revoke.
use leptos::prelude::*;
use leptos_meta::Title;

use super::domain::{KeyState, SigningKeyView};
use super::functions::{RevokeSigningKey, RotateSigningKey, list_signing_keys};
use crate::components::*;
use crate::servers::pages::Loading;

#[component]
pub fn SigningKeyPage() -> impl IntoView {
    let rotate = ServerAction::<RotateSigningKey>::new();
    let revoke = ServerAction::<RevokeSigningKey>::new();
    let keys = Resource::new(move || (rotate.version().get(), revoke.version().get()), |_| list_signing_keys());
    let revoke_error = action_error(revoke);
    crate::toast::toast_on(rotate, |k| format!("Key rotated. New tokens are signed with key {}.", &k.id.to_string()[..8]));
    crate::toast::toast_on(revoke, |_| "Key revoked. The tokens it signed no longer work.".to_string());
    view! {
        <Title text="Signing key · Gatehouse"/>
        <PageHeader title="Signing key" description="The secret your tokens are signed with (HS256). It never leaves Gatehouse."/>
        <FormAlert error=revoke_error/>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match keys.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No signing key yet" body="Your account's key is made when you create your first token. You can rotate it here later.">
                            <a href="/tokens/new" class=PRIMARY_BUTTON>"Create a token"</a>
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => {
                        let (active, retired): (Vec<SigningKeyView>, Vec<SigningKeyView>) = list.into_iter().partition(|k| k.state == KeyState::Active);
                        view! {
                            {active.into_iter().map(|k| { let short = k.id.to_string()[..8].to_string(); view! {
                                <section class=CARD aria-labelledby="active-key">
                                    <div class="flex flex-wrap items-center justify-between gap-3">
                                        <h2 id="active-key" class="font-semibold">"Active key"</h2>
                                        <Badge text="active" tone=Tone::Good/>
                                    </div>
                                    <dl class="mt-3 grid gap-3 text-sm sm:grid-cols-3">
                                        <div><dt class="text-slate-500">"Key id (kid)"</dt><dd class="break-all font-mono text-xs">{k.id.to_string()}</dd></div>
                                        <div><dt class="text-slate-500">"Created"</dt><dd><RelativeTime at=Some(k.created_at)/></dd></div>
                                        <div><dt class="text-slate-500">"Tokens signed"</dt><dd>{k.tokens_signed}</dd></div>
                                    </dl>
                                    <div class="mt-4">
                                        <Confirm summary="Rotate key…".to_string()
                                            warning=format!("New tokens will be signed with a new key. Key {short} is retired: its {} token(s) keep working until you revoke it.", k.tokens_signed)>
                                            <ActionForm action=rotate>
                                                <button type="submit" class=PRIMARY_BUTTON disabled=move || rotate.pending().get() aria-busy=move || rotate.pending().get().then_some("true")>
                                                    {move || if rotate.pending().get() { "Rotating…".to_string() } else { format!("Rotate key {short} now") }}
                                                </button>
                                            </ActionForm>
                                        </Confirm>
                                    </div>
                                </section>
                            }}).collect_view()}
                            <section class="mt-8" aria-labelledby="retired">
                                <h2 id="retired" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">"Retired and revoked keys"</h2>
                                {retired.is_empty().then(|| view! { <p class="text-sm text-slate-500">"None: this account has only ever had one key."</p> })}
                                <ul class="space-y-3">
                                    {retired.into_iter().map(|k| view! { <RetiredKey key_view=k revoke/> }).collect_view()}
                                </ul>
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
fn RetiredKey(key_view: SigningKeyView, revoke: ServerAction<RevokeSigningKey>) -> impl IntoView {
    let short = key_view.id.to_string()[..8].to_string();
    view! {
        <li class=CARD>
            <div class="flex flex-wrap items-center justify-between gap-3">
                <span class="font-mono text-xs">{key_view.id.to_string()}</span>
                {match key_view.state {
                    KeyState::Revoked => view! { <Badge text="revoked" tone=Tone::Bad/> }.into_any(),
                    _ => view! { <Badge text="retired" tone=Tone::Muted/> }.into_any(),
                }}
            </div>
            <p class="mt-2 text-sm text-slate-600 dark:text-slate-400">
                {format!("{} token(s) signed, {} still working.", key_view.tokens_signed, key_view.live_tokens)}
            </p>
            {(key_view.state == KeyState::Retired).then(|| view! {
                <div class="mt-3">
                    <Confirm summary=format!("Revoke key {short}…")
                        warning=format!("Revoking key {short} ends the {} token(s) it signed that still work, at once.", key_view.live_tokens)>
                        <ActionForm action=revoke>
                            <input type="hidden" name="id" value=key_view.id.to_string()/>
                            <button type="submit" class=DANGER_BUTTON disabled=move || revoke.pending().get()>{format!("Revoke key {short} and end {} token(s)", key_view.live_tokens)}</button>
                        </ActionForm>
                    </Confirm>
                </div>
            })}
        </li>
    }
}
