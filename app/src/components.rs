//! Small building blocks the pages share.
use leptos::prelude::*;

use crate::error::AppError;

/// A labelled input with its error message tied to it for screen readers.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] hint: &'static str,
    #[prop(into, optional)] value: String,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || match (error.get().is_some(), hint.is_empty()) {
            (true, _) => Some(error_id.clone()),
            (false, false) => Some(hint_id.clone()),
            (false, true) => None,
        }
    };
    view! {
        <div class="space-y-1.5">
            <label for=id.clone() class="block text-sm font-medium text-slate-700 dark:text-slate-200">
                {label}
            </label>
            <input
                id=id
                name=name
                type=input_type
                value=value
                autocomplete=autocomplete
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described_by
                class=move || {
                    let ring = if error.get().is_some() {
                        "border-rose-400 focus:border-rose-500 focus:ring-rose-500/30"
                    } else {
                        "border-slate-300 focus:border-indigo-500 focus:ring-indigo-500/30 dark:border-slate-600"
                    };
                    format!(
                        "block w-full rounded-lg border bg-white px-3 py-2 text-sm text-slate-900 shadow-sm outline-none focus:ring-4 dark:bg-slate-900 dark:text-slate-100 {ring}"
                    )
                }
            />
            {(!hint.is_empty()).then(|| view! {
                <p id=hint_id class="text-xs text-slate-500 dark:text-slate-400">{hint}</p>
            })}
            <Show when=move || error.get().is_some()>
                <p id=error_id.clone() class="text-sm text-rose-600 dark:text-rose-400" data-field-error=name>
                    {move || error.get()}
                </p>
            </Show>
        </div>
    }
}

/// The form-wide message of a failed action, announced to screen readers.
#[component]
pub fn FormAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some()>
            <div role="alert" class="rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800 dark:border-rose-900 dark:bg-rose-950 dark:text-rose-200">
                {move || error.get().map(|e| e.message)}
            </div>
        </Show>
    }
}

/// A primary submit button that shows its pending state while the request is in flight.
#[component]
pub fn SubmitButton(label: &'static str, pending_label: &'static str, #[prop(into)] pending: Signal<bool>) -> impl IntoView {
    view! {
        <button
            type="submit"
            disabled=move || pending.get()
            aria-busy=move || pending.get().then_some("true")
            class="inline-flex w-full items-center justify-center rounded-lg bg-indigo-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 disabled:cursor-wait disabled:opacity-70"
        >
            {move || if pending.get() { pending_label } else { label }}
        </button>
    }
}

/// The header of a dashboard page.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(into, optional)] description: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <header class="mb-8 flex flex-wrap items-start justify-between gap-4">
            <div class="min-w-0">
                <h1 class="break-words text-2xl font-semibold tracking-tight text-slate-900 dark:text-white">{title}</h1>
                <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{description}</p>
            </div>
            {children.map(|c| view! { <div class="flex shrink-0 items-center gap-2">{c()}</div> })}
        </header>
    }
}

/// What a page shows when it has nothing yet, and the next step to take.
#[component]
pub fn EmptyState(title: &'static str, body: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-xl border-2 border-dashed border-slate-200 px-6 py-14 text-center dark:border-slate-700">
            <h2 class="text-base font-semibold text-slate-900 dark:text-white">{title}</h2>
            <p class="mx-auto mt-2 max-w-md text-sm text-slate-600 dark:text-slate-400">{body}</p>
            <div class="mt-6 flex justify-center">{children()}</div>
        </div>
    }
}

/// A panel for an error a page could not recover from. An expired session goes to the login
/// page instead, which comes back here afterwards.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    use crate::error::ErrorCode;
    // A page rendered on the server answers with the error's status, not 200.
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.code.status());
    }
    let (title, hint) = match error.code {
        ErrorCode::Unauthenticated => {
            return view! { <leptos_router::components::Redirect path=login_here()/> }.into_any();
        }
        ErrorCode::NotFound => ("Not found", "It may have been deleted, or the link is wrong."),
        ErrorCode::Forbidden => ("Not allowed", "Your account cannot do this."),
        ErrorCode::Internal | ErrorCode::Unavailable => {
            ("Something went wrong on our side", "Try again in a moment. If it keeps happening, tell whoever runs this Gatehouse.")
        }
        _ => ("Something went wrong", ""),
    };
    view! {
        <div role="alert" data-error-code=format!("{:?}", error.code) class="rounded-xl border border-rose-200 bg-rose-50 p-6 text-sm text-rose-800 dark:border-rose-900 dark:bg-rose-950 dark:text-rose-200">
            <p class="font-semibold">{title}</p>
            <p class="mt-1">{error.message}</p>
            {(!hint.is_empty()).then(|| view! { <p class="mt-2 text-rose-700 dark:text-rose-300">{hint}</p> })}
            <p class="mt-4"><a href="/" class="font-medium underline">"Back to the overview"</a></p>
        </div>
    }
    .into_any()
}

/// The login page's address that comes back to where the visitor is now.
pub fn login_here() -> String {
    let location = leptos_router::hooks::use_location();
    let (path, search) = (location.pathname.get_untracked(), location.search.get_untracked());
    let here = match (path.is_empty(), search.is_empty()) {
        (true, _) => "/".to_string(),
        (false, true) => path,
        (false, false) => format!("{path}?{}", search.trim_start_matches('?')),
    };
    format!("/login?next={}", encode_query_value(&here))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Formats a timestamp for people, in UTC.
pub fn format_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_query_value("/tokens?a=1&b=2"), "/tokens%3Fa%3D1%26b%3D2");
        assert_eq!(encode_query_value("/é"), "/%C3%A9");
    }
}

/// A button that copies `text` to the clipboard and says "Copied" for a moment.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(default = "Copy")] label: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let promise = window.navigator().clipboard().write_text(&text.get_untracked());
            leptos::task::spawn_local(async move {
                if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
                    copied.set(true);
                    set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (text, copied);
    };
    view! {
        <button type="button" on:click=copy data-copy=label
            class="inline-flex shrink-0 items-center rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-200">
            {move || if copied.get() { "Copied" } else { label }}
        </button>
    }
}

/// A value in a monospace box with its copy button.
#[component]
pub fn CopyField(#[prop(into)] value: String, #[prop(optional)] label: &'static str) -> impl IntoView {
    let text = value.clone();
    view! {
        <div class="flex items-center gap-2 rounded-lg border border-slate-200 bg-slate-50 px-3 py-2 dark:border-slate-700 dark:bg-slate-800/50">
            <code class="min-w-0 flex-1 break-all font-mono text-xs text-slate-800 dark:text-slate-200" aria-label=label>{value}</code>
            <CopyButton text=Signal::derive(move || text.clone())/>
        </div>
    }
}

/// A small coloured label.
#[component]
pub fn Badge(#[prop(into)] text: String, tone: Tone) -> impl IntoView {
    let colours = match tone {
        Tone::Good => "bg-emerald-50 text-emerald-700 ring-emerald-600/20 dark:bg-emerald-950 dark:text-emerald-300",
        Tone::Warn => "bg-amber-50 text-amber-800 ring-amber-600/20 dark:bg-amber-950 dark:text-amber-300",
        Tone::Bad => "bg-rose-50 text-rose-700 ring-rose-600/20 dark:bg-rose-950 dark:text-rose-300",
        Tone::Muted => "bg-slate-100 text-slate-600 ring-slate-500/20 dark:bg-slate-800 dark:text-slate-300",
    };
    view! {
        <span class=format!("inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset {colours}")>{text}</span>
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Muted,
}

/// "3 minutes ago", with the exact time on hover.
#[component]
pub fn RelativeTime(at: Option<chrono::DateTime<chrono::Utc>>, #[prop(default = "never")] none: &'static str) -> impl IntoView {
    match at {
        None => view! { <span class="text-slate-400">{none}</span> }.into_any(),
        Some(at) => view! {
            <time datetime=at.to_rfc3339() title=format_time(at)>{relative(at, chrono::Utc::now())}</time>
        }
        .into_any(),
    }
}

/// A human distance between `at` and `now`, past or future.
pub fn relative(at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let (future, s) = (seconds < 0, seconds.unsigned_abs());
    let amount = match s {
        0..=44 => return if future { "in a few seconds".into() } else { "just now".into() },
        45..=5399 => (s.div_ceil(60).max(1), "minute"),
        5400..=129_599 => (s / 3600, "hour"),
        129_600..=3_887_999 => (s / 86_400, "day"),
        3_888_000..=31_535_999 => (s / 2_592_000, "month"),
        _ => (s / 31_536_000, "year"),
    };
    let unit = if amount.0 == 1 { amount.1.to_string() } else { format!("{}s", amount.1) };
    if future { format!("in {} {unit}", amount.0) } else { format!("{} {unit} ago", amount.0) }
}

/// A confirmation that works without JavaScript: the real button sits inside a disclosure
/// that names what it acts on.
#[component]
pub fn Confirm(summary: String, warning: String, children: Children) -> impl IntoView {
    view! {
        <details class="group rounded-lg border border-rose-200 bg-white dark:border-rose-900 dark:bg-slate-900">
            <summary class="cursor-pointer select-none list-none px-4 py-2 text-sm font-medium text-rose-700 hover:bg-rose-50 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-rose-500/30 dark:text-rose-300 dark:hover:bg-rose-950">
                {summary}
            </summary>
            <div class="space-y-3 border-t border-rose-100 px-4 py-3 text-sm dark:border-rose-900">
                <p class="text-slate-700 dark:text-slate-300">{warning}</p>
                {children()}
            </div>
        </details>
    }
}

pub const DANGER_BUTTON: &str = "rounded-lg bg-rose-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-rose-500 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-rose-500/40 disabled:opacity-60";
pub const PRIMARY_BUTTON: &str = "inline-flex items-center justify-center rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 disabled:cursor-wait disabled:opacity-70";
pub const SECONDARY_BUTTON: &str = "inline-flex items-center justify-center rounded-lg border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-200";
pub const CARD: &str = "rounded-xl border border-slate-200 bg-white p-5 dark:border-slate-800 dark:bg-slate-900";
pub const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-3 py-2 text-sm text-slate-900 shadow-sm outline-none focus:border-indigo-500 focus:ring-4 focus:ring-indigo-500/30 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100";
pub const LINK: &str = "font-medium text-indigo-600 hover:text-indigo-500 dark:text-indigo-400";

/// The error a finished action left behind, if any.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}

pub fn field_error(error: Signal<Option<AppError>>, name: &'static str) -> Signal<Option<String>> {
    Signal::derive(move || error.get().and_then(|e| e.field(name).map(str::to_owned)))
}

#[cfg(test)]
mod time_tests {
    use super::relative;
    use chrono::{Duration, Utc};

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(relative(now, now), "just now");
        assert_eq!(relative(now - Duration::minutes(3), now), "3 minutes ago");
        assert_eq!(relative(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(relative(now - Duration::hours(5), now), "5 hours ago");
        assert_eq!(relative(now + Duration::days(7), now), "in 7 days");
        assert_eq!(relative(now - Duration::days(400), now), "1 year ago");
    }
}
