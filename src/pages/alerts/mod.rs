//! `/alerts`: the signed-in user's alerts wall (the server limits a plain user to the
//! alerts of their mailboxes and profiles). Filters Errors / Warnings / Information
//! with counts, group by error, server paging (50 a page, `@odata.nextLink`), delete
//! one, delete all (confirmation, `$batch`es of at most 1,000 DELETEs, per-alert failures reported).
//! What core's knowledge base recognizes in an alert's text is shown as its cause and
//! resolution (`mailsync_core::classify::classify`).

mod card;
mod model;
mod record;

pub use record::RecordAlerts;

use std::collections::HashMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;

use crate::api::{self, batch, ApiError, Collection};
use crate::components::Dialog;
use card::{delete_action, AlertCard};
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use model::{filter, group, level_badge, query, within, Alert, ErrorKey, Level};

const PAGE_SIZE: u32 = 50;
/// How many alerts "group by error" reads (newest first).
const GROUP_LIMIT: u32 = 5000;

/// One alert that "Delete all" could not delete.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    text: String,
    reason: String,
}

/// "Delete all" state.
#[derive(Debug, Clone, PartialEq, Default)]
struct Bulk {
    running: bool,
    total: usize,
    done: usize,
    deleted: usize,
    failures: Vec<Failure>,
    error: Option<String>,
    finished: bool,
}

#[component]
pub fn Alerts() -> impl IntoView {
    // A link may open the wall on a level and a time window (the dashboard's hours).
    let url = use_query_map();
    let level = RwSignal::new(url.with_untracked(|q| Level::from_key(q.get("level").as_deref())));
    let window = Memo::new(move |_| {
        url.with(|q| match (q.get("from"), q.get("to")) {
            (Some(f), Some(t)) => Some((f, t)),
            _ => None,
        })
    });
    let group_by = RwSignal::new(false);
    let error_key = RwSignal::new(None::<ErrorKey>);
    // Pages already seen (for "Previous"); the last is the one shown.
    let pages = RwSignal::new(Vec::<String>::new());
    let reload = RwSignal::new(0u32);
    let message = RwSignal::new(None::<Result<String, String>>);
    let confirming = RwSignal::new(false);
    let navigate = StoredValue::new_local(use_navigate());
    let bulk = RwSignal::new(Bulk::default());

    let current_filter = move || {
        within(
            filter(level.get(), error_key.get().as_ref()),
            window.get().as_ref(),
        )
    };
    let first_page = move || query(model::SELECT, current_filter().as_deref(), "");

    // Any change of filter starts again at the first page.
    Effect::new(move |_| {
        let first = first_page();
        pages.set(vec![first]);
    });

    let counts = LocalResource::new(move || {
        reload.track();
        let group = error_key.get();
        let span = window.get();
        async move {
            let mut out = HashMap::new();
            for l in Level::ALL {
                let f = within(filter(l, group.as_ref()), span.as_ref());
                let path = query("tracelogid", f.as_deref(), "&$top=1");
                let page: api::ApiResult<Collection<serde_json::Value>> =
                    api::get_json(&path).await;
                out.insert(l.label(), page.ok().and_then(|p| p.count));
            }
            out
        }
    });

    let page = LocalResource::new(move || {
        reload.track();
        let path = pages.with(|p| p.last().cloned());
        async move {
            let path = path?;
            let page: api::ApiResult<Collection<Alert>> = api::get_json_with(
                &path,
                &[("Prefer", &format!("odata.maxpagesize={PAGE_SIZE}"))],
            )
            .await;
            Some(match page {
                Ok(p) => {
                    let names = names_of(&p.value).await;
                    Ok((p, names))
                }
                Err(e) => Err(e),
            })
        }
    });

    let groups = LocalResource::new(move || {
        reload.track();
        let on = group_by.get();
        let f = within(filter(level.get(), None), window.get().as_ref());
        async move {
            if !on {
                return None;
            }
            let path = query(
                "tracecode,errortypedisplay,text,level",
                f.as_deref(),
                &format!("&$top={GROUP_LIMIT}"),
            );
            Some(api::get_json::<Collection<Alert>>(&path).await.map(|p| {
                let total = p.count.unwrap_or(p.value.len() as u64);
                (group(&p.value), p.value.len() as u64, total)
            }))
        }
    });

    let delete_one = delete_action(message, reload);

    let delete_all = move || {
        confirming.set(false);
        message.set(None);
        bulk.set(Bulk {
            running: true,
            ..Default::default()
        });
        let f = current_filter();
        spawn_local(async move {
            match all_alerts(f.as_deref()).await {
                Ok(alerts) => run_delete_all(alerts, bulk, reload),
                Err(e) => bulk.update(|b| {
                    b.running = false;
                    b.finished = true;
                    b.error = Some(e.message);
                }),
            }
        });
    };

    let count_of = move |l: Level| {
        counts
            .get()
            .and_then(|c| c.get(l.label()).copied().flatten())
    };

    view! {
        <section class="page alerts-page">
            <div class="page-header">
                <div>
                    <h1>"Alerts"</h1>
                    <p class="muted">
                        "Alerts of your mailboxes and email server profiles, newest first."
                    </p>
                </div>
                <div class="page-actions">
                    <button
                        class="btn btn-danger"
                        disabled=move || bulk.with(|b| b.running) || count_of(level.get()) == Some(0)
                        on:click=move |_| confirming.set(true)
                    >
                        "Delete all alerts"
                    </button>
                </div>
            </div>

            <div class="toolbar alerts-toolbar">
                <div class="tabs" role="tablist" aria-label="Level">
                    {Level::ALL
                        .iter()
                        .map(|&l| {
                            view! {
                                <button
                                    class="tab"
                                    class:is-active=move || level.get() == l
                                    role="tab"
                                    aria-selected=move || (level.get() == l).to_string()
                                    data-level=l.label()
                                    on:click=move |_| level.set(l)
                                >
                                    {l.label()}
                                    " "
                                    <span class="alerts-count">
                                        {move || {
                                            count_of(l).map_or("…".to_string(), |n| n.to_string())
                                        }}
                                    </span>
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <span class="spacer"></span>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        prop:checked=move || group_by.get()
                        on:change=move |ev| {
                            group_by.set(event_target_checked(&ev));
                            if !event_target_checked(&ev) {
                                error_key.set(None);
                            }
                        }
                    />
                    " Group by error"
                </label>
            </div>

            {move || {
                message
                    .get()
                    .map(|m| match m {
                        Ok(t) => view! { <div class="callout callout-success" role="status">{t}</div> }.into_any(),
                        Err(t) => view! { <div class="callout callout-error" role="alert">{t}</div> }.into_any(),
                    })
            }}
            <BulkStatus bulk=bulk />

            {move || {
                groups
                    .get()
                    .flatten()
                    .map(|g| match g {
                        Err(e) => view! { <div class="callout callout-error">{e.message}</div> }.into_any(),
                        Ok((groups, read, total)) => {
                            view! {
                                <div class="card alerts-groups">
                                    <div class="card-header">
                                        <span class="card-title">"Grouped by error"</span>
                                        <span class="muted small">
                                            {if read < total {
                                                format!("the newest {read} of {total} alerts")
                                            } else {
                                                format!("{total} alerts")
                                            }}
                                        </span>
                                    </div>
                                    <table class="table table-compact">
                                        <thead>
                                            <tr>
                                                <th>"Error"</th>
                                                <th>"Latest text"</th>
                                                <th class="num">"Alerts"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {groups
                                                .into_iter()
                                                .map(|g| {
                                                    let key = g.key.clone();
                                                    let key2 = g.key.clone();
                                                    let (lname, lclass) = level_badge(g.level);
                                                    view! {
                                                        <tr
                                                            class="is-clickable alerts-group"
                                                            class:is-selected=move || {
                                                                error_key.with(|k| k.as_ref() == Some(&key2))
                                                            }
                                                            on:click=move |_| {
                                                                let k = key.clone();
                                                                error_key
                                                                    .update(|cur| {
                                                                        *cur = if cur.as_ref() == Some(&k) {
                                                                            None
                                                                        } else {
                                                                            Some(k)
                                                                        };
                                                                    });
                                                            }
                                                        >
                                                            <td class="nowrap">
                                                                <span class=lclass>{lname}</span>
                                                                " "
                                                                <span class="alerts-group-name">{g.key.label()}</span>
                                                            </td>
                                                            <td class="small">{g.sample}</td>
                                                            <td class="num alerts-group-count">{g.count}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
            {move || {
                error_key
                    .get()
                    .map(|k| {
                        view! {
                            <div class="callout callout-info alerts-group-filter">
                                "Showing only " <strong>{k.label()}</strong> ". "
                                <button class="btn btn-link btn-sm" on:click=move |_| error_key.set(None)>
                                    "Show all errors"
                                </button>
                            </div>
                        }
                    })
            }}

            {move || {
                window
                    .get()
                    .map(|(from, to)| {
                        let span = model::window_label(&from, &to);
                        view! {
                            <div class="callout callout-info alerts-window" data-testid="alerts-window">
                                "Showing alerts last logged " <strong>{span}</strong> ". "
                                <button class="btn btn-link btn-sm" on:click=move |_| navigate.with_value(|n| n("/alerts", NavigateOptions::default()))>
                                    "Show all"
                                </button>
                            </div>
                        }
                    })
            }}
            <Transition fallback=|| view! { <p class="muted">"Loading alerts…"</p> }>
                {move || {
                    page.get()
                        .flatten()
                        .map(|res| match res {
                            Err(e) => {
                                view! { <div class="callout callout-error" role="alert">{e.message}</div> }
                                    .into_any()
                            }
                            Ok((p, names)) => {
                                let total = p.count.unwrap_or(0);
                                let next = p.next.clone();
                                let has_prev = pages.with(|v| v.len() > 1);
                                let n = pages.with(Vec::len);
                                let from = (n as u64 - 1) * PAGE_SIZE as u64 + 1;
                                let to = from + p.value.len() as u64 - 1;
                                if p.value.is_empty() {
                                    return view! {
                                        <div class="card empty-state alerts-empty">
                                            "No alerts here."
                                        </div>
                                    }
                                        .into_any();
                                }
                                view! {
                                    <ul class="alerts-list">
                                        {p
                                            .value
                                            .into_iter()
                                            .map(|a| {
                                                let name = a.regarding.as_ref().and_then(|id| names.get(id).cloned());
                                                view! { <AlertCard alert=a name=name on_delete=delete_one /> }
                                            })
                                            .collect_view()}
                                    </ul>
                                    <div class="row alerts-pager">
                                        <span class="muted small alerts-range">
                                            {format!("{from}–{to} of {total}")}
                                        </span>
                                        <span class="spacer"></span>
                                        <button
                                            class="btn btn-secondary btn-sm"
                                            disabled=!has_prev
                                            on:click=move |_| pages.update(|v| { v.pop(); })
                                        >
                                            "Previous"
                                        </button>
                                        <button
                                            class="btn btn-secondary btn-sm"
                                            disabled=next.is_none()
                                            on:click=move |_| {
                                                if let Some(link) = next.clone() {
                                                    pages.update(|v| v.push(api::same_origin(&link)));
                                                }
                                            }
                                        >
                                            "Next"
                                        </button>
                                    </div>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>

            <Show when=move || confirming.get()>
                <Dialog
                    title="Delete all alerts"
                    text=Signal::derive(move || {
                        let n = count_of(level.get()).unwrap_or(0);
                        let what = match level.get() {
                            Level::All => "alerts".to_string(),
                            l => l.label().to_lowercase(),
                        };
                        format!(
                            "Delete all {n} {what}{}? This cannot be undone.",
                            if error_key.with(Option::is_some) { " of this error" } else { "" },
                        )
                    })
                    confirm="Delete"
                    danger=true
                    on_confirm=Callback::new(move |()| delete_all())
                    on_cancel=Callback::new(move |()| confirming.set(false))
                >
                    <p class="muted small">
                        "Alerts that cannot be deleted are left in place and listed."
                    </p>
                </Dialog>
            </Show>
        </section>
    }
}

/// The bulk delete's progress and result.
#[component]
fn BulkStatus(bulk: RwSignal<Bulk>) -> impl IntoView {
    move || {
        let b = bulk.get();
        if b.running {
            let pct = (b.done * 100).checked_div(b.total).unwrap_or(0);
            return Some(
                view! {
                    <div class="card alerts-bulk" role="status">
                        <div class="card-body">
                            <div class="progress">
                                <div class="progress-bar" style:width=format!("{pct}%")></div>
                            </div>
                            <div class="progress-label">
                                {format!("Deleting alerts: {} of {}", b.done, b.total)}
                            </div>
                        </div>
                    </div>
                }
                .into_any(),
            );
        }
        if !b.finished {
            return None;
        }
        if let Some(e) = b.error {
            return Some(
                view! { <div class="callout callout-error" role="alert">{e}</div> }.into_any(),
            );
        }
        let class = if b.failures.is_empty() {
            "callout callout-success alerts-bulk-result"
        } else {
            "callout callout-warning alerts-bulk-result"
        };
        Some(
            view! {
                <div class=class role="status">
                    <div class="callout-title">
                        {format!(
                            "{} of {} deleted.",
                            crate::format::thousands(b.deleted),
                            crate::format::count(b.total, "alert", "alerts"),
                        )}
                        {(!b.failures.is_empty())
                            .then(|| format!(" {} could not be deleted:", b.failures.len()))}
                    </div>
                    <ul class="alerts-failures">
                        {b
                            .failures
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <li>
                                        <span class="alerts-failure-reason">{f.reason}</span>
                                        " — "
                                        <span class="muted">{f.text}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    <button class="btn btn-link btn-sm" on:click=move |_| bulk.set(Bulk::default())>
                        "Dismiss"
                    </button>
                </div>
            }
            .into_any(),
        )
    }
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    mailboxid: Option<String>,
    #[serde(default)]
    emailserverprofileid: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The names of the alerts' mailboxes and profiles (what cannot be read is left out).
async fn names_of(alerts: &[Alert]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut mailboxes: Vec<&str> = Vec::new();
    let mut profiles: Vec<&str> = Vec::new();
    for a in alerts {
        if let Some(id) = a.regarding.as_deref() {
            let list = match a.regardingobjecttypecode.as_deref() {
                Some("emailserverprofile") => &mut profiles,
                _ => &mut mailboxes,
            };
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }
    for (set, key, ids) in [
        ("mailboxes", "mailboxid", &mailboxes),
        ("emailserverprofiles", "emailserverprofileid", &profiles),
    ] {
        for chunk in ids.chunks(25) {
            let f: Vec<String> = chunk.iter().map(|id| format!("{key} eq {id}")).collect();
            let path = format!(
                "/api/data/v9.2/{set}?$select={key},name&$filter={}",
                f.join(" or ")
            );
            if let Ok(p) = api::get_json::<Collection<Named>>(&path).await {
                for n in p.value {
                    if let (Some(id), Some(name)) = (n.mailboxid.or(n.emailserverprofileid), n.name)
                    {
                        out.insert(id, name);
                    }
                }
            }
        }
    }
    out
}

/// Every alert matching `filter` (all pages).
async fn all_alerts(filter: Option<&str>) -> Result<Vec<Alert>, ApiError> {
    api::fetch_all(query("tracelogid,text,canbedeleted", filter, "")).await
}

/// Deletes `alerts` as `$batch`es of at most 1,000 DELETEs (each batch is one request
/// against the 6,000-requests-per-5-minutes limit; one DELETE each would spend it on a
/// large wall); the ones marked not deletable are reported without asking the server.
fn run_delete_all(alerts: Vec<Alert>, bulk: RwSignal<Bulk>, reload: RwSignal<u32>) {
    let (deletable, kept): (Vec<Alert>, Vec<Alert>) =
        alerts.into_iter().partition(Alert::deletable);
    let total = deletable.len() + kept.len();
    bulk.set(Bulk {
        running: true,
        total,
        done: kept.len(),
        failures: kept
            .into_iter()
            .map(|a| Failure {
                text: a.text.unwrap_or_default(),
                reason: "Not deletable (canbedeleted is false)".to_string(),
            })
            .collect(),
        ..Default::default()
    });
    spawn_local(async move {
        for chunk in deletable.chunks(batch::MAX_OPS) {
            let ops: Vec<batch::Op> = chunk
                .iter()
                .map(|a| batch::Op::delete(format!("{}({})", model::TRACELOGS, a.tracelogid)))
                .collect();
            let results = match api::send_batch(&ops).await {
                Ok(results) => results,
                Err(Some(e)) => vec![Err(e); chunk.len()],
                // No `$batch` here: one DELETE each.
                Err(None) => {
                    let mut results = Vec::with_capacity(chunk.len());
                    for op in &ops {
                        results.push(api::delete(&op.url).await);
                    }
                    results
                }
            };
            bulk.update(|b| {
                for (a, result) in chunk.iter().zip(results) {
                    b.done += 1;
                    match result {
                        Ok(()) => b.deleted += 1,
                        // Already gone: someone else deleted it.
                        Err(e) if e.status == 404 => b.deleted += 1,
                        Err(e) => b.failures.push(Failure {
                            text: a.text.clone().unwrap_or_default(),
                            reason: e.message,
                        }),
                    }
                }
            });
        }
        bulk.update(|b| {
            b.running = false;
            b.finished = true;
        });
        reload.update(|n| *n += 1);
    });
}
