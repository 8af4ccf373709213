//! Email Server Profiles: the grid (`/profiles`) and the form (`/profiles/<id>`,
//! `/profiles/new`).
//!
//! - [`model`]: core's rule input from the form, the form rules as edits, option lists
//! - [`form`]: the profile form (every column), live rules and core's supported
//!   configuration findings, "Test & Enable Mailboxes", its alerts

mod form;
mod model;

pub use form::ProfileRecord;

use leptos::prelude::*;
use leptos_router::components::A;
use mailsync_core::options::credential_retrieval_label;
use mailsync_core::rules::check_profile;
use mailsync_core::Severity;
use serde_json::{Map, Value};

use crate::api::{self, fetch_all};
use crate::session::{use_session, Auth, RequireSignIn};
use model::{settings_of, test_status_label, PROFILES};

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

/// The grid's columns: header and the property it sorts by.
const COLUMNS: &[(&str, &str)] = &[
    ("Name", "name"),
    ("Server Type", "servertype"),
    ("Incoming Server", "incomingserverlocation"),
    ("Authenticate Using", "incomingcredentialretrieval"),
    ("Auto Discover", "useautodiscover"),
    ("Max Connections", "maxconcurrentconnections"),
    ("Last Test", "lasttestexecutionstatus"),
];

#[component]
fn ProfileGrid() -> impl IntoView {
    let session = use_session();
    let editable = Memo::new(move |_| can_edit(&session.auth()));
    let sort = RwSignal::new(("name", false));
    let list = LocalResource::new(move || {
        let (col, desc) = sort.get();
        async move {
            let dir = if desc { "desc" } else { "asc" };
            let path = format!("{PROFILES}?$orderby={col}%20{dir}");
            let profiles = fetch_all::<Map<String, Value>>(path).await?;
            // Mailboxes per profile: a `$count` each, all in one `$batch`. A count the
            // organization refuses leaves the column empty, not the grid.
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
            let rows: Vec<_> = profiles.into_iter().zip(counts).collect();
            Ok::<_, api::ApiError>(rows)
        }
    });
    let header = COLUMNS
        .iter()
        .map(|&(label, col)| {
            let class = move || match sort.get() {
                (c, false) if c == col => "sortable sort-asc",
                (c, true) if c == col => "sortable sort-desc",
                _ => "sortable",
            };
            view! {
                <th class=class>
                    <button class="btn-link" on:click=move |_| sort.update(|s| *s = (col, s.0 == col && !s.1))>{label}</button>
                </th>
            }
        })
        .collect_view();
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
            <div class="table-wrap card">
                <table class="table table-compact" data-testid="profile-grid">
                    <thead>
                        <tr>
                            {header}
                            <th class="num">"Mailboxes"</th>
                            <th>"Configuration"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || match list.get() {
                            None => view! { <tr><td colspan="9" class="muted"><span class="spinner"></span>" Loading\u{2026}"</td></tr> }.into_any(),
                            Some(Err(e)) => view! { <tr><td colspan="9"><div class="callout callout-error">{e.message}</div></td></tr> }.into_any(),
                            Some(Ok(rows)) if rows.is_empty() => view! { <tr><td colspan="9" class="muted">"No email server profiles yet."</td></tr> }.into_any(),
                            Some(Ok(rows)) => rows.into_iter().map(|(p, count)| row_view(p, count)).collect_view().into_any(),
                        }}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

fn row_view(p: Map<String, Value>, count: Option<api::Total>) -> impl IntoView {
    let text = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let int = |k: &str| p.get(k).and_then(Value::as_i64);
    let id = text("emailserverprofileid");
    let findings = check_profile(&settings_of(&p));
    let worst = findings.first().map(|f| f.severity);
    let (badge, label) = match worst {
        Some(Severity::Error) => ("badge badge-error", "Invalid"),
        Some(Severity::Warning) => ("badge badge-warning", "Unsupported settings"),
        _ => ("badge badge-success", "Supported"),
    };
    let test = test_status_label(int("lasttestexecutionstatus"));
    let name = text("name");
    let as_i32 = |k: &str| int(k).map(|v| v as i32);
    let server_type = mailsync_core::rules::profile_kind_label(
        as_i32("servertype"),
        as_i32("incomingcredentialretrieval"),
        as_i32("outgoingcredentialretrieval"),
    );
    let location = text("incomingserverlocation");
    let credentials = int("incomingcredentialretrieval")
        .map(|v| credential_retrieval_label(v as i32))
        .unwrap_or_default();
    let autodiscover = match p.get("useautodiscover").and_then(Value::as_bool) {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "",
    };
    let connections = int("maxconcurrentconnections")
        .map(|n| n.to_string())
        .unwrap_or_default();
    let first = findings
        .first()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    view! {
        <tr data-id=id.clone()>
            <td class="nowrap"><A href=format!("/profiles/{id}")>{name}</A></td>
            <td>{server_type}</td>
            <td class="small">{location}</td>
            <td class="small">{credentials}</td>
            <td>{autodiscover}</td>
            <td class="num">{connections}</td>
            <td>{test}</td>
            <td class="num" data-col="mailboxes">{count.map(|n| n.to_string()).unwrap_or_default()}</td>
            <td><span class=badge title=first>{label}</span></td>
        </tr>
    }
}
