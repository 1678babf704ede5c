//! Refuses state-changing requests that a browser sent from another site (CSRF). Browsers
//! label every request with `Sec-Fetch-Site` and/or `Origin`; non-browser clients send
//! neither and are judged by their credentials alone. Gateway routes use Bearer tokens, not
//! cookies, so they are not checked here; nor is a request that carries `Authorization` (an
//! API key): such a request is the key's alone, and a page on another site cannot send that
//! header without a CORS preflight, which Gatehouse never grants.
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, Method, header};
use url::Url;

use app::error::{AppError, ErrorCode};

#[derive(Clone)]
pub struct TrustedOrigin(pub Url);

pub async fn refuse_cross_site(State(trusted): State<TrustedOrigin>, request: Request, next: Next) -> Response {
    let safe_method = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe_method
        || request.uri().path().starts_with("/s/")
        || app::accounts::ssr::sign_in::presents_api_key(request.headers())
        || is_same_site(request.headers(), &trusted.0)
    {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
    AppError::new(ErrorCode::CrossOrigin, "This request came from another site and was refused.").into_response()
}

fn is_same_site(headers: &HeaderMap, trusted: &Url) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none` is the user typing the URL or using a bookmark.
        if !matches!(site.to_str(), Ok("same-origin" | "none")) {
            return false;
        }
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let Ok(origin) = origin.to_str() else { return false };
            origin_matches(origin, trusted) || host_matches(origin, headers)
        }
    }
}

fn origin_matches(origin: &str, trusted: &Url) -> bool {
    Url::parse(origin).is_ok_and(|o| o.origin() == trusted.origin())
}

/// The origin names the host the request was sent to (e.g. `localhost` vs `127.0.0.1`).
fn host_matches(origin: &str, headers: &HeaderMap) -> bool {
    let (Ok(origin), Some(Ok(host))) = (Url::parse(origin), headers.get(header::HOST).map(|h| h.to_str())) else {
        return false;
    };
    let origin_host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return false,
    };
    matches!(origin.scheme(), "http" | "https") && origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_site_requests_pass() {
        let trusted = Url::parse("http://127.0.0.1:3000").unwrap();
        assert!(is_same_site(&headers(&[]), &trusted), "non-browser clients send neither header");
        assert!(is_same_site(&headers(&[("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")]), &trusted));
        assert!(is_same_site(&headers(&[("origin", "http://localhost:3000"), ("host", "localhost:3000")]), &trusted));
    }

    #[test]
    fn cross_site_requests_are_refused() {
        let trusted = Url::parse("http://127.0.0.1:3000").unwrap();
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "cross-site")]), &trusted));
        assert!(!is_same_site(&headers(&[("sec-fetch-site", "same-site")]), &trusted));
        assert!(!is_same_site(&headers(&[("origin", "https://evil.example"), ("host", "127.0.0.1:3000")]), &trusted));
        assert!(!is_same_site(&headers(&[("origin", "null"), ("host", "127.0.0.1:3000")]), &trusted));
        assert!(!is_same_site(&headers(&[("origin", "http://127.0.0.1:3001"), ("host", "127.0.0.1:3000")]), &trusted));
    }
}
