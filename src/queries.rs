//! Every read the app makes: its query key and its fetcher. Pages call these
//! hooks; nothing else fetches.

use crate::http::get_value;
use crate::query::{use_query, use_query_with_options, UseQueryOptions, UseQueryReturn};
use casefile_core::api::{Case, CasePage, CaseStatus, Dashboard, Note, Person, Priority};
use casefile_core::query::{KeyPart, QueryKey};
use leptos::prelude::*;

/// Query keys, most general part first, so `["cases"]` invalidates every
/// case read at once.
pub mod keys {
    use super::*;

    /// Every case read: lists, details, notes.
    pub fn cases() -> QueryKey {
        QueryKey::new(["cases"])
    }

    /// One filtered list.
    pub fn case_list(filters: &CaseFilters) -> QueryKey {
        QueryKey::new(["cases", "list"]).with(KeyPart::map([
            ("status", filters.status.map(|s| s.as_str().to_string())),
            ("priority", filters.priority.map(|p| p.as_str().to_string())),
            (
                "q",
                Some(filters.q.trim().to_string()).filter(|q| !q.is_empty()),
            ),
        ]))
    }

    /// One case.
    pub fn case(id: &str) -> QueryKey {
        QueryKey::new(["cases", id])
    }

    /// A case's notes.
    pub fn notes(id: &str) -> QueryKey {
        QueryKey::new(["cases", id, "notes"])
    }

    /// The dashboard's figures.
    pub fn dashboard() -> QueryKey {
        QueryKey::new(["dashboard"])
    }

    /// The people of `user`'s teams (per user: another user of the device
    /// has other teams).
    pub fn people(user: &str) -> QueryKey {
        QueryKey::new(["people", user])
    }
}

/// The list page's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilters {
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Title search.
    pub q: String,
}

/// How many cases the list asks for at once.
pub const LIST_LIMIT: u32 = 100;

fn list_url(filters: &CaseFilters) -> String {
    let mut url = format!("/api/v1/cases?limit={LIST_LIMIT}");
    let q = filters.q.trim();
    let params = [
        (
            "status",
            filters.status.map(CaseStatus::as_str).unwrap_or(""),
        ),
        (
            "priority",
            filters.priority.map(Priority::as_str).unwrap_or(""),
        ),
        ("q", q),
    ];
    for (name, value) in params.into_iter().filter(|(_, v)| !v.is_empty()) {
        url.push_str(&format!("&{name}={}", js_sys::encode_uri_component(value)));
    }
    url
}

fn case_path(id: &str) -> String {
    format!("/api/v1/cases/{}", js_sys::encode_uri_component(id))
}

/// The dashboard.
pub fn use_dashboard() -> UseQueryReturn<Dashboard> {
    use_query::<Dashboard, _, _>(keys::dashboard, |_| get_value("/api/v1/dashboard"))
}

/// The people of the signed-in user's teams (whom cases can be assigned
/// to), while someone is signed in. The header asks for it on every page, so
/// it is in the saved cache when the device goes offline.
pub fn use_people() -> UseQueryReturn<Vec<Person>> {
    let session = crate::session::use_session();
    let user = Memo::new(move |_| session.0.read().as_ref().map(|s| s.user.clone()));
    use_query_with_options(
        move || keys::people(&user.get().unwrap_or_default()),
        |_| get_value("/api/v1/people"),
        UseQueryOptions {
            enabled: Signal::derive(move || user.read().is_some()),
            ..UseQueryOptions::default()
        },
    )
}

/// A filtered case list; the previous list stays up while a new filter loads.
pub fn use_case_list(
    filters: Memo<CaseFilters>,
    enabled: Signal<bool>,
) -> UseQueryReturn<CasePage> {
    use_query_with_options(
        move || keys::case_list(&filters.get()),
        move |_| {
            let url = list_url(&filters.get_untracked());
            async move { get_value(&url).await }
        },
        UseQueryOptions {
            keep_previous_data: true,
            enabled,
            ..UseQueryOptions::default()
        },
    )
}

/// One case from the server, while `enabled` (the case page asks only when
/// the device's own store does not have the case).
pub fn use_case(id: Memo<String>, enabled: Signal<bool>) -> UseQueryReturn<Case> {
    use_query_with_options(
        move || keys::case(&id.get()),
        move |_| {
            let path = case_path(&id.get_untracked());
            async move { get_value(&path).await }
        },
        UseQueryOptions {
            enabled,
            ..UseQueryOptions::default()
        },
    )
}

/// Pages read at the most (250,000 notes).
const NOTES_PAGES: usize = 500;

/// Every note of a case, page after page, following core's cursor rule.
async fn all_notes(
    base: &str,
) -> Result<(std::sync::Arc<serde_json::Value>, String), crate::http::FetchError> {
    use casefile_core::api::{next_notes_cursor, MAX_NOTES_PAGE};
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    let mut request_id = String::new();
    for _ in 0..NOTES_PAGES {
        let mut path = format!("{base}?limit={MAX_NOTES_PAGE}");
        if let Some(a) = &after {
            path.push_str(&format!("&after={}", js_sys::encode_uri_component(a)));
        }
        let (page, id) = get_value(&path).await?;
        request_id = id;
        let notes = page.as_array().cloned().unwrap_or_default();
        let last = notes
            .last()
            .and_then(|n| Some((n.get("created_at")?.as_i64()?, n.get("id")?.as_str()?)));
        after = next_notes_cursor(notes.len(), last, MAX_NOTES_PAGE);
        all.extend(notes);
        if after.is_none() {
            break;
        }
    }
    Ok((
        std::sync::Arc::new(serde_json::Value::Array(all)),
        request_id,
    ))
}

/// A case's notes: a dependent query that waits until the case has loaded.
pub fn use_notes(id: Memo<String>, case_loaded: Signal<bool>) -> UseQueryReturn<Vec<Note>> {
    use_query_with_options(
        move || keys::notes(&id.get()),
        move |_| {
            let base = format!("{}/notes", case_path(&id.get_untracked()));
            async move { all_notes(&base).await }
        },
        UseQueryOptions {
            enabled: case_loaded,
            ..UseQueryOptions::default()
        },
    )
}
