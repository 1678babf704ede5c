//! Live gateway responses, registered under the token and server they were granted for, so a
//! change (revocation, key revoked, account disabled, server deleted, association removed)
//! ends them at once, and a token's `exp` ends them on time.
use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use uuid::Uuid;

#[derive(Clone)]
struct Entry {
    token: Option<Uuid>,
    server: Uuid,
    cancel: CancellationToken,
}

#[derive(Default)]
pub struct StreamRegistry {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Entry>>,
    per_token: Mutex<HashMap<Uuid, usize>>,
    /// The most streams open at once since `take_peak` last looked.
    peak: AtomicUsize,
}

impl StreamRegistry {
    /// Registers a stream; dropping the returned guard unregisters it.
    pub fn register(self: &Arc<Self>, token: Option<Uuid>, server: Uuid) -> StreamGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = CancellationToken::new();
        let mut live = self.lock();
        live.insert(id, Entry { token, server, cancel: cancel.clone() });
        self.peak.fetch_max(live.len(), Ordering::Relaxed);
        drop(live);
        if let Some(token) = token {
            *self.counts().entry(token).or_default() += 1;
        }
        StreamGuard { id, token, registry: self.clone(), cancel }
    }

    /// Ends every stream for which `still_allowed(token, server)` is false.
    pub fn end_where_refused(&self, still_allowed: impl Fn(Option<Uuid>, Uuid) -> bool) -> usize {
        let live = self.lock();
        let mut ended = 0;
        for entry in live.values() {
            if !entry.cancel.is_cancelled() && !still_allowed(entry.token, entry.server) {
                entry.cancel.cancel();
                ended += 1;
            }
        }
        ended
    }

    /// Ends every stream (shutdown).
    pub fn end_all(&self) {
        for entry in self.lock().values() {
            entry.cancel.cancel();
        }
    }

    pub fn open(&self) -> usize {
        self.lock().len()
    }

    /// The most streams that were open at once since the last call, and how many are open now.
    pub fn take_peak(&self) -> (usize, usize) {
        let open = self.lock().len();
        (self.peak.swap(open, Ordering::Relaxed).max(open), open)
    }

    pub fn open_for_token(&self, token: Uuid) -> usize {
        self.counts().get(&token).copied().unwrap_or(0)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        self.per_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct StreamGuard {
    id: u64,
    token: Option<Uuid>,
    registry: Arc<StreamRegistry>,
    cancel: CancellationToken,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
        if let Some(token) = self.token {
            let mut counts = self.registry.counts();
            if let Some(n) = counts.get_mut(&token) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&token);
                }
            }
        }
    }
}

/// A body stream that ends when its guard is cancelled or its deadline passes.
pub struct Guarded<S> {
    inner: S,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    _guard: StreamGuard,
    done: bool,
}

impl<S> Guarded<S> {
    pub fn new(inner: S, guard: StreamGuard, expires_at: Option<DateTime<Utc>>) -> Self {
        let deadline = expires_at.map(|at| {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            Box::pin(tokio::time::sleep(wait))
        });
        Self { inner, cancelled: Box::pin(guard.cancel.clone().cancelled_owned()), deadline, _guard: guard, done: false }
    }
}

impl<S, E> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.cancelled.as_mut().poll(cx).is_ready() || self.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready()) {
            self.done = true;
            return Poll::Ready(None);
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

use std::future::Future;

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn a_stream_ends_at_its_tokens_expiry_and_unregisters() {
        let registry = Arc::new(StreamRegistry::default());
        let token = Uuid::new_v4();
        let guard = registry.register(Some(token), Uuid::new_v4());
        assert_eq!(registry.open_for_token(token), 1);
        let never_ending = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        let mut stream = Guarded::new(never_ending, guard, Some(Utc::now() + chrono::Duration::milliseconds(150)));
        let started = Instant::now();
        let end = tokio::time::timeout(Duration::from_secs(3), stream.next()).await.expect("ended by the deadline");
        assert!(end.is_none());
        assert!(started.elapsed() >= Duration::from_millis(100), "not before the expiry");
        drop(stream);
        assert_eq!((registry.open(), registry.open_for_token(token)), (0, 0));
    }

    #[tokio::test]
    async fn a_refused_stream_is_cancelled_and_others_go_on() {
        let registry = Arc::new(StreamRegistry::default());
        let (revoked, kept) = (Uuid::new_v4(), Uuid::new_v4());
        let server = Uuid::new_v4();
        let mut ended = Guarded::new(futures::stream::pending::<Result<Bytes, std::io::Error>>(), registry.register(Some(revoked), server), None);
        let mut going = Guarded::new(futures::stream::pending::<Result<Bytes, std::io::Error>>(), registry.register(Some(kept), server), None);
        assert_eq!(registry.end_where_refused(|token, _| token != Some(revoked)), 1);
        assert!(tokio::time::timeout(Duration::from_secs(1), ended.next()).await.unwrap().is_none());
        assert!(tokio::time::timeout(Duration::from_millis(100), going.next()).await.is_err(), "still open");
    }
}
