//! A Streamable HTTP answer under a token's tool rule: `tools/list` results trimmed to the
//! rule, and the gateway's own answers to the refused calls of a batch added.
use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use app::tools::ToolRule;
use bytes::Bytes;
use futures::Stream;
use uuid::Uuid;

use super::{
    sse::EventReader,
    tool_rules::{ReadOnlyTools, Source, message_event, trim_event},
};

/// An SSE answer (Streamable HTTP) event by event: the gateway's own answers first, then the
/// upstream's events with their `tools/list` results trimmed to the rule.
pub struct TrimmedEvents<S> {
    inner: S,
    reader: EventReader,
    rule: Option<Arc<ToolRule>>,
    server: Uuid,
    read_only: Arc<ReadOnlyTools>,
    first: Option<Bytes>,
    done: bool,
}

impl<S> TrimmedEvents<S> {
    pub fn new(inner: S, rule: Option<Arc<ToolRule>>, server: Uuid, read_only: Arc<ReadOnlyTools>, own: &[Bytes]) -> Self {
        let first = (!own.is_empty()).then(|| {
            let mut out = Vec::new();
            own.iter().for_each(|answer| message_event(&mut out, answer));
            Bytes::from(out)
        });
        Self { inner, reader: Default::default(), rule, server, read_only, first, done: false }
    }
}

impl<S> Stream for TrimmedEvents<S>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.reader.push(&chunk);
                    let mut out = Vec::new();
                    while let Some(event) = self.reader.next_event() {
                        let text = format!("{}\n\n", event.text);
                        let source = Source { server: self.server, read_only: &self.read_only };
                        match self.rule.as_deref().and_then(|rule| trim_event(text.as_bytes(), rule, source)) {
                            Some(trimmed) => out.extend_from_slice(&trimmed),
                            None => out.extend_from_slice(text.as_bytes()),
                        }
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
