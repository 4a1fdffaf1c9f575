//! Toasts: core's rules (`casefile_core::toast`) as a context and a host
//! component. Errors use `role="alert"`, the others `role="status"`; Escape
//! dismisses the newest; every button is reachable from the keyboard.

use casefile_core::toast::{ToastKind, Toasts};
use leptos::prelude::*;
use std::collections::HashMap;
use std::rc::Rc;

fn now() -> u64 {
    js_sys::Date::now() as u64
}

type Actions = HashMap<u64, Rc<dyn Fn()>>;

/// Shows toasts. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Toaster {
    list: RwSignal<Toasts<u64>>,
    actions: StoredValue<Actions, LocalStorage>,
    next_action: StoredValue<u64>,
}

impl Toaster {
    fn new() -> Self {
        Toaster {
            list: RwSignal::new(Toasts::default()),
            actions: StoredValue::new_local(HashMap::new()),
            next_action: StoredValue::new(1),
        }
    }

    /// A toast of `kind`.
    pub fn show(&self, kind: ToastKind, message: impl Into<String>) -> u64 {
        let message = message.into();
        self.list
            .try_update(|l| l.push(kind, message, None, now()))
            .unwrap_or(0)
    }

    /// A success toast (goes after 4 s).
    pub fn success(&self, message: impl Into<String>) -> u64 {
        self.show(ToastKind::Success, message)
    }

    /// An error toast (stays until dismissed).
    pub fn error(&self, message: impl Into<String>) -> u64 {
        self.show(ToastKind::Error, message)
    }

    /// A toast with an action button (e.g. Undo, Retry); taking the action
    /// also dismisses the toast.
    pub fn with_action(
        &self,
        kind: ToastKind,
        message: impl Into<String>,
        label: &str,
        action: impl Fn() + 'static,
    ) -> u64 {
        let key = self.next_action.get_value();
        self.next_action.set_value(key + 1);
        self.actions
            .update_value(|a| drop(a.insert(key, Rc::new(action) as Rc<dyn Fn()>)));
        let message = message.into();
        let label = label.to_string();
        self.list
            .try_update(|l| l.push(kind, message, Some((label, key)), now()))
            .unwrap_or(0)
    }

    /// Removes a toast.
    pub fn dismiss(&self, id: u64) {
        let key = self.list.with_untracked(|l| {
            l.items()
                .iter()
                .find(|t| t.id == id)
                .and_then(|t| t.action.as_ref().map(|(_, k)| *k))
        });
        if let Some(key) = key {
            self.actions.update_value(|a| drop(a.remove(&key)));
        }
        self.list.update(|l| l.dismiss(id));
    }

    fn act(&self, id: u64, key: u64) {
        let action = self.actions.with_value(|a| a.get(&key).cloned());
        self.dismiss(id);
        if let Some(action) = action {
            action();
        }
    }
}

/// Provides the toaster.
pub fn provide_toaster() -> Toaster {
    let toaster = Toaster::new();
    provide_context(toaster);
    toaster
}

/// The toaster from context (a detached one where none was provided).
pub fn use_toaster() -> Toaster {
    use_context::<Toaster>().unwrap_or_else(Toaster::new)
}

/// Where toasts appear; also runs their timers and Escape.
#[component]
pub fn ToastHost() -> impl IntoView {
    let toaster = use_toaster();
    let list = toaster.list;
    // One timer for the next expiry, re-armed whenever the list changes.
    Effect::new(move |_| {
        let Some(at) = list.with(|l| l.next_expiry()) else {
            return;
        };
        let wait = at.saturating_sub(now());
        set_timeout(
            move || {
                list.update(|l| {
                    l.expire(now());
                })
            },
            std::time::Duration::from_millis(wait + 10),
        );
    });
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            if let Some(id) = list.with_untracked(|l| l.newest()) {
                toaster.dismiss(id);
            }
        }
    });
    on_cleanup(move || escape.remove());
    view! {
        <section class="toasts" aria-label="Notifications">
            <For
                each=move || list.with(|l| l.items().to_vec())
                key=|t| t.id
                let:toast
            >
                {
                    let id = toast.id;
                    let kind = toast.kind;
                    let class = match kind {
                        ToastKind::Success => "toast toast-success",
                        ToastKind::Error => "toast toast-error",
                        ToastKind::Info => "toast toast-info",
                    };
                    view! {
                        <div class=class role=kind.role() aria-live=kind.live() data-testid="toast">
                            <p>{toast.message.clone()}</p>
                            {toast.action.clone().map(|(label, key)| view! {
                                <button class="btn" on:click=move |_| toaster.act(id, key)>{label}</button>
                            })}
                            <button class="toast-close" aria-label="Dismiss" on:click=move |_| toaster.dismiss(id)>"×"</button>
                        </div>
                    }
                }
            </For>
        </section>
    }
}
