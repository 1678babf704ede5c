//! The legacy HTTP+SSE transport: the upstream's `endpoint` event is rewritten to the
//! gateway's own message URL, and the upstream session is bound to the token that opened it.
use std::{
    collections::HashMap,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use url::Url;
use uuid::Uuid;

use super::tool_rules::Source;

/// Where a client's messages for one upstream SSE session go, which token may send them, and
/// how the gateway answers on the session's stream itself (a refused tool call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub token: Option<Uuid>,
    pub upstream: Url,
    pub inject: Option<Injector>,
}

/// Puts the gateway's own JSON-RPC answers into an SSE session's stream: on this transport the
/// client reads every answer there, never in the POST's response.
///
/// Hand-written rather than a tokio channel: every token's SSE stream carries one, and a tokio
/// channel allocates its first block of slots up front (the bench measured 1.9 KiB a held
/// stream); this one is an empty queue until the gateway answers something itself.
#[derive(Debug, Clone)]
pub struct Injector(Arc<Inbox>);

#[derive(Debug, Default)]
pub struct Inbox {
    queue: Mutex<std::collections::VecDeque<Bytes>>,
    waker: futures::task::AtomicWaker,
}

impl PartialEq for Injector {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Injector {}

/// Answers waiting for a stream, at most: a client that sends refused calls faster than it reads
/// its stream loses the surplus answers rather than the gateway's memory.
const INJECTED_BACKLOG: usize = 64;

impl Injector {
    pub fn channel() -> (Self, Arc<Inbox>) {
        let inbox = Arc::new(Inbox::default());
        (Self(inbox.clone()), inbox)
    }

    /// Sends one JSON-RPC message as a `message` event; false if the stream's backlog is full.
    pub fn send(&self, message: &[u8]) -> bool {
        let mut event = Vec::with_capacity(message.len() + 24);
        super::tool_rules::message_event(&mut event, message);
        {
            let mut queue = self.0.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.len() >= INJECTED_BACKLOG {
                return false;
            }
            queue.push_back(Bytes::from(event));
        }
        self.0.waker.wake();
        true
    }
}

impl Inbox {
    fn poll_next(&self, cx: &mut Context<'_>) -> Option<Bytes> {
        let pop = || self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        if let Some(answer) = pop() {
            return Some(answer);
        }
        // Registered before looking again, so an answer sent in between wakes this task.
        self.waker.register(cx.waker());
        pop()
    }
}

/// What a stream does for a token with a tool rule: trims `tools/list` answers to the rule it
/// reads (at each answer, so a changed rule applies at once) and carries injected answers.
pub struct ToolHooks {
    pub rule: Arc<dyn Fn() -> Option<Arc<app::tools::ToolRule>> + Send + Sync>,
    pub inject: Injector,
    pub inbox: Arc<Inbox>,
    pub read_only: Arc<super::tool_rules::ReadOnlyTools>,
}

/// Upstream SSE sessions by (server, the query of the gateway's message URL).
#[derive(Default)]
pub struct SessionBindings {
    map: Mutex<HashMap<(Uuid, String), Binding>>,
}

impl SessionBindings {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, String), Binding>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, server: Uuid, query: &str) -> Option<Binding> {
        self.lock().get(&(server, query.to_string())).cloned()
    }

    fn insert(&self, server: Uuid, query: String, binding: Binding) {
        self.lock().insert((server, query), binding);
    }

    fn remove(&self, server: Uuid, query: &str) {
        self.lock().remove(&(server, query.to_string()));
    }
}

/// How far the search for the end of the buffered event got: the start of its unfinished last
/// line, and how much of that line has been searched (so a long line arriving in small reads is
/// searched once, not again with every read).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Scan {
    line_start: usize,
    searched: usize,
}

/// Where the first SSE event in `buf` ends: `Ok` with the index just past the blank line that
/// ends it, or `Err` with where to resume when more bytes come. Lines end with CRLF, LF or a lone
/// CR, as the SSE spec reads them (and so every conforming client); a CR at the very end may
/// still become a CRLF, so it waits for the next byte, unless the stream has `ended`.
fn event_end(buf: &[u8], scan: Scan, ended: bool) -> Result<usize, Scan> {
    let mut line_start = scan.line_start;
    let mut from = scan.searched.max(line_start);
    while let Some(offset) = memchr::memchr2(b'\n', b'\r', &buf[from..]) {
        let at = from + offset;
        let next = match (buf[at], buf.get(at + 1)) {
            (b'\r', None) if !ended => return Err(Scan { line_start, searched: at }),
            (b'\r', Some(b'\n')) => at + 2,
            _ => at + 1,
        };
        if at == line_start {
            return Ok(next);
        }
        (line_start, from) = (next, next);
    }
    Err(Scan { line_start, searched: buf.len() })
}

/// The lines of one event, split as the SSE spec does (CRLF, LF, CR); the empty pieces a CRLF or
/// the closing blank line leave are dropped, as they carry no field.
fn event_lines(event: &str) -> impl Iterator<Item = &str> {
    event.split(['\n', '\r']).filter(|line| !line.is_empty())
}

/// A field line's name and value (one leading space removed), as the SSE spec splits it;
/// comments (`:` first) have none.
fn field(line: &str) -> Option<(&str, &str)> {
    if line.starts_with(':') {
        return None;
    }
    let (name, value) = line.split_once(':').unwrap_or((line, ""));
    Some((name, value.strip_prefix(' ').unwrap_or(value)))
}

/// One event as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:`, `message` when absent.
    pub name: String,
    /// The `data:` lines, joined by line feeds.
    pub data: String,
    /// The event's lines as sent, joined by line feeds, without the blank line ending it.
    pub text: String,
}

/// Reads a byte stream as SSE events, by the same rules as the gateway's rewriter (lines end
/// with CRLF, LF or CR): the one SSE reader of the bench and the tests. (The fuzz oracle in
/// `fuzzing` is kept apart on purpose: it checks this one.)
#[derive(Debug, Default)]
pub struct EventReader {
    buf: Vec<u8>,
    scan: Scan,
}

impl EventReader {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if one has arrived. Invalid UTF-8 is read lossily.
    pub fn next_event(&mut self) -> Option<Event> {
        match event_end(&self.buf, self.scan, false) {
            Err(scan) => {
                self.scan = scan;
                None
            }
            Ok(end) => {
                let raw: Vec<u8> = self.buf.drain(..end).collect();
                self.scan = Scan::default();
                let text = String::from_utf8_lossy(&raw);
                let lines: Vec<&str> = event_lines(text.trim_start_matches('\u{feff}')).collect();
                let mut event = Event { name: "message".into(), data: String::new(), text: lines.join("\n") };
                let mut data = Vec::new();
                for (name, value) in lines.iter().filter_map(|line| field(line)) {
                    match name {
                        "event" => event.name = value.to_string(),
                        "data" => data.push(value),
                        _ => {}
                    }
                }
                event.data = data.join("\n");
                Some(event)
            }
        }
    }
}

/// What an `endpoint` event becomes.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub event: Vec<u8>,
    pub upstream: Url,
    pub query: String,
}

/// Line breaks some clients split on though the SSE spec does not (Python's `str.splitlines`,
/// which httpx-sse, under the Python MCP SDK, follows).
const OTHER_LINE_BREAKS: [char; 8] = ['\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}'];

/// Rewrites one event if it is an `endpoint` event; `Ok(None)` leaves it as it is. The
/// upstream may only point to its own origin: anything else would let it aim the gateway at
/// another host. The stream's `first` event is read past one byte order mark, as a client
/// drops one there (the mark is passed on as it came).
pub fn rewrite_endpoint(event: &[u8], first: bool, upstream_sse: &Url, server: Uuid) -> Result<Option<Rewritten>, &'static str> {
    let text = std::str::from_utf8(event).map_err(|_| "an upstream SSE event is not UTF-8")?;
    let text = if first { text.strip_prefix('\u{feff}').unwrap_or(text) } else { text };
    // Read exactly as a client would: if the client would see an endpoint event here, so must
    // the gateway, or the upstream could send the client (and its token) anywhere.
    let mut is_endpoint = false;
    let mut data = Vec::new();
    for (name, value) in event_lines(text).filter_map(field) {
        match name {
            "event" => is_endpoint = value == "endpoint",
            "data" => data.push(value),
            _ => {}
        }
    }
    if !is_endpoint {
        // A client that splits lines elsewhere too could still read an endpoint event here.
        if text.contains(OTHER_LINE_BREAKS) && text.contains("endpoint") {
            return Err("an upstream SSE event names endpoint between unusual line breaks");
        }
        return Ok(None);
    }
    // The spec does not dispatch an event without data, but some clients do.
    if data.is_empty() {
        return Err("an upstream endpoint event has no data");
    }
    let target = upstream_sse.join(data.join("\n").trim()).map_err(|_| "the endpoint is not a URL")?;
    if target.origin() != upstream_sse.origin() {
        return Err("the upstream's endpoint points to another origin");
    }
    let query = match target.query() {
        Some(q) if !q.is_empty() => q.to_string(),
        _ => format!("gh_session={}", Uuid::new_v4().simple()),
    };
    let event = format!("event: endpoint\ndata: /s/{server}/messages?{query}\n\n").into_bytes();
    Ok(Some(Rewritten { event, upstream: target, query }))
}

/// The upstream SSE body, event by event, with endpoint events rewritten and their sessions
/// bound; the bindings go when the stream does.
pub struct EndpointRewriting<S> {
    inner: S,
    buf: BytesMut,
    upstream_sse: Url,
    server: Uuid,
    token: Option<Uuid>,
    bindings: Arc<SessionBindings>,
    bound: Vec<String>,
    /// Where to resume looking for the end of the buffered event.
    scan: Scan,
    /// Whether the stream's first event has gone by.
    started: bool,
    failed: bool,
    tools: Option<ToolHooks>,
}

/// The longest event the gateway buffers.
const MAX_EVENT_BYTES: usize = 1024 * 1024;

impl<S> EndpointRewriting<S> {
    pub fn new(inner: S, upstream_sse: Url, server: Uuid, token: Option<Uuid>, bindings: Arc<SessionBindings>) -> Self {
        Self {
            inner,
            buf: BytesMut::new(),
            upstream_sse,
            server,
            token,
            bindings,
            bound: Vec::new(),
            scan: Scan::default(),
            started: false,
            failed: false,
            tools: None,
        }
    }

    /// Applies a token's tool rule to the stream (see [`ToolHooks`]).
    pub fn with_tools(mut self, tools: ToolHooks) -> Self {
        self.tools = Some(tools);
        self
    }

    /// An event of the upstream's as it goes on: a `tools/list` answer trimmed to the rule.
    fn passed_on(&self, event: &[u8], out: &mut BytesMut) {
        if let Some(tools) = self.tools.as_ref()
            && let Some(rule) = (tools.rule)()
            && let Some(trimmed) = super::tool_rules::trim_event(event, &rule, Source { server: self.server, read_only: &tools.read_only })
        {
            out.extend_from_slice(&trimmed);
            return;
        }
        out.extend_from_slice(event);
    }

    /// Complete events waiting in the buffer, rewritten.
    fn drain(&mut self, ended: bool) -> Result<Option<Bytes>, &'static str> {
        let mut out = BytesMut::new();
        loop {
            let end = match event_end(&self.buf, self.scan, ended) {
                Ok(end) => end,
                Err(resume) => {
                    self.scan = resume;
                    break;
                }
            };
            self.scan = Scan::default();
            let event = self.buf.split_to(end);
            let first = !std::mem::replace(&mut self.started, true);
            match rewrite_endpoint(&event, first, &self.upstream_sse, self.server)? {
                Some(rewritten) => {
                    let inject = self.tools.as_ref().map(|t| t.inject.clone());
                    let binding = Binding { token: self.token, upstream: rewritten.upstream, inject };
                    self.bindings.insert(self.server, rewritten.query.clone(), binding);
                    self.bound.push(rewritten.query);
                    out.extend_from_slice(&rewritten.event);
                }
                None => self.passed_on(&event, &mut out),
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            return Err("an upstream SSE event exceeded 1 MiB");
        }
        Ok((!out.is_empty()).then(|| out.freeze()))
    }
}

impl<S> Drop for EndpointRewriting<S> {
    fn drop(&mut self) {
        for query in &self.bound {
            self.bindings.remove(self.server, query);
        }
    }
}

impl<S, E> Stream for EndpointRewriting<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: From<std::io::Error>,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        if let Some(tools) = self.tools.as_ref()
            && let Some(answer) = tools.inbox.poll_next(cx)
        {
            return Poll::Ready(Some(Ok(answer)));
        }
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.buf.extend_from_slice(&chunk);
                    match self.drain(false) {
                        Ok(Some(bytes)) => return Poll::Ready(Some(Ok(bytes))),
                        Ok(None) => continue,
                        Err(why) => {
                            tracing::warn!(server = %self.server, why, "ending an SSE stream");
                            self.failed = true;
                            return Poll::Ready(Some(Err(std::io::Error::other(why).into())));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    // The last events; an unfinished one is dropped, as a client would.
                    self.failed = true;
                    return Poll::Ready(match self.drain(true) {
                        Ok(events) => events.map(Ok),
                        Err(why) => Some(Err(std::io::Error::other(why).into())),
                    });
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The gateway's own answers wait in order, wake the stream's task, and stop at the backlog.
    #[test]
    fn injected_answers_wait_in_order_and_wake_the_stream() {
        use std::task::{Context, Wake, Waker};
        struct Count(std::sync::atomic::AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let woken = Arc::new(Count(Default::default()));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let (inject, inbox) = Injector::channel();
        assert_eq!(inbox.poll_next(&mut cx), None, "nothing yet; the task is registered");
        assert!(inject.send(b"{\"id\":1}") && inject.send(b"{\"id\":2}"));
        assert!(woken.0.load(std::sync::atomic::Ordering::SeqCst) >= 1, "a send wakes the stream");
        assert_eq!(inbox.poll_next(&mut cx).as_deref(), Some(&b"event: message\ndata: {\"id\":1}\n\n"[..]));
        assert_eq!(inbox.poll_next(&mut cx).as_deref(), Some(&b"event: message\ndata: {\"id\":2}\n\n"[..]));
        let sent = (0..100).filter(|_| inject.send(b"{}")).count();
        assert_eq!(sent, INJECTED_BACKLOG, "the backlog is bounded");
    }

    #[test]
    fn the_event_reader_reads_as_the_rewriter_does() {
        let mut reader = EventReader::default();
        reader.push(b"\xef\xbb\xbfevent: endpoint\r\ndata: /a?x=1\r\n\r");
        assert_eq!(reader.next_event(), None, "a CR at the end may still become CRLF");
        reader.push(b"\n: comment\rdata: {\"a\":\rdata:1}\r\rdata");
        let first = reader.next_event().unwrap();
        assert_eq!((first.name.as_str(), first.data.as_str()), ("endpoint", "/a?x=1"));
        let second = reader.next_event().unwrap();
        assert_eq!((second.name.as_str(), second.data.as_str()), ("message", "{\"a\":\n1}"));
        assert_eq!(second.text, ": comment\ndata: {\"a\":\ndata:1}");
        assert_eq!(reader.next_event(), None, "the unfinished event waits");
        reader.push(b": x\n\n");
        assert_eq!(reader.next_event().unwrap().data, "x", "the unfinished `data` line goes on in the next read");
    }

    use super::*;
    use futures::StreamExt;

    fn upstream() -> Url {
        Url::parse("http://127.0.0.1:9000/sse").unwrap()
    }

    #[test]
    fn endpoint_events_point_back_to_the_gateway_keeping_the_session() {
        let server = Uuid::new_v4();
        let r = rewrite_endpoint(b"event: endpoint\ndata: /messages?sessionId=abc\n\n", false, &upstream(), server).unwrap().unwrap();
        assert_eq!(String::from_utf8(r.event).unwrap(), format!("event: endpoint\ndata: /s/{server}/messages?sessionId=abc\n\n"));
        assert_eq!(r.upstream.as_str(), "http://127.0.0.1:9000/messages?sessionId=abc");
        assert_eq!(r.query, "sessionId=abc");
    }

    #[test]
    fn other_events_pass_untouched() {
        assert_eq!(rewrite_endpoint(b"event: message\ndata: {}\n\n", false, &upstream(), Uuid::nil()), Ok(None));
        assert_eq!(rewrite_endpoint(b": keep-alive\n\n", false, &upstream(), Uuid::nil()), Ok(None));
    }

    /// Every line ending the SSE spec allows: a client reads a lone CR as a line end, so the
    /// gateway must see the endpoint event in it too. (Found while writing the `sse_rewriter`
    /// fuzz target's property: before, such an event passed through unrewritten, and the client
    /// would have posted its messages, and its token, wherever the upstream pointed.)
    #[test]
    fn endpoint_events_are_read_with_every_line_ending() {
        let server = Uuid::new_v4();
        for event in ["event: endpoint\rdata: /m?s=1\r\r", "event: endpoint\r\ndata: /m?s=1\r\n\r\n", "event:endpoint\ndata:/m?s=1\n\r\n"] {
            let rewritten = rewrite_endpoint(event.as_bytes(), false, &upstream(), server).unwrap().expect(event);
            assert_eq!(rewritten.query, "s=1", "{event:?}");
            assert_eq!(event_end(event.as_bytes(), Scan::default(), true), Ok(event.len()), "{event:?}");
        }
        let off_origin = "event: endpoint\rdata: http://evil.example/m\r\r";
        assert!(rewrite_endpoint(off_origin.as_bytes(), false, &upstream(), server).is_err());
        // Not endpoint events for a client either.
        for event in ["event: endpoint \ndata: /m\n\n", "event: Endpoint\ndata: /m\n\n"] {
            assert_eq!(rewrite_endpoint(event.as_bytes(), false, &upstream(), server), Ok(None), "{event:?}");
        }
        // Endpoint events some clients would dispatch or read though the spec does not: refused.
        for event in ["event: endpoint\n\n", "event: x\u{2028}event: endpoint\u{2028}data: http://evil.example/\n\n"] {
            assert!(rewrite_endpoint(event.as_bytes(), false, &upstream(), server).is_err(), "{event:?}");
        }
    }

    #[test]
    fn event_ends_are_found_across_line_endings_and_resumed() {
        let start = Scan::default();
        let at = |line_start, searched| Scan { line_start, searched };
        assert_eq!(event_end(b"data: a\n\ndata: b\n\n", start, false), Ok(9));
        assert_eq!(event_end(b"data: a\r", start, false), Err(at(0, 7)), "a CR at the end may become CRLF");
        assert_eq!(event_end(b"data: a\r\n\r", start, false), Err(at(9, 9)));
        assert_eq!(event_end(b"data: a\r\n\r", start, true), Ok(10), "not once the stream has ended");
        assert_eq!(event_end(b"data: a\r\n\r\n", at(9, 9), false), Ok(11));
        assert_eq!(event_end(b"data: a\ndata: b", start, false), Err(at(8, 15)));
        assert_eq!(event_end(b"data: a\ndata: bc\n\n", at(8, 15), false), Ok(18), "resumed where the search stopped");
    }

    #[tokio::test]
    async fn a_byte_order_mark_before_the_endpoint_event_does_not_hide_it() {
        let server = Uuid::new_v4();
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            vec![Ok(Bytes::from_static(b"\xef\xbb")), Ok(Bytes::from_static(b"\xbfevent: endpoint\ndata: /messages?sessionId=b1\n\n"))];
        let bindings = Arc::new(SessionBindings::default());
        let mut stream = EndpointRewriting::new(futures::stream::iter(chunks), upstream(), server, None, bindings.clone());
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first, format!("event: endpoint\ndata: /s/{server}/messages?sessionId=b1\n\n").as_bytes());
        assert!(bindings.get(server, "sessionId=b1").is_some());
        // A client drops only one mark: after two, the event is not an endpoint event to it
        // either, and passes as it came.
        let two = b"\xef\xbb\xbf\xef\xbb\xbfevent: endpoint\ndata: http://evil.example/\n\n";
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from_static(two))];
        let mut stream = EndpointRewriting::new(futures::stream::iter(chunks), upstream(), server, None, bindings.clone());
        assert_eq!(stream.next().await.unwrap().unwrap(), &two[..]);
    }

    #[tokio::test]
    async fn many_small_events_in_one_big_chunk_are_not_one_big_event() {
        let event = "event: message\ndata: {}\n\n";
        let big = event.repeat(MAX_EVENT_BYTES / event.len() + 10);
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(big.clone()))];
        let mut stream = EndpointRewriting::new(futures::stream::iter(chunks), upstream(), Uuid::nil(), None, Arc::default());
        assert_eq!(stream.next().await.unwrap().unwrap(), big.as_bytes());
        let unfinished: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(vec![b'x'; MAX_EVENT_BYTES + 1]))];
        let mut stream = EndpointRewriting::new(futures::stream::iter(unfinished), upstream(), Uuid::nil(), None, Arc::default());
        assert!(stream.next().await.unwrap().is_err(), "one event over the limit ends the stream");
    }

    #[test]
    fn an_endpoint_on_another_origin_is_refused() {
        for data in ["http://169.254.169.254/latest", "//evil.example/x", "https://127.0.0.1:9000/messages"] {
            let event = format!("event: endpoint\ndata: {data}\n\n");
            assert!(rewrite_endpoint(event.as_bytes(), false, &upstream(), Uuid::nil()).is_err(), "{data}");
        }
    }

    #[test]
    fn a_session_in_the_path_gets_a_gateway_session_parameter() {
        let r = rewrite_endpoint(b"event: endpoint\ndata: /messages/abc\n\n", false, &upstream(), Uuid::nil()).unwrap().unwrap();
        assert!(r.query.starts_with("gh_session="));
        assert_eq!(r.upstream.path(), "/messages/abc");
    }

    #[tokio::test]
    async fn events_split_across_chunks_are_rewritten_and_bound_until_the_stream_ends() {
        let server = Uuid::new_v4();
        let token = Some(Uuid::new_v4());
        let bindings = Arc::new(SessionBindings::default());
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"event: endp")),
            Ok(Bytes::from_static(b"oint\r\ndata: /messages?sessionId=x1\r\n\r\nevent: message\ndata: {\"a\":1}\n\n")),
            Ok(Bytes::from_static(b"data: tail")),
        ];
        let mut stream = EndpointRewriting::new(futures::stream::iter(chunks), upstream(), server, token, bindings.clone());
        let first = stream.next().await.unwrap().unwrap();
        let text = String::from_utf8(first.to_vec()).unwrap();
        assert!(text.starts_with(&format!("event: endpoint\ndata: /s/{server}/messages?sessionId=x1\n\n")), "{text}");
        assert!(text.ends_with("event: message\ndata: {\"a\":1}\n\n"));
        assert_eq!(bindings.get(server, "sessionId=x1").unwrap().token, token);
        // An event the stream ends in the middle of is dropped, as a client drops it.
        assert!(stream.next().await.is_none());
        drop(stream);
        assert!(bindings.get(server, "sessionId=x1").is_none(), "the binding goes with the stream");
    }
}
