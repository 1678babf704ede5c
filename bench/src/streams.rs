//! Many SSE streams held open through the gateway, and when each of them ended.
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use reqwest::{Client, header};
use tokio::sync::mpsc;

/// Streams being held; each reports the instant it ended.
pub struct Held {
    pub ended: mpsc::UnboundedReceiver<Instant>,
    pub count: usize,
    _sender: mpsc::UnboundedSender<Instant>,
}

impl Held {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Held { ended: rx, count: 0, _sender: tx }
    }

    /// Opens `n` more streams at `url` with `token`, 64 at a time.
    pub async fn open(&mut self, client: &Client, url: &str, token: &str, n: usize) -> Result<()> {
        let opened = futures::stream::iter(0..n)
            .map(|_| {
                let (client, url, auth, tx) = (client.clone(), url.to_string(), format!("Bearer {token}"), self._sender.clone());
                async move {
                    let response =
                        client.get(&url).header(header::ACCEPT, "text/event-stream").header(header::AUTHORIZATION, auth).send().await?;
                    if !response.status().is_success() {
                        let status = response.status();
                        bail!("opening a stream answered {status}: {}", response.text().await.unwrap_or_default());
                    }
                    let mut body = response.bytes_stream();
                    tokio::spawn(async move {
                        while let Some(Ok(_)) = body.next().await {}
                        let _ = tx.send(Instant::now());
                    });
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await;
        for result in opened {
            result?;
        }
        self.count += n;
        Ok(())
    }

    /// Waits until every stream has ended, or `within`; returns the last end.
    pub async fn all_ended(&mut self, within: Duration) -> Result<Instant> {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = Instant::now();
        for seen in 0..self.count {
            match tokio::time::timeout_at(deadline, self.ended.recv()).await {
                Ok(Some(at)) => last = at,
                _ => bail!("only {seen} of {} streams ended within {within:?}", self.count),
            }
        }
        self.count = 0;
        Ok(last)
    }
}
