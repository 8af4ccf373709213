//! Bulk actions (Approve Email, Reject Email, Test & Enable) over the selected
//! mailboxes: `$batch` requests of at most 1,000 PATCHes with
//! `Prefer: odata.continue-on-error`, progress, then one result per mailbox.
//! Throttling (429 + Retry-After) is honoured by `api::send_raw`. When the
//! organization has no `$batch` (404/405/501), each PATCH is sent on its own.

use gloo_net::http::Method;
use leptos::prelude::*;
use serde_json::json;

use mailsync_core::email_settings::DefaultMethods;

use crate::api::{self, batch, ApiError};

/// One bulk action: its name and the JSON body of each mailbox's PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkAction {
    pub label: &'static str,
    pub body: serde_json::Value,
}

impl BulkAction {
    pub fn approve() -> Self {
        BulkAction {
            label: "Approve Email",
            body: json!({ "emailrouteraccessapproval": 1 }),
        }
    }

    pub fn reject() -> Self {
        BulkAction {
            label: "Reject Email",
            body: json!({ "emailrouteraccessapproval": 3 }),
        }
    }

    /// Apply Default Email Settings: the organization's default delivery methods and
    /// email server profile (System Settings) onto the mailbox.
    pub fn apply_defaults(methods: DefaultMethods, profile: Option<&str>) -> Self {
        let mut body = serde_json::Map::new();
        for (prop, v) in [
            ("incomingemaildeliverymethod", methods.incoming),
            ("outgoingemaildeliverymethod", methods.outgoing),
            ("actdeliverymethod", methods.act),
        ] {
            if let Some(v) = v {
                body.insert(prop.into(), json!(v));
            }
        }
        if let Some(id) = profile {
            body.insert(
                "emailserverprofile@odata.bind".into(),
                json!(format!("/emailserverprofiles({id})")),
            );
        }
        BulkAction {
            label: "Apply Default Email Settings",
            body: serde_json::Value::Object(body),
        }
    }

    /// Test & Enable with the dialog's options (`after`: a `YYYY-MM-DD` date).
    pub fn test_and_enable(this_org_only: bool, after: Option<String>) -> Self {
        let mut body = json!({
            "testemailconfigurationscheduled": true,
            "orgmarkedasprimaryforexchangesync": this_org_only,
        });
        if let Some(date) = after.filter(|d| !d.is_empty()) {
            body["processemailreceivedafter"] = json!(format!("{date}T00:00:00Z"));
        }
        BulkAction {
            label: "Test & Enable",
            body,
        }
    }
}

/// Reads the organization's defaults and makes Apply Default Email Settings of them.
pub async fn default_settings() -> Result<BulkAction, ApiError> {
    #[derive(serde::Deserialize)]
    struct Org {
        #[serde(default)]
        defaultemailsettings: Option<String>,
        #[serde(default, rename = "_defaultemailserverprofileid_value")]
        profile: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct List {
        value: Vec<Org>,
    }
    let orgs: List = api::get_json(
        "/api/data/v9.2/organizations?$select=defaultemailsettings,_defaultemailserverprofileid_value&$top=1",
    )
    .await?;
    let org = orgs.value.into_iter().next().ok_or_else(|| ApiError {
        status: 404,
        code: None,
        message: "The organization record was not found.".into(),
    })?;
    let methods = DefaultMethods::read(org.defaultemailsettings.as_deref().unwrap_or(""));
    if methods == DefaultMethods::default() && org.profile.is_none() {
        return Err(ApiError {
            status: 0,
            code: None,
            message: "System Settings has no default email settings to apply.".into(),
        });
    }
    Ok(BulkAction::apply_defaults(methods, org.profile.as_deref()))
}

/// The outcome for one mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub name: String,
    /// None: done; Some(reason): refused or failed.
    pub error: Option<String>,
}

/// A bulk run as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub action: BulkAction,
    pub total: usize,
    pub outcomes: Vec<Outcome>,
    pub finished: bool,
    /// Set when the batch endpoint was missing and PATCHes went one by one.
    pub one_by_one: bool,
}

/// Most refused (or failed) mailboxes the results panel lists; "Retry the failed ones"
/// still takes all of them.
pub const MAX_REFUSED_ROWS: usize = 500;
/// Most done mailboxes the results panel lists, after the refused. A run over 10,000
/// mailboxes otherwise rebuilt a table of up to 10,000 rows after every batch, and the
/// browser's rendering competed with the server for the CPU
/// (`e2e/bench/console-bench.mjs`).
pub const MAX_DONE_ROWS: usize = 100;

/// The outcomes the results panel lists, refused first (they are what needs attention)
/// and each kind bounded, with how many refused and done ones are not listed.
pub fn listed(outcomes: &[Outcome]) -> (Vec<&Outcome>, usize, usize) {
    let refused = outcomes.iter().filter(|o| o.error.is_some());
    let done = outcomes.iter().filter(|o| o.error.is_none());
    let (n_refused, n_done) = (refused.clone().count(), done.clone().count());
    let rows: Vec<&Outcome> = refused
        .take(MAX_REFUSED_ROWS)
        .chain(done.take(MAX_DONE_ROWS))
        .collect();
    (
        rows,
        n_refused.saturating_sub(MAX_REFUSED_ROWS),
        n_done.saturating_sub(MAX_DONE_ROWS),
    )
}

/// Runs `action` over `targets` (id, name), updating `run` as batches complete.
pub async fn execute(
    action: BulkAction,
    targets: Vec<(String, String)>,
    run: RwSignal<Option<Run>>,
) {
    run.set(Some(Run {
        action: action.clone(),
        total: targets.len(),
        outcomes: Vec::new(),
        finished: false,
        one_by_one: false,
    }));
    let body = action.body.to_string();
    let mut batches_work = true;
    for chunk in targets.chunks(batch::MAX_OPS) {
        let outcomes = if batches_work {
            match send_batch(chunk, &body).await {
                Ok(o) => o,
                Err(None) => {
                    batches_work = false;
                    run.update(|r| {
                        if let Some(r) = r {
                            r.one_by_one = true;
                        }
                    });
                    send_each(chunk, &body, run).await;
                    continue;
                }
                Err(Some(e)) => failed_all(chunk, &e.message),
            }
        } else {
            send_each(chunk, &body, run).await;
            continue;
        };
        run.update(|r| {
            if let Some(r) = r {
                r.outcomes.extend(outcomes);
            }
        });
    }
    run.update(|r| {
        if let Some(r) = r {
            r.finished = true;
        }
    });
}

fn failed_all(chunk: &[(String, String)], reason: &str) -> Vec<Outcome> {
    chunk
        .iter()
        .map(|(id, name)| Outcome {
            id: id.clone(),
            name: name.clone(),
            error: Some(reason.to_string()),
        })
        .collect()
}

fn entity_url(id: &str) -> String {
    format!("/api/data/v9.2/mailboxes({id})")
}

/// One `$batch`. `Err(None)`: the organization has no `$batch`.
async fn send_batch(
    chunk: &[(String, String)],
    body: &str,
) -> Result<Vec<Outcome>, Option<ApiError>> {
    let ops: Vec<batch::Op> = chunk
        .iter()
        .map(|(id, _)| batch::Op {
            method: "PATCH",
            url: entity_url(id),
            body: Some(body.to_string()),
        })
        .collect();
    let results = api::send_batch(&ops).await?;
    Ok(chunk
        .iter()
        .zip(results)
        .map(|((id, name), result)| Outcome {
            id: id.clone(),
            name: name.clone(),
            error: result.err().map(|e| e.message),
        })
        .collect())
}

/// Fallback: one PATCH per mailbox.
async fn send_each(chunk: &[(String, String)], body: &str, run: RwSignal<Option<Run>>) {
    for (id, name) in chunk {
        let error = match api::send_raw(
            Method::PATCH,
            &entity_url(id),
            &[("Content-Type", "application/json")],
            Some(body),
        )
        .await
        {
            Ok(raw) if raw.ok() => None,
            Ok(raw) => Some(raw.error().message),
            Err(e) => Some(e.message),
        };
        run.update(|r| {
            if let Some(r) = r {
                r.outcomes.push(Outcome {
                    id: id.clone(),
                    name: name.clone(),
                    error,
                });
            }
        });
    }
}

/// The results panel: progress while running, then one line per mailbox (bounded: see
/// [`listed`]; the rest are counted in an "and N more" line).
#[component]
pub fn RunView(
    run: RwSignal<Option<Run>>,
    retry: Callback<(BulkAction, Vec<(String, String)>)>,
) -> impl IntoView {
    move || {
        run.with(|r| {
            r.as_ref().map(|r| {
                let done = r.outcomes.len();
                let ok = r.outcomes.iter().filter(|o| o.error.is_none()).count();
                let failed: Vec<(String, String)> = r
                    .outcomes
                    .iter()
                    .filter(|o| o.error.is_some())
                    .map(|o| (o.id.clone(), o.name.clone()))
                    .collect();
                let pct = if r.total == 0 { 100.0 } else { done as f64 * 100.0 / r.total as f64 };
                let action = r.action.clone();
                let retry_failed = failed.clone();
                let finished = r.finished;
                let title = if finished {
                    format!(
                        "{}: {ok} done, {} refused or failed (of {})",
                        r.action.label,
                        failed.len(),
                        r.total
                    )
                } else {
                    format!("{}: {done} of {}\u{2026}", r.action.label, r.total)
                };
                let (listed, more_refused, more_done) = listed(&r.outcomes);
                let more = [(more_refused, "refused or failed"), (more_done, "done")]
                    .into_iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, what)| {
                        view! {
                            <tr data-state="more">
                                <td colspan="3" class="muted small">{format!("\u{2026} and {n} more {what}")}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                let rows = listed
                    .into_iter()
                    .map(|o| {
                        let (badge, text) = match &o.error {
                            None => ("badge badge-success", "Done".to_string()),
                            Some(e) => ("badge badge-error", e.clone()),
                        };
                        let state = if o.error.is_none() { "done" } else { "refused" };
                        view! {
                            <tr data-state=state>
                                <td class="nowrap">{o.name.clone()}</td>
                                <td>
                                    <span class=badge>{if o.error.is_none() { "Done" } else { "Refused" }}</span>
                                </td>
                                <td class="mb-reason">{if o.error.is_none() { String::new() } else { text }}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                view! {
                    <section class="card mb-run" data-testid="bulk-run" data-finished=finished.to_string()>
                        <div class="row">
                            <strong class="grow" data-testid="bulk-title">{title}</strong>
                            {(finished && !retry_failed.is_empty()).then(|| {
                                let again = retry_failed.clone();
                                let act = action.clone();
                                view! {
                                    <button class="btn btn-secondary btn-sm" on:click=move |_| retry.run((act.clone(), again.clone()))>
                                        "Retry the failed ones"
                                    </button>
                                }
                            })}
                            {finished.then(|| view! {
                                <button class="btn btn-ghost btn-sm" on:click=move |_| run.set(None)>"Close"</button>
                            })}
                        </div>
                        {r.one_by_one.then(|| view! {
                            <p class="muted small">"This organization has no $batch: the changes were sent one by one."</p>
                        })}
                        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax=r.total.to_string() aria-valuenow=done.to_string()>
                            <div class="progress-bar" style:width=format!("{pct:.1}%")></div>
                        </div>
                        <div class="table-wrap mb-run-list">
                            <table class="table table-compact" data-testid="bulk-results">
                                <thead><tr><th>"Mailbox"</th><th>"Result"</th><th>"Reason"</th></tr></thead>
                                <tbody>{rows}{more}</tbody>
                            </table>
                        </div>
                    </section>
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(i: usize, refused: bool) -> Outcome {
        Outcome {
            id: format!("id{i}"),
            name: format!("Mailbox {i}"),
            error: refused.then(|| "refused".to_string()),
        }
    }

    #[test]
    fn lists_the_refused_first_and_bounds_both() {
        let few: Vec<Outcome> = (0..25).map(|i| outcome(i, i % 5 == 0)).collect();
        let (rows, more_refused, more_done) = listed(&few);
        assert_eq!((rows.len(), more_refused, more_done), (25, 0, 0));
        assert!(rows[..5].iter().all(|o| o.error.is_some()));
        assert!(rows[5..].iter().all(|o| o.error.is_none()));
        assert_eq!(rows[0].id, "id0");
        assert_eq!(rows[5].id, "id1");

        let many: Vec<Outcome> = (0..10_000).map(|i| outcome(i, i % 10 == 3)).collect();
        let (rows, more_refused, more_done) = listed(&many);
        assert_eq!(rows.len(), MAX_REFUSED_ROWS + MAX_DONE_ROWS);
        assert_eq!(more_refused, 1_000 - MAX_REFUSED_ROWS);
        assert_eq!(more_done, 9_000 - MAX_DONE_ROWS);
        assert!(rows[..MAX_REFUSED_ROWS].iter().all(|o| o.error.is_some()));
    }
}
