//! The API described for machines: an OpenAPI 3.1 document built from the
//! handlers' own annotations and core's API types (`utoipa`), served at
//! `GET /api/v1/openapi.json` without credentials (it holds no data).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// Every API error: a 4xx or 5xx status with the [`ErrorBody`] envelope.
///
/// [`ErrorBody`]: casefile_core::api::ErrorBody
pub struct Errors;

impl utoipa::IntoResponses for Errors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let answer = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        };
        BTreeMap::from([
            (
                "4XX".to_string(),
                answer("Refused: the envelope names the reason (`error`) for machines and people"),
            ),
            (
                "5XX".to_string(),
                answer("The server or its database failed; the envelope carries a request id"),
            ),
        ])
    }
}

/// Both ways of being signed in: the app's session cookie, a script's token.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`POST /api/v1/auth/tokens`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SECURE_COOKIE))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Casefile API", description = "Cases, their notes and the event log devices sync through (SPEC §2, §5)."),
    paths(
        crate::routes::health,
        crate::routes::list_cases,
        crate::routes::get_case,
        crate::routes::case_notes,
        crate::routes::dashboard,
        crate::routes::people,
        crate::routes::device,
        crate::events::pull,
        crate::events::push,
        crate::auth::login,
        crate::auth::logout,
        crate::auth::session,
        crate::auth::sessions,
        crate::auth::end_session,
    ),
    components(schemas(casefile_core::api::ErrorBody)),
    security(("token" = []), ("session" = [])),
    modifiers(&Credentials),
)]
struct Document;

/// The document as JSON (built once).
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        Document::openapi()
            .to_json()
            .expect("the OpenAPI document serialises")
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}
