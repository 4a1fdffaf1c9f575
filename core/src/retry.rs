//! When a failed request is tried again, and when it is given up.
//!
//! One policy type serves both places that retry: the query cache in the app
//! ([`RetryPolicy::QUERY`]: 1 s, 2 s, 4 s, capped at 30 s) and the service
//! worker's write queue ([`RetryPolicy::SYNC_QUEUE`]: 5 s, 10 s, 20 s, capped at
//! 300 s, then the dead letter). The policy never reads the clock or a random
//! source: the caller passes `now` and a jitter sample in `[0, 1)`.
//!
//! Counting: `failures` is the number of *counted* failures so far, including
//! the one being decided. Network failures are counted only by policies with
//! [`RetryPolicy::network_spends_attempt`], and never while offline, so a queue
//! can wait for days without losing its attempts.

#[cfg(feature = "std")]
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What went wrong with one request, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response at all: DNS, refused connection, dropped connection, timeout.
    Network,
    /// The server answered with a non-2xx status.
    Http {
        /// HTTP status code.
        status: u16,
        /// The server's `Retry-After`, already turned into milliseconds from now.
        retry_after_ms: Option<u64>,
    },
    /// A 2xx whose body could not be decoded. Retrying would get the same body.
    Decode,
}

/// How a failure is treated before any counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Worth trying again (network errors, 5xx, 408, 429).
    Transient,
    /// Trying again cannot help (other 4xx, undecodable bodies).
    Permanent,
    /// 401: the session ended. Not the request's fault: a write waits for
    /// the person to sign in again and is then sent as it is, with no
    /// attempt spent.
    NeedsSignIn,
}

/// What the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this many milliseconds.
    RetryIn(u64),
    /// Do nothing until the network comes back; no attempt was spent.
    WaitForNetwork,
    /// Stop: the query shows its error; a queued write goes to the dead letter.
    GiveUp,
}

/// Longest `Retry-After` the policy accepts from a server (one day). A larger
/// value is clamped rather than trusted, so a bad header cannot park a write
/// for a year.
pub const MAX_RETRY_AFTER_MS: u64 = 24 * 60 * 60 * 1000;

/// Exponential backoff with a cap, a retry budget, optional jitter and
/// `Retry-After` support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry, in ms. Each later retry doubles it.
    pub base_delay_ms: u64,
    /// Upper bound on the computed backoff, in ms (a `Retry-After` may exceed it).
    pub max_delay_ms: u64,
    /// Counted failures that may still be retried; the next one gives up.
    pub max_retries: u32,
    /// Jitter as a fraction of the delay: the delay grows by `jitter * sample`.
    pub jitter_ratio_percent: u32,
    /// Whether a network failure while online spends an attempt.
    pub network_spends_attempt: bool,
}

impl RetryPolicy {
    /// The query cache (SPEC §3): retries after 1 s, 2 s, 4 s (cap 30 s), then
    /// the query shows its error. A network error while online spends an
    /// attempt, as in TanStack Query; while offline it waits.
    pub const QUERY: RetryPolicy = RetryPolicy {
        base_delay_ms: 1_000,
        max_delay_ms: 30_000,
        max_retries: 3,
        jitter_ratio_percent: 0,
        network_spends_attempt: true,
    };

    /// The service worker's write queue (SPEC §6): retries after 5 s, 10 s,
    /// 20 s (cap 300 s) with up to 20 % jitter; the fourth counted failure goes
    /// to the dead letter. An unreachable network never spends an attempt.
    pub const SYNC_QUEUE: RetryPolicy = RetryPolicy {
        base_delay_ms: 5_000,
        max_delay_ms: 300_000,
        max_retries: 3,
        jitter_ratio_percent: 20,
        network_spends_attempt: false,
    };

    /// Sorts a failure into transient or permanent. 408 (timeout) and 429
    /// (rate limited) are the only retried 4xx statuses; 1xx/3xx reaching here
    /// are unexpected and treated as permanent.
    pub fn classify(failure: &Failure) -> FailureClass {
        match failure {
            Failure::Network => FailureClass::Transient,
            Failure::Http { status, .. } => match status {
                401 => FailureClass::NeedsSignIn,
                408 | 429 => FailureClass::Transient,
                500..=599 => FailureClass::Transient,
                _ => FailureClass::Permanent,
            },
            Failure::Decode => FailureClass::Permanent,
        }
    }

    /// Whether this failure counts against the retry budget under this policy.
    pub fn counts_attempt(&self, failure: &Failure, online: bool) -> bool {
        match failure {
            Failure::Network => online && self.network_spends_attempt,
            f => Self::classify(f) != FailureClass::NeedsSignIn,
        }
    }

    /// The backoff before retry number `retry` (1-based), without jitter:
    /// `min(base · 2^(retry-1), max)`.
    pub fn backoff_ms(&self, retry: u32) -> u64 {
        let exp = retry.saturating_sub(1).min(63);
        self.base_delay_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_delay_ms)
    }

    /// Decides what follows a failure.
    ///
    /// `failures` counts the counted failures so far *including this one* when
    /// [`counts_attempt`](Self::counts_attempt) is true (callers increment
    /// first); `online` is the platform's current belief; `jitter_sample` is a
    /// random number in `[0, 1)` from the caller.
    pub fn decide(
        &self,
        failure: &Failure,
        failures: u32,
        online: bool,
        jitter_sample: f64,
    ) -> RetryDecision {
        if Self::classify(failure) != FailureClass::Transient {
            // Permanent, or a sign-in only the person can give: a query shows
            // its error (the write queue holds 401s itself, `queue::after_replay`).
            return RetryDecision::GiveUp;
        }
        if !self.counts_attempt(failure, online) {
            return RetryDecision::WaitForNetwork;
        }
        if failures > self.max_retries {
            return RetryDecision::GiveUp;
        }
        let backoff = self.with_jitter(self.backoff_ms(failures.max(1)), jitter_sample);
        let delay = match failure {
            Failure::Http {
                retry_after_ms: Some(server),
                ..
            } => backoff.max((*server).min(MAX_RETRY_AFTER_MS)),
            _ => backoff,
        };
        RetryDecision::RetryIn(delay)
    }

    /// The backoff before retry number `retry` with jitter from `sample` in
    /// `[0, 1)`: never shorter than [`backoff_ms`](Self::backoff_ms).
    pub fn jittered_ms(&self, retry: u32, sample: f64) -> u64 {
        self.with_jitter(self.backoff_ms(retry), sample)
    }

    fn with_jitter(&self, delay: u64, sample: f64) -> u64 {
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let extra = delay as f64 * f64::from(self.jitter_ratio_percent) / 100.0 * sample;
        delay.saturating_add(extra as u64)
    }
}

impl Default for RetryPolicy {
    /// The query policy.
    fn default() -> Self {
        RetryPolicy::QUERY
    }
}

#[cfg(feature = "std")]
/// Parses a `Retry-After` header value into milliseconds from `now_ms`.
///
/// Accepts delay-seconds (`"120"`) and an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`). A date in the past means "now" (0).
/// Anything else is `None`, and the policy's own backoff applies.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    parse_retry_after_with(value, now_ms, |date| {
        let at = httpdate::parse_http_date(date).ok()?;
        Some(at.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64)
    })
}

/// [`parse_retry_after`] with the HTTP date read by `date` (milliseconds
/// since the epoch): the worker passes the browser's own `Date.parse`, so it
/// carries no date parser of its own.
pub fn parse_retry_after_with(
    value: &str,
    now_ms: u64,
    date: impl FnOnce(&str) -> Option<u64>,
) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000).min(MAX_RETRY_AFTER_MS));
    }
    // An HTTP date has a month name and a time of day; anything else is not
    // handed to a lenient parser (the browser's reads "1.5" as a date).
    let looks_like_date = value.contains(':') && value.bytes().any(|b| b.is_ascii_alphabetic());
    if !looks_like_date {
        return None;
    }
    let at_ms = date(value)?;
    Some(at_ms.saturating_sub(now_ms).min(MAX_RETRY_AFTER_MS))
}

#[cfg(feature = "std")]
/// Formats wall-clock milliseconds as an HTTP date (used by tests and the
/// server's `Retry-After`).
pub fn format_http_date(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

#[cfg(feature = "std")]
/// Milliseconds since the epoch for a [`SystemTime`]; saturates at 0.
pub fn system_time_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: RetryPolicy = RetryPolicy::QUERY;
    const S: RetryPolicy = RetryPolicy::SYNC_QUEUE;

    fn http(status: u16) -> Failure {
        Failure::Http {
            status,
            retry_after_ms: None,
        }
    }

    #[test]
    fn query_schedule_is_1s_2s_4s_then_gives_up() {
        let f = http(503);
        assert_eq!(Q.decide(&f, 1, true, 0.0), RetryDecision::RetryIn(1_000));
        assert_eq!(Q.decide(&f, 2, true, 0.0), RetryDecision::RetryIn(2_000));
        assert_eq!(Q.decide(&f, 3, true, 0.0), RetryDecision::RetryIn(4_000));
        assert_eq!(Q.decide(&f, 4, true, 0.0), RetryDecision::GiveUp);
    }

    #[test]
    fn query_backoff_is_capped_at_30s() {
        assert_eq!(Q.backoff_ms(5), 16_000);
        assert_eq!(Q.backoff_ms(6), 30_000);
        assert_eq!(Q.backoff_ms(40), 30_000);
        assert_eq!(Q.backoff_ms(u32::MAX), 30_000);
    }

    #[test]
    fn queue_schedule_is_5s_10s_20s_then_dead_letter() {
        let f = http(500);
        assert_eq!(S.decide(&f, 1, true, 0.0), RetryDecision::RetryIn(5_000));
        assert_eq!(S.decide(&f, 2, true, 0.0), RetryDecision::RetryIn(10_000));
        assert_eq!(S.decide(&f, 3, true, 0.0), RetryDecision::RetryIn(20_000));
        assert_eq!(S.decide(&f, 4, true, 0.0), RetryDecision::GiveUp);
    }

    #[test]
    fn queue_backoff_is_capped_at_300s() {
        assert_eq!(S.backoff_ms(7), 300_000);
        assert_eq!(S.backoff_ms(6), 160_000);
    }

    #[test]
    fn client_errors_are_not_retried_except_408_and_429() {
        for status in [400, 401, 403, 404, 409, 413, 422] {
            assert_eq!(Q.decide(&http(status), 1, true, 0.0), RetryDecision::GiveUp);
            assert_eq!(S.decide(&http(status), 1, true, 0.0), RetryDecision::GiveUp);
        }
        for status in [408, 429] {
            assert_eq!(
                Q.decide(&http(status), 1, true, 0.0),
                RetryDecision::RetryIn(1_000)
            );
            assert_eq!(
                S.decide(&http(status), 1, true, 0.0),
                RetryDecision::RetryIn(5_000)
            );
        }
    }

    #[test]
    fn every_5xx_is_transient() {
        for status in 500..600 {
            assert_eq!(
                RetryPolicy::classify(&http(status)),
                FailureClass::Transient
            );
        }
    }

    #[test]
    fn decode_errors_are_permanent() {
        assert_eq!(
            Q.decide(&Failure::Decode, 1, true, 0.0),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn offline_network_failure_waits_without_spending_an_attempt() {
        assert!(!Q.counts_attempt(&Failure::Network, false));
        assert_eq!(
            Q.decide(&Failure::Network, 0, false, 0.0),
            RetryDecision::WaitForNetwork
        );
        // Even with the budget exhausted, offline is a wait, not a give-up.
        assert_eq!(
            Q.decide(&Failure::Network, 9, false, 0.0),
            RetryDecision::WaitForNetwork
        );
    }

    #[test]
    fn query_spends_attempts_on_network_errors_while_online() {
        assert!(Q.counts_attempt(&Failure::Network, true));
        assert_eq!(
            Q.decide(&Failure::Network, 2, true, 0.0),
            RetryDecision::RetryIn(2_000)
        );
        assert_eq!(
            Q.decide(&Failure::Network, 4, true, 0.0),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn queue_never_spends_attempts_on_unreachable_network() {
        assert!(!S.counts_attempt(&Failure::Network, true));
        assert_eq!(
            S.decide(&Failure::Network, 3, true, 0.0),
            RetryDecision::WaitForNetwork
        );
    }

    #[test]
    fn retry_after_is_honoured_when_longer_than_backoff() {
        let f = Failure::Http {
            status: 429,
            retry_after_ms: Some(42_000),
        };
        assert_eq!(S.decide(&f, 1, true, 0.0), RetryDecision::RetryIn(42_000));
        assert_eq!(Q.decide(&f, 1, true, 0.0), RetryDecision::RetryIn(42_000));
    }

    #[test]
    fn retry_after_shorter_than_backoff_does_not_shorten_it() {
        let f = Failure::Http {
            status: 503,
            retry_after_ms: Some(1_000),
        };
        assert_eq!(S.decide(&f, 2, true, 0.0), RetryDecision::RetryIn(10_000));
    }

    #[test]
    fn retry_after_is_clamped_to_a_day() {
        let f = Failure::Http {
            status: 503,
            retry_after_ms: Some(u64::MAX),
        };
        assert_eq!(
            S.decide(&f, 1, true, 0.0),
            RetryDecision::RetryIn(MAX_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn jitter_adds_at_most_its_ratio_and_the_query_has_none() {
        let f = http(500);
        assert_eq!(S.decide(&f, 1, true, 0.5), RetryDecision::RetryIn(5_500));
        assert_eq!(
            S.decide(&f, 1, true, 0.999_999),
            RetryDecision::RetryIn(5_999)
        );
        assert_eq!(Q.decide(&f, 1, true, 0.999), RetryDecision::RetryIn(1_000));
    }

    #[test]
    fn bad_jitter_samples_are_clamped() {
        let f = http(500);
        assert_eq!(
            S.decide(&f, 1, true, f64::NAN),
            RetryDecision::RetryIn(5_000)
        );
        assert_eq!(S.decide(&f, 1, true, -3.0), RetryDecision::RetryIn(5_000));
        assert_eq!(S.decide(&f, 1, true, 7.0), RetryDecision::RetryIn(6_000));
    }

    #[test]
    fn parses_retry_after_seconds_and_dates() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_retry_after("120", now), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        let later = format_http_date(now + 30_000);
        assert_eq!(parse_retry_after(&later, now), Some(30_000));
        let earlier = format_http_date(now - 30_000);
        assert_eq!(parse_retry_after(&earlier, now), Some(0));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(
            parse_retry_after("99999999999999", now),
            Some(MAX_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn only_date_shaped_values_reach_the_date_parser() {
        let now = 1_700_000_000_000;
        let lenient = |_: &str| Some(now + 7_000);
        for not_a_date in ["1.5", "-5", "", "soon", "12 45"] {
            assert_eq!(
                parse_retry_after_with(not_a_date, now, lenient),
                None,
                "{not_a_date:?}"
            );
        }
        let date = format_http_date(now + 7_000);
        assert_eq!(parse_retry_after_with(&date, now, lenient), Some(7_000));
        assert_eq!(parse_retry_after_with("30", now, |_| None), Some(30_000));
        assert_eq!(parse_retry_after_with(&date, now, |_| None), None);
    }
}
