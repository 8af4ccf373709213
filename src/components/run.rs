//! A bulk run's panel, one for every run of the console (Mailboxes' Approve, Reject,
//! Test & Enable and Apply Default Email Settings; Delete all alerts): a title saying
//! where the run is and then what it did, Cancel while it runs (where it can stop),
//! "Retry the failed ones" once finished (where a retry can help), Close, the progress
//! bar, and one line per item with its result and the reason it failed.
//!
//! ```ignore
//! move || run.with(|r| r.as_ref().map(|r| view! {
//!     <RunPanel report=report(r) on_retry=retry(r) on_close=Callback::new(move |()| run.set(None)) />
//! }))
//! ```
//!
//! The page turns its own run into a [`RunReport`] each time the run moves; the panel
//! is `data-testid="bulk-run"` (`data-finished`), its title `bulk-title`, its table
//! `bulk-results` (`tr[data-state][data-item]`).

use leptos::prelude::*;

use super::error::error_callout;
use super::Progress;

/// Most items needing attention the panel lists; a retry still takes all of them.
pub const MAX_FAILED_ROWS: usize = 500;
/// Most done items it lists, after those. A run over 10,000 mailboxes otherwise rebuilt
/// a table of up to 10,000 rows after every batch, and the browser's rendering competed
/// with the server for the CPU (`e2e/bench/console-bench.mjs`).
pub const MAX_DONE_ROWS: usize = 100;

/// An item's result, by the colour of its badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Success,
    Error,
    Warning,
    Neutral,
}

impl Tone {
    fn badge(self) -> &'static str {
        match self {
            Tone::Success => "badge badge-success",
            Tone::Error => "badge badge-error",
            Tone::Warning => "badge badge-warning",
            Tone::Neutral => "badge badge-neutral",
        }
    }
}

/// One item's line.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// The item's id (`data-item`).
    pub id: String,
    pub name: String,
    /// The result's key (`data-state`: "done", "refused", ...).
    pub state: &'static str,
    /// The result in a word ("Done", "Refused") and its colour.
    pub word: &'static str,
    pub tone: Tone,
    /// Why it failed, in the server's words.
    pub reason: String,
    /// What came after, beside the result (Test & Enable's "Test passed").
    pub note: Option<&'static str>,
}

/// What the panel shows now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunReport {
    /// Where the run is ("Approve Email: 12 of 40…"), then what it did.
    pub title: String,
    pub done: usize,
    pub total: usize,
    pub finished: bool,
    /// The first column's header ("Mailbox", "Alert").
    pub item: &'static str,
    /// The lines [`listed`], and how many of each kind are not.
    pub rows: Vec<RunRow>,
    pub more_failed: usize,
    pub more_done: usize,
    /// Why the run stopped before it began (what it needed could not be read).
    pub error: Option<String>,
}

/// The items the panel lists, in the order given: every one needing attention (up to
/// [`MAX_FAILED_ROWS`]) and the first done ones (up to [`MAX_DONE_ROWS`]), with how
/// many of each are left out.
pub fn listed<T>(
    items: impl IntoIterator<Item = T>,
    done: impl Fn(&T) -> bool,
) -> (Vec<T>, usize, usize) {
    let (mut failed, mut ok) = (0usize, 0usize);
    let mut rows = Vec::new();
    for item in items {
        let (n, max) = if done(&item) {
            (&mut ok, MAX_DONE_ROWS)
        } else {
            (&mut failed, MAX_FAILED_ROWS)
        };
        *n += 1;
        if *n <= max {
            rows.push(item);
        }
    }
    (
        rows,
        failed.saturating_sub(MAX_FAILED_ROWS),
        ok.saturating_sub(MAX_DONE_ROWS),
    )
}

#[component]
pub fn RunPanel(
    report: RunReport,
    /// Set to stop the run between steps; Cancel shows while it runs.
    #[prop(optional)]
    cancel: Option<RwSignal<bool>>,
    /// "Retry the failed ones", once the run is finished (`None`: nothing a retry
    /// can help).
    #[prop(default = None)]
    on_retry: Option<Callback<()>>,
    on_close: Callback<()>,
    /// Notes under the title (how the run went about it, what came after).
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let RunReport {
        title,
        done,
        total,
        finished,
        item,
        rows,
        more_failed,
        more_done,
        error,
    } = report;
    let more = [(more_failed, "needing attention"), (more_done, "done")]
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
    let list = (!rows.is_empty()).then(|| {
        view! {
            <div class="table-wrap run-list">
                <table class="table table-compact" data-testid="bulk-results">
                    <thead><tr><th>{item}</th><th>"Result"</th><th>"Reason"</th></tr></thead>
                    <tbody>{rows.into_iter().map(row).collect_view()}{more}</tbody>
                </table>
            </div>
        }
    });
    view! {
        <section class="card run-panel" data-testid="bulk-run" data-finished=finished.to_string()>
            <div class="row">
                <strong class="grow" data-testid="bulk-title" aria-live="polite">{title}</strong>
                {cancel.filter(|_| !finished).map(|c| view! {
                    <button class="btn btn-secondary btn-sm" disabled=move || c.get() on:click=move |_| c.set(true)>
                        "Cancel"
                    </button>
                })}
                {on_retry.filter(|_| finished).map(|r| view! {
                    <button class="btn btn-secondary btn-sm" on:click=move |_| r.run(())>"Retry the failed ones"</button>
                })}
                {finished.then(|| view! {
                    <button class="btn btn-ghost btn-sm" on:click=move |_| on_close.run(())>"Close"</button>
                })}
            </div>
            {children.map(|c| c())}
            {error.map(error_callout)}
            <Progress done=done total=total label="Progress" />
            {list}
        </section>
    }
}

fn row(r: RunRow) -> impl IntoView {
    view! {
        <tr data-state=r.state data-item=r.id>
            <td class="nowrap">{r.name}</td>
            <td>
                <span class=r.tone.badge()>{r.word}</span>
                {r.note.map(|t| view! { <span class="small muted run-note">" "{t}</span> })}
            </td>
            <td class="run-reason">{r.reason}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_in_order_and_bounds_both_kinds() {
        // (place, failed)
        let few: Vec<(usize, bool)> = (0..25).map(|i| (i, i % 5 == 0)).collect();
        let (rows, more_failed, more_done) = listed(few.iter(), |(_, failed)| !failed);
        assert_eq!((rows.len(), more_failed, more_done), (25, 0, 0));
        assert!(rows.iter().enumerate().all(|(i, (at, _))| *at == i));

        let many: Vec<(usize, bool)> = (0..10_000).map(|i| (i, i % 10 == 3)).collect();
        let (rows, more_failed, more_done) = listed(many.iter(), |(_, failed)| !failed);
        assert_eq!(rows.len(), MAX_FAILED_ROWS + MAX_DONE_ROWS);
        assert_eq!(more_failed, 1_000 - MAX_FAILED_ROWS);
        assert_eq!(more_done, 9_000 - MAX_DONE_ROWS);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
