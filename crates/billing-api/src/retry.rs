//! When a failed request may be sent again, and how long to wait first.
//!
//! The rule: a request is retried only when sending it twice cannot do something twice.
//! - A 429 is answered by the rate limiter before the request reaches any handler, so the
//!   request had no effect and any method may be retried after `retry-after`.
//! - A connection that could not be established never carried the request: retry anything.
//! - A 5xx, a timeout or a connection dropped mid-request may have been applied by the server.
//!   Only idempotent requests (reads, full-replacement writes, ingest with `external_id`) are
//!   retried; a `POST` that creates an object is not, and the caller re-lists by name to find
//!   out whether the object exists before creating it again (see billing-remote).

use std::time::Duration;

use backon::BackoffBuilder;

/// Whether sending a request twice has the same effect as sending it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Idempotent,
    NotIdempotent,
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: usize,
    /// First backoff delay; doubled on each retry (with jitter).
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The longest `retry-after` we are willing to sleep. A longer one ends the retries with
    /// a rate-limit error that tells the user to wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            min_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(8),
            // The real server answers `retry-after: 60` for per-minute limits (the window
            // length, not the time remaining); waiting that long once is acceptable for a CLI.
            max_retry_after: Duration::from_secs(61),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
            .build()
    }
}

/// The reason an attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureClass {
    /// 429: not processed.
    RateLimited,
    /// The request never left this machine (connection refused, DNS failure).
    NotSent,
    /// 5xx, timeout, dropped connection: the server may have applied it.
    MaybeApplied,
    /// Anything a retry cannot fix (4xx, TLS certificate errors, decode errors).
    Permanent,
}

pub(crate) fn may_retry(class: FailureClass, idempotency: Idempotency) -> bool {
    match class {
        FailureClass::RateLimited | FailureClass::NotSent => true,
        FailureClass::MaybeApplied => idempotency == Idempotency::Idempotent,
        FailureClass::Permanent => false,
    }
}

/// Parses `retry-after`: delta-seconds, or an HTTP date.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idempotent_requests_are_retried_when_they_may_have_been_applied() {
        use FailureClass::*;
        use Idempotency::*;
        assert!(may_retry(RateLimited, NotIdempotent));
        assert!(may_retry(NotSent, NotIdempotent));
        assert!(may_retry(MaybeApplied, Idempotent));
        assert!(!may_retry(MaybeApplied, NotIdempotent));
        assert!(!may_retry(Permanent, Idempotent));
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after("60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after(" 1 "), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_yields_max_retries_delays() {
        let policy = RetryPolicy {
            max_retries: 3,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff().count(), 3);
        assert_eq!(RetryPolicy::none().backoff().count(), 0);
    }
}
