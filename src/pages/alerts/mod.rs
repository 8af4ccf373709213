//! `/alerts`: the signed-in user's alerts wall (the server limits a plain user to the
//! alerts of their mailboxes and profiles). Filters Errors / Warnings / Information
//! with counts, group by error, server paging (50 a page, `@odata.nextLink`), delete
//! one, delete all (confirmation, `$batch`es of at most 1,000 DELETEs, per-alert
//! failures reported). What core's knowledge base recognizes in an alert's text is
//! shown as its cause and resolution (`mailsync_core::classify::classify`).
//!
//! - [`fetch`]: what the wall reads (counts, a page with its records' names, groups)
//! - [`toolbar`]: level tabs and "Group by error"; [`filters`]: the error groups, the
//!   group and the time window the list is narrowed to
//! - [`list`]: the page's cards and pager; [`card`]: one alert; [`decide`]: the
//!   answers of an alert that asks for action (the `mailsync_` actions)
//! - [`bulk`]: Delete all (confirmation, run, and its progress and results in the
//!   shared run panel)
//! - [`record`]: the alerts of one mailbox or profile, on its form
//! - [`model`]: the record, filters, windows and grouping (pure, unit-tested)

mod bulk;
mod card;
mod decide;
mod fetch;
mod filters;
mod list;
mod model;
mod record;
mod toolbar;

pub use record::RecordAlerts;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use bulk::{delete_all, Bulk, BulkStatus, DeleteAllConfirm};
use card::{delete_action, DeleteNote};
use filters::{ErrorGroups, GroupFilter, WindowFilter};
use list::AlertList;
use model::{filter, query, within, ErrorKey, Level};
use toolbar::{count_of, Toolbar};

#[component]
pub fn Alerts() -> impl IntoView {
    // What is shown: a level, an error group and a time window (a link may open the
    // wall on a level and a window: the dashboard's hours).
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
    let current_filter = move || {
        within(
            filter(level.get(), error_key.get().as_ref()),
            window.get().as_ref(),
        )
    };
    // Pages already seen (for "Previous"); the last is the one shown. Any change of
    // filter starts again at the first page.
    let pages = RwSignal::new(Vec::<String>::new());
    Effect::new(move |_| pages.set(vec![query(model::SELECT, current_filter().as_deref(), "")]));
    let reload = RwSignal::new(0u32);

    // Fetch.
    let counts = LocalResource::new(move || {
        reload.track();
        fetch::counts(error_key.get(), window.get())
    });
    let page = LocalResource::new(move || {
        reload.track();
        let path = pages.with(|p| p.last().cloned());
        async move { Some(fetch::page(path?).await) }
    });
    let groups = LocalResource::new(move || {
        reload.track();
        let (on, level, window) = (group_by.get(), level.get(), window.get());
        async move { on.then_some(fetch::groups(level, window).await) }
    });
    let counts = Signal::derive(move || counts.get().unwrap_or_default());

    // Delete.
    let message = RwSignal::new(None::<Result<String, String>>);
    let delete_one = delete_action(message, reload);
    let confirming = RwSignal::new(false);
    let bulk = RwSignal::new(Bulk::default());
    let on_confirm = Callback::new(move |yes: bool| {
        confirming.set(false);
        if yes {
            message.set(None);
            delete_all(current_filter(), bulk, reload);
        }
    });

    // View.
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
                        disabled=move || bulk.with(|b| b.running) || count_of(counts, level.get()) == Some(0)
                        on:click=move |_| confirming.set(true)
                    >
                        "Delete all alerts"
                    </button>
                </div>
            </div>
            <Toolbar level=level counts=counts group_by=group_by error_key=error_key />
            <DeleteNote message=message />
            <BulkStatus bulk=bulk reload=reload />
            <ErrorGroups groups=groups error_key=error_key />
            <GroupFilter error_key=error_key />
            <WindowFilter window=window />
            <AlertList page=page pages=pages on_delete=delete_one />
            <Show when=move || confirming.get()>
                <DeleteAllConfirm
                    count=Signal::derive(move || count_of(counts, level.get()))
                    level=level
                    one_error=Signal::derive(move || error_key.with(Option::is_some))
                    on_close=on_confirm
                />
            </Show>
        </section>
    }
}
