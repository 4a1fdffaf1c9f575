//! Small pieces shared by the pages.

use crate::format::{now_ms, relative_time};
use crate::http::FetchError;
use crate::online::{use_online, Online};
use crate::query::UseQueryReturn;
use casefile_core::api::{CaseStatus, Priority, SessionInfo};
use casefile_core::query::DataSource;
use casefile_core::strategy::Reach;
use leptos::prelude::*;
use leptos_router::components::A;

/// The top bar of a signed-in page: brand, navigation, what waits to be
/// sent, the user's menu and the online/offline indicator.
#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="topbar">
            <Brand/>
            <nav class="mainnav" aria-label="Main">
                {MAIN_LINKS.map(|(href, label, exact)| view! { <A href=href exact=exact>{label}</A> })}
            </nav>
            <UpdateBanner/>
            <SignInBanner/>
            <PendingCount/>
            <UserMenu/>
            <NetIndicator/>
        </header>
    }
}

/// The main navigation: address, label, and whether only that address
/// marks it current.
const MAIN_LINKS: [(&str, &str, bool); 5] = [
    ("/", "Dashboard", true),
    ("/cases", "Cases", true),
    ("/cases/new", "New case", false),
    ("/sync", "Sync", false),
    ("/performance", "Performance", false),
];

/// The top bar of a start painted before the signed-in app has loaded
/// ([`crate::peek`]): the same bar, with plain links and nothing that
/// needs the app's state.
///
/// It has the user row and the online pill of the signed-in bar, so the
/// list below does not move when the app replaces it (at phone width the
/// bar wraps onto rows of its own). It is inert: "Sign out" in it does
/// nothing, as nothing in the peek does.
#[component]
pub fn PeekHeader(
    /// Who is signed in, as this browser kept it.
    who: Option<SessionInfo>,
) -> impl IntoView {
    // The browser's state now: the peek is gone long before it changes.
    provide_context(Online(signal(window().navigator().on_line()).0));
    view! {
        <header class="topbar">
            <Brand/>
            <nav class="mainnav" aria-label="Main">
                // It is painted on the case list only.
                {MAIN_LINKS.map(|(href, label, _)| {
                    let current = (href == "/cases").then_some("page");
                    view! { <a href=href aria-current=current>{label}</a> }
                })}
            </nav>
            {who.map(|s| view! {
                <span class="user">
                    <span>{user_label(&s)}</span>
                    <button class="btn-link">"Sign out"</button>
                </span>
            })}
            <NetIndicator/>
        </header>
    }
}

/// How the bar names the signed-in person.
fn user_label(s: &SessionInfo) -> String {
    format!("{} · {}", s.display_name, s.role.as_str())
}

/// The top bar while nobody is signed in: every address shows the sign-in
/// form, so there are no main links (they would all lead to it), and
/// nothing that needs a user's store. It is part of the first chunk of the
/// app's wasm, so it must not name anything of the signed-in app.
#[component]
pub fn SignedOutHeader() -> impl IntoView {
    view! {
        <header class="topbar">
            <Brand/>
            <UpdateBanner/>
            <a class="user" href="/sign-in" data-testid="user-menu">"Sign in"</a>
            <NetIndicator/>
        </header>
    }
}

#[component]
fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href="/">
            <span class="brand-mark" aria-hidden="true">"C"</span>
            <span>"Casefile"</span>
        </a>
    }
}

/// Online, offline, or "the server cannot be reached" (with the age of what
/// is shown).
#[component]
fn NetIndicator() -> impl IntoView {
    let online = use_online();
    let reach = crate::http::reach();
    view! {
        <span
            class="net"
            class:net-offline=move || !online.get() || reach.get() != Reach::Answering
            role="status"
            aria-live="polite"
            data-testid="online-indicator"
            title=move || match reach.get() {
                Reach::OfflineCopy { stored_at } => Some(format!(
                    "The server cannot be reached; showing data saved {}.",
                    relative_time(stored_at as i64, now_ms())
                )),
                Reach::Unreachable => Some("The server cannot be reached; showing what this device has.".to_string()),
                Reach::Answering => None,
            }
        >
            <span class="net-dot" aria-hidden="true"></span>
            {move || if online.get() { reach.get().label() } else { "Offline" }}
        </span>
    }
}

/// An `<option>` for every status, `selected` preselected.
pub fn status_options(selected: Option<CaseStatus>) -> impl IntoView {
    CaseStatus::ALL
        .iter()
        .map(|s| view! { <option value=s.as_str() selected=Some(*s) == selected>{s.label()}</option> })
        .collect_view()
}

/// An `<option>` for every priority, `selected` preselected.
pub fn priority_options(selected: Option<Priority>) -> impl IntoView {
    Priority::ALL
        .iter()
        .map(|p| view! { <option value=p.as_str() selected=Some(*p) == selected>{p.label()}</option> })
        .collect_view()
}

/// A coloured status label.
#[component]
pub fn StatusBadge(
    /// The status to show.
    status: CaseStatus,
) -> impl IntoView {
    view! { <span class=format!("badge status-{}", status.as_str())>{status.label()}</span> }
}

/// A coloured priority label.
#[component]
pub fn PriorityBadge(
    /// The priority to show.
    priority: Priority,
) -> impl IntoView {
    view! { <span class=format!("badge prio-{}", priority.as_str())>{priority.label()}</span> }
}

/// What went wrong, in words, with a way to try again.
#[component]
pub fn ErrorPanel(
    /// The failure.
    error: FetchError,
    /// Runs when the person presses "Try again".
    #[prop(optional, into)]
    retry: Option<Callback<()>>,
) -> impl IntoView {
    let title = match &error {
        FetchError::Network { .. } => "Can't reach the server",
        FetchError::Http { status, .. } if *status >= 500 => "The server had a problem",
        FetchError::Http { .. } => "The server refused this request",
        FetchError::Decode { .. } => "Unexpected data from the server",
    };
    view! {
        <div class="panel panel-error" role="alert">
            <h2>{title}</h2>
            <p>{error.to_string()}</p>
            {retry.map(|cb| view! {
                <button class="btn" on:click=move |_| cb.run(())>"Try again"</button>
            })}
        </div>
    }
}

/// A placeholder while data loads.
#[component]
pub fn Loading(
    /// What is loading, e.g. "cases".
    what: &'static str,
) -> impl IntoView {
    view! {
        <div class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </div>
    }
}

/// One bar of a [`BarChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// The label left of the bar.
    pub label: &'static str,
    /// The value.
    pub value: i64,
    /// A CSS class for the bar's colour.
    pub class: String,
}

/// A horizontal bar chart drawn as SVG, with the values written out.
#[component]
pub fn BarChart(
    /// Accessible title of the chart.
    title: &'static str,
    /// The bars, top to bottom.
    bars: Vec<Bar>,
) -> impl IntoView {
    const ROW: i64 = 34;
    const LABEL_W: i64 = 96;
    const BAR_W: i64 = 220;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * bars.len() as i64;
    let rows = bars
        .into_iter()
        .enumerate()
        .map(|(i, bar)| {
            let y = i as i64 * ROW;
            let w = (bar.value * BAR_W / max).max(if bar.value > 0 { 3 } else { 0 });
            view! {
                <g>
                    <text x="0" y=y + 21 class="chart-label">{bar.label}</text>
                    <rect x=LABEL_W y=y + 6 width=BAR_W height="20" rx="4" class="chart-track"></rect>
                    <rect x=LABEL_W y=y + 6 width=w height="20" rx="4" class=format!("chart-bar {}", bar.class)></rect>
                    <text x=LABEL_W + BAR_W + 10 y=y + 21 class="chart-value">{bar.value}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <svg
            class="chart"
            role="img"
            aria-label=title
            viewBox=format!("0 0 {} {}", LABEL_W + BAR_W + 56, height)
        >
            <title>{title}</title>
            {rows}
        </svg>
    }
}

/// Renders a query: its data (with a note when it is old, refreshing, or the
/// last refresh failed), or its error with a retry, or a loading state.
pub fn query_view<T, V>(
    q: UseQueryReturn<T>,
    what: &'static str,
    render: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + PartialEq + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let retry = Callback::new(move |_| q.refetch());
    move || match (q.data.get(), q.error.get()) {
        (Some(data), error) => view! {
            <QueryNotice q error retry/>
            <div class:updating=move || q.source.get() == DataSource::Previous>{render(data)}</div>
        }
        .into_any(),
        (None, Some(error)) => view! { <ErrorPanel error retry/> }.into_any(),
        (None, None) => match q.failure_count.get() {
            0 => view! { <Loading what/> }.into_any(),
            n => view! {
                <div class="loading" role="status" aria-live="polite">
                    <span class="spinner" aria-hidden="true"></span>
                    {format!("Can't reach the server yet; trying again (attempt {})…", n + 1)}
                </div>
            }
            .into_any(),
        },
    }
}

/// The line above shown data: refreshing, waiting for the network, or why the
/// last refresh failed (with the age of what is shown).
#[component]
fn QueryNotice<T: Clone + PartialEq + Send + Sync + 'static>(
    q: UseQueryReturn<T>,
    error: Option<FetchError>,
    retry: Callback<()>,
) -> impl IntoView {
    let age = move || relative_time(q.updated_at.get() as i64, now_ms());
    move || {
        if let Some(error) = error.clone() {
            view! {
                <p class="notice notice-warn" role="status">
                    {format!("Showing data from {}. ", age())}
                    {error.to_string()}
                    " "
                    <button class="linklike" on:click=move |_| retry.run(())>"Try again"</button>
                </p>
            }
            .into_any()
        } else if q.is_paused.get() {
            view! {
                <p class="notice" role="status">{format!("Offline: showing data from {}. It refreshes when the connection returns.", age())}</p>
            }
            .into_any()
        } else if q.is_fetching.get() {
            view! { <p class="notice notice-quiet" role="status">"Refreshing…"</p> }.into_any()
        } else {
            ().into_any()
        }
    }
}

/// The header's count of writes not yet on the server, linking to the sync
/// center; hidden when there are none.
#[component]
fn PendingCount() -> impl IntoView {
    let status = crate::sync::use_sync_status();
    move || {
        let pending = status.pending.get();
        let attention = status.attention.get();
        (pending > 0 || attention > 0).then(|| {
            let text = match (pending, attention) {
                (p, 0) => format!("{p} pending"),
                (0, a) => format!("{a} need attention"),
                (p, a) => format!("{p} pending · {a} need attention"),
            };
            let class = if attention > 0 {
                "pending-count attention"
            } else {
                "pending-count"
            };
            let label = format!("{text}: open the sync center");
            view! {
                <a class=class href="/sync" data-testid="pending-count" aria-label=label>
                    {text}
                </a>
            }
        })
    }
}

/// "Pending" on anything with writes not yet on the server.
#[component]
pub fn PendingBadge(
    /// How many events wait.
    count: usize,
) -> impl IntoView {
    let title = if count == 1 {
        "1 change waits to reach the server".to_string()
    } else {
        format!("{count} changes wait to reach the server")
    };
    view! { <span class="badge pending" title=title.clone() aria-label=title>"Pending"</span> }
}

/// "Signed out — sign in to send N changes" while the worker holds writes
/// the server answered 401 (they wait, spending no attempt).
#[component]
fn SignInBanner() -> impl IntoView {
    let status = crate::sync::use_sync_status();
    move || {
        let n = status.queue.get().sign_in;
        (n > 0).then(|| {
            let what = if n == 1 {
                "1 change".to_string()
            } else {
                format!("{n} changes")
            };
            view! {
                <span class="update signin" role="alert" data-testid="sign-in-banner">
                    "Signed out — "
                    <a href="/sign-in">{format!("sign in to send {what}")}</a>
                </span>
            }
        })
    }
}

/// The signed-in user and Sign out, or a Sign in link. Signing out with
/// changes not yet on the server asks first (core's `device::sign_out`):
/// send them now, keep them on this device for this user, or discard them.
#[component]
fn UserMenu() -> impl IntoView {
    use casefile_core::device::{sign_out, SignOut, Unsent};
    let session = crate::session::use_session();
    let status = crate::sync::use_sync_status();
    let online = crate::online::use_online();
    // `Some((unsent, can_keep))` while the question is open.
    let asking = RwSignal::new(None::<(usize, bool)>);
    let sending = RwSignal::new(false);
    // Held in a local store so every handler can copy `go`.
    let engine = StoredValue::new_local(crate::sync::use_sync());
    let go = move |choice: Option<Unsent>| {
        let Some(user) =
            crate::session::owner().or_else(|| session.0.get_untracked().map(|i| i.user))
        else {
            return;
        };
        let engine = engine.get_value();
        // The administrator's word, as the last session read said it (kept
        // for a sign-out offline).
        let shared = session.0.get_untracked().is_some_and(|s| s.shared_devices);
        leptos::task::spawn_local(async move {
            // Counted in the store now, not from a figure a tab may hold
            // stale: nothing the person made is deleted unasked.
            let unsent = match &engine {
                Some(engine) => engine.unsent().await,
                None => 0,
            };
            match sign_out(&user, unsent, choice, shared) {
                SignOut::Ask { unsent, can_keep } => asking.set(Some((unsent, can_keep))),
                SignOut::Go(plan) => {
                    asking.set(None);
                    crate::session::sign_out(session, plan).await;
                }
            }
        });
    };
    // "Send now": sign out once nothing is left to send.
    Effect::new(move || {
        if sending.get() && status.pending.get() == 0 {
            sending.set(false);
            go(None);
        }
    });
    let send_now = move |_| {
        sending.set(true);
        if let Some(engine) = crate::sync::use_sync() {
            engine.sync_now();
        }
    };
    let reach = crate::http::reach();
    // The last request reached the server (a write the worker queued for
    // want of it does not count: see `http::send_value`).
    let unreachable = move || reach.get() != casefile_core::strategy::Reach::Answering;
    let dialog = move || {
        asking.get().map(|(unsent, can_keep)| {
            let what = if unsent == 1 { "1 change".to_string() } else { format!("{unsent} changes") };
            view! {
                <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="sign-out-title" data-testid="sign-out-dialog">
                    <h2 id="sign-out-title">{format!("{what} not on the server yet")}</h2>
                    <p>"Signing out clears your cases from this device. What should happen to the changes that have not reached the server?"</p>
                    <div class="actions">
                        <button class="btn" on:click=send_now disabled=move || !online.get() || sending.get() || unreachable()>
                            {move || if sending.get() { "Sending… (waiting for the server)" } else { "Send now" }}
                        </button>
                        {can_keep.then(|| view! {
                            <button class="btn" on:click=move |_| go(Some(Unsent::Keep))>"Keep on this device for me"</button>
                        })}
                        <button class="btn danger" on:click=move |_| go(Some(Unsent::Discard))>
                            {format!("Discard ({what} lost)")}
                        </button>
                        <button class="btn-link" on:click=move |_| { sending.set(false); asking.set(None) }>"Cancel"</button>
                    </div>
                </div>
            }
        })
    };
    move || match session.0.get() {
        Some(s) => view! {
            <span class="user" data-testid="user-menu">
                <KeepPeople/>
                <span>{user_label(&s)}</span>
                {move || session.1.get().then(|| view! {
                    <a href="/sign-in" class="ended" data-testid="session-ended">"Sign in again"</a>
                })}
                <button class="btn-link" on:click=move |_| go(None)>"Sign out"</button>
                {dialog}
            </span>
        }
        .into_any(),
        None => view! { <a class="user" href="/sign-in" data-testid="user-menu">"Sign in"</a> }
            .into_any(),
    }
}

/// Keeps the signed-in user's people fresh (and saved for offline use) for
/// the case forms, while someone is signed in.
#[component]
fn KeepPeople() -> impl IntoView {
    let _people = crate::queries::use_people();
}

/// "Update available — Reload" while a new build's worker waits.
#[component]
fn UpdateBanner() -> impl IntoView {
    let waiting = crate::worker::update_waiting();
    move || {
        waiting.get().then(|| {
            view! {
                <span class="update" role="status" data-testid="update-banner">
                    "Update available — "
                    <button class="btn-link" on:click=|_| crate::worker::apply_update()>"Reload"</button>
                </span>
            }
        })
    }
}

/// The case list's heading and its search, filters and sort. Each control
/// reports its new value as text.
#[component]
pub fn CasesHead(
    /// The search text shown.
    q: Signal<String>,
    /// The search text typed.
    on_q: Callback<String>,
    /// A status chosen ("" for any).
    on_status: Callback<String>,
    /// A priority chosen ("" for any).
    on_priority: Callback<String>,
    /// A sort chosen.
    on_sort: Callback<String>,
) -> impl IntoView {
    let sort_options = casefile_core::cases::SortKey::ALL
        .into_iter()
        .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
        .collect_view();
    view! {
        <div class="page-head">
            <h1>"Cases"</h1>
            <a class="btn btn-primary" href="/cases/new">"New case"</a>
        </div>
        <form class="filters" role="search" on:submit=|ev| ev.prevent_default()>
            <label>
                <span>"Search titles"</span>
                <input
                    type="search"
                    placeholder="e.g. housing"
                    prop:value=q
                    on:input=move |ev| on_q.run(event_target_value(&ev))
                />
            </label>
            <label>
                <span>"Status"</span>
                <select on:change=move |ev| on_status.run(event_target_value(&ev))>
                    <option value="">"Any status"</option>
                    {status_options(None)}
                </select>
            </label>
            <label>
                <span>"Priority"</span>
                <select on:change=move |ev| on_priority.run(event_target_value(&ev))>
                    <option value="">"Any priority"</option>
                    {priority_options(None)}
                </select>
            </label>
            <label>
                <span>"Sort by"</span>
                <select on:change=move |ev| on_sort.run(event_target_value(&ev))>{sort_options}</select>
            </label>
        </form>
    }
}

/// The case list's table (the empty state when there are no rows).
#[component]
pub fn CaseTable(
    /// The rows, in order.
    rows: Vec<casefile_core::cases::CaseRow>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! {
            <div class="panel empty">
                <h2>"No cases match"</h2>
                <p>"Clear the search or filters, or create a new case."</p>
            </div>
        }
        .into_any();
    }
    let now = now_ms();
    let rows = rows
        .into_iter()
        .map(|row| {
            let c = row.case;
            view! {
                <tr>
                    <td class="col-title">
                        <a href=format!("/cases/{}", c.id) dir="auto">{c.title}</a>
                        {(row.pending > 0).then(|| view! { " " <PendingBadge count=row.pending/> })}
                    </td>
                    <td><StatusBadge status=c.status/></td>
                    <td><PriorityBadge priority=c.priority/></td>
                    <td class="muted">{c.assignee.unwrap_or_else(|| "Unassigned".into())}</td>
                    <td class="muted">{relative_time(c.updated_at, now)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        // Scrolls sideways on a phone: focusable, so the keyboard can scroll it.
        <div class="table-wrap" tabindex="0" role="region" aria-label="Cases">
            <table class="cases">
                <thead>
                    <tr>
                        <th scope="col">"Title"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Priority"</th>
                        <th scope="col">"Assignee"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
