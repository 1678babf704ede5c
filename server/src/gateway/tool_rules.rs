//! Tool rules on the wire: what the gateway reads of a JSON-RPC request body to decide which
//! tools a token may call, and how it trims a `tools/list` answer to the allowed tools.
//!
//! Only requests that need it are read: a token with a rule for the server, or a client that
//! sends the 2026-07-28 `Mcp-Method` header (SEP-2243), which must then agree with the body.
//! The body is read whole (it is already in memory, size-limited) with borrowed strings and
//! everything else skipped, so a request costs one pass over its bytes.
use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use app::tools::ToolRule;
use axum::http::HeaderMap;
use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use uuid::Uuid;

use super::error::GatewayError;

/// JSON-RPC error codes the gateway answers with.
pub const HEADER_MISMATCH: i64 = -32020;
/// What a server answers for a tool it will not run (MCP: unknown tool → invalid params).
pub const TOOL_NOT_ALLOWED: i64 = -32602;
pub const INVALID_REQUEST: i64 = -32600;
const UNREADABLE: &str = "Gatehouse cannot read this request exactly, so it cannot apply this token's tool rule to it.";

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize, Default)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uri: Option<Cow<'a, str>>,
    /// Read only for the tool-call audit's record of arguments.
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

/// The body's messages, as far as the rules care. `None` for a body the gateway cannot read
/// strictly: not JSON-RPC, or with a member given twice (which other parsers read as the last
/// one) or of an unexpected type. Without a rule it goes to the upstream, which answers it;
/// under a rule it is refused, as the gateway cannot know which tool the upstream would run.
fn messages(body: &[u8]) -> Option<(bool, Vec<(&RawValue, Message<'_>)>)> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    let items: Vec<&RawValue> = if *first == b'[' { serde_json::from_slice(body).ok()? } else { vec![serde_json::from_slice(body).ok()?] };
    let messages = items.into_iter().map(|raw| Some((raw, serde_json::from_str(raw.get()).ok()?))).collect::<Option<Vec<_>>>()?;
    Some((*first == b'[', messages))
}

/// One `tools/call` in a request body: the tool, and its arguments (JSON) when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Called {
    pub tool: String,
    pub arguments: Option<String>,
}

/// The rule "every tool": reads bodies strictly without refusing any tool (servers that audit).
pub static EVERY_TOOL: ToolRule = ToolRule::All;

/// The tools a request body calls (`tools/call`, batches included), for the counts by tool and
/// the audit. For the counts alone, bodies that do not name `tools/call` literally are not
/// parsed; `every_body` parses them all (the audit, where an escaped method must not hide).
pub fn called_tools(body: &[u8], every_body: bool, with_arguments: bool) -> Vec<Called> {
    if !every_body && memchr::memmem::find(body, b"tools/call").is_none() {
        return Vec::new();
    }
    let Some((_, messages)) = messages(body) else { return Vec::new() };
    messages
        .iter()
        .filter(|(_, m)| m.method.as_deref() == Some("tools/call"))
        .map(|(_, m)| Called {
            tool: m.params.as_ref().and_then(|p| p.name.as_deref()).unwrap_or("").to_string(),
            arguments: with_arguments.then(|| m.params.as_ref().and_then(|p| p.arguments).map(|a| a.get().to_string())).flatten(),
        })
        .collect()
}

/// What to do with a request body under a token's rule.
#[derive(Debug)]
pub struct Screened {
    /// What to forward: the body, or a batch without its refused calls.
    pub forward: Bytes,
    /// Error answers for refused calls (one JSON object each), to be merged into the answer.
    pub refusals: Vec<Bytes>,
    /// The tools refused, for the counts.
    pub refused_tools: Vec<String>,
    /// Whether the body asks for `tools/list`, whose answer must then be trimmed.
    pub lists_tools: bool,
}

impl Screened {
    fn forward(body: Bytes, lists_tools: bool) -> Self {
        Self { forward: body, refusals: Vec::new(), refused_tools: Vec::new(), lists_tools }
    }

    /// Whether the upstream's answer must be read: a tools/list under a rule, or a batch with
    /// refused calls whose answers join it.
    pub fn changes_answer(&self, has_rule: bool) -> bool {
        (self.lists_tools && has_rule) || !self.refusals.is_empty()
    }
}

fn error_object(id: Option<&RawValue>, code: i64, message: &str) -> Bytes {
    let id = id.map_or("null", RawValue::get);
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"refused\"".into());
    Bytes::from(format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#))
}

/// A header value as SEP-2243 sends it: plain, or `=?base64?…?=` for values a header cannot
/// carry as they are.
fn header_value(headers: &HeaderMap, name: &str) -> Option<Result<String, ()>> {
    let raw = headers.get(name)?;
    let text = match raw.to_str() {
        Ok(text) => text,
        Err(_) => return Some(Err(())),
    };
    Some(match text.strip_prefix("=?base64?").and_then(|t| t.strip_suffix("?=")) {
        Some(encoded) => {
            base64::engine::general_purpose::STANDARD.decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or(())
        }
        None => Ok(text.to_string()),
    })
}

/// The name SEP-2243 mirrors into `Mcp-Name` for a method, if it mirrors one.
fn mirrored_name<'m>(message: &'m Message<'_>) -> Option<&'m str> {
    let params = message.params.as_ref()?;
    match message.method.as_deref()? {
        "tools/call" | "prompts/get" => params.name.as_deref(),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => params.uri.as_deref(),
        _ => None,
    }
}

/// Checks the `Mcp-Method` / `Mcp-Name` headers against the body (2026-07-28, SEP-2243): a
/// client that sends them must send what the body says, or an intermediary deciding on the
/// headers could be told one thing while the upstream runs another.
fn headers_agree(headers: &HeaderMap, batch: bool, messages: &[(&RawValue, Message<'_>)]) -> Result<(), &'static str> {
    let Some(method) = header_value(headers, "mcp-method") else {
        if headers.contains_key("mcp-name") {
            return Err("Mcp-Name was sent without Mcp-Method");
        }
        return Ok(());
    };
    let method = method.map_err(|()| "Mcp-Method cannot be read")?;
    // The headers describe one message; the protocol that has them has no batches.
    let [(_, message)] = messages else {
        return Err("Mcp-Method was sent with a batch");
    };
    if batch {
        return Err("Mcp-Method was sent with a batch");
    }
    if message.method.as_deref() != Some(method.as_str()) {
        return Err("Mcp-Method differs from the body's method");
    }
    match (header_value(headers, "mcp-name"), mirrored_name(message)) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err("Mcp-Name is missing"),
        (Some(Err(())), _) => Err("Mcp-Name cannot be read"),
        (Some(Ok(_)), None) => Err("Mcp-Name was sent for a method without a name"),
        (Some(Ok(header)), Some(body)) if header == body => Ok(()),
        (Some(Ok(_)), Some(_)) => Err("Mcp-Name differs from the body's name"),
    }
}

/// Decides on a request body: refused outright (a header mismatch, or every call refused),
/// or what to forward and which refusals to merge into the answer. `rule` is the token's
/// rule for the server (`None`: all tools); `read_only` says which tools the upstream
/// annotates `readOnlyHint`.
pub fn screen(
    body: Bytes,
    headers: &HeaderMap,
    rule: Option<&ToolRule>,
    read_only: impl Fn(&str) -> bool,
) -> Result<Screened, GatewayError> {
    let checks_headers = headers.contains_key("mcp-method") || headers.contains_key("mcp-name");
    // No body (a GET or DELETE), nothing to decide: no tool runs for it.
    if !checks_headers && (rule.is_none() || body.iter().all(u8::is_ascii_whitespace)) {
        return Ok(Screened::forward(body, false));
    }
    let Some((batch, messages)) = messages(&body) else {
        if checks_headers {
            let answer = error_object(None, HEADER_MISMATCH, "The Mcp-Method header came with a body that is not JSON-RPC.");
            return Err(GatewayError::HeaderMismatch { answer });
        }
        if rule.is_some() {
            return Err(GatewayError::ToolNotAllowed { answer: Some(error_object(None, INVALID_REQUEST, UNREADABLE)) });
        }
        return Ok(Screened::forward(body, false));
    };
    if checks_headers && let Err(why) = headers_agree(headers, batch, &messages) {
        let id = messages.first().and_then(|(_, m)| m.id);
        return Err(GatewayError::HeaderMismatch { answer: error_object(id, HEADER_MISMATCH, &format!("{why}.")) });
    }
    let lists_tools = messages.iter().any(|(_, m)| m.method.as_deref() == Some("tools/list"));
    let Some(rule) = rule else {
        return Ok(Screened::forward(body, lists_tools));
    };
    let mut screened = Screened::forward(Bytes::new(), lists_tools);
    let mut kept: Vec<&RawValue> = Vec::new();
    for (raw, message) in &messages {
        let called = (message.method.as_deref() == Some("tools/call"))
            .then(|| message.params.as_ref().and_then(|p| p.name.as_deref()).unwrap_or(""));
        match called {
            Some(tool) if !rule.allows(tool, read_only(tool)) => {
                let why = format!("This token may not call the tool \"{tool}\" on this server (it allows {rule}).");
                screened.refusals.push(error_object(message.id, TOOL_NOT_ALLOWED, &why));
                screened.refused_tools.push(tool.to_string());
            }
            _ => kept.push(raw),
        }
    }
    if screened.refusals.is_empty() {
        screened.forward = body;
        return Ok(screened);
    }
    if !batch || kept.is_empty() {
        let answer = if batch { join_array(&screened.refusals) } else { screened.refusals[0].clone() };
        return Err(GatewayError::ToolNotAllowed { answer: Some(answer) });
    }
    // A batch with some calls refused: forward the rest, as they came.
    screened.forward = join_array(&kept.iter().map(|raw| raw.get()).collect::<Vec<_>>());
    Ok(screened)
}

/// A JSON-RPC message as an SSE `message` event, as the gateway adds its own answers to a
/// stream (the message is one line: serde_json writes no line breaks).
pub fn message_event(out: &mut Vec<u8>, message: &[u8]) {
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\n\n");
}

/// JSON values as one JSON array.
pub fn join_array<T: AsRef<[u8]>>(values: &[T]) -> Bytes {
    let mut out = Vec::with_capacity(values.iter().map(|v| v.as_ref().len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(value.as_ref());
    }
    out.push(b']');
    Bytes::from(out)
}

/// The tools each server's upstream annotates `readOnlyHint: true`, as its `tools/list`
/// answers passing through this process and the health checks said. The read-only rule asks here before a call; a
/// tool not (yet) seen is not read-only, so the rule fails closed.
#[derive(Default)]
pub struct ReadOnlyTools {
    servers: Mutex<HashMap<Uuid, HashSet<String>>>,
}

impl ReadOnlyTools {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, HashSet<String>>> {
        self.servers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_read_only(&self, server: Uuid, tool: &str) -> bool {
        self.lock().get(&server).is_some_and(|tools| tools.contains(tool))
    }

    /// What one complete `tools/list` page says of each tool it names.
    fn learn(&self, server: Uuid, tools: &[Value]) {
        self.learn_checked(server, tools.iter().filter_map(|tool| Some((tool.get("name")?.as_str()?, annotated_read_only(tool)))));
    }

    /// Each named tool, and whether it is annotated read-only (a page of `tools/list` passing
    /// through, or a health check's discovery).
    pub fn learn_checked<'a>(&self, server: Uuid, tools: impl Iterator<Item = (&'a str, bool)>) {
        let mut servers = self.lock();
        let known = servers.entry(server).or_default();
        for (name, read_only) in tools {
            if read_only {
                if known.len() < 10_000 {
                    known.insert(name.to_string());
                }
            } else {
                known.remove(name);
            }
        }
    }
}

fn annotated_read_only(tool: &Value) -> bool {
    tool.pointer("/annotations/readOnlyHint").and_then(Value::as_bool).unwrap_or(false)
}

/// Where a trimmed answer came from, so what it says of read-only tools is remembered.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub server: Uuid,
    pub read_only: &'a ReadOnlyTools,
}

/// Trims every `tools/list` result in a JSON-RPC answer (one message or a batch) to the tools
/// the rule allows. `None` when nothing changed (the answer goes on as it came).
pub fn trim_tool_lists(answer: &[u8], rule: &ToolRule, source: Source<'_>) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(answer).ok()?;
    let mut changed = false;
    match &mut value {
        Value::Array(items) => items.iter_mut().for_each(|item| changed |= trim_one(item, rule, source)),
        item => changed = trim_one(item, rule, source),
    }
    changed.then(|| serde_json::to_vec(&value).ok()).flatten()
}

fn trim_one(message: &mut Value, rule: &ToolRule, source: Source<'_>) -> bool {
    let Some(tools) = message.pointer_mut("/result/tools").and_then(Value::as_array_mut) else {
        return false;
    };
    source.read_only.learn(source.server, tools);
    let before = tools.len();
    tools.retain(|tool| rule.allows(tool.get("name").and_then(Value::as_str).unwrap_or(""), annotated_read_only(tool)));
    tools.len() != before
}

/// One SSE event with the JSON-RPC answer in its data trimmed ([`trim_tool_lists`]); `None`
/// when it is left as it is. Its other fields (`id`, `event`) are kept.
pub fn trim_event(event: &[u8], rule: &ToolRule, source: Source<'_>) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(event).ok()?;
    if !text.contains("\"tools\"") {
        return None;
    }
    let lines: Vec<&str> = text.split(['\n', '\r']).filter(|l| !l.is_empty()).collect();
    let data: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("data:")).map(|v| v.strip_prefix(' ').unwrap_or(v)).collect();
    let trimmed = trim_tool_lists(data.join("\n").as_bytes(), rule, source)?;
    let mut out = Vec::with_capacity(event.len());
    for line in lines.iter().filter(|l| !l.starts_with("data:")) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&trimmed);
    out.extend_from_slice(b"\n\n");
    Some(out)
}

/// A JSON answer (Streamable HTTP) with its `tools/list` results trimmed and the gateway's own
/// answers to the refused calls of a batch added.
pub fn merged_json(answer: &[u8], rule: Option<&ToolRule>, source: Source<'_>, own: &[Bytes]) -> Bytes {
    let trimmed = rule.and_then(|rule| trim_tool_lists(answer, rule, source));
    let answer = trimmed.as_deref().unwrap_or(answer);
    if own.is_empty() {
        return Bytes::copy_from_slice(answer);
    }
    let mut items: Vec<Box<RawValue>> = match serde_json::from_slice::<Vec<Box<RawValue>>>(answer) {
        Ok(items) => items,
        Err(_) => serde_json::from_slice::<Box<RawValue>>(answer).map(|one| vec![one]).unwrap_or_default(),
    };
    items.extend(own.iter().filter_map(|o| serde_json::from_slice::<Box<RawValue>>(o).ok()));
    serde_json::to_vec(&items).map(Bytes::from).unwrap_or_else(|_| Bytes::copy_from_slice(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn called_tools_are_read_from_calls_and_batches_only() {
        let names = |body: &[u8]| called_tools(body, false, false).into_iter().map(|c| c.tool).collect::<Vec<_>>();
        assert_eq!(names(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#), ["echo"]);
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","id":2,"method":"tools/list"},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
        assert_eq!(names(batch), ["a", "b"]);
        assert!(names(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).is_empty());
        assert!(names(b"not json tools/call").is_empty());
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
        assert_eq!(called_tools(call, true, true)[0].arguments.as_deref(), Some(r#"{"text":"hi"}"#));
        assert_eq!(called_tools(call, false, false)[0].arguments, None);
        let escaped = br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"echo"}}"#;
        assert!(called_tools(escaped, false, false).is_empty(), "the counts skip what does not say tools/call literally");
        assert_eq!(called_tools(escaped, true, false)[0].tool, "echo", "the audit reads every body");
    }

    use axum::http::{HeaderValue, StatusCode};

    /// The JSON-RPC answer the gateway gives itself.
    fn answer_of(refused: &GatewayError) -> Value {
        match refused {
            GatewayError::ToolNotAllowed { answer: Some(answer) } | GatewayError::HeaderMismatch { answer } => {
                serde_json::from_slice(answer).unwrap()
            }
            other => panic!("not a JSON-RPC refusal: {other:?}"),
        }
    }

    fn call(id: u32, tool: &str) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#)
    }

    fn only(names: &str) -> ToolRule {
        ToolRule::parse(names).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn without_a_rule_or_headers_the_body_is_not_read() {
        let body = Bytes::from_static(b"not json at all");
        let screened = screen(body.clone(), &HeaderMap::new(), None, |_| false).unwrap();
        assert_eq!(screened.forward, body);
    }

    #[test]
    fn a_call_of_another_tool_is_answered_here() {
        let refused = screen(Bytes::from(call(7, "delete")), &HeaderMap::new(), Some(&only("echo")), |_| false).unwrap_err();
        assert_eq!((refused.code(), refused.status()), ("tool_not_allowed", StatusCode::OK));
        let answer = answer_of(&refused);
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["code"], TOOL_NOT_ALLOWED);
        assert!(answer["error"]["message"].as_str().unwrap().contains("may not call the tool \"delete\""));
        let allowed = screen(Bytes::from(call(8, "echo")), &HeaderMap::new(), Some(&only("echo")), |_| false).unwrap();
        assert!(allowed.forward == call(8, "echo") && allowed.refusals.is_empty());
    }

    /// A body the gateway cannot read the same way as every upstream (a key given twice, which
    /// JavaScript and Python read as the last one) must not reach the upstream under a rule:
    /// the gateway would have judged one tool and the upstream would run another.
    #[test]
    fn under_a_rule_an_unreadable_body_is_refused_not_forwarded() {
        let rule = only("echo");
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["delete"]}}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","name":"delete"}}]"#,
            "not json",
        ] {
            let refused = screen(Bytes::from(body), &HeaderMap::new(), Some(&rule), |_| false);
            assert!(refused.is_err(), "forwarded: {body}");
        }
        let open = screen(Bytes::from_static(b"not json"), &HeaderMap::new(), None, |_| false).unwrap();
        assert_eq!(&open.forward[..], b"not json", "without a rule the upstream answers it");
    }

    #[test]
    fn read_only_asks_about_the_tool() {
        let rule = ToolRule::ReadOnly;
        assert!(screen(Bytes::from(call(1, "search")), &HeaderMap::new(), Some(&rule), |t| t == "search").is_ok());
        assert!(screen(Bytes::from(call(1, "drop")), &HeaderMap::new(), Some(&rule), |t| t == "search").is_err());
    }

    #[test]
    fn batches_are_decided_item_by_item() {
        let body = format!(r#"[{}, {}, {{"jsonrpc":"2.0","id":3,"method":"tools/list"}}]"#, call(1, "echo"), call(2, "delete"));
        let screened = screen(Bytes::from(body), &HeaderMap::new(), Some(&only("echo")), |_| false).unwrap();
        assert!(screened.lists_tools);
        assert_eq!(screened.refused_tools, ["delete"]);
        let forwarded: Vec<Value> = serde_json::from_slice(&screened.forward).unwrap();
        assert_eq!(forwarded.iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 3]);
        let all_refused = format!("[{}, {}]", call(1, "rm"), call(2, "delete"));
        let refused = screen(Bytes::from(all_refused), &HeaderMap::new(), Some(&only("echo")), |_| false).unwrap_err();
        assert_eq!(answer_of(&refused).as_array().unwrap().len(), 2);
    }

    #[test]
    fn headers_must_agree_with_the_body() {
        let body = Bytes::from(call(1, "echo"));
        let agree = headers(&[("mcp-method", "tools/call"), ("mcp-name", "echo")]);
        assert!(screen(body.clone(), &agree, None, |_| false).is_ok());
        let encoded = headers(&[("mcp-method", "tools/call"), ("mcp-name", "=?base64?ZWNobw==?=")]);
        assert!(screen(body.clone(), &encoded, None, |_| false).is_ok(), "base64 form");
        for (pairs, why) in [
            (vec![("mcp-method", "tools/call"), ("mcp-name", "delete")], "differs from the body's name"),
            (vec![("mcp-method", "tools/list"), ("mcp-name", "echo")], "differs from the body's method"),
            (vec![("mcp-method", "tools/call")], "Mcp-Name is missing"),
            (vec![("mcp-name", "echo")], "without Mcp-Method"),
            (vec![("mcp-method", "tools/call"), ("mcp-name", "=?base64?!!?=")], "cannot be read"),
        ] {
            let refused = screen(body.clone(), &headers(&pairs), None, |_| false).unwrap_err();
            assert_eq!((refused.code(), refused.status()), ("header_mismatch", StatusCode::BAD_REQUEST));
            let answer = answer_of(&refused);
            assert_eq!(answer["error"]["code"], HEADER_MISMATCH);
            assert!(answer["error"]["message"].as_str().unwrap().contains(why), "{pairs:?}: {answer}");
        }
    }

    #[test]
    fn tool_lists_are_trimmed_to_the_rule_and_read_only_tools_remembered() {
        let known = ReadOnlyTools::default();
        let source = Source { server: Uuid::nil(), read_only: &known };
        let answer = br#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"delete"},{"name":"search","annotations":{"readOnlyHint":true}}]}}"#;
        let trimmed: Value = serde_json::from_slice(&trim_tool_lists(answer, &only("echo"), source).unwrap()).unwrap();
        assert_eq!(trimmed["result"]["tools"], serde_json::json!([{ "name": "echo" }]));
        let read_only: Value = serde_json::from_slice(&trim_tool_lists(answer, &ToolRule::ReadOnly, source).unwrap()).unwrap();
        assert_eq!(read_only["result"]["tools"][0]["name"], "search");
        assert!(known.is_read_only(Uuid::nil(), "search") && !known.is_read_only(Uuid::nil(), "delete"));
        assert_eq!(trim_tool_lists(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#, &only("echo"), source), None);
        let event = format!("id: 4\nevent: message\ndata: {}\n\n", std::str::from_utf8(answer).unwrap());
        let trimmed = String::from_utf8(trim_event(event.as_bytes(), &only("echo"), source).unwrap()).unwrap();
        assert!(trimmed.starts_with("id: 4\nevent: message\ndata: {") && trimmed.ends_with("}\n\n"), "{trimmed}");
        assert!(!trimmed.contains("delete"));
    }

    #[test]
    fn a_batch_answer_gains_the_refusals() {
        let known = ReadOnlyTools::default();
        let source = Source { server: Uuid::nil(), read_only: &known };
        let own = [error_object(None, TOOL_NOT_ALLOWED, "no")];
        let merged: Value = serde_json::from_slice(&merged_json(br#"[{"jsonrpc":"2.0","id":1,"result":{}}]"#, None, source, &own)).unwrap();
        assert_eq!(merged.as_array().unwrap().len(), 2);
    }
}
