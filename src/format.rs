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

/// The date in the reader's locale, e.g. "12 Mar 2026".
pub fn date(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(d.to_locale_date_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
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
