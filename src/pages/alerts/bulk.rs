//! "Delete all alerts": the confirmation, the run (every page of the filter, then
//! `$batch`es of at most 1,000 DELETEs with continue-on-error) and its progress and
//! result in the shared [`RunPanel`]: the alerts it could not delete with why, and a
//! retry of those a retry can help (throttled, busy, no answer).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::fetch::all_alerts;
use super::model::{self, Alert, Level};
use crate::api::{self, batch};
use crate::components::run::{listed, RunPanel, RunReport, RunRow, Tone};
use crate::components::Confirm;
use crate::format::{count, thousands};

/// What the panel says the run is.
const LABEL: &str = "Delete all alerts";

/// One alert that "Delete all" could not delete, and why.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    alert: Alert,
    reason: String,
    /// The record says it cannot be deleted: it was not sent.
    kept: bool,
    /// Trying again may help.
    passing: bool,
}

/// "Delete all" state (nothing shown while neither running nor finished).
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
            .map(|alert| Failure {
                alert,
                reason: "Not deletable (canbedeleted is false)".to_string(),
                kept: true,
                passing: false,
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
                            alert: a.clone(),
                            passing: e.passing(),
                            reason: e.message,
                            kept: false,
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

/// The run's panel: its progress, then what it did; "Retry the failed ones" deletes
/// again the alerts a retry can help.
#[component]
pub fn BulkStatus(bulk: RwSignal<Bulk>, reload: RwSignal<u32>) -> impl IntoView {
    move || {
        bulk.with(|b| {
            (b.running || b.finished).then(|| {
                let again: Vec<Alert> = b
                    .failures
                    .iter()
                    .filter(|f| f.passing)
                    .map(|f| f.alert.clone())
                    .collect();
                let on_retry = (!again.is_empty())
                    .then(|| Callback::new(move |()| run(again.clone(), bulk, reload)));
                view! {
                    <RunPanel
                        report=report(b)
                        on_retry=on_retry
                        on_close=Callback::new(move |()| bulk.set(Bulk::default()))
                    />
                }
            })
        })
    }
}

/// What the panel shows of `b` now: the alerts not deleted, bounded.
fn report(b: &Bulk) -> RunReport {
    let (failures, more_failed, _) = listed(&b.failures, |_| false);
    RunReport {
        title: title(b),
        done: b.done,
        total: b.total,
        finished: b.finished,
        item: "Alert",
        rows: failures.into_iter().map(row).collect(),
        more_failed,
        more_done: 0,
        error: b.error.clone(),
    }
}

/// "Delete all alerts: 3 of 10…" while running; "Delete all alerts: 9 of 10 alerts
/// deleted, 1 could not be deleted" once finished.
fn title(b: &Bulk) -> String {
    if b.running {
        return match b.total {
            0 => format!("{LABEL}: reading the alerts\u{2026}"),
            n => format!("{LABEL}: {} of {}\u{2026}", thousands(b.done), thousands(n)),
        };
    }
    if b.error.is_some() {
        return format!("{LABEL}: the alerts could not be read");
    }
    let mut t = format!(
        "{LABEL}: {} of {} deleted",
        thousands(b.deleted),
        count(b.total, "alert", "alerts")
    );
    if !b.failures.is_empty() {
        t.push_str(&format!(
            ", {} could not be deleted",
            thousands(b.failures.len())
        ));
    }
    t
}

/// An alert not deleted: its text's first line, and why.
fn row(f: &Failure) -> RunRow {
    let text = f.alert.text.as_deref().unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    let name = match line.char_indices().nth(120) {
        Some((at, _)) => format!("{}\u{2026}", &line[..at]),
        None => line.to_string(),
    };
    let (state, word, tone) = match f.kept {
        true => ("kept", "Kept", Tone::Neutral),
        false => ("refused", "Refused", Tone::Error),
    };
    RunRow {
        id: f.alert.tracelogid.clone(),
        name,
        state,
        word,
        tone,
        reason: f.reason.clone(),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_says_what_was_deleted() {
        let mut b = Bulk {
            running: true,
            ..Default::default()
        };
        assert_eq!(title(&b), "Delete all alerts: reading the alerts\u{2026}");
        b.total = 4;
        b.done = 1;
        assert_eq!(title(&b), "Delete all alerts: 1 of 4\u{2026}");
        b.running = false;
        b.finished = true;
        b.done = 4;
        b.deleted = 4;
        assert_eq!(title(&b), "Delete all alerts: 4 of 4 alerts deleted");
        b.deleted = 3;
        b.failures.push(Failure {
            alert: serde_json::from_str(r#"{"tracelogid":"a","text":"Line one\nLine two"}"#)
                .unwrap(),
            reason: "Not deletable (canbedeleted is false)".to_string(),
            kept: true,
            passing: false,
        });
        assert_eq!(
            title(&b),
            "Delete all alerts: 3 of 4 alerts deleted, 1 could not be deleted"
        );
        let r = report(&b);
        assert_eq!((r.rows.len(), r.rows[0].name.as_str()), (1, "Line one"));
    }
}
