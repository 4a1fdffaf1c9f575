//! Request-rate limits on writes (SPEC §2, §8): each client (by address) may
//! make `rate` writes a second, in bursts of up to twice that; beyond, the
//! answer is 429 with `Retry-After`, which the app and its worker honour.
//! Reads are never limited.

use crate::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// A clock in ms since the epoch (the server's own, injectable one), as
/// governor reads time.
#[derive(Clone)]
pub struct MsClock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock for MsClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(
            u64::try_from((self.0)())
                .unwrap_or(0)
                .saturating_mul(1_000_000),
        )
    }
}

/// The writes limiter: one budget per client address.
pub struct WriteLimit {
    limiter: RateLimiter<
        Option<IpAddr>,
        DefaultKeyedStateStore<Option<IpAddr>>,
        MsClock,
        NoOpMiddleware<Nanos>,
    >,
    clock: MsClock,
}

impl WriteLimit {
    /// `rate` writes a second per client, bursts of `2 × rate`; `None` for 0
    /// (no limit).
    pub fn per_second(rate: u32) -> Option<Arc<WriteLimit>> {
        Self::per_second_on(
            rate,
            Arc::new(|| casefile_core::retry::system_time_ms(std::time::SystemTime::now()) as i64),
        )
    }

    /// [`WriteLimit::per_second`] on the clock `now` (ms; tests move it).
    pub fn per_second_on(
        rate: u32,
        now: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Option<Arc<WriteLimit>> {
        let rate = NonZeroU32::new(rate)?;
        let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2 is not zero"));
        let clock = MsClock(now);
        Some(Arc::new(WriteLimit {
            limiter: RateLimiter::new(
                Quota::per_second(rate).allow_burst(burst),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            ),
            clock,
        }))
    }

    /// `Ok` when `client` may write now, else how long until it may (ms).
    fn check(&self, client: Option<IpAddr>) -> Result<(), u64> {
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_millis() as u64)
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware: counts writes under `/api/` against the client's budget.
pub async fn limit_writes(
    State(limit): State<Arc<WriteLimit>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    // Sign-in has its own, stricter throttle (`auth`), per name and address.
    if !is_write(req.method())
        || !path.starts_with("/api/")
        || path.starts_with("/api/v1/_faults")
        || path.starts_with("/api/v1/auth/")
    {
        return next.run(req).await;
    }
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match limit.check(client) {
        Ok(()) => next.run(req).await,
        Err(wait_ms) => {
            let seconds = wait_ms.div_ceil(1000).max(1);
            tracing::debug!(?client, seconds, "write rate limit reached");
            let mut res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many writes; try again in {seconds} s"),
            )
            .into_response();
            res.headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
            res
        }
    }
}
