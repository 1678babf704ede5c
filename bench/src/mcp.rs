//! A minimal MCP client for measuring: Streamable HTTP and the HTTP+SSE transport, one session
//! each, `tools/call` timed from the request leaving to the answer being read.
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use reqwest::{Client, header};
use serde_json::{Value, json};
use tokio::sync::mpsc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn request(method: &str, params: Value) -> (u64, Value) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    (id, json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
}

fn initialize() -> (u64, Value) {
    request(
        "initialize",
        json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "gatehouse-bench", "version": "1" } }),
    )
}

fn initialized() -> Value {
    json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })
}

fn call(tool: &str, text: &str) -> (u64, Value) {
    request("tools/call", json!({ "name": tool, "arguments": { "text": text } }))
}

pub fn client() -> Client {
    Client::builder().pool_max_idle_per_host(256).timeout(Duration::from_secs(30)).build().expect("an HTTP client")
}

/// A Streamable HTTP session.
pub struct Streamable {
    client: Client,
    url: String,
    auth: Option<String>,
    session: Option<String>,
}

impl Streamable {
    pub async fn open(client: &Client, url: &str, token: Option<&str>) -> Result<Self> {
        let mut s = Self { client: client.clone(), url: url.to_string(), auth: token.map(|t| format!("Bearer {t}")), session: None };
        let (_, init) = initialize();
        let response = s.post(&init).await?;
        s.session = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("initialize at {url} answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let response = s.post(&initialized()).await?;
        response.bytes().await?;
        Ok(s)
    }

    async fn post(&self, body: &Value) -> Result<reqwest::Response> {
        let mut request = self
            .client
            .post(&self.url)
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        Ok(request.send().await?)
    }

    /// One `tools/call`, timed until its answer has been read.
    pub async fn call(&self, tool: &str, text: &str) -> Result<Duration> {
        let (_, body) = call(tool, text);
        let started = Instant::now();
        let response = self.post(&body).await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let took = started.elapsed();
        if !status.is_success() || !bytes.windows(text.len()).any(|w| w == text.as_bytes()) {
            bail!("tools/call answered {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(took)
    }
}

/// An HTTP+SSE session: the event stream stays open; calls are posted to the endpoint it named
/// and their answers read from the stream.
pub struct Sse {
    client: Client,
    post_url: String,
    auth: Option<String>,
    messages: mpsc::UnboundedReceiver<Value>,
    reader: tokio::task::JoinHandle<()>,
}

/// Dropping the session closes its stream (a dropped `JoinHandle` would leave the reader
/// running).
impl Drop for Sse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Sse {
    pub async fn open(client: &Client, url: &str, token: Option<&str>) -> Result<Self> {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut request = client.get(url).header(header::ACCEPT, "text/event-stream");
        if let Some(auth) = &auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            bail!("opening {url} answered {}", response.status());
        }
        let (endpoint_tx, endpoint_rx) = tokio::sync::oneshot::channel::<String>();
        let (tx, messages) = mpsc::unbounded_channel();
        let mut stream = response.bytes_stream();
        let reader = tokio::spawn(async move {
            let mut events = gatehouse::gateway::sse::EventReader::default();
            let mut endpoint_tx = Some(endpoint_tx);
            while let Some(Ok(chunk)) = stream.next().await {
                events.push(&chunk);
                while let Some(event) = events.next_event() {
                    if event.name == "endpoint" {
                        if let Some(tx) = endpoint_tx.take() {
                            let _ = tx.send(event.data);
                        }
                    } else if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                        let _ = tx.send(value);
                    }
                }
            }
        });
        let endpoint = tokio::time::timeout(Duration::from_secs(10), endpoint_rx).await.context("no endpoint event")??;
        let base = reqwest::Url::parse(url)?;
        let post_url = base.join(&endpoint)?.to_string();
        let mut s = Self { client: client.clone(), post_url, auth, messages, reader };
        let (id, init) = initialize();
        s.send(&init).await?;
        s.answer(id).await?;
        s.send(&initialized()).await?;
        Ok(s)
    }

    /// Whether the event stream is still open.
    pub fn is_open(&self) -> bool {
        !self.reader.is_finished()
    }

    async fn send(&self, body: &Value) -> Result<()> {
        let mut request = self.client.post(&self.post_url).header(header::CONTENT_TYPE, "application/json").body(body.to_string());
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = request.send().await?;
        let status = response.status();
        response.bytes().await?;
        if !status.is_success() {
            bail!("posting a message answered {status}");
        }
        Ok(())
    }

    async fn answer(&mut self, id: u64) -> Result<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.messages.recv())
                .await
                .context("no answer in 10 s")?
                .context("the stream ended")?;
            if message["id"] == id {
                return Ok(message);
            }
        }
    }

    /// One `tools/call`: from posting it to reading its answer off the stream.
    pub async fn call(&mut self, tool: &str, text: &str) -> Result<Duration> {
        let (id, body) = call(tool, text);
        let started = Instant::now();
        self.send(&body).await?;
        let answer = self.answer(id).await?;
        let took = started.elapsed();
        if !answer.to_string().contains(text) {
            bail!("unexpected answer: {answer}");
        }
        Ok(took)
    }
}
