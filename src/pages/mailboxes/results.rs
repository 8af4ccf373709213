//! A bulk run's panel ([`RunView`]): its title (progress while running, with the time
//! left, then what was done), Cancel / "Retry the failed ones" / Close, the progress
//! bar, and one line per mailbox in the selection's order (bounded: see
//! [`bulk::listed`]; the rest are counted in an "and N more" line), with Test &
//! Enable's results as they arrive. Used by the grid, the mailbox form and the profile
//! form.

use leptos::prelude::*;

use super::bulk::{self, describe_eta, BulkAction, Outcome, Run, State, TestResult};
use crate::components::Progress;

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
                let finished = r.finished;
                let again = to_retry(r);
                let action = r.action.clone();
                view! {
                    <section class="card mb-run" data-testid="bulk-run" data-finished=finished.to_string()>
                        <div class="row">
                            <strong class="grow" data-testid="bulk-title" aria-live="polite">{title(r, js_sys::Date::now())}</strong>
                            {(!finished).then(|| view! {
                                <button class="btn btn-secondary btn-sm" disabled=move || cancel.get() on:click=move |_| cancel.set(true)>
                                    "Cancel"
                                </button>
                            })}
                            {(finished && !again.is_empty()).then(|| view! {
                                <button class="btn btn-secondary btn-sm" on:click=move |_| retry.run((action.clone(), again.clone()))>
                                    "Retry the failed ones"
                                </button>
                            })}
                            {finished.then(|| view! {
                                <button class="btn btn-ghost btn-sm" on:click=move |_| run.set(None)>"Close"</button>
                            })}
                        </div>
                        {r.one_by_one.then(|| view! {
                            <p class="muted small">"This organization has no $batch: the changes were sent one by one."</p>
                        })}
                        {r.cancelled.then(|| view! {
                            <p class="muted small">"Cancelled: the mailboxes not sent are listed; what was done stays done."</p>
                        })}
                        {tests_line(r).map(|t| view! { <p class="small" data-testid="bulk-tests">{t}</p> })}
                        <Progress done=r.outcomes.len() total=r.total label="Progress" />
                        <div class="table-wrap mb-run-list">
                            <table class="table table-compact" data-testid="bulk-results">
                                <thead><tr><th>"Mailbox"</th><th>"Result"</th><th>"Reason"</th></tr></thead>
                                <tbody>{rows(r)}</tbody>
                            </table>
                        </div>
                    </section>
                }
            })
        })
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

/// The badge class, word and reason of a state.
fn shown(state: &State) -> (&'static str, &'static str, String) {
    match state {
        State::Done => ("badge badge-success", "Done", String::new()),
        State::Refused { reason, .. } => ("badge badge-error", "Refused", reason.clone()),
        State::NotApplied(reason) => ("badge badge-warning", "Not applied", reason.clone()),
        State::NotSent => (
            "badge badge-neutral",
            "Not sent",
            "The run was cancelled before this mailbox.".to_string(),
        ),
    }
}

/// One row per listed mailbox, then how many more of each kind are not listed.
fn rows(r: &Run) -> impl IntoView {
    let (listed, more_refused, more_done) = bulk::listed(&r.outcomes);
    let tests = r.tests.as_ref();
    let rows = listed
        .into_iter()
        .map(|o| row(o, tests.and_then(|t| t.get(&o.id))))
        .collect_view();
    let more = [(more_refused, "needing attention"), (more_done, "done")]
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
    view! { {rows}{more} }
}

fn row(o: &Outcome, test: Option<&TestResult>) -> impl IntoView {
    let (badge, word, reason) = shown(&o.state);
    let state = match o.state {
        State::Done => "done",
        State::Refused { .. } => "refused",
        State::NotApplied(_) => "not-applied",
        State::NotSent => "not-sent",
    };
    let test = test.map(|t| {
        if !t.completed {
            "Test waiting"
        } else if t.failed() {
            "Test failed"
        } else {
            "Test passed"
        }
    });
    view! {
        <tr data-state=state data-mailbox=o.id.clone()>
            <td class="nowrap">{o.name.clone()}</td>
            <td>
                <span class=badge>{word}</span>
                {test.map(|t| view! { <span class="small muted mb-test">" "{t}</span> })}
            </td>
            <td class="mb-reason">{reason}</td>
        </tr>
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
