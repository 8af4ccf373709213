//! Mailboxes page (`/mailboxes`): the system views over the organization's
//! mailboxes, search, sort by any column, server paging, multi-select (page or every
//! match) and the bulk actions.
//!
//! - [`toolbar`]: the views (tabs), the search, a link's extra filter
//! - [`actions`]: the actions over the selection and their dialogs, the selection
//! - [`grid`]: the shared data grid over the page (select page, sortable headers,
//!   the chosen columns, the pager) and how a mailbox reads in it
//! - [`query`]: URL state ↔ Web API query (pure, unit-tested)
//! - [`bulk`]: Approve / Reject / Test & Enable through `$batch`, the outcomes
//! - [`results`]: a bulk run in the shared run panel (progress, per-mailbox results,
//!   retry)
//! - [`tools`]: Test & Enable dialog, Download Mailbox Details, Export CSV
//! - [`record`]: the mailbox form (`/mailboxes/<id>`)

mod actions;
pub mod bulk;
mod grid;
mod query;
mod record;
pub mod results;
mod signin;
mod toolbar;
pub mod tools;

pub use record::MailboxRecord;

use std::collections::HashSet;

use indexmap::IndexMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::{self, Collection};
use crate::components::columns::hidden_columns;
use crate::components::ErrorNote;
use crate::session::RequireSignIn;
use actions::Actions;
use bulk::{BulkAction, Run};
use grid::{Grid, Row};
use query::{GridState, COLUMNS, PAGE_SIZE, SELECT};
use results::RunView;
use toolbar::{ExtraFilter, Toolbar};

#[component]
pub fn Mailboxes() -> impl IntoView {
    view! {
        <RequireSignIn>
            <MailboxGrid />
        </RequireSignIn>
    }
}

/// Where the grid is (the URL's state) and how it moves: a new view, search, sort or
/// filter starts again at the first page; Next and Previous follow `$skiptoken`s.
#[derive(Clone, Copy)]
pub struct Nav {
    pub state: Memo<GridState>,
    go: Callback<GridState>,
    /// Skiptokens of the pages before this one, for "Previous".
    back_tokens: StoredValue<Vec<Option<String>>>,
}

impl Nav {
    /// The first page, with `change` made.
    pub fn restart(self, change: impl FnOnce(&mut GridState)) {
        let mut s = self.state.get_untracked().first_page();
        change(&mut s);
        self.back_tokens.set_value(Vec::new());
        self.go.run(s);
    }

    /// The page after this one, from this one's nextLink.
    fn next(self, next_link: &str) {
        let mut s = self.state.get_untracked();
        self.back_tokens.update_value(|t| t.push(s.after.clone()));
        s.after = query::skiptoken(next_link);
        s.page += 1;
        self.go.run(s);
    }

    /// The page before this one (the first page when its token is not known: a
    /// bookmarked page 3).
    fn prev(self) {
        let mut s = self.state.get_untracked();
        let prev = self
            .back_tokens
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
        self.go.run(s);
    }
}

#[component]
fn MailboxGrid() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| query.with(|q| GridState::from_params(|k| q.get(k))));
    let navigate = use_navigate();
    let nav = Nav {
        state,
        go: Callback::new(move |s: GridState| navigate(&s.url(), NavigateOptions::default())),
        back_tokens: StoredValue::new(Vec::new()),
    };
    let refresh = RwSignal::new(0u32);
    // The URL of the page last loaded: the grid is busy while it is not this one.
    let loaded = RwSignal::new(String::new());

    // Fetch.
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
    let total = Signal::derive(move || page.get().and_then(|r| r.ok()).and_then(|c| c.total()));

    // Selection: id → name in the order chosen (bulk results keep it), kept across
    // pages; a new view, search or filter forgets it.
    let selected = RwSignal::new(IndexMap::<String, String>::new());
    Effect::new(move |prev: Option<(query::View, String, Option<String>)>| {
        let s = state.get();
        let key = (s.view, s.search.clone(), s.extra.clone().map(|e| e.0));
        if prev.as_ref().is_some_and(|p| *p != key) {
            selected.set(IndexMap::new());
        }
        key
    });

    // Bulk runs: what was done leaves the selection; the failures stay selected.
    let notice = RwSignal::new(None::<String>);
    let run = RwSignal::new(None::<Run>);
    let cancel = RwSignal::new(false);
    let start = Callback::new(
        move |(action, targets): (BulkAction, Vec<(String, String)>)| {
            if targets.is_empty() {
                return;
            }
            spawn_local(async move {
                bulk::run_all(action, targets, run, cancel).await;
                let done: HashSet<String> = run.with_untracked(|r| {
                    r.iter()
                        .flat_map(|r| &r.outcomes)
                        .filter(|o| o.done())
                        .map(|o| o.id.clone())
                        .collect()
                });
                selected.update(|s| s.retain(|id, _| !done.contains(id)));
                refresh.update(|n| *n += 1);
            });
        },
    );
    let run_on_selection = Callback::new(move |action: BulkAction| {
        let targets: Vec<(String, String)> =
            selected.with_untracked(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        start.run((action, targets));
    });
    let running = Signal::derive(move || run.with(|r| r.as_ref().is_some_and(|r| !r.finished)));
    let hidden = hidden_columns("mailsync.mailboxes.hidden-columns", COLUMNS);

    // View.
    view! {
        <section class="page mailboxes" aria-labelledby="mb-title">
            <div class="page-header">
                <div>
                    <h1 id="mb-title">"Mailboxes"</h1>
                    <p class="muted">
                        {move || state.get().view.label()}
                        {move || total.get().map(|n| format!(" \u{b7} {}", n.of("mailbox", "mailboxes")))}
                    </p>
                </div>
            </div>
            <Toolbar nav=nav />
            <ExtraFilter nav=nav />
            <Actions
                state=state
                selected=selected
                total=total
                running=running
                notice=notice
                hidden=hidden
                run=run_on_selection
            />
            <ErrorNote message=notice dismissable=true />
            <RunView run=run retry=start cancel=cancel />
            <Grid nav=nav page=page total=total loaded=loaded selected=selected hidden=hidden />
        </section>
    }
}
