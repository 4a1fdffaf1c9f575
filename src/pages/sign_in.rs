//! The sign-in page: name and password, a clear message when it fails.

use crate::session::{sign_in, use_session};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// `/sign-in`.
#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    // An ended session: the same person, most likely, signs in again.
    let ended = session
        .0
        .get_untracked()
        .filter(|_| session.1.get_untracked());
    let name = RwSignal::new(ended.map(|s| s.user).unwrap_or_default());
    let password = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (n, p) = (name.get_untracked(), password.get_untracked());
        if n.trim().is_empty() || p.is_empty() {
            problem.set(Some("Enter your name and password.".into()));
            return;
        }
        busy.set(true);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let result = sign_in(session, n.trim(), &p).await;
            busy.set(false);
            match result {
                Ok(crate::session::SignedIn::Restarting) => {}
                Ok(crate::session::SignedIn::Here) => {
                    password.set(String::new());
                    problem.set(None);
                    navigate("/", Default::default());
                }
                Err(why) => problem.set(Some(why)),
            }
        });
    };
    view! {
        <section>
            <div class="page-head"><h1>"Sign in"</h1></div>
            {move || session.0.get().map(|s| if session.1.get() {
                view! {
                    <p class="muted" data-testid="signed-in-as">{format!("Your session as {} has ended: sign in again to send your changes and read the server's.", s.display_name)}</p>
                }
            } else {
                view! {
                    <p class="muted" data-testid="signed-in-as">{format!("Signed in as {} ({}).", s.display_name, s.role.as_str())}</p>
                }
            })}
            <form class="card form" on:submit=submit novalidate>
                <label for="signin-name">"Name"</label>
                <input id="signin-name" name="username" autocomplete="username" required
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                <label for="signin-password">"Password"</label>
                <input id="signin-password" name="password" type="password" autocomplete="current-password" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                {move || problem.get().map(|p| view! { <p class="form-error" role="alert" data-testid="sign-in-problem">{p}</p> })}
                <button class="btn btn-primary" type="submit" disabled=move || busy.get()>"Sign in"</button>
            </form>
        </section>
    }
}
