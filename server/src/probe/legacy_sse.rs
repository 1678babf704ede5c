//! A 2024-11-05 HTTP+SSE upstream, spoken by hand (rmcp dropped its client for this
//! transport): `GET` the stream, wait for its `endpoint` event, post `initialize` and the
//! listings there, and read each answer from the stream by its id.
use futures::StreamExt;
use serde_json::{Value, json};
use sse_stream::{Sse, SseStream};

use app::{
    servers::{
        Transport,
        health::{Discovery, MAX_LISTED, Problem, ProblemKind},
    },
    state::ProbeTarget,
};

type Client = reqwest013::Client;

/// At most this many pages of one listing are read.
const MAX_PAGES: usize = 20;

pub async fn discover(client: &Client, target: &ProbeTarget) -> Result<Discovery, Problem> {
    let mut request = client.get(target.url.clone()).header(http::header::ACCEPT, "text/event-stream");
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| super::unreachable(&e, &target.url))?;
    if !response.status().is_success() {
        return Err(super::status_problem(response.status().as_u16()));
    }
    let content_type = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("no content type");
    if !content_type.starts_with("text/event-stream") {
        return Err(Problem::new(ProblemKind::NotMcp, format!("It answered with {content_type}, not an event stream: check the URL.")));
    }
    let url = target.url.clone();
    let mut session =
        Session { client, target, events: Box::pin(SseStream::from_bytes_stream(response.bytes_stream())), endpoint: url, next_id: 1 };
    session.endpoint = session.endpoint_event().await?;
    let init = session
        .request(
            "initialize",
            json!({"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "gatehouse-check", "version": env!("CARGO_PKG_VERSION")}}),
        )
        .await?;
    post(client, &session.endpoint, target, json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await?;
    let offers = |what: &str| init.pointer(&format!("/capabilities/{what}")).is_some();
    let tools = if offers("tools") { session.list_all("tools/list", "tools").await? } else { Vec::new() };
    let prompts = if offers("prompts") { session.list_all("prompts/list", "prompts").await? } else { Vec::new() };
    let resources = if offers("resources") { session.list_all("resources/list", "resources").await? } else { Vec::new() };
    Ok(super::discovery_from_lists(Transport::Sse, &init, &tools, &prompts, &resources))
}

type Events<'a> = std::pin::Pin<Box<dyn futures::Stream<Item = Result<Sse, sse_stream::Error>> + Send + 'a>>;

struct Session<'a> {
    client: &'a Client,
    target: &'a ProbeTarget,
    events: Events<'a>,
    endpoint: url::Url,
    next_id: u64,
}

impl Session<'_> {
    async fn next_event(&mut self) -> Result<Sse, Problem> {
        match self.events.next().await {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(Problem::new(ProblemKind::NotMcp, format!("Its event stream could not be read: {e}."))),
            None => Err(Problem::new(ProblemKind::NotMcp, "It closed its event stream before answering.")),
        }
    }

    /// The message endpoint the server names; it must be on the server's own origin, as the
    /// gateway requires, so a check never posts anywhere the owner did not register.
    async fn endpoint_event(&mut self) -> Result<url::Url, Problem> {
        loop {
            let event = self.next_event().await?;
            if event.event.as_deref() != Some("endpoint") {
                continue;
            }
            let data = event.data.unwrap_or_default();
            let endpoint = self
                .target
                .url
                .join(data.trim())
                .map_err(|_| Problem::new(ProblemKind::NotMcp, "Its endpoint event does not hold a URL."))?;
            if endpoint.origin() != self.target.url.origin() {
                return Err(Problem::new(
                    ProblemKind::NotMcp,
                    "Its endpoint event names another origin; Gatehouse posts only to the server's own.",
                ));
            }
            return Ok(endpoint);
        }
    }

    /// Posts a request and reads the stream until its answer comes.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value, Problem> {
        let id = self.next_id;
        self.next_id += 1;
        post(self.client, &self.endpoint, self.target, json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await?;
        loop {
            let event = self.next_event().await?;
            if !matches!(event.event.as_deref(), None | Some("message")) {
                continue;
            }
            let Some(answer) = event.data.and_then(|data| serde_json::from_str::<Value>(&data).ok()) else { continue };
            if answer.get("id").and_then(Value::as_u64) != Some(id) || answer.get("method").is_some() {
                continue; // a notification, or a request of the server's own
            }
            if let Some(error) = answer.get("error") {
                let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
                return Err(Problem::new(ProblemKind::McpError, format!("It answered {method} with an error: {message}.")));
            }
            return answer
                .get("result")
                .cloned()
                .ok_or_else(|| Problem::new(ProblemKind::NotMcp, format!("Its answer to {method} has no result.")));
        }
    }

    /// Every page of a listing, up to [`MAX_PAGES`] pages or [`MAX_LISTED`] items.
    async fn list_all(&mut self, method: &str, key: &str) -> Result<Vec<Value>, Problem> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map_or_else(|| json!({}), |c| json!({"cursor": c}));
            let page = self.request(method, params).await?;
            items.extend(page.get(key).and_then(Value::as_array).cloned().unwrap_or_default());
            cursor = page.get("nextCursor").and_then(Value::as_str).map(str::to_string);
            if cursor.is_none() || items.len() >= MAX_LISTED {
                break;
            }
        }
        Ok(items)
    }
}

/// Posts one message to the session's endpoint. A free function: the session's event stream is
/// not `Sync`, so nothing borrowing the whole session may be held across the request.
async fn post(client: &Client, endpoint: &url::Url, target: &ProbeTarget, message: Value) -> Result<(), Problem> {
    let mut request = client
        .post(endpoint.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&message).unwrap_or_default());
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| super::unreachable(&e, endpoint))?;
    match response.status().as_u16() {
        200..=299 => Ok(()),
        status => Err(super::status_problem(status)),
    }
}
