//! The dashboard's two charts: a list of horizontal bars (a label, its number, a link
//! to the records behind it) and the 24-hour column chart, drawn as plain SVG.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use wasm_bindgen::JsCast;

use super::model::{alerts_href, Hour};
use crate::api::Total;
use crate::time::{in_local_zone, local};

/// (label, number, link).
pub type Bars = Vec<(String, Total, String)>;

#[component]
pub fn BarList(bars: Bars, #[prop(optional)] empty: Option<&'static str>) -> impl IntoView {
    if bars.is_empty() {
        return view! { <p class="muted">{empty.unwrap_or("Nothing to show.")}</p> }.into_any();
    }
    let max = bars.iter().map(|b| b.1.n).max().unwrap_or(0).max(1);
    view! {
        <ul class="bar-list">
            {bars
                .into_iter()
                .map(|(label, n, href)| {
                    let pct = n.n as f64 * 100.0 / max as f64;
                    view! {
                        <li class="bar-row" data-label=label.clone()>
                            <span class="bar-label" title=label.clone()>{label.clone()}</span>
                            <span class="bar-track">
                                <span class="bar-fill" style:width=format!("{pct:.1}%")></span>
                            </span>
                            <A href=href attr:class="bar-value" attr:aria-label=format!("{label}: {}", n.of("mailbox", "mailboxes"))>
                                {n.to_string()}
                            </A>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const PAD_BOTTOM: f64 = 36.0;
const PAD_LEFT: f64 = 36.0;

/// What happened per hour (`what`: "alerts", "sync cycles"), the failed part in red;
/// `total` and `failed` name the two parts in the legend. A column opens the alerts of
/// its hour: by mouse, or by keyboard — the columns are links with one Tab stop (the
/// latest hour at first), the arrow keys, Home and End move between them, Enter or
/// Space opens one.
#[component]
pub fn HourChart(
    hours: Vec<Hour>,
    what: &'static str,
    total: &'static str,
    failed: &'static str,
) -> impl IntoView {
    let navigate = StoredValue::new_local(use_navigate());
    let open = move |href: &str| navigate.with_value(|nav| nav(href, NavigateOptions::default()));
    let max = hours.iter().map(|h| h.total).max().unwrap_or(0).max(1);
    let count = hours.len();
    let n = count.max(1) as f64;
    let slot = (W - PAD_LEFT) / n;
    let plot = H - PAD_BOTTOM;
    let y = move |v: i64| plot - v as f64 * (plot - 8.0) / max as f64;
    // The column that is the chart's Tab stop (roving tabindex): the latest hour first.
    let current = RwSignal::new(count.saturating_sub(1));
    let chart = NodeRef::<leptos::svg::Svg>::new();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if count == 0 || ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let at = current.get_untracked();
        let next = match ev.key().as_str() {
            "ArrowRight" | "ArrowDown" => (at + 1).min(count - 1),
            "ArrowLeft" | "ArrowUp" => at.saturating_sub(1),
            "Home" => 0,
            "End" => count - 1,
            _ => return,
        };
        ev.prevent_default();
        current.set(next);
        let col = chart.get_untracked().and_then(|svg| {
            svg.query_selector(&format!(".chart-col[data-index=\"{next}\"]"))
                .ok()
                .flatten()
        });
        if let Some(col) = col.and_then(|c| c.dyn_into::<web_sys::SvgElement>().ok()) {
            let _ = col.focus();
        }
    };
    // Every third hour is labelled with its local hour, and with its day under it where
    // the day changes (and on the first label), so 24 hours that span midnight read
    // unambiguously. The labels are one group apart from the columns: a column's
    // accessible name is its whole sentence, and text inside it would have to be part of
    // that name.
    let labels = hours
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(i, h)| {
            let cx = format!("{:.1}", PAD_LEFT + i as f64 * slot + slot / 2.0);
            let t = in_local_zone(h.start);
            let day = (i == 0 || chrono::Timelike::hour(&t) < 3).then(|| {
                view! {
                    <text x=cx.clone() y=format!("{:.1}", H - 6.0) class="chart-axis chart-day" text-anchor="middle">{t.format("%-d %b").to_string()}</text>
                }
            });
            view! {
                <text x=cx.clone() y=format!("{:.1}", H - 20.0) class="chart-axis" text-anchor="middle">{t.format("%H:%M").to_string()}</text>
                {day}
            }
        })
        .collect_view();
    let columns = hours
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let x = PAD_LEFT + i as f64 * slot + 2.0;
            let w = (slot - 4.0).max(1.0);
            let ok = h.total - h.failed;
            let href = alerts_href(h.start);
            let href2 = href.clone();
            let when = local(h.start);
            let title = format!("{when}: {} {what}, {} {failed}", h.total, h.failed);
            let name = title.clone();
            view! {
                <g
                    class="chart-col"
                    role="link"
                    tabindex=move || if current.get() == i { "0" } else { "-1" }
                    aria-label=name
                    data-index=i.to_string()
                    data-total=h.total.to_string()
                    data-failures=h.failed.to_string()
                    on:click=move |_| open(&href)
                    on:focus=move |_| current.set(i)
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        if ev.key() == "Enter" || ev.key() == " " {
                            ev.prevent_default();
                            open(&href2);
                        }
                    }
                >
                    <title>{title}</title>
                    <rect class="chart-hit" x=format!("{x:.1}") y="0" width=format!("{w:.1}") height=format!("{plot:.1}") />
                    <rect class="chart-ok" x=format!("{x:.1}") y=format!("{:.1}", y(ok + h.failed)) width=format!("{w:.1}") height=format!("{:.1}", plot - y(ok)) />
                    <rect class="chart-fail" x=format!("{x:.1}") y=format!("{:.1}", y(h.failed)) width=format!("{w:.1}") height=format!("{:.1}", plot - y(h.failed)) />
                </g>
            }
        })
        .collect_view();
    view! {
        <svg
            class="hour-chart"
            viewBox=format!("0 0 {W} {H}")
            role="group"
            aria-label=format!("{what} per hour, last 24 hours")
            node_ref=chart
            on:keydown=on_key
        >
            <line x1=PAD_LEFT.to_string() y1=format!("{plot:.1}") x2=W.to_string() y2=format!("{plot:.1}") class="chart-baseline" aria-hidden="true" />
            <text x="2" y="14" class="chart-axis" aria-hidden="true">{max.to_string()}</text>
            <text x="2" y=format!("{plot:.1}") class="chart-axis" aria-hidden="true">"0"</text>
            {columns}
            <g aria-hidden="true">{labels}</g>
        </svg>
        <div class="row small muted chart-legend">
            <span><span class="legend chart-ok"></span>" "{total}</span>
            <span><span class="legend chart-fail"></span>" "{failed}</span>
            <span>"Select an hour to see its alerts (arrow keys move between hours)."</span>
        </div>
    }
}
