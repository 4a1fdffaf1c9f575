//! Formatting for people: relative times and dates.

/// "just now", "5 min ago", "3 h ago", "4 days ago", or the date.
pub fn relative_time(ms: i64, now_ms: i64) -> String {
    let secs = (now_ms - ms).max(0) / 1000;
    match secs {
        0..=59 => "just now".into(),
        60..=3_599 => format!("{} min ago", secs / 60),
        3_600..=86_399 => format!("{} h ago", secs / 3_600),
        86_400..=172_799 => "yesterday".into(),
        _ if secs < 30 * 86_400 => format!("{} days ago", secs / 86_400),
        _ => date(ms),
    }
}

thread_local! {
    /// One formatter for every date: building one loads locale data (tens
    /// of ms the first time), so it is built once, at start-up.
    static DATES: js_sys::Intl::DateTimeFormat = {
        let options = js_sys::Object::new();
        for (k, v) in [("day", "numeric"), ("month", "short"), ("year", "numeric")] {
            let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
        }
        js_sys::Intl::DateTimeFormat::new(&js_sys::Array::of1(&"en-GB".into()), &options)
    };
}

/// The date, e.g. "12 Mar 2026".
pub fn date(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    DATES.with(|f| {
        f.format()
            .call1(f, &d)
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    })
}

/// Builds the date formatter when the browser is idle after start-up, so
/// neither the first render nor the first list that shows a date pays for it.
pub fn warm_up() {
    leptos::prelude::request_idle_callback(|| {
        let _ = date(0);
    });
}

/// Now, in wall-clock ms.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A sub-millisecond clock for measuring work in the page (ms).
pub fn precise_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}
