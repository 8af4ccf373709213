//! Mailboxes page (`/mailboxes`): the system views over the organization's
//! mailboxes, search, sort by any column, server paging, multi-select (page or every
//! match) and the bulk actions.
//!
//! - [`query`]: URL state ↔ Web API query (pure, unit-tested)
//! - [`bulk`]: Approve / Reject / Test & Enable through `$batch`, results, retry
//! - [`tools`]: Test & Enable dialog, Download Mailbox Details, Export CSV
//! - [`record`]: the mailbox form (`/mailboxes/<id>`)

pub mod bulk;
mod query;
mod record;
pub mod tools;

pub use record::MailboxRecord;

use indexmap::IndexMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use serde::Deserialize;

use crate::api::{self, fetch_all, Collection};
use crate::components::columns::{hidden_columns, hiding_classes, ColumnChooser};
use crate::session::RequireSignIn;
use bulk::{BulkAction, Run, RunView};
use query::{GridState, View, COLUMNS, PAGE_SIZE, SELECT};
use tools::{ConfirmDialog, DownloadDetails, ExportCsv, TestEnableDialog};

/// The grid, the panel every view tab controls.
const GRID_PANEL: &str = "mb-grid-panel";

/// The id of a view's tab.
fn tab_id(v: View) -> String {
    format!("mb-view-{}", v.key())
}

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

#[component]
pub fn Mailboxes() -> impl IntoView {
    view! {
        <RequireSignIn>
            <MailboxGrid />
        </RequireSignIn>
    }
}

#[component]
fn MailboxGrid() -> impl IntoView {
    let session = crate::session::use_session();
    let may = move |privilege: &str| matches!(session.auth(), crate::session::Auth::SignedIn(u) if u.can(privilege));
    let query = use_query_map();
    let state = Memo::new(move |_| query.with(|q| GridState::from_params(|k| q.get(k))));
    let navigate = use_navigate();
    let go = Callback::new(move |s: GridState| {
        navigate(&s.url(), NavigateOptions::default());
    });
    // Skiptokens of the pages before this one, for "Previous".
    let back_tokens = StoredValue::new(Vec::<Option<String>>::new());
    let refresh = RwSignal::new(0u32);
    // The URL of the page last loaded: the grid is busy while it is not this one.
    let loaded = RwSignal::new(String::new());

    let page = LocalResource::new(move || {
        let s = state.get();
        refresh.track();
        async move {
            let path = s.api_path(SELECT, true);
            let prefer = format!("odata.maxpagesize={PAGE_SIZE},{}", api::ANNOTATED);
            let result =
                api::get_json_with::<Collection<Row>>(&path, &[("Prefer", prefer.as_str())]).await;
            loaded.set(s.url());
            result
        }
    });

    // Selection: id → name in the order chosen (bulk results keep it), kept across pages.
    let selected = RwSignal::new(IndexMap::<String, String>::new());
    let selecting_all = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let run = RwSignal::new(None::<Run>);
    let cancel = RwSignal::new(false);
    let dialog = RwSignal::new(false);
    let defaults_dialog = RwSignal::new(false);

    // A new view, search or filter forgets the selection.
    Effect::new(move |prev: Option<(View, String, Option<String>)>| {
        let s = state.get();
        let key = (s.view, s.search.clone(), s.extra.clone().map(|e| e.0));
        if prev.as_ref().is_some_and(|p| *p != key) {
            selected.set(IndexMap::new());
        }
        key
    });

    let rows = move || {
        page.get()
            .and_then(|r| r.ok())
            .map(|c| c.value)
            .unwrap_or_default()
    };
    let total = move || page.get().and_then(|r| r.ok()).and_then(|c| c.total());

    let start = Callback::new(
        move |(action, targets): (BulkAction, Vec<(String, String)>)| {
            if targets.is_empty() {
                return;
            }
            spawn_local(async move {
                bulk::run_all(action, targets, run, cancel).await;
                // What was done leaves the selection; the failures stay selected.
                let done: Vec<String> = run.with_untracked(|r| {
                    r.iter()
                        .flat_map(|r| &r.outcomes)
                        .filter(|o| o.done())
                        .map(|o| o.id.clone())
                        .collect()
                });
                let done: std::collections::HashSet<String> = done.into_iter().collect();
                selected.update(|s| s.retain(|id, _| !done.contains(id)));
                refresh.update(|n| *n += 1);
            });
        },
    );
    let run_on_selection = move |action: BulkAction| {
        let targets: Vec<(String, String)> =
            selected.with_untracked(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        start.run((action, targets));
    };
    let running = move || run.with(|r| r.as_ref().is_some_and(|r| !r.finished));
    let none_selected = move || selected.with(IndexMap::is_empty);

    let select_all_matching = move |_| {
        let s = state.get_untracked();
        selecting_all.set(true);
        spawn_local(async move {
            let path = s.first_page().api_path("mailboxid,name", false);
            match fetch_all::<Row>(path).await {
                Ok(all) => selected.set(
                    all.into_iter()
                        .map(|r| (r.mailboxid, r.name.unwrap_or_default()))
                        .collect(),
                ),
                Err(e) => notice.set(Some(e.message)),
            }
            selecting_all.set(false);
        });
    };

    let set_view = move |v: View| {
        let mut s = state.get_untracked().first_page();
        s.view = v;
        back_tokens.set_value(Vec::new());
        go.run(s);
    };
    // Arrow keys, Home and End select the next, previous, first or last view and move
    // focus to its tab (the tabs stay in place: only their attributes change).
    let on_tab_key = move |ev: leptos::ev::KeyboardEvent| {
        let current = state.get_untracked().view;
        let at = View::ALL.iter().position(|v| *v == current).unwrap_or(0);
        let n = View::ALL.len();
        let last = n - 1;
        if ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let next = match ev.key().as_str() {
            "ArrowRight" | "ArrowDown" => (at + 1) % n,
            "ArrowLeft" | "ArrowUp" => (at + last) % n,
            "Home" => 0,
            "End" => last,
            _ => return,
        };
        ev.prevent_default();
        let v = View::ALL[next];
        if v != current {
            set_view(v);
        }
        if let Some(tab) = crate::components::focus::document()
            .and_then(|d| d.get_element_by_id(&tab_id(v)))
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = tab.focus();
        }
    };
    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = event_target::<web_sys::HtmlFormElement>(&ev);
        let q = form
            .elements()
            .named_item("q")
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(e).ok())
            .map(|i| i.value())
            .unwrap_or_default();
        let mut s = state.get_untracked().first_page();
        s.search = q.trim().to_string();
        back_tokens.set_value(Vec::new());
        go.run(s);
    };
    let sort_by = move |col: &'static str| {
        let mut s = state.get_untracked().first_page();
        s.desc = s.sort == col && !s.desc;
        s.sort = col;
        back_tokens.set_value(Vec::new());
        go.run(s);
    };
    let next_page = move |_| {
        let s = state.get_untracked();
        let Some(link) = page
            .get_untracked()
            .and_then(|r| r.ok())
            .and_then(|c| c.next)
        else {
            return;
        };
        back_tokens.update_value(|t| t.push(s.after.clone()));
        let mut n = s;
        n.after = query::skiptoken(&link);
        n.page += 1;
        go.run(n);
    };
    let prev_page = move |_| {
        let mut s = state.get_untracked();
        let prev = back_tokens
            .try_update_value(|t| t.pop())
            .flatten()
            .flatten();
        s.page = s.page.saturating_sub(1).max(1);
        if s.page == 1 {
            s.after = None;
        } else if prev.is_some() {
            s.after = prev;
        } else {
            s = s.first_page();
        }
        go.run(s);
    };

    let hidden_cols = hidden_columns("mailsync.mailboxes.hidden-columns", COLUMNS);
    let header_cells = COLUMNS
        .iter()
        .map(|c| {
            let col = c.sort;
            let class = move || {
                let s = state.get();
                match (s.sort == col, s.desc) {
                    (true, false) => "sortable sort-asc",
                    (true, true) => "sortable sort-desc",
                    _ => "sortable",
                }
            };
            let aria = move || {
                let s = state.get();
                match (s.sort == col, s.desc) {
                    (true, false) => "ascending",
                    (true, true) => "descending",
                    _ => "none",
                }
            };
            view! {
                <th class=class aria-sort=aria data-col=c.key>
                    <button class="btn-link mb-sort" on:click=move |_| sort_by(col)>{c.label}</button>
                </th>
            }
        })
        .collect_view();

    let page_ids = move || {
        rows()
            .into_iter()
            .map(|r| (r.mailboxid, r.name.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let page_all_selected = move || {
        let ids = page_ids();
        !ids.is_empty() && selected.with(|s| ids.iter().all(|(id, _)| s.contains_key(id)))
    };
    let toggle_page = move |_| {
        let ids = page_ids();
        let all = page_all_selected();
        selected.update(|s| {
            for (id, name) in ids {
                if all {
                    s.shift_remove(&id);
                } else {
                    s.insert(id, name);
                }
            }
        });
    };

    view! {
        <section class="page mailboxes" aria-labelledby="mb-title">
            <div class="page-header">
                <div>
                    <h1 id="mb-title">"Mailboxes"</h1>
                    <p class="muted">
                        {move || state.get().view.label()}
                        {move || total().map(|n| format!(" \u{b7} {}", n.of("mailbox", "mailboxes")))}
                    </p>
                </div>
            </div>
            // The views are a tablist of their own (arrow keys move between them, the
            // selected one is the only Tab stop); the search is beside it, not in it.
            <div class="toolbar mb-views">
                <div class="mb-tabs" role="tablist" aria-label="Views" on:keydown=on_tab_key>
                    {View::ALL
                        .into_iter()
                        .map(|v| {
                            let selected = move || state.get().view == v;
                            view! {
                                <button
                                    role="tab"
                                    id=tab_id(v)
                                    aria-controls=GRID_PANEL
                                    class=move || {
                                        if selected() { "btn btn-sm btn-primary" } else { "btn btn-sm btn-secondary" }
                                    }
                                    aria-selected=move || selected().to_string()
                                    tabindex=move || if selected() { "0" } else { "-1" }
                                    on:click=move |_| set_view(v)
                                >
                                    {v.label()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <span class="spacer"></span>
                <form class="row mb-search" role="search" on:submit=on_search>
                    <input
                        class="input"
                        type="search"
                        name="q"
                        aria-label="Search mailboxes"
                        placeholder="Name or email contains\u{2026}"
                        prop:value=move || state.get().search
                    />
                    <button class="btn btn-secondary btn-sm" type="submit">"Search"</button>
                </form>
            </div>
            {move || state.get().extra.map(|(_, label)| view! {
                <div class="callout callout-info mb-extra" data-testid="grid-filter">
                    "Showing only: " <strong>{label}</strong> " "
                    <button
                        class="btn btn-link btn-sm"
                        on:click=move |_| {
                            let mut s = state.get_untracked().first_page();
                            s.extra = None;
                            back_tokens.set_value(Vec::new());
                            go.run(s);
                        }
                    >
                        "Show all"
                    </button>
                </div>
            })}
            <div class="toolbar mb-actions">
                // Only what the user's privileges allow is offered (the organization
                // refuses the rest anyway, but a refusal is no way to find out).
                <Show when=move || may("prvApproveRejectEmailAddress")>
                    <button class="btn btn-primary btn-sm" disabled=move || none_selected() || running() on:click=move |_| run_on_selection(BulkAction::approve())>
                        "Approve Email"
                    </button>
                    <button class="btn btn-secondary btn-sm" disabled=move || none_selected() || running() on:click=move |_| run_on_selection(BulkAction::reject())>
                        "Reject Email"
                    </button>
                </Show>
                <button class="btn btn-secondary btn-sm" disabled=move || none_selected() || running() on:click=move |_| dialog.set(true)>
                    "Test & Enable"
                </button>
                <button class="btn btn-secondary btn-sm" disabled=move || none_selected() || running() on:click=move |_| defaults_dialog.set(true)>
                    "Apply Default Email Settings"
                </button>
                <DownloadDetails selected=selected notice=notice />
                <ExportCsv state=state notice=notice />
                <ColumnChooser columns=COLUMNS hidden=hidden_cols />
                <span class="spacer"></span>
                <span class="muted small" data-testid="selected-count">
                    {move || format!("{} selected", crate::format::thousands(selected.with(IndexMap::len)))}
                </span>
                {move || {
                    let n = total().unwrap_or_default();
                    let chosen = selected.with(IndexMap::len) as u64;
                    // Past Dataverse's counting limit the number is "5,000+": selecting
                    // pages through every match (nextLink), however many there are.
                    (n.n > 0 && (chosen < n.n || n.more)).then(|| view! {
                        <button class="btn btn-link btn-sm" disabled=move || selecting_all.get() on:click=select_all_matching>
                            {format!("Select all {n} that match")}
                        </button>
                    })
                }}
                <Show when=move || !none_selected()>
                    <button class="btn btn-ghost btn-sm" on:click=move |_| selected.set(IndexMap::new())>"Clear selection"</button>
                </Show>
            </div>
            {move || notice.get().map(|n| view! {
                <div class="callout callout-error" role="alert">
                    {n}
                    " "
                    <button class="btn btn-link btn-sm" on:click=move |_| notice.set(None)>"Dismiss"</button>
                </div>
            })}
            <RunView run=run retry=start cancel=cancel />
            <Show when=move || dialog.get()>
                <TestEnableDialog
                    count=Signal::derive(move || selected.with(IndexMap::len))
                    on_close=Callback::new(move |choice: Option<BulkAction>| {
                        dialog.set(false);
                        if let Some(action) = choice {
                            run_on_selection(action);
                        }
                    })
                />
            </Show>
            <Show when=move || defaults_dialog.get()>
                <ConfirmDialog
                    title="Apply Default Email Settings"
                    text=Signal::derive(move || format!(
                        "The organization's default email server profile and synchronization methods (System Settings) replace those of the {}. They need Test & Enable afterwards.",
                        crate::format::count(selected.with(IndexMap::len), "selected mailbox", "selected mailboxes")
                    ))
                    confirm="Apply"
                    on_close=Callback::new(move |yes: bool| {
                        defaults_dialog.set(false);
                        if yes {
                            spawn_local(async move {
                                match bulk::default_settings().await {
                                    Ok(action) => run_on_selection(action),
                                    Err(e) => notice.set(Some(e.message)),
                                }
                            });
                        }
                    })
                />
            </Show>
            <div
                class="table-wrap card mb-grid"
                id=GRID_PANEL
                role="tabpanel"
                aria-labelledby=move || tab_id(state.get().view)
            >
                <table
                    class=move || format!("table table-compact {}", hidden_cols.with(hiding_classes))
                    data-testid="mailbox-grid"
                    aria-busy=move || (loaded.get() != state.get().url()).to_string()
                >
                    <thead>
                        <tr>
                            <th class="mb-check">
                                <input
                                    type="checkbox"
                                    aria-label="Select page"
                                    prop:checked=page_all_selected
                                    on:change=toggle_page
                                />
                            </th>
                            {header_cells}
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
            <div class="row mb-pager" aria-label="Pages">
                <button class="btn btn-secondary btn-sm" disabled=move || state.get().page <= 1 on:click=prev_page>"Previous"</button>
                <span class="small" data-testid="page-number">
                    {move || {
                        let p = state.get().page;
                        match total() {
                            Some(n) if !n.more => format!("Page {p} of {}", (n.n as usize).div_ceil(PAGE_SIZE).max(1)),
                            Some(n) => format!("Page {p} of {}+", (n.n as usize).div_ceil(PAGE_SIZE)),
                            None => format!("Page {p}"),
                        }
                    }}
                </span>
                <button
                    class="btn btn-secondary btn-sm"
                    disabled=move || page.get().and_then(|r| r.ok()).and_then(|c| c.next).is_none()
                    on:click=next_page
                >
                    "Next"
                </button>
            </div>
        </section>
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
