//! A Mailboxes bulk run in the shared [`RunPanel`] ([`RunView`]): its title (progress
//! while running, with the time left, then what was done), Cancel, "Retry the failed
//! ones" where a retry can help, one line per mailbox in the selection's order (with
//! Test & Enable's results as they arrive), and how the run went about it. Used by the
//! grid, the mailbox form and the profile form.

use leptos::prelude::*;

use super::bulk::{describe_eta, BulkAction, Outcome, Run, State, TestResult};
use crate::components::run::{listed, RunPanel, RunReport, RunRow, Tone};

/// The panel of `run` (nothing while there is none). `retry` runs an action again on
/// the mailboxes a retry can help; `cancel` stops a run between batches.
#[component]
pub fn RunView(
    run: RwSignal<Option<Run>>,
    retry: Callback<(BulkAction, Vec<(String, String)>)>,
    cancel: RwSignal<bool>,
) -> impl IntoView {
    move || {
        run.with(|r| {
            r.as_ref().map(|r| {
                let again = to_retry(r);
                let action = r.action.clone();
                let on_retry = (!again.is_empty())
                    .then(|| Callback::new(move |()| retry.run((action.clone(), again.clone()))));
                let (one_by_one, cancelled, tests) = (r.one_by_one, r.cancelled, tests_line(r));
                view! {
                    <RunPanel
                        report=report(r)
                        cancel=cancel
                        on_retry=on_retry
                        on_close=Callback::new(move |()| run.set(None))
                    >
                        {one_by_one.then(|| view! {
                            <p class="muted small">"This organization has no $batch: the changes were sent one by one."</p>
                        })}
                        {cancelled.then(|| view! {
                            <p class="muted small">"Cancelled: the mailboxes not sent are listed; what was done stays done."</p>
                        })}
                        {tests.map(|t| view! { <p class="small" data-testid="bulk-tests">{t}</p> })}
                    </RunPanel>
                }
            })
        })
    }
}

/// What the panel shows of `r` now: the mailboxes in the selection's order, bounded.
fn report(r: &Run) -> RunReport {
    let mut sorted: Vec<&Outcome> = r.outcomes.iter().collect();
    sorted.sort_by_key(|o| o.index);
    let (listed, more_failed, more_done) = listed(sorted, |o| o.done());
    let tests = r.tests.as_ref();
    RunReport {
        title: title(r, js_sys::Date::now()),
        done: r.outcomes.len(),
        total: r.total,
        finished: r.finished,
        item: "Mailbox",
        rows: listed
            .into_iter()
            .map(|o| row(o, tests.and_then(|t| t.get(&o.id))))
            .collect(),
        more_failed,
        more_done,
        error: None,
    }
}

/// "Approve Email: 12 of 40…  (about 8 s left)" while running; "Approve Email: 38 of
/// 40 done, 1 refused or not sent, 1 accepted but not applied" once finished.
fn title(r: &Run, now_ms: f64) -> String {
    let done = r.outcomes.len();
    if !r.finished {
        let eta = r
            .eta_ms(now_ms)
            .map(|ms| format!(" ({})", describe_eta(ms)))
            .unwrap_or_default();
        return format!("{}: {done} of {}\u{2026}{eta}", r.action.label, r.total);
    }
    let ok = r.outcomes.iter().filter(|o| o.done()).count();
    let not_applied = r
        .outcomes
        .iter()
        .filter(|o| matches!(o.state, State::NotApplied(_)))
        .count();
    let mut t = format!("{}: {ok} of {} done", r.action.label, r.total);
    let refused = done - ok - not_applied;
    if refused > 0 {
        t.push_str(&format!(", {refused} refused or not sent"));
    }
    if not_applied > 0 {
        t.push_str(&format!(", {not_applied} accepted but not applied"));
    }
    t
}

/// The mailboxes a retry may help (refused for a passing reason, or not sent), in the
/// selection's order.
fn to_retry(r: &Run) -> Vec<(String, String)> {
    let mut again: Vec<&Outcome> = r
        .outcomes
        .iter()
        .filter(|o| {
            matches!(
                o.state,
                State::Refused {
                    retryable: true,
                    ..
                } | State::NotSent
            )
        })
        .collect();
    again.sort_by_key(|o| o.index);
    again
        .iter()
        .map(|o| (o.id.clone(), o.name.clone()))
        .collect()
}

/// The line of a Test & Enable's results: passed, failed, still waiting.
fn tests_line(run: &Run) -> Option<String> {
    let tests = run.tests.as_ref()?;
    let sent = run.outcomes.iter().filter(|o| o.done()).count();
    let completed = tests.values().filter(|t| t.completed).count();
    let failed = tests.values().filter(|t| t.completed && t.failed()).count();
    Some(format!(
        "Test results: {} passed, {failed} failed, {} waiting for the synchronization engine",
        completed - failed,
        sent.saturating_sub(completed)
    ))
}

/// One mailbox's line: its result, why, and its test's result once there is one.
fn row(o: &Outcome, test: Option<&TestResult>) -> RunRow {
    let (state, word, tone, reason) = match &o.state {
        State::Done => ("done", "Done", Tone::Success, String::new()),
        State::Refused { reason, .. } => ("refused", "Refused", Tone::Error, reason.clone()),
        State::NotApplied(reason) => ("not-applied", "Not applied", Tone::Warning, reason.clone()),
        State::NotSent => (
            "not-sent",
            "Not sent",
            Tone::Neutral,
            "The run was cancelled before this mailbox.".to_string(),
        ),
    };
    let note = test.map(|t| {
        if !t.completed {
            "Test waiting"
        } else if t.failed() {
            "Test failed"
        } else {
            "Test passed"
        }
    });
    RunRow {
        id: o.id.clone(),
        name: o.name.clone(),
        state,
        word,
        tone,
        reason,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(states: Vec<State>, finished: bool) -> Run {
        Run {
            action: BulkAction::approve(),
            total: 4,
            outcomes: states
                .into_iter()
                .enumerate()
                .map(|(i, state)| Outcome {
                    index: i,
                    id: format!("id{i}"),
                    name: format!("Mailbox {i}"),
                    state,
                    checked: true,
                })
                .collect(),
            finished,
            one_by_one: false,
            started_ms: 0.0,
            cancelled: false,
            requests: 1,
            tests: None,
        }
    }

    #[test]
    fn the_title_says_what_was_done() {
        let refused = State::Refused {
            reason: "busy".to_string(),
            retryable: true,
        };
        let r = run(
            vec![
                State::Done,
                refused,
                State::NotApplied("why".to_string()),
                State::NotSent,
            ],
            true,
        );
        assert_eq!(
            title(&r, 0.0),
            "Approve Email: 1 of 4 done, 2 refused or not sent, 1 accepted but not applied"
        );
        assert_eq!(
            to_retry(&r),
            vec![
                ("id1".to_string(), "Mailbox 1".to_string()),
                ("id3".to_string(), "Mailbox 3".to_string())
            ]
        );
        let running = run(vec![State::Done], false);
        assert_eq!(
            title(&running, 1000.0),
            "Approve Email: 1 of 4\u{2026} (about 3 s left)"
        );
    }
}
