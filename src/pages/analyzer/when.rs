//! Dates for people: the browser's local time (JavaScript `toLocaleString`), the UTC
//! time and core's relative wording ("in 3 min", "overdue by 2 h"), measured against
//! the time the report is judged as of (the clock only for a log less than a day old).

use leptos::prelude::*;
use mailsync_core::{AsOf, Timestamp};
use wasm_bindgen::JsValue;

/// The current time as core expects it.
pub fn now() -> Timestamp {
    Timestamp::from_millis(js_sys::Date::now())
}

fn locale() -> String {
    thread_local! {
        static LOCALE: String = web_sys::window()
            .and_then(|w| w.navigator().language())
            .unwrap_or_else(|| "en-US".to_string());
    }
    LOCALE.with(Clone::clone)
}

/// `ts` in the browser's time zone and language.
pub fn local(ts: Timestamp) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ts.0 as f64 * 1000.0));
    date.to_locale_string(&locale(), &JsValue::UNDEFINED).into()
}

/// An RFC 3339 value from a report: local time, then UTC, then (with the report's
/// `as_of`) how far from the time the report is judged as of. "—" when absent.
pub fn date_view(rfc3339: Option<&str>, as_of: Option<&AsOf>) -> AnyView {
    let Some(ts) = rfc3339.and_then(Timestamp::parse).map(|d| d.at) else {
        return view! { <span class="muted">"—"</span> }.into_any();
    };
    let relative_text = as_of.and_then(|a| a.relative(ts, now()));
    let overdue = relative_text
        .as_deref()
        .is_some_and(|t| t.starts_with("overdue"));
    view! {
        <span class="az-date">
            <span class="az-date-local" title=ts.to_rfc3339()>
                {local(ts)}
            </span>
            " "
            <span class="az-date-sub small">
                <span class="az-date-utc muted">{ts.to_short_utc()}</span>
                {relative_text
                    .map(|t| {
                        view! {
                            " \u{00b7} "
                            <span class=if overdue {
                                "az-rel az-rel-overdue"
                            } else {
                                "az-rel"
                            }>{t}</span>
                        }
                    })}
            </span>
        </span>
    }
    .into_any()
}
