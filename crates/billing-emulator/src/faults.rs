//! Fault injection and rate limiting for `/v1` requests.
//!
//! `--fail-rate P` fails a deterministic share of requests (same seed and request order →
//! same failures) with a 5xx, a 429 or a dropped connection, before the request is
//! processed; `--commit-fail-rate P` processes (and commits) a share of requests and then
//! loses the answer: the connection is dropped, held until the client gives up, or answered
//! with a 5xx — the "stored, but the response was lost" case that retries must survive
//! without counting twice. `--latency-ms` delays every response; `--rate-limit` enforces a
//! fixed one-minute window per organization with the server's empty-bodied 429 and
//! `retry-after: 60`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::EmulatorConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A 500, 502 or 503 with the server's generic error body.
    ServerError(u16),
    /// A 429 with `retry-after: 1`.
    TooManyRequests,
    /// Close the connection without answering.
    DropConnection,
    /// Process the request (its changes are committed), then lose the answer.
    AfterCommit(LostAnswer),
}

/// How the answer of an already-committed request is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAnswer {
    /// Close the connection without answering (a proxy reset after the write).
    DropConnection,
    /// Answer nothing for `fault_hang_ms`, then close: the client's timeout fires first.
    Hang,
    /// Answer 500, 502 or 503 although the change is stored.
    ServerError(u16),
}

/// The `retry-after` of a `throttle_first_requests` 429: far longer than any shutdown budget.
pub const THROTTLE_RETRY_AFTER_SECS: u64 = 600;

pub struct Faults {
    seed: u64,
    fail_rate: f64,
    commit_fail_rate: f64,
    pub latency_ms: u64,
    pub hang_ms: u64,
    counter: AtomicU64,
    /// Faults injected so far, before processing and after the commit: a test of retries
    /// checks that it met both, not just that nothing went wrong.
    injected_before: AtomicU64,
    injected_after: AtomicU64,
    rate_limit: Option<u32>,
    throttle_left: AtomicU64,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

/// splitmix64: a tiny, well-distributed hash so decisions need no RNG state beyond a counter.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Faults {
    pub fn new(config: &EmulatorConfig) -> Self {
        Self {
            seed: config.seed,
            fail_rate: config.fail_rate,
            commit_fail_rate: config.commit_fail_rate,
            latency_ms: config.latency_ms,
            hang_ms: config.fault_hang_ms,
            counter: AtomicU64::new(0),
            injected_before: AtomicU64::new(0),
            injected_after: AtomicU64::new(0),
            rate_limit: config.rate_limit.then_some(config.rate_limit_per_minute),
            throttle_left: AtomicU64::new(u64::from(config.throttle_first_requests)),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The fault (if any) for the next request, decided from the seed and request number.
    ///
    /// One roll per request: below `fail_rate` it fails before processing; in the next
    /// `commit_fail_rate` it is processed and then its answer is lost.
    pub fn next_fault(&self) -> Option<Fault> {
        if self.fail_rate <= 0.0 && self.commit_fail_rate <= 0.0 {
            return None;
        }
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let roll = splitmix(self.seed ^ splitmix(n));
        let uniform = (roll >> 11) as f64 / (1u64 << 53) as f64;
        let kind = splitmix(roll);
        if uniform < self.fail_rate {
            self.injected_before.fetch_add(1, Ordering::SeqCst);
            return Some(match kind % 5 {
                0 => Fault::ServerError(500),
                1 => Fault::ServerError(502),
                2 => Fault::ServerError(503),
                3 => Fault::TooManyRequests,
                _ => Fault::DropConnection,
            });
        }
        if uniform < self.fail_rate + self.commit_fail_rate {
            self.injected_after.fetch_add(1, Ordering::SeqCst);
            return Some(Fault::AfterCommit(match kind % 5 {
                0 => LostAnswer::ServerError(500),
                1 => LostAnswer::ServerError(502),
                2 => LostAnswer::ServerError(503),
                3 => LostAnswer::Hang,
                _ => LostAnswer::DropConnection,
            }));
        }
        None
    }

    /// (faults before processing, faults after the commit) injected so far.
    pub fn injected(&self) -> (u64, u64) {
        (
            self.injected_before.load(Ordering::SeqCst),
            self.injected_after.load(Ordering::SeqCst),
        )
    }

    /// `Some(retry_after_seconds)` while `throttle_first_requests` are left, or when `key` is
    /// over its limit in the current minute.
    pub fn rate_limited(&self, key: &str, now_unix: i64) -> Option<u64> {
        let throttled = self
            .throttle_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if throttled {
            return Some(THROTTLE_RETRY_AFTER_SECS);
        }
        let limit = self.rate_limit?;
        let window = now_unix.div_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let entry = windows.entry(key.to_owned()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        // The server answers with the rule's full window length, not the time remaining.
        (entry.1 > limit).then_some(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(seed: u64, rate: f64) -> Faults {
        Faults::new(&EmulatorConfig {
            seed,
            fail_rate: rate,
            ..EmulatorConfig::default()
        })
    }

    #[test]
    fn same_seed_same_faults_and_rate_is_roughly_honoured() {
        let a: Vec<_> = (0..1000).map(|_| faults(7, 0.3).next_fault()).collect();
        let first = faults(7, 0.3);
        let b: Vec<_> = (0..1000).map(|_| first.next_fault()).collect();
        let second = faults(7, 0.3);
        let c: Vec<_> = (0..1000).map(|_| second.next_fault()).collect();
        assert_eq!(b, c);
        assert!(a.iter().all(|f| f == &a[0]));
        let failures = b.iter().filter(|f| f.is_some()).count();
        assert!((200..400).contains(&failures), "{failures}");
        for kind in [
            Fault::ServerError(500),
            Fault::TooManyRequests,
            Fault::DropConnection,
        ] {
            assert!(b.contains(&Some(kind)));
        }
        let other = faults(8, 0.3);
        let d: Vec<_> = (0..1000).map(|_| other.next_fault()).collect();
        assert_ne!(b, d);
        assert!(
            b.iter()
                .flatten()
                .all(|f| !matches!(f, Fault::AfterCommit(_)))
        );
    }

    #[test]
    fn commit_faults_are_seeded_and_separate_from_plain_faults() {
        let make = || {
            Faults::new(&EmulatorConfig {
                seed: 3,
                fail_rate: 0.1,
                commit_fail_rate: 0.3,
                ..EmulatorConfig::default()
            })
        };
        let (first, second) = (make(), make());
        let a: Vec<_> = (0..2000).map(|_| first.next_fault()).collect();
        let b: Vec<_> = (0..2000).map(|_| second.next_fault()).collect();
        assert_eq!(a, b);
        let after_commit = a
            .iter()
            .filter(|f| matches!(f, Some(Fault::AfterCommit(_))))
            .count();
        let plain = a
            .iter()
            .filter(|f| f.is_some_and(|f| !matches!(f, Fault::AfterCommit(_))))
            .count();
        assert!((500..700).contains(&after_commit), "{after_commit}");
        assert!((130..270).contains(&plain), "{plain}");
        for kind in [
            LostAnswer::DropConnection,
            LostAnswer::Hang,
            LostAnswer::ServerError(503),
        ] {
            assert!(a.contains(&Some(Fault::AfterCommit(kind))), "{kind:?}");
        }
    }

    #[test]
    fn rate_limit_is_a_fixed_window_per_key() {
        let f = Faults::new(&EmulatorConfig {
            rate_limit: true,
            rate_limit_per_minute: 2,
            ..EmulatorConfig::default()
        });
        assert_eq!(f.rate_limited("org", 120), None);
        assert_eq!(f.rate_limited("org", 121), None);
        assert_eq!(f.rate_limited("org", 122), Some(60));
        assert_eq!(f.rate_limited("other", 122), None);
        assert_eq!(f.rate_limited("org", 180), None);
    }

    #[test]
    fn throttle_answers_the_first_requests_with_a_long_retry_after_then_serves() {
        let f = Faults::new(&EmulatorConfig {
            throttle_first_requests: 2,
            ..EmulatorConfig::default()
        });
        assert_eq!(f.rate_limited("org", 0), Some(THROTTLE_RETRY_AFTER_SECS));
        assert_eq!(f.rate_limited("other", 0), Some(THROTTLE_RETRY_AFTER_SECS));
        assert_eq!(f.rate_limited("org", 0), None);
        assert_eq!(f.rate_limited("org", 0), None);
    }
}
