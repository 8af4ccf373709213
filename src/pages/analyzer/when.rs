//! Dates for people: the browser's local time with its zone ([`crate::time`]), the UTC
//! time and core's relative wording ("in 3 min", "overdue by 2 h"), measured against
//! the time the report is judged as of (the clock only for a log less than a day old).

use leptos::prelude::*;
use mailsync_core::{AsOf, Timestamp};

pub use crate::time::{local, now};

/// An RFC 3339 value from a report: local time with its zone (UTC on hover), then (with
/// the report's `as_of`) how far from the time the report is judged as of. "—" when
/// absent.
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
            <time class="az-date-local" datetime=ts.to_rfc3339() title=crate::time::utc(ts)>
                {local(ts)}
            </time>
            {relative_text
                .map(|t| {
                    view! {
                        " "
                        <span class="az-date-sub small">
                            "("
                            <span class=if overdue {
                                "az-rel az-rel-overdue"
                            } else {
                                "az-rel"
                            }>{t}</span>
                            ")"
                        </span>
                    }
                })}
        </span>
    }
    .into_any()
}
