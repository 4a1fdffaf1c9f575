//! The one module every API request goes through: it sends a fresh
//! `X-Request-ID`, and turns every failure into a [`FetchError`] that the
//! retry policy in core can classify and a person can read.

use casefile_core::api::ErrorBody;
use casefile_core::retry::{parse_retry_after, Failure};
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use std::fmt;

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

/// `GET path` and decode the JSON body.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, FetchError> {
    let request_id = new_request_id();
    let res = Request::get(path)
        .header("X-Request-ID", &request_id)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| FetchError::Network {
            detail: e.to_string(),
        })?;
    if !res.ok() {
        let err = into_error(res, request_id).await;
        leptos::logging::warn!("GET {path} failed: {err}");
        return Err(err);
    }
    let text = res.text().await.map_err(|e| FetchError::Network {
        detail: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| {
        let err = FetchError::Decode {
            detail: e.to_string(),
            request_id,
        };
        leptos::logging::warn!("GET {path}: {err}");
        err
    })
}
