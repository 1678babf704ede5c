//! `gatehouse demo-mcp`: a small real MCP server to put behind Gatehouse (tests, benchmarks,
//! trying it out). Tools: `echo` (answers at once), `slow_echo` (after 1 ms), `ticker`
//! (answers after a while, for long-lived requests). It speaks Streamable HTTP at
//! `/mcp` and the legacy HTTP+SSE transport at `/sse` + `/messages`.
use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response, Sse,
        sse::{Event, KeepAlive},
    },
    routing::{get, post},
};
use futures::{Stream, StreamExt};
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt,
    handler::server::wrapper::Parameters,
    model::*,
    schemars,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    tool, tool_handler, tool_router,
    transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager},
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TickerArgs {
    /// How many ticks (one every 100 ms).
    pub ticks: u32,
}

#[derive(Clone, Default)]
pub struct Demo;

#[tool_router]
impl Demo {
    #[tool(description = "Send the text back at once", annotations(read_only_hint = true))]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> Result<CallToolResult, McpError> {
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
    }

    #[tool(description = "Send the text back after 1 ms, like a fast real server")]
    async fn slow_echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> Result<CallToolResult, McpError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
    }

    #[tool(description = "Take `ticks` × 100 ms, then answer (keeps a request open)", annotations(read_only_hint = false))]
    async fn ticker(&self, Parameters(TickerArgs { ticks }): Parameters<TickerArgs>) -> Result<CallToolResult, McpError> {
        let ticks = ticks.min(36_000);
        tokio::time::sleep(Duration::from_millis(100) * ticks).await;
        Ok(CallToolResult::success(vec![ContentBlock::text(format!("{ticks} ticks"))]))
    }
}

#[tool_handler]
impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("gatehouse-demo-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions("A demo MCP server for Gatehouse: echo, slow_echo and ticker.")
    }
}

type SseSessions = Arc<Mutex<HashMap<String, mpsc::Sender<RxJsonRpcMessage<RoleServer>>>>>;

/// The demo server's routes.
pub fn router() -> Router {
    let streamable = StreamableHttpService::new(|| Ok(Demo), LocalSessionManager::default().into(), StreamableHttpServerConfig::default());
    let sessions: SseSessions = Arc::default();
    Router::new().nest_service("/mcp", streamable).route("/sse", get(open_sse)).route("/messages", post(post_message)).with_state(sessions)
}

/// Serves the demo on `bind` until the process ends.
pub async fn serve(bind: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "demo MCP server listening: Streamable HTTP at /mcp, SSE at /sse");
    println!("demo-mcp listening on http://{address} (Streamable HTTP: /mcp, SSE: /sse)");
    let listener = axum::serve::ListenerExt::tap_io(listener, crate::serve::no_delay);
    axum::serve(listener, router()).with_graceful_shutdown(crate::startup::shutdown_signal()).await?;
    Ok(())
}

/// Legacy transport: one MCP session per event stream; the first event names where to post.
async fn open_sse(State(sessions): State<SseSessions>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let id = Uuid::new_v4().simple().to_string();
    let (to_server, from_client) = mpsc::channel::<RxJsonRpcMessage<RoleServer>>(64);
    let (to_client, from_server) = mpsc::channel::<TxJsonRpcMessage<RoleServer>>(64);
    sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), to_server);
    let transport = (tokio_util::sync::PollSender::new(to_client), ReceiverStream::new(from_client));
    let cleanup = sessions.clone();
    let session_id = id.clone();
    tokio::spawn(async move {
        if let Ok(running) = Demo.serve(transport).await {
            let _ = running.waiting().await;
        }
        cleanup.lock().unwrap_or_else(|p| p.into_inner()).remove(&session_id);
    });
    let endpoint = futures::stream::once(async move { Ok(Event::default().event("endpoint").data(format!("/messages?sessionId={id}"))) });
    let messages = ReceiverStream::new(from_server)
        .map(|message| Ok::<_, Infallible>(Event::default().event("message").data(serde_json::to_string(&message).unwrap_or_default())));
    Sse::new(endpoint.chain(messages)).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

async fn post_message(
    State(sessions): State<SseSessions>,
    Query(SessionQuery { session_id }): Query<SessionQuery>,
    Json(message): Json<RxJsonRpcMessage<RoleServer>>,
) -> Response {
    let sender = sessions.lock().unwrap_or_else(|p| p.into_inner()).get(&session_id).cloned();
    match sender {
        Some(sender) if sender.send(message).await.is_ok() => StatusCode::ACCEPTED.into_response(),
        _ => (StatusCode::NOT_FOUND, "unknown session").into_response(),
    }
}
