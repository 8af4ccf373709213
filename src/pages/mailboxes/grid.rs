//! The grid itself: the header (select page, one sortable button per column) and one
//! row per mailbox of the page.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use leptos::prelude::*;
use leptos_router::components::A;
use serde::Deserialize;

use super::query::{self, GridState, COLUMNS};
use super::toolbar::{tab_id, GRID_PANEL};
use crate::api::{ApiError, Collection};
use crate::components::columns::hiding_classes;
use crate::components::{SelectAll, Selected};

/// One mailbox as the grid reads it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Row {
    pub mailboxid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub emailaddress: Option<String>,
    #[serde(default, rename = "_emailserverprofile_value")]
    pub profile: Option<String>,
    #[serde(default)]
    pub emailrouteraccessapproval: Option<i64>,
    #[serde(default)]
    pub incomingemailstatus: Option<i64>,
    #[serde(default)]
    pub outgoingemailstatus: Option<i64>,
    #[serde(default)]
    pub actstatus: Option<i64>,
    #[serde(default)]
    pub enabledforincomingemail: Option<bool>,
    #[serde(default)]
    pub enabledforoutgoingemail: Option<bool>,
    #[serde(default)]
    pub enabledforact: Option<bool>,
    #[serde(default)]
    pub lastsyncerror: Option<String>,
    #[serde(default)]
    pub postponemailboxprocessinguntil: Option<String>,
    #[serde(default)]
    pub testemailconfigurationscheduled: Option<bool>,
    /// The organization's own labels (formatted values): a customized organization
    /// shows its labels, and a profile's name comes with its mailbox.
    #[serde(
        default,
        rename = "_emailserverprofile_value@OData.Community.Display.V1.FormattedValue"
    )]
    pub profile_name: Option<String>,
    #[serde(
        default,
        rename = "emailrouteraccessapproval@OData.Community.Display.V1.FormattedValue"
    )]
    pub approval_label: Option<String>,
    #[serde(
        default,
        rename = "incomingemailstatus@OData.Community.Display.V1.FormattedValue"
    )]
    pub incoming_label: Option<String>,
    #[serde(
        default,
        rename = "outgoingemailstatus@OData.Community.Display.V1.FormattedValue"
    )]
    pub outgoing_label: Option<String>,
    #[serde(
        default,
        rename = "actstatus@OData.Community.Display.V1.FormattedValue"
    )]
    pub act_label: Option<String>,
}

/// The mailboxes of the page, the view's tab panel. `loaded` is the URL of the page
/// last loaded: the grid is busy while it is not the current one.
#[component]
pub fn Grid(
    state: Memo<GridState>,
    page: LocalResource<Result<Collection<Row>, ApiError>>,
    loaded: RwSignal<String>,
    selected: RwSignal<IndexMap<String, String>>,
    hidden: RwSignal<BTreeSet<&'static str>>,
    /// A column header's click: sort by it (again: the other way).
    sort_by: Callback<&'static str>,
) -> impl IntoView {
    view! {
        <div
            class="table-wrap card mb-grid"
            id=GRID_PANEL
            role="tabpanel"
            aria-labelledby=move || tab_id(state.get().view)
        >
            <table
                class=move || format!("table table-compact {}", hidden.with(hiding_classes))
                data-testid="mailbox-grid"
                aria-busy=move || (loaded.get() != state.get().url()).to_string()
            >
                <thead>
                    <tr>
                        <th class="mb-check">
                            <SelectPage page=page selected=selected />
                        </th>
                        <HeaderCells state=state sort_by=sort_by />
                    </tr>
                </thead>
                <tbody>
                    {move || match page.get() {
                        None => view! { <tr><td colspan="11" class="muted"><span class="spinner"></span>" Loading\u{2026}"</td></tr> }.into_any(),
                        Some(Err(e)) => view! { <tr><td colspan="11"><div class="callout callout-error">{e.message}</div></td></tr> }.into_any(),
                        Some(Ok(c)) if c.value.is_empty() => view! { <tr><td colspan="11" class="muted">"No mailbox matches."</td></tr> }.into_any(),
                        Some(Ok(c)) => {
                            c.value.into_iter().map(|r| row_view(r, selected)).collect_view().into_any()
                        }
                    }}
                </tbody>
            </table>
        </div>
    }
}

/// "Select page": checked when all of the page is selected, `indeterminate` when some.
#[component]
fn SelectPage(
    page: LocalResource<Result<Collection<Row>, ApiError>>,
    selected: RwSignal<IndexMap<String, String>>,
) -> impl IntoView {
    let page_ids = move || {
        page.get()
            .and_then(|r| r.ok())
            .map(|c| c.value)
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.mailboxid, r.name.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let state = Signal::derive(move || {
        let ids = page_ids();
        let chosen = selected.with(|s| ids.iter().filter(|(id, _)| s.contains_key(id)).count());
        Selected::of(chosen, ids.len())
    });
    let toggle = Callback::new(move |all: bool| {
        let ids = page_ids();
        selected.update(|s| {
            for (id, name) in ids {
                if all {
                    s.insert(id, name);
                } else {
                    s.shift_remove(&id);
                }
            }
        });
    });
    view! {
        <SelectAll
            label="Select page"
            state=state
            on_change=toggle
            disabled=Signal::derive(move || page_ids().is_empty())
        />
    }
}

/// One button per column: sorts by it; `aria-sort` says how the grid is sorted.
#[component]
fn HeaderCells(state: Memo<GridState>, sort_by: Callback<&'static str>) -> impl IntoView {
    COLUMNS
        .iter()
        .map(|c| {
            let col = c.sort;
            let sorted = move || {
                let s = state.get();
                (s.sort == col).then_some(s.desc)
            };
            let class = move || match sorted() {
                Some(false) => "sortable sort-asc",
                Some(true) => "sortable sort-desc",
                None => "sortable",
            };
            let aria = move || match sorted() {
                Some(false) => "ascending",
                Some(true) => "descending",
                None => "none",
            };
            view! {
                <th class=class aria-sort=aria data-col=c.key>
                    <button class="btn-link mb-sort" on:click=move |_| sort_by.run(col)>{c.label}</button>
                </th>
            }
        })
        .collect_view()
}

fn flag(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "\u{2013}",
    }
}

/// A status's badge: its colour from the value, its text from the organization's label.
fn status_badge(v: Option<i64>, label: Option<String>) -> impl IntoView {
    let class = match v {
        Some(1) => "badge badge-success",
        Some(2) => "badge badge-error",
        _ => "badge badge-neutral",
    };
    let label = label.unwrap_or_else(|| query::status_label(v).to_string());
    view! { <span class=class>{label}</span> }
}

fn row_view(r: Row, selected: RwSignal<IndexMap<String, String>>) -> impl IntoView {
    let id = r.mailboxid.clone();
    let id2 = id.clone();
    let name = r.name.clone().unwrap_or_default();
    let label_name = name.clone();
    let checked = move || selected.with(|s| s.contains_key(&id));
    let checked2 = checked.clone();
    let toggle = move |_| {
        let id = id2.clone();
        let name = name.clone();
        selected.update(|s| {
            if s.shift_remove(&id).is_none() {
                s.insert(id, name);
            }
        });
    };
    // A lookup's name is its formatted value; without it, the id is what is known.
    let profile = r
        .profile_name
        .clone()
        .or_else(|| r.profile.clone())
        .unwrap_or_default();
    let approval = r
        .approval_label
        .clone()
        .unwrap_or_else(|| query::approval_label(r.emailrouteraccessapproval).to_string());
    let approval_class = match r.emailrouteraccessapproval {
        Some(1) => "badge badge-success",
        Some(3) => "badge badge-error",
        Some(2) => "badge badge-warning",
        _ => "badge badge-neutral",
    };
    let enabled = format!(
        "{} / {} / {}",
        flag(r.enabledforincomingemail),
        flag(r.enabledforoutgoingemail),
        flag(r.enabledforact)
    );
    let next = r
        .postponemailboxprocessinguntil
        .as_deref()
        .and_then(crate::time::parse);
    let error = r.lastsyncerror.clone().unwrap_or_default();
    let pending_test = r.testemailconfigurationscheduled == Some(true);
    view! {
        <tr class:is-selected=checked data-id=r.mailboxid.clone()>
            <td class="mb-check">
                <input type="checkbox" aria-label=format!("Select {label_name}") prop:checked=checked2 on:change=toggle />
            </td>
            <td data-col="name">
                <div class="mb-name">
                    <A href=format!("/mailboxes/{}", r.mailboxid)>{label_name.clone()}</A>
                    {pending_test.then(|| view! { <span class="badge badge-info">"Test pending"</span> })}
                </div>
            </td>
            <td class="nowrap" data-col="email" title=r.emailaddress.clone()>{r.emailaddress.clone().unwrap_or_default()}</td>
            <td data-col="profile">{profile}</td>
            <td class="nowrap" data-col="approval"><span class=approval_class>{approval}</span></td>
            <td data-col="incoming">{status_badge(r.incomingemailstatus, r.incoming_label.clone())}</td>
            <td data-col="outgoing">{status_badge(r.outgoingemailstatus, r.outgoing_label.clone())}</td>
            <td data-col="act">{status_badge(r.actstatus, r.act_label.clone())}</td>
            <td class="nowrap small" data-col="enabled">{enabled}</td>
            <td class="nowrap small" data-col="error" title=error.clone()>{error.clone()}</td>
            <td class="small" data-col="next">{next.map(|at| view! { <crate::time::When at=Some(at) /> })}</td>
        </tr>
    }
}
