//! Prometheus metrics: request counts and durations by route and status.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// The labels of one request series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// The route pattern (`/api/v1/cases/{id}`), `static` for app files, or
    /// `unmatched`: never the raw path, so ids cannot explode the series.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The registry and the request series.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    durations: DurationFamily,
    csp_reports: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RouteLabels, Counter>::default();
        let durations: DurationFamily = Family::new_with_constructor(duration_histogram);
        registry.register(
            "casefile_http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "casefile_http_request_duration_seconds",
            "HTTP request durations by route and status",
            durations.clone(),
        );
        let csp_reports = Counter::default();
        registry.register(
            "casefile_csp_reports",
            "Content-Security-Policy violations reported by browsers",
            csp_reports.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            csp_reports,
        }
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, labels: RouteLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(seconds);
    }

    /// Counts one CSP violation report.
    pub fn csp_report(&self) {
        self.csp_reports.inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Middleware (inside the router, where the matched route is known).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/api/") {
                "unmatched".to_string()
            } else {
                "static".to_string()
            }
        });
    // Only the methods the API knows make series; an invented one would
    // make a new series per request.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "OTHER",
    }
    .to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.observe(
        RouteLabels {
            method,
            route,
            status: res.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
pub async fn expose(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}
