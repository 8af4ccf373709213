//! The actions toolbar over the selection: the bulk actions the user's privileges allow
//! (with their dialogs), Download Mailbox Details, Export CSV, the columns, and the
//! selection (how many, "Select all N that match", Clear).

use std::collections::BTreeSet;

use indexmap::IndexMap;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::bulk::{self, BulkAction};
use super::grid::Row;
use super::query::{GridState, COLUMNS};
use super::tools::{DownloadDetails, ExportCsv, TestEnableDialog};
use crate::api::{fetch_all, Total};
use crate::components::columns::ColumnChooser;
use crate::components::Confirm;
use crate::session::{use_session, Auth};

#[component]
pub fn Actions(
    state: Memo<GridState>,
    selected: RwSignal<IndexMap<String, String>>,
    total: Signal<Option<Total>>,
    /// A bulk run is under way: the actions wait for it.
    running: Signal<bool>,
    notice: RwSignal<Option<String>>,
    hidden: RwSignal<BTreeSet<&'static str>>,
    /// Runs an action over the selection.
    run: Callback<BulkAction>,
) -> impl IntoView {
    let session = use_session();
    // Only what the user's privileges allow is offered (the organization refuses the
    // rest anyway, but a refusal is no way to find out).
    let may_approve = move || matches!(session.auth(), Auth::SignedIn(u) if u.can("prvApproveRejectEmailAddress"));
    let test_dialog = RwSignal::new(false);
    let defaults_dialog = RwSignal::new(false);
    let none_selected = move || selected.with(IndexMap::is_empty);
    let off = move || none_selected() || running.get();
    let count = Signal::derive(move || selected.with(IndexMap::len));

    view! {
        <div class="toolbar mb-actions">
            <Show when=may_approve>
                <button class="btn btn-primary btn-sm" disabled=off on:click=move |_| run.run(BulkAction::approve())>
                    "Approve Email"
                </button>
                <button class="btn btn-secondary btn-sm" disabled=off on:click=move |_| run.run(BulkAction::reject())>
                    "Reject Email"
                </button>
            </Show>
            <button class="btn btn-secondary btn-sm" disabled=off on:click=move |_| test_dialog.set(true)>
                "Test & Enable"
            </button>
            <button class="btn btn-secondary btn-sm" disabled=off on:click=move |_| defaults_dialog.set(true)>
                "Apply Default Email Settings"
            </button>
            <DownloadDetails selected=selected notice=notice />
            <ExportCsv state=state notice=notice />
            <ColumnChooser columns=COLUMNS hidden=hidden />
            <span class="spacer"></span>
            <span class="muted small" data-testid="selected-count">
                {move || format!("{} selected", crate::format::thousands(count.get()))}
            </span>
            <SelectAllMatching state=state selected=selected total=total notice=notice />
            <Show when=move || !none_selected()>
                <button class="btn btn-ghost btn-sm" on:click=move |_| selected.set(IndexMap::new())>"Clear selection"</button>
            </Show>
        </div>
        <Show when=move || test_dialog.get()>
            <TestEnableDialog
                count=count
                on_close=Callback::new(move |choice: Option<BulkAction>| {
                    test_dialog.set(false);
                    if let Some(action) = choice {
                        run.run(action);
                    }
                })
            />
        </Show>
        <Show when=move || defaults_dialog.get()>
            <Confirm
                title="Apply Default Email Settings"
                text=Signal::derive(move || format!(
                    "The organization's default email server profile and synchronization methods (System Settings) replace those of the {}. They need Test & Enable afterwards.",
                    crate::format::count(count.get(), "selected mailbox", "selected mailboxes")
                ))
                confirm="Apply"
                on_close=Callback::new(move |yes: bool| {
                    defaults_dialog.set(false);
                    if yes {
                        spawn_local(async move {
                            match bulk::default_settings().await {
                                Ok(action) => run.run(action),
                                Err(e) => notice.set(Some(e.message)),
                            }
                        });
                    }
                })
            />
        </Show>
    }
}

/// "Select all N that match": pages through every match of the view (nextLink), so it
/// works past Dataverse's counting limit ("5,000+") too.
#[component]
fn SelectAllMatching(
    state: Memo<GridState>,
    selected: RwSignal<IndexMap<String, String>>,
    total: Signal<Option<Total>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let select_all = move |_| {
        let s = state.get_untracked();
        busy.set(true);
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
            busy.set(false);
        });
    };
    move || {
        let n = total.get().unwrap_or_default();
        let chosen = selected.with(IndexMap::len) as u64;
        (n.n > 0 && (chosen < n.n || n.more)).then(|| {
            view! {
                <button class="btn btn-link btn-sm" disabled=move || busy.get() on:click=select_all>
                    {format!("Select all {n} that match")}
                </button>
            }
        })
    }
}
