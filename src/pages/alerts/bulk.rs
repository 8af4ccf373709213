//! "Delete all alerts": the confirmation, the run (every page of the filter, then
//! `$batch`es of at most 1,000 DELETEs with continue-on-error) and its progress and
//! result, with the alerts it could not delete.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::fetch::all_alerts;
use super::model::{self, Alert, Level};
use crate::api::{self, batch};
use crate::components::{Confirm, Progress};

/// One alert that "Delete all" could not delete.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    text: String,
    reason: String,
}

/// "Delete all" state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bulk {
    pub running: bool,
    total: usize,
    done: usize,
    deleted: usize,
    failures: Vec<Failure>,
    error: Option<String>,
    finished: bool,
}

/// The question before deleting: how many alerts of which level (and error group).
#[component]
pub fn DeleteAllConfirm(
    #[prop(into)] count: Signal<Option<u64>>,
    #[prop(into)] level: Signal<Level>,
    #[prop(into)] one_error: Signal<bool>,
    on_close: Callback<bool>,
) -> impl IntoView {
    view! {
        <Confirm
            title="Delete all alerts"
            text=Signal::derive(move || {
                let n = count.get().unwrap_or(0);
                let what = match level.get() {
                    Level::All => "alerts".to_string(),
                    l => l.label().to_lowercase(),
                };
                format!(
                    "Delete all {n} {what}{}? This cannot be undone.",
                    if one_error.get() { " of this error" } else { "" },
                )
            })
            confirm="Delete"
            danger=true
            on_close=on_close
        >
            <p class="muted small">"Alerts that cannot be deleted are left in place and listed."</p>
        </Confirm>
    }
}

/// Deletes every alert matching `filter`, reporting in `bulk`; bumps `reload` at the end.
pub fn delete_all(filter: Option<String>, bulk: RwSignal<Bulk>, reload: RwSignal<u32>) {
    bulk.set(Bulk {
        running: true,
        ..Default::default()
    });
    spawn_local(async move {
        match all_alerts(filter.as_deref()).await {
            Ok(alerts) => run(alerts, bulk, reload),
            Err(e) => bulk.update(|b| {
                b.running = false;
                b.finished = true;
                b.error = Some(e.message);
            }),
        }
    });
}

/// Deletes `alerts` as `$batch`es of at most 1,000 DELETEs (each batch is one request
/// against the 6,000-requests-per-5-minutes limit; one DELETE each would spend it on a
/// large wall); the ones marked not deletable are reported without asking the server.
fn run(alerts: Vec<Alert>, bulk: RwSignal<Bulk>, reload: RwSignal<u32>) {
    let (deletable, kept): (Vec<Alert>, Vec<Alert>) =
        alerts.into_iter().partition(Alert::deletable);
    let total = deletable.len() + kept.len();
    bulk.set(Bulk {
        running: true,
        total,
        done: kept.len(),
        failures: kept
            .into_iter()
            .map(|a| Failure {
                text: a.text.unwrap_or_default(),
                reason: "Not deletable (canbedeleted is false)".to_string(),
            })
            .collect(),
        ..Default::default()
    });
    spawn_local(async move {
        for chunk in deletable.chunks(batch::MAX_OPS) {
            let ops: Vec<batch::Op> = chunk
                .iter()
                .map(|a| batch::Op::delete(format!("{}({})", model::TRACELOGS, a.tracelogid)))
                .collect();
            let results = match api::send_batch(&ops).await {
                Ok(results) => results,
                Err(Some(e)) => vec![Err(e); chunk.len()],
                // No `$batch` here: one DELETE each.
                Err(None) => {
                    let mut results = Vec::with_capacity(chunk.len());
                    for op in &ops {
                        results.push(api::delete(&op.url).await);
                    }
                    results
                }
            };
            bulk.update(|b| {
                for (a, result) in chunk.iter().zip(results) {
                    b.done += 1;
                    match result {
                        Ok(()) => b.deleted += 1,
                        // Already gone: someone else deleted it.
                        Err(e) if e.status == 404 => b.deleted += 1,
                        Err(e) => b.failures.push(Failure {
                            text: a.text.clone().unwrap_or_default(),
                            reason: e.message,
                        }),
                    }
                }
            });
        }
        bulk.update(|b| {
            b.running = false;
            b.finished = true;
        });
        reload.update(|n| *n += 1);
    });
}

/// The bulk delete's progress, then its result.
#[component]
pub fn BulkStatus(bulk: RwSignal<Bulk>) -> impl IntoView {
    let running = move || bulk.with(|b| b.running);
    view! {
        <Show when=running fallback=move || view! { <BulkResult bulk=bulk /> }>
            <div class="card alerts-bulk">
                <div class="card-body">
                    <Progress
                        done=Signal::derive(move || bulk.with(|b| b.done))
                        total=Signal::derive(move || bulk.with(|b| b.total))
                        label="Deleting alerts"
                        text=Signal::derive(move || {
                            bulk.with(|b| format!("Deleting alerts: {} of {}", b.done, b.total))
                        })
                    />
                </div>
            </div>
        </Show>
    }
}

/// What the finished run did: how many were deleted, and the ones that were not, with why.
#[component]
fn BulkResult(bulk: RwSignal<Bulk>) -> impl IntoView {
    move || {
        let b = bulk.get();
        if !b.finished {
            return None;
        }
        if let Some(e) = b.error {
            return Some(
                view! { <div class="callout callout-error" role="alert">{e}</div> }.into_any(),
            );
        }
        let class = if b.failures.is_empty() {
            "callout callout-success alerts-bulk-result"
        } else {
            "callout callout-warning alerts-bulk-result"
        };
        Some(
            view! {
                <div class=class role="status">
                    <div class="callout-title">
                        {format!(
                            "{} of {} deleted.",
                            crate::format::thousands(b.deleted),
                            crate::format::count(b.total, "alert", "alerts"),
                        )}
                        {(!b.failures.is_empty())
                            .then(|| format!(" {} could not be deleted:", b.failures.len()))}
                    </div>
                    <ul class="alerts-failures">
                        {b
                            .failures
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <li>
                                        <span class="alerts-failure-reason">{f.reason}</span>
                                        " — "
                                        <span class="muted">{f.text}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    <button class="btn btn-link btn-sm" on:click=move |_| bulk.set(Bulk::default())>
                        "Dismiss"
                    </button>
                </div>
            }
            .into_any(),
        )
    }
}
