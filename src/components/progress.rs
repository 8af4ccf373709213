//! A progress bar with an optional line under it ("Deleting alerts: 3 of 10"): the
//! Mailboxes' bulk runs, the alerts wall's Delete all, the Log Analyzer's reading.
//!
//! ```ignore
//! <Progress done=done total=total label="Deleting alerts" text=Signal::derive(move || words()) />
//! ```
//!
//! The bar is `role="progressbar"` with `aria-valuemin`/`-max`/`-now`, named by
//! `label`; the line is `.progress-label`, a polite live region.

use leptos::prelude::*;

/// `done` of `total` in percent (0 while there is nothing to do).
pub fn percent(done: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        (done.min(total) as f64) * 100.0 / total as f64
    }
}

#[component]
pub fn Progress(
    #[prop(into)] done: Signal<usize>,
    #[prop(into)] total: Signal<usize>,
    /// The bar's accessible name.
    label: &'static str,
    /// The line under the bar, announced as it changes.
    #[prop(optional, into)]
    text: Option<Signal<String>>,
    /// The line's `data-testid`.
    #[prop(optional)]
    text_testid: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div
            class="progress"
            role="progressbar"
            aria-label=label
            aria-valuemin="0"
            aria-valuemax=move || total.get().to_string()
            aria-valuenow=move || done.get().to_string()
        >
            <div
                class="progress-bar"
                style:width=move || format!("{:.1}%", percent(done.get(), total.get()))
            ></div>
        </div>
        {text.map(|t| {
            view! {
                <div class="progress-label" data-testid=text_testid aria-live="polite">
                    {move || t.get()}
                </div>
            }
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_the_total() {
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(5, 4), 100.0);
    }
}
