//! The grid itself: the shared [`DataGrid`] over the page of mailboxes (select page,
//! sortable headers, the columns chosen), its pager, and how one mailbox reads.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use leptos::prelude::*;
use leptos_router::components::A;
use serde::Deserialize;

use super::query::{self, COLUMNS, PAGE_SIZE};
use super::toolbar::{tab_id, GRID_PANEL};
use super::Nav;
use crate::api::{ApiError, Collection, Total};
use crate::components::grid::DataGrid;
use crate::components::pager::{page_count, page_status};
use crate::components::Pager;

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

/// The mailboxes of the page, the view's tab panel: the shared grid (select page,
/// sortable headers, the columns chosen) and the pager. `loaded` is the URL of the page
/// last loaded: the grid is busy while it is not the current one.
#[component]
pub fn Grid(
    nav: Nav,
    page: LocalResource<Result<Collection<Row>, ApiError>>,
    total: Signal<Option<Total>>,
    loaded: RwSignal<String>,
    selected: RwSignal<IndexMap<String, String>>,
    hidden: RwSignal<BTreeSet<&'static str>>,
) -> impl IntoView {
    let state = nav.state;
    let status = Signal::derive(move || {
        let p = state.get().page;
        match total.get() {
            Some(n) => page_status(p, Some(page_count(n.n, PAGE_SIZE)), n.more),
            None => page_status(p, None, false),
        }
    });
    let next_link = move || page.get().and_then(|r| r.ok()).and_then(|c| c.next);
    view! {
        <div id=GRID_PANEL role="tabpanel" aria-labelledby=move || tab_id(state.get().view)>
            <DataGrid
                columns=COLUMNS
                hidden=hidden
                rows=Callback::new(move |()| page.get().map(|r| r.map(|c| c.value).map_err(|e| e.message)))
                key=|r: &Row| (r.mailboxid.clone(), r.name.clone().unwrap_or_default())
                cells=cells
                sort=Callback::new(move |()| state.with(|s| (s.sort, s.desc)))
                on_sort=Callback::new(move |col: &'static str| {
                    nav.restart(|s| {
                        s.desc = s.sort == col && !s.desc;
                        s.sort = col;
                    })
                })
                empty="No mailbox matches."
                testid="mailbox-grid"
                class="mb-grid"
                selection=selected
                select_label="Select page"
                busy=Signal::derive(move || loaded.get() != state.get().url())
            >
                <Pager
                    label="Pages of mailboxes"
                    class="mb-pager"
                    status_testid="page-number"
                    status=status
                    has_prev=Signal::derive(move || state.get().page > 1)
                    has_next=Signal::derive(move || next_link().is_some())
                    on_prev=Callback::new(move |()| nav.prev())
                    on_next=Callback::new(move |()| {
                        if let Some(link) = page.get_untracked().and_then(|r| r.ok()).and_then(|c| c.next) {
                            nav.next(&link);
                        }
                    })
                />
            </DataGrid>
        </div>
    }
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

/// One mailbox's cells, in the columns' order.
fn cells(r: Row) -> AnyView {
    let name = r.name.clone().unwrap_or_default();
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
        <td data-col="name">
            <div class="mb-name">
                <A href=format!("/mailboxes/{}", r.mailboxid)>{name}</A>
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
    }
    .into_any()
}
