//! Toasts: a short message after an action succeeds or fails, announced to screen readers and
//! gone after a few seconds. Actions also send a visitor whose session expired to the login
//! page, and back here afterwards.
use leptos::prelude::*;

use crate::error::{AppError, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    id: u64,
    text: String,
    failed: bool,
}

/// The toasts on screen; provided once by the signed-in frame.
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    pub fn provide() -> Self {
        let toasts = Toasts { list: RwSignal::new(Vec::new()), next: StoredValue::new(0) };
        provide_context(toasts);
        toasts
    }

    pub fn show(&self, text: impl Into<String>, failed: bool) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|list| list.push(Toast { id, text: text.into(), failed }));
        let list = self.list;
        set_timeout(move || list.update(|l| l.retain(|t| t.id != id)), std::time::Duration::from_secs(if failed { 8 } else { 5 }));
    }

    fn dismiss(&self, id: u64) {
        self.list.update(|l| l.retain(|t| t.id != id));
    }
}

/// Where toasts appear: bottom right, or along the bottom on a phone.
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = Toasts::provide();
    view! {
        <div aria-live="polite" class="pointer-events-none fixed inset-x-0 bottom-0 z-50 flex flex-col items-center gap-2 p-4 sm:items-end">
            <For each=move || toasts.list.get() key=|t| t.id let:toast>
                <div role="status" data-testid="toast" data-failed=toast.failed.to_string()
                    class={if toast.failed {
                        "pointer-events-auto flex w-full max-w-sm items-start gap-3 rounded-lg bg-rose-700 px-4 py-3 text-sm text-white shadow-lg"
                    } else {
                        "pointer-events-auto flex w-full max-w-sm items-start gap-3 rounded-lg bg-slate-900 px-4 py-3 text-sm text-white shadow-lg dark:bg-slate-100 dark:text-slate-900"
                    }}>
                    <span class="flex-1">{toast.text.clone()}</span>
                    <button type="button" aria-label="Dismiss" on:click=move |_| toasts.dismiss(toast.id)
                        class="rounded px-1 opacity-70 hover:opacity-100 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-white">"×"</button>
                </div>
            </For>
        </div>
    }
}

/// Shows a toast when `action` finishes: `success` names what it did; a failure shows its
/// message (unless the page shows field errors for it), and an expired session goes to the
/// login page.
pub fn toast_on<S>(action: ServerAction<S>, success: impl Fn(&S::Output) -> String + Send + Sync + 'static)
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let toasts = use_context::<Toasts>();
    let login = crate::components::login_here();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        let Some(result) = action.value().get() else { return };
        match result {
            Ok(output) => {
                if let Some(t) = toasts {
                    t.show(success(&output), false);
                }
            }
            Err(e) if e.code == ErrorCode::Unauthenticated => navigate(&login, Default::default()),
            Err(e) if e.fields.is_empty() => {
                if let Some(t) = toasts {
                    t.show(e.message, true);
                }
            }
            Err(_) => {}
        }
    });
}
