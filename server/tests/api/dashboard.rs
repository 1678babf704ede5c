//! The dashboard pages as a browser without JavaScript sees them: server-rendered HTML,
//! redirects, and forms that post to server functions.
use reqwest::{StatusCode, header};

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use crate::helpers::{Backend, build_another_process, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    logged_out_visitors_are_sent_to_login_and_back,
    sign_up_and_login_forms_work_without_javascript,
    form_errors_come_back_to_the_page,
    unknown_pages_are_404,
    the_token_list_is_paged,
    pages_finish_while_other_apps_are_built_beside_them,
);

fn location(response: &reqwest::Response) -> String {
    response.headers().get(header::LOCATION).expect("a Location header").to_str().unwrap().to_string()
}

async fn logged_out_visitors_are_sent_to_login_and_back(backend: Backend) {
    let app = spawn_app(backend).await;
    for (page, next) in
        [("/", "/"), ("/tokens", "/tokens"), ("/admin/users", "/admin/users"), ("/tokens?status=active", "/tokens%3Fstatus%3Dactive")]
    {
        let response = app.page(page).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{page}");
        assert_eq!(location(&response), format!("/login?next={next}"), "{page}");
    }
    let login = app.page("/login?next=%2Ftokens").await;
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(html.contains("<title>Log in · Gatehouse</title>"), "page title");
    assert!(html.contains(r#"name="next""#) && html.contains(r#"value="/tokens""#), "next is carried in the form");
    assert!(html.contains(r#"<label for="field-email""#), "labels are tied to inputs");
    assert!(html.contains("/pkg/gatehouse.js") || html.contains("gatehouse.wasm"), "hydration scripts are linked");
}

/// Posts a form the way a browser does without JavaScript.
pub(crate) async fn post_form(app: &crate::helpers::TestApp, action: &str, referer: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(action))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::REFERER, app.url(referer))
        .header(header::ORIGIN, app.address.as_str())
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn sign_up_and_login_forms_work_without_javascript(backend: Backend) {
    let app = spawn_app(backend).await;
    let signed_up = post_form(
        &app,
        "/rpc/register",
        "/signup?next=%2Ftokens",
        &[("email", "Ada@Example.com"), ("password", "analytical engine"), ("next", "/tokens")],
    )
    .await;
    assert_eq!(signed_up.status(), StatusCode::FOUND);
    assert_eq!(location(&signed_up), "/tokens");

    let tokens = app.page("/tokens").await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let html = tokens.text().await.unwrap();
    assert!(html.contains("ada@example.com"), "signed in as the new account");
    assert!(html.contains("No tokens yet"), "empty state");
    assert!(html.contains(r#"href="/admin/users""#), "the first account is admin and sees Users");

    let logged_out = post_form(&app, "/rpc/logout", "/tokens", &[]).await;
    assert_eq!(logged_out.status(), StatusCode::FOUND);
    assert_eq!(location(&logged_out), "/login");
    assert_eq!(app.page("/").await.status(), StatusCode::FOUND, "logged out again");

    let logged_in = post_form(
        &app,
        "/rpc/login",
        "/login?next=%2F",
        &[("email", "ada@example.com"), ("password", "analytical engine"), ("next", "https://evil.example/")],
    )
    .await;
    assert_eq!(logged_in.status(), StatusCode::FOUND);
    assert_eq!(location(&logged_in), "/", "an off-site next falls back to the dashboard");
    assert_eq!(app.page("/").await.status(), StatusCode::OK);
}

async fn form_errors_come_back_to_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let failed = post_form(&app, "/rpc/register", "/signup", &[("email", "nope"), ("password", "short"), ("next", "")]).await;
    assert_eq!(failed.status(), StatusCode::FOUND);
    let back = location(&failed);
    assert!(back.starts_with(&app.url("/signup?")) && back.contains("__err="), "{back}");

    let page = app.client.get(&back).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Enter an email address like name@example.com."), "email field message");
    assert!(html.contains("Use at least 8 characters."), "password field message");
    assert!(html.contains(r#"aria-invalid="true""#));

    let wrong = post_form(&app, "/rpc/login", "/login", &[("email", "ghost@example.com"), ("password", "whatever123"), ("next", "")]).await;
    let html = app.client.get(location(&wrong)).header(header::ACCEPT, "text/html").send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Incorrect email or password."));
}

async fn unknown_pages_are_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.page("/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

/// 51 tokens: the first page shows the 50 newest and links to the second, which shows the
/// oldest; the filter and order ride along; a page past the end shows the last one.
async fn the_token_list_is_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    for n in 1..=51 {
        ada.token(&format!("token number {n:02}"), "never", &[]).await;
    }
    let page = |path: &str| {
        let request = ada.client.get(format!("{}{path}", app.address)).header(header::ACCEPT, "text/html").send();
        async move { request.await.unwrap().text().await.unwrap() }
    };
    let first = page("/tokens").await;
    assert!(first.contains("Showing 1–50 of 51"), "{first}");
    assert!(first.contains("token number 51") && first.contains("token number 02") && !first.contains("token number 01"));
    assert!(first.contains(r#"href="/tokens?page=2""#), "a link to the next page");
    let second = page("/tokens?page=2").await;
    assert!(second.contains("Showing 51–51 of 51") && second.contains("token number 01") && !second.contains("token number 02"));
    assert!(second.contains(r#"href="/tokens?page=1""#), "a link back");
    let filtered = page("/tokens?status=active&sort=last_used").await;
    assert!(filtered.contains(r#"href="/tokens?status=active&amp;sort=last_used&amp;page=2""#), "the filter and order are kept");
    let past_the_end = page("/tokens?page=9").await;
    assert!(past_the_end.contains("Showing 51–51 of 51"));
}

/// Building an app works out its page routes by rendering it with resource loading switched off
/// for the whole process (leptos issue #4773): a page of another app whose resources first polled
/// meanwhile never finished its body. The test suite builds apps side by side, so now and again a
/// page hung. Here 20 apps are built one after another while a page with three resources is
/// fetched again and again (at least 100 times).
async fn pages_finish_while_other_apps_are_built_beside_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = app.user("ada@example.com").await;
    ada.token("for the page", "never", &[]).await;
    let built = AtomicBool::new(false);
    let build = async {
        for _ in 0..20 {
            build_another_process(&app).await;
        }
        built.store(true, Ordering::Relaxed);
    };
    let pages = async {
        let mut round = 0;
        while round < 100 || !built.load(Ordering::Relaxed) {
            let page = async {
                let response = ada.client.get(app.url("/tokens")).header(header::ACCEPT, "text/html").send().await.unwrap();
                response.text().await.unwrap()
            };
            let page = tokio::time::timeout(Duration::from_secs(10), page).await;
            let page = page.unwrap_or_else(|_| panic!("round {round}: the page did not finish within 10 s"));
            assert!(page.contains("for the page"), "round {round}: {page}");
            round += 1;
        }
    };
    tokio::join!(build, pages);
}
