use crate::components::{query_view, CaseTable, CasesHead};
use crate::format::precise_now;
use crate::queries::{use_case_list, CaseFilters};
use crate::sync::{use_sync, use_sync_status};
use casefile_core::api::{CaseStatus, Priority};
use casefile_core::cases::{page, select, CaseRow, ListQuery, Peek, SortKey};
use leptos::prelude::*;

/// One page of the list, as shown.
#[derive(Debug, Clone)]
struct Shown {
    rows: Vec<CaseRow>,
    matches: usize,
    known: usize,
    page: casefile_core::cases::Page,
    took_ms: f64,
}

/// The same page whatever it took to compute (no re-render for a timing).
impl PartialEq for Shown {
    fn eq(&self, other: &Self) -> bool {
        (&self.rows, self.matches, self.known, self.page)
            == (&other.rows, other.matches, other.known, other.page)
    }
}

/// The case list: search, filters, sort and pages over every case this
/// device knows (its own store, so it works offline and stays fast at
/// 10,000 cases). Until the device's first catch-up is complete, the
/// server's list stands in.
#[component]
pub fn CasesPage() -> impl IntoView {
    let (status, set_status) = signal(None::<CaseStatus>);
    let (priority, set_priority) = signal(None::<Priority>);
    let (q, set_q) = signal(String::new());
    let (sort, set_sort) = signal(SortKey::default());
    // The page shown, for the question it was chosen under: a new question
    // starts at its first page.
    let (page_at, set_page_at) = signal((ListQuery::default(), 0usize));
    let query = Memo::new(move |_| ListQuery {
        q: q.get(),
        status: status.get(),
        priority: priority.get(),
        sort: sort.get(),
    });
    let sync_status = use_sync_status();
    let sync = StoredValue::new_local(use_sync());
    Effect::new(move |_| {
        sync_status.revision.track();
        if let Some(engine) = sync.get_value() {
            leptos::task::spawn_local(async move { engine.refresh_cases().await });
        }
    });
    let shown = Memo::new(move |_| {
        sync_status.cases.track();
        let rows = sync.with_value(|e| e.as_ref().and_then(|e| e.case_rows()))?;
        let query = query.get();
        let started = precise_now();
        let hits = select(&rows, &query);
        let at = page_at.with(|(asked, at)| if *asked == query { *at } else { 0 });
        let page = page(hits.len(), at);
        let visible = hits[page.start..page.end]
            .iter()
            .map(|&i| rows[i].clone())
            .collect();
        Some(Shown {
            rows: visible,
            matches: hits.len(),
            known: rows.len(),
            page,
            took_ms: precise_now() - started,
        })
    });
    // The first page of the whole list is what the next start paints
    // before the app has loaded (crate::peek).
    Effect::new(move |_| {
        shown.with(|shown| match (shown, crate::session::owner()) {
            (Some(s), Some(user)) if Peek::keeps(&query.get(), s.page.index) => {
                crate::peek::save(&user, s.matches, &s.rows)
            }
            _ => {}
        })
    });
    let local = Signal::derive(move || shown.with(Option::is_some));
    let filters = Memo::new(move |_| CaseFilters {
        status: status.get(),
        priority: priority.get(),
        q: q.get(),
    });
    let server = use_case_list(filters, Signal::derive(move || !local.get()));
    view! {
        <CasesHead
            q=q.into()
            on_q=Callback::new(move |v| set_q.set(v))
            on_status=Callback::new(move |v: String| set_status.set(v.parse().ok()))
            on_priority=Callback::new(move |v: String| set_priority.set(v.parse().ok()))
            on_sort=Callback::new(move |v: String| set_sort.set(SortKey::parse(&v).unwrap_or_default()))
        />
        <div class="case-list" data-testid="case-list">{move || match shown.get() {
            Some(shown) => {
                let go = Callback::new(move |at: usize| set_page_at.set((query.get_untracked(), at)));
                view! { <LocalList shown go/> }.into_any()
            }
            None => query_view(server, "cases", move |page| {
                let total = page.total as usize;
                let rows: Vec<CaseRow> = page.items.into_iter().map(|c| CaseRow::new(c, 0)).collect();
                let count = format!("Showing {} of {total} cases", rows.len());
                view! {
                    <p class="muted count" data-testid="case-count">{count}</p>
                    <CatchUp percent=sync_status.catching_up/>
                    <CaseTable rows/>
                }
            })
            .into_any(),
        }}</div>
    }
}

/// While a new device copies the cases it may read: how far it has come.
#[component]
fn CatchUp(percent: RwSignal<Option<u8>>) -> impl IntoView {
    view! {
        <p class="muted catch-up" data-testid="catch-up">
            "Copying your cases to this device for offline use…"
            {move || percent.get().map(|p| view! {
                " "
                <progress max="100" value=p.to_string() aria-label="Copied to this device"></progress>
                {format!(" {p} %")}
            })}
        </p>
    }
}

/// The device's own list: a page of matches, with paging.
#[component]
fn LocalList(shown: Shown, go: Callback<usize>) -> impl IntoView {
    let Shown {
        rows,
        matches,
        known,
        page,
        took_ms,
    } = shown;
    let count = format!("Showing {} of {matches} cases", rows.len());
    let timing = format!("searched {known} cases in {took_ms:.1} ms");
    let at = page.index;
    let pager = (page.count > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                <button
                    class="btn"
                    type="button"
                    disabled={at == 0}
                    on:click=move |_| go.run(at.saturating_sub(1))
                >
                    "Previous"
                </button>
                <span data-testid="page-of">{format!("Page {} of {}", at + 1, page.count)}</span>
                <button
                    class="btn"
                    type="button"
                    disabled={at + 1 >= page.count}
                    on:click=move |_| go.run(at + 1)
                >
                    "Next"
                </button>
            </nav>
        }
    });
    if rows.is_empty() {
        // The table says what to do when nothing matches.
        return view! { <CaseTable rows/> }.into_any();
    }
    view! {
        <p class="muted count">
            <span data-testid="case-count">{count}</span>
            " · "
            <span data-testid="list-timing" data-ms=format!("{took_ms:.3}")>{timing}</span>
        </p>
        <CaseTable rows/>
        {pager}
    }
    .into_any()
}
