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

/// Where a client's messages for one upstream SSE session go, and which token may send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub token: Option<Uuid>,
    pub upstream: Url,
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

/// The end of one SSE event in `buf`: the index just past its blank line.
fn event_end(buf: &[u8]) -> Option<usize> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What an `endpoint` event becomes.
#[derive(Debug, PartialEq, Eq)]
pub struct Rewritten {
    pub event: Vec<u8>,
    pub upstream: Url,
    pub query: String,
}

/// Rewrites one event if it is an `endpoint` event; `Ok(None)` leaves it as it is. The
/// upstream may only point to its own origin: anything else would let it aim the gateway at
/// another host.
pub fn rewrite_endpoint(event: &[u8], upstream_sse: &Url, server: Uuid) -> Result<Option<Rewritten>, &'static str> {
    let text = std::str::from_utf8(event).map_err(|_| "the endpoint event is not UTF-8")?;
    let mut is_endpoint = false;
    let mut data = Vec::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            is_endpoint = value.trim() == "endpoint";
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    if !is_endpoint {
        return Ok(None);
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
    failed: bool,
}

impl<S> EndpointRewriting<S> {
    pub fn new(inner: S, upstream_sse: Url, server: Uuid, token: Option<Uuid>, bindings: Arc<SessionBindings>) -> Self {
        Self { inner, buf: BytesMut::new(), upstream_sse, server, token, bindings, bound: Vec::new(), failed: false }
    }

    /// Complete events waiting in the buffer, rewritten.
    fn drain(&mut self) -> Result<Option<Bytes>, &'static str> {
        let mut out = BytesMut::new();
        while let Some(end) = event_end(&self.buf) {
            let event = self.buf.split_to(end);
            match rewrite_endpoint(&event, &self.upstream_sse, self.server)? {
                Some(rewritten) => {
                    self.bindings.insert(self.server, rewritten.query.clone(), Binding { token: self.token, upstream: rewritten.upstream });
                    self.bound.push(rewritten.query);
                    out.extend_from_slice(&rewritten.event);
                }
                None => out.extend_from_slice(&event),
            }
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
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.buf.extend_from_slice(&chunk);
                    if self.buf.len() > 1024 * 1024 {
                        self.failed = true;
                        return Poll::Ready(Some(Err(std::io::Error::other("an upstream SSE event exceeded 1 MiB").into())));
                    }
                    match self.drain() {
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
                    // A last event without its blank line still goes out as it is.
                    let rest = std::mem::take(&mut self.buf);
                    return Poll::Ready((!rest.is_empty()).then(|| Ok(rest.freeze())));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn upstream() -> Url {
        Url::parse("http://127.0.0.1:9000/sse").unwrap()
    }

    #[test]
    fn endpoint_events_point_back_to_the_gateway_keeping_the_session() {
        let server = Uuid::new_v4();
        let r = rewrite_endpoint(b"event: endpoint\ndata: /messages?sessionId=abc\n\n", &upstream(), server).unwrap().unwrap();
        assert_eq!(String::from_utf8(r.event).unwrap(), format!("event: endpoint\ndata: /s/{server}/messages?sessionId=abc\n\n"));
        assert_eq!(r.upstream.as_str(), "http://127.0.0.1:9000/messages?sessionId=abc");
        assert_eq!(r.query, "sessionId=abc");
    }

    #[test]
    fn other_events_pass_untouched() {
        assert_eq!(rewrite_endpoint(b"event: message\ndata: {}\n\n", &upstream(), Uuid::nil()), Ok(None));
        assert_eq!(rewrite_endpoint(b": keep-alive\n\n", &upstream(), Uuid::nil()), Ok(None));
    }

    #[test]
    fn an_endpoint_on_another_origin_is_refused() {
        for data in ["http://169.254.169.254/latest", "//evil.example/x", "https://127.0.0.1:9000/messages"] {
            let event = format!("event: endpoint\ndata: {data}\n\n");
            assert!(rewrite_endpoint(event.as_bytes(), &upstream(), Uuid::nil()).is_err(), "{data}");
        }
    }

    #[test]
    fn a_session_in_the_path_gets_a_gateway_session_parameter() {
        let r = rewrite_endpoint(b"event: endpoint\ndata: /messages/abc\n\n", &upstream(), Uuid::nil()).unwrap().unwrap();
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
        assert_eq!(stream.next().await.unwrap().unwrap(), Bytes::from_static(b"data: tail"));
        assert!(stream.next().await.is_none());
        drop(stream);
        assert!(bindings.get(server, "sessionId=x1").is_none(), "the binding goes with the stream");
    }
}
