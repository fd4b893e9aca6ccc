//! Rate limiting: a token bucket per key (a credential, a web session or a client address), `capacity`
//! requests at once, refilled at `capacity` per minute (`[limits] requests_per_minute`). Time is passed in, so
//! the rules are pure functions of their inputs.
//!
//! ```
//! use brandpunt::rate_limit::{RateKey, RateLimiter};
//! use std::time::Instant;
//! let limiter = RateLimiter::new(2);
//! let now = Instant::now();
//! let key = RateKey::Address(None);
//! assert!(limiter.check(key.clone(), now).is_ok());
//! assert!(limiter.check(key.clone(), now).is_ok());
//! assert!(limiter.check(key, now).is_err());
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most rate-limit buckets remembered; beyond it, full (idle) buckets are forgotten first.
const MAX_BUCKETS: usize = 50_000;

/// A token bucket: `capacity` requests at once, refilled at `capacity` per minute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, now: Instant) -> Self {
        TokenBucket {
            tokens: f64::from(capacity),
            last: now,
        }
    }

    fn refill(&mut self, capacity: u32, now: Instant) {
        let per_s = f64::from(capacity) / 60.0;
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * per_s).min(f64::from(capacity));
        self.last = now;
    }

    /// Take one token at `now`; `Err(wait)` (how long until one is available, at least 1 s) when empty.
    pub fn take(&mut self, capacity: u32, now: Instant) -> Result<(), Duration> {
        self.refill(capacity, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let per_s = f64::from(capacity) / 60.0;
            let secs = ((1.0 - self.tokens) / per_s).ceil().max(1.0);
            Err(Duration::from_secs_f64(secs))
        }
    }

    fn is_full(&self, capacity: u32, now: Instant) -> bool {
        let mut b = *self;
        b.refill(capacity, now);
        b.tokens >= f64::from(capacity)
    }
}

/// What a rate limit counts against: the presented credential (SHA-256 of the `Authorization` header, so the
/// secret is not kept), a live web session (SHA-256 of its id), or else the client address. The server derives
/// the key of a request (`server::security::rate_key`); a session cookie that names no live session counts as
/// none, so made-up cookies cannot escape the limit of their address.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum RateKey {
    /// SHA-256 of the presented `Authorization` header.
    Credential([u8; 32]),
    /// SHA-256 of a live session's id.
    Session([u8; 32]),
    /// The client's address (`None` when unknown).
    Address(Option<IpAddr>),
}

/// Token buckets per [`RateKey`] (`[limits] requests_per_minute`; 0 = no limit).
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<RateKey, TokenBucket>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` requests per key (bursts up to that many); 0 = no limit.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether requests are limited at all (`per_minute` > 0); when not, [`RateLimiter::check`] always passes.
    pub fn enabled(&self) -> bool {
        self.per_minute > 0
    }

    /// Count one request of `key` at `now`; `Err(wait)` when its bucket is empty.
    pub fn check(&self, key: RateKey, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let cap = self.per_minute;
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(p) => p.into_inner(),
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            // Idle (full) buckets carry no information: forget them; if every bucket is in use, start over
            // rather than grow without bound.
            buckets.retain(|_, b| !b.is_full(cap, now));
            if buckets.len() >= MAX_BUCKETS {
                buckets.clear();
            }
        }
        buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(cap, now))
            .take(cap, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn token_bucket_allows_the_burst_then_refills_per_minute() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, t0);
        for _ in 0..3 {
            assert!(b.take(3, t0).is_ok());
        }
        // 3 per minute = one per 20 s.
        assert_eq!(b.take(3, t0), Err(Duration::from_secs(20)));
        assert!(b.take(3, t0 + Duration::from_secs(19)).is_err());
        assert!(b.take(3, t0 + Duration::from_secs(21)).is_ok());
        let limiter = RateLimiter::new(1);
        let a = RateKey::Address(Some(ip("192.0.2.1")));
        assert!(limiter.check(a.clone(), t0).is_ok());
        assert!(limiter.check(a, t0).is_err());
        assert!(limiter
            .check(RateKey::Address(Some(ip("192.0.2.2"))), t0)
            .is_ok());
        assert!(RateLimiter::new(0)
            .check(RateKey::Address(None), t0)
            .is_ok());
    }
}
