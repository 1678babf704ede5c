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
pub fn SubmitButton(
    label: &'static str,
    pending_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
) -> impl IntoView {
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
pub fn PageHeader(title: &'static str, description: &'static str) -> impl IntoView {
    view! {
        <header class="mb-8">
            <h1 class="text-2xl font-semibold tracking-tight text-slate-900 dark:text-white">{title}</h1>
            <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{description}</p>
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

/// A panel for an error a page could not recover from.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    view! {
        <div role="alert" class="rounded-xl border border-rose-200 bg-rose-50 p-6 text-sm text-rose-800 dark:border-rose-900 dark:bg-rose-950 dark:text-rose-200">
            <p class="font-semibold">"Something went wrong"</p>
            <p class="mt-1">{error.message}</p>
        </div>
    }
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
