use crate::components::{ErrorPanel, Loading, PriorityBadge, StatusBadge};
use crate::format::{date, now_ms, relative_time};
use crate::http::{get_json, FetchError};
use casefile_core::api::Case;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// One case.
#[component]
pub fn CaseDetail() -> impl IntoView {
    let params = use_params_map();
    let case = LocalResource::new(move || {
        let id = params.read().get("id").unwrap_or_default();
        async move {
            get_json::<Case>(&format!(
                "/api/v1/cases/{}",
                js_sys::encode_uri_component(&id)
            ))
            .await
        }
    });
    view! {
        <p class="crumbs"><a href="/cases">"← All cases"</a></p>
        <Transition fallback=|| view! { <Loading what="the case"/> }>
            {move || Suspend::new(async move {
                match case.await {
                    Ok(c) => view! { <CaseView c/> }.into_any(),
                    Err(FetchError::Http { status: 404 | 400, .. }) => view! {
                        <div class="panel empty">
                            <h1>"Case not found"</h1>
                            <p>"No case has this address. It may have been deleted; check the link or go back to the list."</p>
                        </div>
                    }.into_any(),
                    Err(error) => view! {
                        <ErrorPanel error retry=Callback::new(move |_| case.refetch())/>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CaseView(c: Case) -> impl IntoView {
    let now = now_ms();
    let tags = c
        .tags
        .iter()
        .map(|t| view! { <li class="tag">{t.clone()}</li> })
        .collect_view();
    view! {
        <article class="card case">
            <header class="case-head">
                <h1>{c.title.clone()}</h1>
                <div class="case-badges">
                    <StatusBadge status=c.status/>
                    <PriorityBadge priority=c.priority/>
                    {c.deleted.then(|| view! { <span class="badge deleted">"Deleted"</span> })}
                </div>
            </header>
            <dl class="facts">
                <dt>"Assignee"</dt>
                <dd>{c.assignee.clone().unwrap_or_else(|| "Unassigned".into())}</dd>
                <dt>"Created"</dt>
                <dd>{date(c.created_at)}</dd>
                <dt>"Updated"</dt>
                <dd>{relative_time(c.updated_at, now)}</dd>
                <dt>"Version"</dt>
                <dd>{c.version}</dd>
            </dl>
            <ul class="tags" aria-label="Tags">{tags}</ul>
            <section>
                <h2>"Description"</h2>
                <p class="description">
                    {if c.description.is_empty() { "No description.".to_string() } else { c.description.clone() }}
                </p>
            </section>
        </article>
    }
}
