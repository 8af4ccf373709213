//! What narrows the wall besides its level: the error groups (a group filters the
//! list), the group chosen, and a time window from a link.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use super::fetch::{Groups, Window};
use super::model::{level_badge, window_label, ErrorKey};
use crate::api::ApiError;

/// "Grouped by error": one row per error, largest first; a click filters the list by
/// it (again: shows all).
#[component]
pub fn ErrorGroups(
    groups: LocalResource<Option<Result<Groups, ApiError>>>,
    error_key: RwSignal<Option<ErrorKey>>,
) -> impl IntoView {
    move || {
        groups.get().flatten().map(|g| match g {
            Err(e) => view! { <div class="callout callout-error">{e.message}</div> }.into_any(),
            Ok((groups, read, total)) => view! {
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
                                                error_key.update(|cur| {
                                                    *cur = if cur.as_ref() == Some(&k) { None } else { Some(k) };
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
            .into_any(),
        })
    }
}

/// The error group the list is filtered by, and the way back to all errors.
#[component]
pub fn GroupFilter(error_key: RwSignal<Option<ErrorKey>>) -> impl IntoView {
    move || {
        error_key.get().map(|k| {
            view! {
                <div class="callout callout-info alerts-group-filter">
                    "Showing only " <strong>{k.label()}</strong> ". "
                    <button class="btn btn-link btn-sm" on:click=move |_| error_key.set(None)>
                        "Show all errors"
                    </button>
                </div>
            }
        })
    }
}

/// The time window a link opened the wall on, and the way back to the whole wall.
#[component]
pub fn WindowFilter(window: Memo<Window>) -> impl IntoView {
    let navigate = StoredValue::new_local(use_navigate());
    move || {
        window.get().map(|(from, to)| {
            view! {
                <div class="callout callout-info alerts-window" data-testid="alerts-window">
                    "Showing alerts last logged " <strong>{window_label(&from, &to)}</strong> ". "
                    <button
                        class="btn btn-link btn-sm"
                        on:click=move |_| navigate.with_value(|n| n("/alerts", NavigateOptions::default()))
                    >
                        "Show all"
                    </button>
                </div>
            }
        })
    }
}
