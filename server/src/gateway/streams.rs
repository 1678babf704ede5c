//! Live gateway responses, registered under the token and server they were granted for, so a
//! change (revocation, key revoked, account disabled, server deleted, association removed)
//! ends them at once, and a token's `exp` ends them on time.
use std::{
    collections::HashMap,
    net::IpAddr,
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

/// Whom a request's limits are counted against: its token, or on a server that needs no token,
/// the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Holder {
    Token(Uuid),
    Address(IpAddr),
}

#[derive(Clone)]
struct Entry {
    token: Option<Uuid>,
    server: Uuid,
    holder: Holder,
    cancel: CancellationToken,
}

#[derive(Default)]
struct Live {
    entries: HashMap<u64, Entry>,
    per_holder: HashMap<Holder, usize>,
}

#[derive(Default)]
pub struct StreamRegistry {
    next: AtomicU64,
    live: Mutex<Live>,
    /// The most streams open at once since `take_peak` last looked.
    peak: AtomicUsize,
}

/// The holder already has this many open (the limit), so nothing was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtLimit(pub usize);

impl StreamRegistry {
    /// Registers a request (and the stream it answers with) unless `holder` already has `max`
    /// open (0: no limit). Counting and registering are one step under one lock, so requests
    /// arriving together cannot all pass the count before any of them registers. Dropping the
    /// guard unregisters it.
    pub fn try_register(self: &Arc<Self>, token: Option<Uuid>, server: Uuid, holder: Holder, max: usize) -> Result<StreamGuard, AtLimit> {
        let mut live = self.lock();
        let open = live.per_holder.entry(holder).or_default();
        if max > 0 && *open >= max {
            return Err(AtLimit(max));
        }
        *open += 1;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = CancellationToken::new();
        live.entries.insert(id, Entry { token, server, holder, cancel: cancel.clone() });
        self.peak.fetch_max(live.entries.len(), Ordering::Relaxed);
        Ok(StreamGuard { id, registry: self.clone(), cancel })
    }

    /// Ends every stream for which `still_allowed(token, server)` is false.
    pub fn end_where_refused(&self, still_allowed: impl Fn(Option<Uuid>, Uuid) -> bool) -> usize {
        let live = self.lock();
        let mut ended = 0;
        for entry in live.entries.values() {
            if !entry.cancel.is_cancelled() && !still_allowed(entry.token, entry.server) {
                entry.cancel.cancel();
                ended += 1;
            }
        }
        ended
    }

    /// Ends every stream (shutdown).
    pub fn end_all(&self) {
        for entry in self.lock().entries.values() {
            entry.cancel.cancel();
        }
    }

    pub fn open(&self) -> usize {
        self.lock().entries.len()
    }

    /// The most streams that were open at once since the last call, and how many are open now.
    pub fn take_peak(&self) -> (usize, usize) {
        let open = self.open();
        (self.peak.swap(open, Ordering::Relaxed).max(open), open)
    }

    #[cfg(test)]
    fn open_for(&self, holder: Holder) -> usize {
        self.lock().per_holder.get(&holder).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct StreamGuard {
    id: u64,
    registry: Arc<StreamRegistry>,
    cancel: CancellationToken,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut live = self.registry.lock();
        let Some(entry) = live.entries.remove(&self.id) else { return };
        if let Some(n) = live.per_holder.get_mut(&entry.holder) {
            *n -= 1;
            if *n == 0 {
                live.per_holder.remove(&entry.holder);
            }
        }
    }
}

/// A body stream that ends when its guard is cancelled or its deadline passes.
pub struct GrantedStream<S> {
    inner: S,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    _guard: StreamGuard,
    done: bool,
}

impl<S> GrantedStream<S> {
    pub fn new(inner: S, guard: StreamGuard, expires_at: Option<DateTime<Utc>>) -> Self {
        let deadline = expires_at.map(|at| {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            Box::pin(tokio::time::sleep(wait))
        });
        Self { inner, cancelled: Box::pin(guard.cancel.clone().cancelled_owned()), deadline, _guard: guard, done: false }
    }
}

impl<S, E> Stream for GrantedStream<S>
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
        let guard = registry.try_register(Some(token), Uuid::new_v4(), Holder::Token(token), 0).unwrap();
        assert_eq!(registry.open_for(Holder::Token(token)), 1);
        let never_ending = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        let mut stream = GrantedStream::new(never_ending, guard, Some(Utc::now() + chrono::Duration::milliseconds(150)));
        let started = Instant::now();
        let end = tokio::time::timeout(Duration::from_secs(3), stream.next()).await.expect("ended by the deadline");
        assert!(end.is_none());
        assert!(started.elapsed() >= Duration::from_millis(100), "not before the expiry");
        drop(stream);
        assert_eq!((registry.open(), registry.open_for(Holder::Token(token))), (0, 0));
    }

    #[tokio::test]
    async fn a_refused_stream_is_cancelled_and_others_go_on() {
        let registry = Arc::new(StreamRegistry::default());
        let (revoked, kept) = (Uuid::new_v4(), Uuid::new_v4());
        let server = Uuid::new_v4();
        let mut ended = GrantedStream::new(
            futures::stream::pending::<Result<Bytes, std::io::Error>>(),
            registry.try_register(Some(revoked), server, Holder::Token(revoked), 0).unwrap(),
            None,
        );
        let mut going = GrantedStream::new(
            futures::stream::pending::<Result<Bytes, std::io::Error>>(),
            registry.try_register(Some(kept), server, Holder::Token(kept), 0).unwrap(),
            None,
        );
        assert_eq!(registry.end_where_refused(|token, _| token != Some(revoked)), 1);
        assert!(tokio::time::timeout(Duration::from_secs(1), ended.next()).await.unwrap().is_none());
        assert!(tokio::time::timeout(Duration::from_millis(100), going.next()).await.is_err(), "still open");
    }

    #[test]
    fn the_open_limit_is_taken_atomically_by_concurrent_requests() {
        let registry = Arc::new(StreamRegistry::default());
        let token = Uuid::new_v4();
        let holder = Holder::Token(token);
        let server = Uuid::new_v4();
        let guards: Vec<_> = std::thread::scope(|scope| {
            let tries: Vec<_> = (0..16).map(|_| scope.spawn(|| registry.try_register(Some(token), server, holder, 3))).collect();
            tries.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(guards.iter().filter(|g| g.is_ok()).count(), 3, "exactly the limit passes");
        assert!(guards.iter().any(|g| matches!(g, Err(AtLimit(3)))));
        let other = Holder::Address("127.0.0.9".parse().unwrap());
        assert!(registry.try_register(None, server, other, 3).is_ok(), "another holder has its own count");
        drop(guards);
        assert_eq!(registry.open_for(holder), 0);
        assert!(registry.try_register(Some(token), server, holder, 3).is_ok(), "slots come back when requests end");
    }
}
