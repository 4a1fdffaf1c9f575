//! Whether the browser believes it is online, as a signal.

use leptos::prelude::*;

/// The browser's online state, kept current by `online`/`offline` events.
#[derive(Clone, Copy)]
pub struct Online(pub ReadSignal<bool>);

/// Creates the signal, wires the window events, and provides it as context.
pub fn provide_online() -> Online {
    let initial = window().navigator().on_line();
    let (online, set_online) = signal(initial);
    // The handles live as long as the page; the app never unmounts.
    std::mem::forget(window_event_listener(leptos::ev::online, move |_| {
        set_online.set(true)
    }));
    std::mem::forget(window_event_listener(leptos::ev::offline, move |_| {
        set_online.set(false)
    }));
    let online = Online(online);
    provide_context(online);
    online
}

/// The online signal from context.
pub fn use_online() -> ReadSignal<bool> {
    expect_context::<Online>().0
}
