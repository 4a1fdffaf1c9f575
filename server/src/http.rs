//! Cross-cutting HTTP behaviour: request ids, the error envelope, ETags, cache
//! and security headers.

use crate::error::{code_for_status, ErrorInfo};
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casefile_core::api::ErrorBody;
use std::sync::Arc;

/// The request id header, echoed or generated.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The Content-Security-Policy the app runs under: no inline scripts or
/// styles; `'wasm-unsafe-eval'` lets the page and the worker compile wasm.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; \
manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
frame-ancestors 'none'; report-uri /api/v1/csp-reports";

/// The request id of a request, as the request-context middleware stored it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Largest error body from axum or tower that is quoted into an envelope.
const QUOTED_ERROR_LIMIT: usize = 2048;

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_string())
}

/// Gives every request an id (the client's `X-Request-ID` when it is sane,
/// else a new UUID), echoes it on the response, and turns every error
/// response into the JSON envelope.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let header_value = HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    req.headers_mut()
        .insert(X_REQUEST_ID.clone(), header_value.clone());
    req.extensions_mut().insert(RequestId(id.clone()));

    let mut res = next.run(req).await;
    if let Some(info) = res.extensions_mut().remove::<ErrorInfo>() {
        res = envelope(res.status(), info.code, info.message, &id, res.headers());
    } else if res.status().is_client_error() || res.status().is_server_error() {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if !is_json {
            res = wrap_plain_error(res, &id).await;
        }
    }
    res.headers_mut().insert(X_REQUEST_ID.clone(), header_value);
    res
}

async fn wrap_plain_error(res: Response, id: &str) -> Response {
    let status = res.status();
    let headers = res.headers().clone();
    let text = to_bytes(res.into_body(), QUOTED_ERROR_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("The request failed")
            .to_string()
    } else {
        text
    };
    envelope(status, code_for_status(status), message, id, &headers)
}

fn envelope(
    status: StatusCode,
    code: &str,
    message: String,
    request_id: &str,
    keep: &HeaderMap,
) -> Response {
    let body = ErrorBody {
        error: code.to_string(),
        message,
        request_id: request_id.to_string(),
    };
    let mut res = (status, axum::Json(body)).into_response();
    // Headers the handler set on purpose (Retry-After, Allow) stay.
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(v) = keep.get(&name) {
            res.headers_mut().insert(name, v.clone());
        }
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Largest API body the ETag middleware hashes; bigger ones go out without.
const ETAG_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// `ETag` and `Cache-Control: no-cache` on successful API GETs, and `304 Not
/// Modified` when the client's `If-None-Match` already names the current body.
pub async fn etag(req: Request, next: Next) -> Response {
    // A pull page is new at every cursor: hashing it buys no 304s.
    let conditional =
        matches!(*req.method(), Method::GET | Method::HEAD) && req.uri().path() != "/api/v1/events";
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let res = next.run(req).await;
    if !conditional || res.status() != StatusCode::OK {
        return res;
    }
    // Only a body of known size within the limit is buffered to hash it;
    // anything else goes out as it is, untagged (never a 500).
    let fits = axum::body::HttpBody::size_hint(res.body())
        .exact()
        .is_some_and(|n| n <= ETAG_BODY_LIMIT as u64);
    if !fits {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, ETAG_BODY_LIMIT).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "response too large to tag",
        )
            .into_response();
    };
    let tag = format!("\"{}\"", &blake3::hash(&bytes).to_hex().as_str()[..32]);
    let tag_value = HeaderValue::from_str(&tag).expect("hex is a valid header");
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if if_none_match.is_some_and(|v| etag_matches(&v, &tag)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(header::ETAG, tag_value);
        not_modified
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return not_modified;
    }
    parts.headers.insert(header::ETAG, tag_value);
    Response::from_parts(parts, Body::from(bytes))
}

/// Weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag equal to ours
/// with or without `W/`.
fn etag_matches(header_value: &HeaderValue, tag: &str) -> bool {
    let Ok(s) = header_value.to_str() else {
        return false;
    };
    s.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag
    })
}

/// Whether a file carries the build's content hash, in its name
/// (`name-<16 hex>.ext`, `name-<16 hex>_bg.wasm`) or in its folder's (the
/// split app's `app-<16 hex>/`, see scripts/post_build.py): such files never
/// change, so they are immutable.
pub fn is_hashed_asset(path: &str) -> bool {
    let mut segments = path.rsplit('/');
    let name = segments.next().unwrap_or(path);
    let hashed = |part: &str, ends: &[u8]| {
        part.len() >= 16
            && part.as_bytes()[..16].iter().all(u8::is_ascii_hexdigit)
            && part.as_bytes().get(16).is_none_or(|b| ends.contains(b))
    };
    let folder = segments.next().and_then(|f| f.strip_prefix("app-"));
    folder.is_some_and(|hash| hash.len() == 16 && hashed(hash, &[]))
        || name
            .split('-')
            .skip(1)
            .any(|part| part.len() >= 17 && hashed(part, b"._"))
}

/// Cache headers for the app's files (SPEC §2): hashed assets immutable for a
/// year; `sw.js`, `index.html`, app routes and unhashed files revalidated.
pub async fn static_cache_headers(req: Request, next: Next) -> Response {
    let hashed = is_hashed_asset(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
        let value = if hashed {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

/// [`CSP`] with `connect-src` widened to the app's other API origins (and
/// their sockets).
pub fn csp_for(api_origins: &[String]) -> HeaderValue {
    let extra: String = api_origins
        .iter()
        .flat_map(|o| [o.clone(), o.replacen("http", "ws", 1)])
        .map(|o| format!(" {o}"))
        .collect();
    let csp = CSP.replace("connect-src 'self'", &format!("connect-src 'self'{extra}"));
    HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static(CSP))
}

/// CORS for pages of the app's other API origins, with their cookies;
/// `None` when there are none (same origin only).
pub fn cors(api_origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    let origins: Vec<HeaderValue> = api_origins.iter().filter_map(|o| o.parse().ok()).collect();
    if origins.is_empty() {
        return None;
    }
    let name = HeaderName::from_static;
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::ACCEPT,
                name("x-casefile"),
                name(casefile_core::queue::USER_HEADER),
                name("x-request-id"),
                name("idempotency-key"),
            ])
            .expose_headers([name("x-request-id"), header::RETRY_AFTER, header::ETAG])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// `<meta name="casefile-api-origins">` (and how to balance over them)
/// for the app's pages, or `None`.
pub fn origins_meta(api_origins: &[String], balance: &str) -> Option<Arc<str>> {
    let clean = |s: &str| s.replace(['"', '<', '>', '&'], "");
    (!api_origins.is_empty()).then(|| {
        let list = api_origins
            .iter()
            .map(|o| clean(o))
            .collect::<Vec<_>>()
            .join(", ");
        Arc::from(format!(
            r#"<meta name="casefile-api-origins" content="{list}"><meta name="casefile-api-balance" content="{}">"#,
            clean(balance)
        ))
    })
}

/// Tells the app its API origins: the meta tag goes into every HTML page
/// served (the app reads it at start).
pub async fn tell_api_origins(meta: Option<Arc<str>>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let Some(meta) = meta else { return res };
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "page too large").into_response();
    };
    let page = String::from_utf8_lossy(&bytes).replacen("<head>", &format!("<head>{meta}"), 1);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ETAG);
    Response::from_parts(parts, Body::from(page))
}

/// The security headers every response carries.
pub fn security_headers(api_origins: &[String]) -> [(HeaderName, HeaderValue); 7] {
    [
        // No other origin's window keeps a handle on ours, nor may another
        // origin embed our responses (case data) in its pages.
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (header::CONTENT_SECURITY_POLICY, csp_for(api_origins)),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
        ),
    ]
}

/// Strict-Transport-Security, sent only when the public origin is https
/// (over plain HTTP a browser ignores it, and development must stay HTTP).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_trunk_hashes() {
        assert!(is_hashed_asset("/casefile-3f5c2a1b9d8e7f60.js"));
        assert!(is_hashed_asset("/casefile-3f5c2a1b9d8e7f60_bg.wasm"));
        assert!(is_hashed_asset("/main-0123456789abcdef.css"));
        assert!(!is_hashed_asset("/sw.js"));
        assert!(!is_hashed_asset("/casefile-sw_bg.wasm"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/icons/icon-192.png"));
        assert!(is_hashed_asset(
            "/app-3f5c2a1b9d8e7f60/split_case_detail.wasm"
        ));
        assert!(is_hashed_asset("/app-3f5c2a1b9d8e7f60/__wasm_split.js"));
        assert!(!is_hashed_asset("/app-3f5c2a1b9d8e7f6/chunk_1.wasm"));
        assert!(!is_hashed_asset("/app-3f5c2a1b9d8e7f60x/chunk_1.wasm"));
        assert!(!is_hashed_asset("/api-3f5c2a1b9d8e7f60/chunk_1.wasm"));
        assert!(!is_hashed_asset("/app-3f5c2a1b9d8e7f60"));
        assert!(!is_hashed_asset(
            "/cases/3f5c2a1b-9d8e-4f60-8a1b-123456789abc"
        ));
    }

    #[test]
    fn etags_match_weakly_and_in_lists() {
        let tag = "\"abc\"";
        assert!(etag_matches(&HeaderValue::from_static("\"abc\""), tag));
        assert!(etag_matches(&HeaderValue::from_static("W/\"abc\""), tag));
        assert!(etag_matches(
            &HeaderValue::from_static("\"x\", \"abc\""),
            tag
        ));
        assert!(etag_matches(&HeaderValue::from_static("*"), tag));
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), tag));
    }

    #[test]
    fn request_ids_are_echoed_only_when_sane() {
        assert_eq!(
            acceptable_request_id(&HeaderValue::from_static("abc-123")),
            Some("abc-123".into())
        );
        assert_eq!(
            acceptable_request_id(&HeaderValue::from_static("has space")),
            None
        );
        let long = "a".repeat(129);
        assert_eq!(
            acceptable_request_id(&HeaderValue::from_str(&long).unwrap()),
            None
        );
    }
}
