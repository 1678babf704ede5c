//! A request whose handler panics gets a proper 500, never a dropped connection: a friendly
//! page for people, the usual JSON error for API clients. The panic is logged.
use std::panic::AssertUnwindSafe;

use axum::{
    Json,
    extract::Request,
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use futures::FutureExt;
use http::{StatusCode, header};

use app::error::AppError;

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Something went wrong · Gatehouse</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/pkg/gatehouse.css"></head>
<body class="antialiased"><main class="flex min-h-screen flex-col items-center justify-center gap-3 bg-slate-50 px-4 text-center dark:bg-slate-950">
<p class="text-sm font-semibold text-rose-600 dark:text-rose-400">500</p>
<h1 class="text-2xl font-semibold text-slate-900 dark:text-white">Something went wrong on our side</h1>
<p class="max-w-md text-sm text-slate-600 dark:text-slate-400">Nothing you did caused this, and nothing was changed. Try again in a moment; if it keeps happening, tell whoever runs this Gatehouse.</p>
<a href="/" class="mt-2 text-sm font-medium text-indigo-600 hover:text-indigo-500 dark:text-indigo-400">Back to the dashboard</a>
</main></body></html>"#;

fn wants_html(request: &Request) -> bool {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/rpc/") || path.starts_with("/s/");
    !api && request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

pub async fn catch_panics(request: Request, next: Next) -> Response {
    let html = wants_html(&request);
    // Kept for the log line; cloning a `Uri` shares its bytes rather than copying them.
    let uri = request.uri().clone();
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            tracing::error!(path = %uri.path(), panic = %message, "a handler panicked");
            if html {
                (StatusCode::INTERNAL_SERVER_ERROR, Html(PAGE)).into_response()
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, Json(AppError::internal("handler panicked"))).into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, body::Body, middleware, routing::get};
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    async fn call(accept: &str, path: &str) -> (StatusCode, String) {
        let app = Router::new().route("/{*path}", get(boom)).layer(middleware::from_fn(catch_panics));
        let response = app.oneshot(Request::get(path).header(header::ACCEPT, accept).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_panic_is_a_friendly_page_for_people_and_json_for_clients() {
        let (status, body) = call("text/html,application/xhtml+xml", "/tokens").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("Something went wrong on our side") && body.contains("href=\"/\""), "{body}");
        assert!(!body.contains("boom"), "the panic message is logged, not shown");
        let (status, body) = call("application/json", "/api/v1/tokens").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["code"], "internal");
        let (_, body) = call("text/html", "/rpc/list_tokens").await;
        assert!(body.starts_with('{'), "server functions answer JSON: {body}");
    }
}
