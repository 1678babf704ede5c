//! Health and readiness endpoints.
use reqwest::StatusCode;

use crate::helpers::{Backend, json_body, spawn_app};
use crate::on_both_backends;

on_both_backends!(health_and_readiness_answer, readiness_fails_when_the_database_is_gone);

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(json_body(health).await["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json_body(ready).await["database"], "ok");
}

async fn readiness_fails_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.db().close_by_ref().await.unwrap();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(ready).await["database"], "unreachable");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "alive, just not ready");
}
