//! Request rate limits, a token bucket per holder (a token, or a client address on servers that
//! need no token), answered with 429 and `Retry-After`.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::streams::Holder;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<Holder, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` sustained, up to `burst` at once. Zero turns limiting off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self { per_second: f64::from(per_second), burst: f64::from(burst.max(1)), buckets: Mutex::default() }
    }

    /// Takes one request's worth for `holder`, or says how long to wait.
    /// `per_minute` a minute, in bursts of as many (0: no limit).
    pub fn per_minute(per_minute: u32) -> Self {
        Self { per_second: f64::from(per_minute) / 60.0, burst: f64::from(per_minute.max(1)), buckets: Mutex::default() }
    }

    pub fn check(&self, holder: Holder) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle tokens rather than grow without bound.
            buckets.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(60));
        }
        let (available, last) = buckets.entry(holder).or_insert((self.burst, now));
        *available = (*available + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *available >= 1.0 {
            *available -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *available) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn a_token() -> Holder {
        Holder::Token(Uuid::new_v4())
    }

    #[test]
    fn a_burst_passes_then_requests_wait_their_turn() {
        let limiter = RateLimiter::new(10, 3);
        let token = a_token();
        for _ in 0..3 {
            assert!(limiter.check(token).is_ok());
        }
        let wait = limiter.check(token).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(limiter.check(a_token()).is_ok(), "other tokens have their own bucket");
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = RateLimiter::new(0, 0);
        let token = a_token();
        for _ in 0..1000 {
            assert!(limiter.check(token).is_ok());
        }
    }
}
