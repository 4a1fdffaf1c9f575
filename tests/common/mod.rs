//! Helpers shared by the browser tests.
#![allow(dead_code)]

use wasm_bindgen::JsCast;

/// Waits `ms` milliseconds (a real timer: these tests run in Chromium).
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// A fresh element in the page's body to mount into.
pub fn host() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let el = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&el).unwrap();
    el.unchecked_into()
}

/// Lets spawned tasks and settled promises run: a few turns of the
/// microtask queue, no timer (no time passes).
pub async fn turn() {
    for _ in 0..4 {
        let resolved = js_sys::Promise::resolve(&wasm_bindgen::JsValue::NULL);
        let _ = wasm_bindgen_futures::JsFuture::from(resolved).await;
    }
}
