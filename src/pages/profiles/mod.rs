//! Email Server Profiles: the grid (`/profiles`) and the form (`/profiles/<id>`,
//! `/profiles/new`).
//!
//! - [`grid`]: the grid's columns and how a profile reads in the shared data grid
//! - [`model`]: core's rule input from the form, the form rules as edits, option lists
//! - [`form`]: the profile form (every column), live rules and core's supported
//!   configuration findings, "Test & Enable Mailboxes", its alerts

mod form;
mod grid;
mod model;

pub use form::ProfileRecord;

use leptos::prelude::*;
use leptos_router::components::A;
use serde_json::{Map, Value};

use crate::api::{self, fetch_all};
use crate::components::columns::{hidden_columns, ColumnChooser};
use crate::components::grid::DataGrid;
use crate::session::{use_session, Auth, RequireSignIn};
use grid::{cells, key, Row, COLUMNS};
use model::PROFILES;

/// Changing profiles needs Write on email server profiles; the server refuses the rest.
pub fn can_edit(auth: &Auth) -> bool {
    matches!(auth, Auth::SignedIn(u) if u.can("prvWriteEmailServerProfile"))
}

/// Test & Enable of a profile's mailboxes changes other people's mailboxes: Write on
/// mailboxes beyond one's own.
pub fn can_test(auth: &Auth) -> bool {
    matches!(auth, Auth::SignedIn(u) if u.can_broadly("prvWriteMailbox"))
}

#[component]
pub fn Profiles() -> impl IntoView {
    view! {
        <RequireSignIn>
            <ProfileGrid />
        </RequireSignIn>
    }
}

/// Every profile in the order asked, each with how many mailboxes use it: a `$count`
/// each, all in one `$batch`. A count the organization refuses leaves the column
/// empty, not the grid.
async fn read(col: &str, desc: bool) -> Result<Vec<Row>, api::ApiError> {
    let dir = if desc { "desc" } else { "asc" };
    let profiles =
        fetch_all::<Map<String, Value>>(format!("{PROFILES}?$orderby={col}%20{dir}")).await?;
    let queries: Vec<_> = profiles
        .iter()
        .map(|p| {
            let id = p["emailserverprofileid"].as_str().unwrap_or_default();
            (
                "mailboxes",
                "mailboxid",
                format!("_emailserverprofile_value eq {id}"),
            )
        })
        .collect();
    let counts = match api::counts(&queries).await {
        Ok(c) => c.into_iter().map(Some).collect(),
        Err(_) => vec![None; profiles.len()],
    };
    Ok(profiles.into_iter().zip(counts).collect())
}

#[component]
fn ProfileGrid() -> impl IntoView {
    let session = use_session();
    let editable = Memo::new(move |_| can_edit(&session.auth()));
    let sort = RwSignal::new(("name", false));
    // The sort of the rows shown: the grid is busy while another is on its way.
    let loaded = RwSignal::new(None::<(&'static str, bool)>);
    let hidden = hidden_columns("mailsync.profiles.hidden-columns", COLUMNS);

    // Fetch.
    let list = LocalResource::new(move || {
        let (col, desc) = sort.get();
        async move {
            let rows = read(col, desc).await;
            loaded.set(Some((col, desc)));
            rows
        }
    });

    // View.
    view! {
        <section class="page profiles-page" aria-labelledby="profiles-title">
            <div class="page-header">
                <div>
                    <h1 id="profiles-title">"Email Server Profiles"</h1>
                    <p class="muted">"How mailboxes connect to their email servers."</p>
                </div>
                <div class="page-actions">
                    <Show when=move || editable.get()>
                        <A href="/profiles/new" attr:class="btn btn-primary">"New profile"</A>
                    </Show>
                </div>
            </div>
            <div class="toolbar">
                <span class="spacer"></span>
                <ColumnChooser columns=COLUMNS hidden=hidden />
            </div>
            <DataGrid
                columns=COLUMNS
                hidden=hidden
                rows=Callback::new(move |()| list.get().map(|r| r.map_err(|e| e.message)))
                key=key
                cells=cells
                sort=Callback::new(move |()| sort.get())
                on_sort=Callback::new(move |col: &'static str| sort.update(|s| *s = (col, s.0 == col && !s.1)))
                empty="No email server profiles yet."
                testid="profile-grid"
                class="profiles-grid"
                busy=Signal::derive(move || loaded.get() != Some(sort.get()))
            />
        </section>
    }
}
