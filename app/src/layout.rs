//! The signed-in frame: navigation around every dashboard page, and the logged-out redirect.
use leptos::prelude::*;
use leptos_router::components::{A, Outlet, Redirect};

use crate::accounts::{AccountView, LogoutButton, current_account};
use crate::components::ErrorPanel;
use crate::components::login_here;
use crate::error::ErrorCode;
use crate::toast::ToastRegion;

const NAV: &[(&str, &str)] = &[
    ("/", "Overview"),
    ("/servers", "Servers"),
    ("/tokens", "Tokens"),
    ("/connected-apps", "Connected apps"),
    ("/inspect", "Inspect a token"),
    ("/signing-key", "Signing key"),
    ("/audit", "Audit log"),
    ("/members", "Members"),
    ("/account", "Account"),
];

/// Wraps every page that needs a login; a visitor without one goes to the login page and comes
/// back here afterwards.
#[component]
pub fn SignedInLayout() -> impl IntoView {
    let account = Resource::new_blocking(|| (), |_| current_account());
    let login_url = login_here;
    view! {
        <Suspense fallback=|| view! { <div class="min-h-screen bg-slate-50 dark:bg-slate-950"></div> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(Some(account)) => view! { <Frame account/> }.into_any(),
                    Ok(None) => view! { <Redirect path=login_url()/> }.into_any(),
                    Err(e) if e.code == ErrorCode::Unauthenticated => view! { <Redirect path=login_url()/> }.into_any(),
                    Err(error) => view! { <main class="p-8"><ErrorPanel error/></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Frame(account: AccountView) -> impl IntoView {
    let nav_items = NAV.iter().copied().chain(account.is_admin().then_some(("/admin/users", "Users"))).collect::<Vec<_>>();
    let links = move |class: &'static str| {
        nav_items
            .iter()
            .copied()
            .map(|(href, label): (&'static str, &'static str)| view! { <A href=href attr:class=class exact=href == "/">{label}</A> })
            .collect_view()
    };
    view! {
        <div class="flex min-h-screen flex-col bg-slate-50 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
            <header class="z-10 border-b md:sticky md:top-0 border-slate-200 bg-white/90 backdrop-blur dark:border-slate-800 dark:bg-slate-900/90">
                <div class="flex h-14 items-center justify-between gap-4 px-4 md:px-6">
                    <a href="/" class="flex items-center gap-2 font-semibold">
                        <span class="grid h-8 w-8 place-items-center rounded-lg bg-indigo-600 text-sm text-white">"G"</span>
                        "Gatehouse"
                    </a>
                    <div class="flex items-center gap-3 text-sm">
                        <crate::organisations::OrganisationSwitcher/>
                        <span class="hidden text-slate-600 sm:inline dark:text-slate-400" data-testid="signed-in-as">{account.email.to_string()}</span>
                        <LogoutButton class="rounded-lg px-3 py-1.5 font-medium text-slate-700 hover:bg-slate-100 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:text-slate-200 dark:hover:bg-slate-800"/>
                    </div>
                </div>
                <nav aria-label="Main" class="nav-links flex flex-wrap gap-1 px-3 pb-2 md:hidden">
                    {links("whitespace-nowrap rounded-lg px-2.5 py-1 text-sm font-medium text-slate-600 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800")}
                </nav>
            </header>
            <div class="flex-1 md:flex">
                <nav aria-label="Sidebar" class="nav-links hidden w-60 shrink-0 flex-col gap-1 border-r border-slate-200 p-4 md:flex dark:border-slate-800">
                    {links("rounded-lg px-3 py-2 text-sm font-medium text-slate-600 hover:bg-slate-100 focus-visible:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40 dark:text-slate-300 dark:hover:bg-slate-800")}
                </nav>
                <main class="mx-auto w-full max-w-5xl flex-1 px-4 py-8 md:px-10">
                    <Outlet/>
                </main>
            </div>
            <ToastRegion/>
        </div>
    }
}
