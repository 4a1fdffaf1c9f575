//! The queue's records and the worker's messages as plain JS objects,
//! written field by field. serde's generic (de)serialisers made up a large
//! share of the worker's code; these few shapes do not need them. Each shape
//! is exactly what `serde_json` makes of core's type (the page reads the
//! messages with serde, and version 1 records are serde's JSON text), and
//! `sw/tests/codec.rs` checks both directions for every type.

use alloc::string::String;
use alloc::vec::Vec;
use casefile_core::queue::{DeadLetter, QueueStats, StoredRequest, ToPage, ToWorker};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A value that travels as a plain JS object.
pub trait Js: Sized {
    /// As a plain object (`None` as `null`, numbers as numbers).
    fn to_js(&self) -> JsValue;
    /// From a plain object; `None` when it does not have this shape.
    fn from_js(value: &JsValue) -> Option<Self>;
}

/// Builds an object one field at a time.
struct Fields(Object);

impl Fields {
    fn new() -> Self {
        Fields(Object::new())
    }

    fn with(self, key: &str, value: impl Into<JsValue>) -> Self {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&self.0, &key.into(), &value.into());
        self
    }

    fn tagged(kind: &str) -> Self {
        Fields::new().with("type", kind)
    }
}

impl From<Fields> for JsValue {
    fn from(f: Fields) -> JsValue {
        f.0.into()
    }
}

fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn text(value: &JsValue, key: &str) -> Option<String> {
    field(value, key).as_string()
}

/// A whole number that fits `T` (serde refuses fractions and overflow too).
fn whole<T: TryFrom<u64>>(value: &JsValue, key: &str) -> Option<T> {
    let n = field(value, key).as_f64()?;
    if n < 0.0 || n as u64 as f64 != n || n > 9_007_199_254_740_991.0 {
        return None;
    }
    T::try_from(n as u64).ok()
}

/// `null` or absent is `Some(None)`; a wrong type is `None`.
fn optional<T>(
    value: &JsValue,
    key: &str,
    read: impl Fn(&JsValue, &str) -> Option<T>,
) -> Option<Option<T>> {
    let v = field(value, key);
    if v.is_null() || v.is_undefined() {
        Some(None)
    } else {
        read(value, key).map(Some)
    }
}

fn or_null<T: Into<JsValue>>(value: Option<T>) -> JsValue {
    value.map_or(JsValue::NULL, Into::into)
}

fn list<T>(items: &[T], each: impl Fn(&T) -> JsValue) -> JsValue {
    items.iter().map(each).collect::<Array>().into()
}

impl Js for StoredRequest {
    fn to_js(&self) -> JsValue {
        let headers = list(&self.headers, |(k, v)| {
            Array::of2(&k.into(), &v.into()).into()
        });
        Fields::new()
            .with("id", &self.id)
            .with("method", &self.method)
            .with("url", &self.url)
            .with("headers", headers)
            .with("body", &self.body)
            .with("idempotency_key", &self.idempotency_key)
            .with("enqueued_at", self.enqueued_at as f64)
            .with("attempts", self.attempts)
            .with("next_attempt_at", self.next_attempt_at as f64)
            .with("last_error", or_null(self.last_error.as_deref()))
            .with("last_status", or_null(self.last_status))
            .with("user", or_null(self.user.as_deref()))
            .into()
    }

    fn from_js(v: &JsValue) -> Option<Self> {
        let raw = field(v, "headers");
        if !Array::is_array(&raw) {
            return None;
        }
        let headers = Array::from(&raw)
            .iter()
            .map(|pair| {
                let pair = pair.dyn_ref::<Array>()?.clone();
                (pair.length() == 2).then_some(())?;
                Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(StoredRequest {
            id: text(v, "id")?,
            method: text(v, "method")?,
            url: text(v, "url")?,
            headers,
            body: text(v, "body")?,
            idempotency_key: text(v, "idempotency_key")?,
            enqueued_at: whole(v, "enqueued_at")?,
            attempts: whole(v, "attempts")?,
            next_attempt_at: whole(v, "next_attempt_at")?,
            last_error: optional(v, "last_error", text)?,
            last_status: optional(v, "last_status", whole)?,
            user: optional(v, "user", text)?,
        })
    }
}

impl Js for DeadLetter {
    fn to_js(&self) -> JsValue {
        Fields::new()
            .with("request", self.request.to_js())
            .with("reason", &self.reason)
            .with("status", or_null(self.status))
            .with("excerpt", &self.excerpt)
            .with("dead_at", self.dead_at as f64)
            .into()
    }

    fn from_js(v: &JsValue) -> Option<Self> {
        Some(DeadLetter {
            request: StoredRequest::from_js(&field(v, "request"))?,
            reason: text(v, "reason")?,
            status: optional(v, "status", whole)?,
            excerpt: text(v, "excerpt")?,
            dead_at: whole(v, "dead_at")?,
        })
    }
}

fn stats_to_js(s: &QueueStats) -> JsValue {
    Fields::new()
        .with("queued", s.queued as f64)
        .with("dead", s.dead as f64)
        .with(
            "next_attempt_at",
            or_null(s.next_attempt_at.map(|n| n as f64)),
        )
        .with("replaying", s.replaying)
        .with("unreadable", s.unreadable as f64)
        .with("sign_in", s.sign_in as f64)
        .with("user", or_null(s.user.as_deref()))
        .into()
}

/// What the worker posts to pages.
pub fn message_to_js(message: &ToPage) -> JsValue {
    match message {
        ToPage::Queued { id } => Fields::tagged("queued").with("id", id),
        ToPage::Synced {
            id,
            url,
            status,
            body,
        } => Fields::tagged("synced")
            .with("id", id)
            .with("url", url)
            .with("status", *status)
            .with("body", body),
        ToPage::RetryScheduled { id, at } => Fields::tagged("retry_scheduled")
            .with("id", id)
            .with("at", *at as f64),
        ToPage::DeadLettered { letter } => {
            Fields::tagged("dead_lettered").with("letter", letter.to_js())
        }
        ToPage::Discarded { letter } => Fields::tagged("discarded").with("letter", letter.to_js()),
        ToPage::Stats { stats } => Fields::tagged("stats").with("stats", stats_to_js(stats)),
        ToPage::Listing { queued, dead, user } => Fields::tagged("listing")
            .with("queued", list(queued, Js::to_js))
            .with("dead", list(dead, Js::to_js))
            .with("user", or_null(user.as_deref())),
    }
    .into()
}

/// A page's request; `None` for anything else.
pub fn message_from_js(value: &JsValue) -> Option<ToWorker> {
    let id = || text(value, "id");
    Some(match text(value, "type")?.as_str() {
        "replay_now" => ToWorker::ReplayNow,
        "list" => ToWorker::List,
        "retry" => ToWorker::Retry { id: id()? },
        "discard" => ToWorker::Discard { id: id()? },
        "skip_waiting" => ToWorker::SkipWaiting,
        "session" => ToWorker::Session {
            user: optional(value, "user", text)?,
        },
        "forget" => ToWorker::Forget {
            user: text(value, "user")?,
        },
        _ => return None,
    })
}
