//! The console's one rule for time: every date and time is shown in the browser's local
//! time with its zone (`6 Dec 2026, 18:03 EST`), and the exact UTC value on hover.
//!
//! chrono builds the text (the design names it); the browser supplies what chrono cannot
//! know in wasm: the local offset at that instant (`Date.getTimezoneOffset`, which
//! follows daylight saving) and the zone's short name (`Intl.DateTimeFormat`'s
//! `timeZoneName` part, in the browser's language).

use chrono::{DateTime, FixedOffset};
use leptos::prelude::*;
use mailsync_core::Timestamp;
use wasm_bindgen::JsValue;

/// The current time as core expects it.
pub fn now() -> Timestamp {
    Timestamp::from_millis(js_sys::Date::now())
}

/// The browser's language (for the zone's name).
fn language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en-US".to_string())
}

/// `ts` in the browser's time zone (chrono value with that instant's offset).
pub fn in_local_zone(ts: Timestamp) -> DateTime<FixedOffset> {
    let date = js_sys::Date::new(&JsValue::from_f64(ts.0 as f64 * 1000.0));
    // getTimezoneOffset is UTC minus local, in minutes (EST: 300).
    let east = -(date.get_timezone_offset() as i32) * 60;
    let offset = FixedOffset::east_opt(east).unwrap_or(FixedOffset::east_opt(0).expect("UTC"));
    ts.to_datetime().with_timezone(&offset)
}

/// The zone's short name at `ts` ("EST", "CEST", "GMT+5:30"), from the browser's `Intl`.
pub fn zone_name(ts: Timestamp) -> String {
    thread_local! {
        static FORMAT: Option<js_sys::Intl::DateTimeFormat> = {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"timeZoneName".into(), &"short".into());
            let locales = js_sys::Array::of1(&language().into());
            Some(js_sys::Intl::DateTimeFormat::new(&locales, &options))
        };
    }
    let date = js_sys::Date::new(&JsValue::from_f64(ts.0 as f64 * 1000.0));
    FORMAT
        .with(|f| {
            let parts = f.as_ref()?.format_to_parts(&date);
            parts.iter().find_map(|part| {
                let kind = js_sys::Reflect::get(&part, &"type".into()).ok()?;
                (kind.as_string()? == "timeZoneName")
                    .then(|| {
                        js_sys::Reflect::get(&part, &"value".into())
                            .ok()?
                            .as_string()
                    })
                    .flatten()
            })
        })
        .unwrap_or_else(|| utc_offset_name(in_local_zone(ts).offset()))
}

/// "UTC+01:00" for a zone the browser does not name.
fn utc_offset_name(offset: &FixedOffset) -> String {
    if offset.local_minus_utc() == 0 {
        "UTC".to_string()
    } else {
        format!("UTC{offset}")
    }
}

/// `6 Dec 2026, 18:03 EST`: local time with its zone.
pub fn local(ts: Timestamp) -> String {
    format!(
        "{} {}",
        in_local_zone(ts).format("%-d %b %Y, %H:%M"),
        zone_name(ts)
    )
}

/// `2026-12-06 23:03:00 UTC`: the exact value, for the hover.
pub fn utc(ts: Timestamp) -> String {
    ts.to_datetime().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A parsed RFC 3339 value from the API, or `None`.
pub fn parse(rfc3339: &str) -> Option<Timestamp> {
    Timestamp::parse(rfc3339).map(|d| d.at)
}

/// A time as the console shows it: `<time>` with the local text, the UTC value on hover
/// and in `datetime`; `—` when there is none.
#[component]
pub fn When(at: Option<Timestamp>) -> impl IntoView {
    match at {
        Some(ts) => view! {
            <time datetime=ts.to_rfc3339() title=utc(ts)>{local(ts)}</time>
        }
        .into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}
