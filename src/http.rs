//! The one module every API request goes through: it picks an API origin
//! (core's [`OriginPool`]: round-robin or fewest in flight, failover, health
//! probes), sends a fresh `X-Request-ID`, and turns every failure into a
//! [`FetchError`] that the retry policy in core can classify and a person can
//! read. With the default single origin (the page's own) the pool is
//! invisible.

use casefile_core::api::ErrorBody;
use casefile_core::origins::{Balance, OriginHealth, OriginPool, Outcome};
use casefile_core::retry::{parse_retry_after, Failure};
use casefile_core::strategy::Reach;
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use std::cell::{Cell, RefCell};
use std::fmt;

thread_local! {
    static REACH: leptos::prelude::RwSignal<Reach> = crate::page_signal(Reach::default());
    static POOL: RefCell<OriginPool> = RefCell::new(OriginPool::new(configured_origins(), configured_balance()));
    static PROBE_ARMED: Cell<bool> = const { Cell::new(false) };
}

fn meta(name: &str) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let el = document
        .query_selector(&format!("meta[name=\"{name}\"]"))
        .ok()??;
    el.get_attribute("content")
}

/// API origins from `<meta name="casefile-api-origins" content="a, b">`;
/// none means the page's own origin.
fn configured_origins() -> Vec<String> {
    meta("casefile-api-origins")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `<meta name="casefile-api-balance" content="fewest-in-flight">`, else
/// round-robin.
fn configured_balance() -> Balance {
    match meta("casefile-api-balance").as_deref() {
        Some("fewest-in-flight") => Balance::FewestInFlight,
        Some("rendezvous") => Balance::Rendezvous,
        _ => Balance::RoundRobin,
    }
}

/// Replaces the API origins (tests, settings).
pub fn configure_origins(origins: Vec<String>, balance: Balance) {
    POOL.with(|p| *p.borrow_mut() = OriginPool::new(origins, balance));
}

/// Every origin's health, for the Performance page.
pub fn origin_health() -> Vec<OriginHealth> {
    POOL.with(|p| p.borrow().origins().to_vec())
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Waits `ms` milliseconds on a browser timer.
pub async fn sleep_ms(ms: u64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                ms.min(i32::MAX as u64) as i32,
            );
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Arms one timer for the next due health probe, if any.
fn schedule_probes() {
    if PROBE_ARMED.with(Cell::get) {
        return;
    }
    let Some(at) = POOL.with(|p| p.borrow().poll_timeout()) else {
        return;
    };
    PROBE_ARMED.with(|a| a.set(true));
    wasm_bindgen_futures::spawn_local(async move {
        sleep_ms(at.saturating_sub(now_ms())).await;
        PROBE_ARMED.with(|a| a.set(false));
        let due = POOL.with(|p| p.borrow_mut().due_probes(now_ms()));
        for i in due {
            let origin = POOL.with(|p| p.borrow().origins()[i].origin.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let status = Request::get(&format!("{origin}/api/v1/health"))
                    .header("X-Request-ID", &new_request_id())
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status());
                POOL.with(|p| {
                    p.borrow_mut()
                        .probe_finished(i, Outcome::of_status(status), now_ms())
                });
                schedule_probes();
            });
        }
        schedule_probes();
    });
}

/// Why a request did not produce the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No response: offline, server down, connection dropped.
    Network {
        /// The browser's words.
        detail: String,
    },
    /// The server answered with an error status.
    Http {
        /// HTTP status.
        status: u16,
        /// The envelope's code (or `http_<status>` when there was none).
        code: String,
        /// The envelope's message, or the status text.
        message: String,
        /// The request id, to find the request in the server's log.
        request_id: String,
        /// `Retry-After` in ms, when the server sent one.
        retry_after_ms: Option<u64>,
    },
    /// A 2xx whose body was not what the app expects.
    Decode {
        /// What did not fit.
        detail: String,
        /// The request id.
        request_id: String,
    },
}

impl FetchError {
    /// The failure as the retry policy sees it.
    pub fn failure(&self) -> Failure {
        match self {
            FetchError::Network { .. } => Failure::Network,
            FetchError::Http {
                status,
                retry_after_ms,
                ..
            } => Failure::Http {
                status: *status,
                retry_after_ms: *retry_after_ms,
            },
            FetchError::Decode { .. } => Failure::Decode,
        }
    }

    /// The HTTP status, if there was a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Network { .. } => f.write_str(
                "Can't reach the Casefile server. Check your connection; this page will work again once it is back.",
            ),
            FetchError::Http {
                status,
                message,
                request_id,
                ..
            } => write!(f, "The server answered {status}: {message} (request {request_id})"),
            FetchError::Decode { detail, request_id } => write!(
                f,
                "The server sent data this version of Casefile cannot read ({detail}; request {request_id}). Reloading may fetch a newer version."
            ),
        }
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn into_error(res: Response, request_id: String) -> FetchError {
    let status = res.status();
    let retry_after_ms = res
        .headers()
        .get("retry-after")
        .and_then(|v| parse_retry_after(&v, js_sys::Date::now() as u64));
    let text = res.text().await.unwrap_or_default();
    let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => (body.error, body.message),
        Err(_) => (
            format!("http_{status}"),
            if res.status_text().is_empty() {
                "no details".to_string()
            } else {
                res.status_text()
            },
        ),
    };
    FetchError::Http {
        status,
        code,
        message,
        request_id,
        retry_after_ms,
    }
}

/// A request to send: GET, or POST with a JSON body and extra headers.
struct Outgoing<'a> {
    path: &'a str,
    body: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
}

/// Sends a request to an origin from the pool, failing over to the next one
/// after a network error or a 5xx while another origin is left. Only safe or
/// idempotent requests come here (POSTs carry an `Idempotency-Key`).
async fn send_with_failover(out: &Outgoing<'_>, request_id: &str) -> Result<Response, FetchError> {
    let mut tried = Vec::new();
    let mut last_error = None;
    while let Some(i) = POOL.with(|p| p.borrow_mut().pick_for(&tried, out.path)) {
        tried.push(i);
        let origin = POOL.with(|p| {
            let mut pool = p.borrow_mut();
            pool.start(i);
            pool.origins()[i].origin.clone()
        });
        let url = format!("{origin}{}", out.path);
        let builder = match out.body {
            None => Request::get(&url),
            Some(_) => Request::post(&url).header("Content-Type", "application/json"),
        };
        // Whose page this is: the server refuses a request under another
        // user's session, so a write queued for one person on a shared
        // device never lands as the next (sign-in and session requests name
        // nobody: they find out who is signed in).
        let owner = crate::session::owner().filter(|_| !out.path.starts_with("/api/v1/auth/"));
        let builder = match &owner {
            Some(user) => builder.header(casefile_core::queue::USER_HEADER, user),
            None => builder,
        };
        let builder = out
            .headers
            .iter()
            .fold(builder, |b, (name, value)| b.header(name, value))
            .header("X-Request-ID", request_id)
            // The app's own header: the server refuses a cookie-signed
            // write without it (a cross-site form cannot add one).
            .header("X-Casefile", "1")
            .header("Accept", "application/json")
            // Another API origin of the app gets the session cookie too
            // (the server allows exactly the app's origins, with CORS).
            .credentials(web_sys::RequestCredentials::Include);
        let sent = match out.body {
            None => builder.send().await,
            Some(body) => match builder.body(body.to_string()) {
                Ok(request) => request.send().await,
                Err(e) => Err(e),
            },
        };
        let status = sent.as_ref().ok().map(Response::status);
        POOL.with(|p| {
            p.borrow_mut()
                .finish(i, Outcome::of_status(status), now_ms())
        });
        schedule_probes();
        match sent {
            Ok(res) if res.status() < 500 => return Ok(res),
            Ok(res) => last_error = Some(into_error(res, request_id.to_string()).await),
            Err(e) => {
                last_error = Some(FetchError::Network {
                    detail: e.to_string(),
                })
            }
        }
        if let Some(err) = &last_error {
            leptos::logging::warn!("{url} failed, trying another origin if any: {err}");
        }
    }
    Err(last_error.unwrap_or(FetchError::Network {
        detail: "no API origin configured".into(),
    }))
}

/// `GET path` and decode the body as `T`.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, FetchError> {
    let (value, request_id) = get_value(path).await?;
    T::deserialize(&*value).map_err(|e| FetchError::Decode {
        detail: e.to_string(),
        request_id,
    })
}

/// `GET path` and parse the body as JSON, with the request id. Every read
/// parses through this one function; typed views are made from the value.
pub async fn get_value(
    path: &str,
) -> Result<(std::sync::Arc<serde_json::Value>, String), FetchError> {
    let out = Outgoing {
        path,
        body: None,
        headers: &[],
    };
    send_value(&out).await
}

/// `POST path` with a JSON body and extra headers (an `Idempotency-Key`:
/// the request may go to a second origin after a failure), decoding the
/// answer as `T`.
pub async fn post_json<T: DeserializeOwned>(
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<T, FetchError> {
    let out = Outgoing {
        path,
        body: Some(body),
        headers,
    };
    let (value, request_id) = send_value(&out).await?;
    T::deserialize(&*value).map_err(|e| FetchError::Decode {
        detail: e.to_string(),
        request_id,
    })
}

/// What the latest API request said about the server: answering, answered
/// by the worker's offline copy, or unreachable (`core::strategy::Reach`).
pub fn reach() -> leptos::prelude::RwSignal<Reach> {
    REACH.with(|s| *s)
}

async fn send_value(
    out: &Outgoing<'_>,
) -> Result<(std::sync::Arc<serde_json::Value>, String), FetchError> {
    use leptos::prelude::{Set, Update};
    let path = out.path;
    let request_id = new_request_id();
    let res = match send_with_failover(out, &request_id).await {
        Ok(res) => res,
        Err(e) => {
            reach().update(|r| *r = r.failed(e.failure()));
            return Err(e);
        }
    };
    let stored_at = res
        .headers()
        .get(casefile_core::strategy::OFFLINE_HEADER)
        .and_then(|v| v.parse().ok());
    if res.status() == 202 && res.status_text() == "Queued" {
        // The worker kept the write because the server could not take it
        // (core says what that tells of the server).
        let held = res
            .headers()
            .get(casefile_core::queue::HELD_HEADER)
            .and_then(|v| v.parse().ok());
        reach().update(|r| *r = r.queued(held));
    } else {
        reach().set(Reach::answered(stored_at));
    }
    if !res.ok() {
        let err = into_error(res, request_id).await;
        leptos::logging::warn!("{path} failed: {err}");
        return Err(err);
    }
    let kind = res.headers().get("content-type").unwrap_or_default();
    let text = res.text().await.map_err(|e| FetchError::Network {
        detail: e.to_string(),
    })?;
    match serde_json::from_str(&text) {
        Ok(value) => Ok((std::sync::Arc::new(value), request_id)),
        Err(e) => {
            // Say what came instead, in words a person can pass on.
            let detail = if text.trim().is_empty() {
                "the answer was empty".to_string()
            } else if kind.contains("html") || text.trim_start().starts_with('<') {
                "a web page came instead of data, perhaps from a proxy or login page".to_string()
            } else {
                format!("the answer was not valid JSON: {e}")
            };
            let err = FetchError::Decode { detail, request_id };
            leptos::logging::warn!("{path}: {err}");
            Err(err)
        }
    }
}
