//! The console's pager: Previous, "Page N of M", Next (the Mailboxes grid, the alerts
//! wall, the Log Analyzer's cards).
//!
//! ```ignore
//! <Pager
//!     label="Pages of alerts"
//!     status=Signal::derive(move || page_status(n, Some(pages), false))
//!     has_prev=Signal::derive(move || n > 1)
//!     has_next=Signal::derive(move || next.is_some())
//!     on_prev=Callback::new(move |()| back())
//!     on_next=Callback::new(move |()| forward())
//! />
//! ```
//!
//! A `<nav>` named by `label`; the buttons are `data-testid` `pager-prev` and
//! `pager-next`, the status `pager-status` unless `status_testid` says otherwise.
//! Their accessible names are exactly "Previous" and "Next" (the arrows are hidden
//! from assistive technology).

use leptos::prelude::*;

/// "Page 2 of 7"; "Page 2 of 7+" when there are more pages than the count says (past
/// Dataverse's counting limit); "Page 2" when the number of pages is not known.
pub fn page_status(page: usize, pages: Option<usize>, more: bool) -> String {
    match (pages, more) {
        (Some(n), false) => format!("Page {page} of {}", n.max(1)),
        (Some(n), true) => format!("Page {page} of {n}+"),
        (None, _) => format!("Page {page}"),
    }
}

/// How many pages `items` fill at `per_page` a page (at least one).
pub fn page_count(items: u64, per_page: usize) -> usize {
    (items as usize).div_ceil(per_page.max(1)).max(1)
}

#[component]
pub fn Pager(
    /// The navigation's accessible name ("Pages of mailboxes"), unique on the page.
    label: &'static str,
    /// Where the user is: [`page_status`].
    #[prop(into)]
    status: Signal<String>,
    #[prop(into)] has_prev: Signal<bool>,
    #[prop(into)] has_next: Signal<bool>,
    on_prev: Callback<()>,
    on_next: Callback<()>,
    /// The status's `data-testid`.
    #[prop(default = "pager-status")]
    status_testid: &'static str,
    /// The page's own class (its layout).
    #[prop(optional)]
    class: &'static str,
    /// Shown before the buttons ("51–100 of 230").
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <nav class=format!("row pager {class}").trim_end().to_string() aria-label=label data-testid="pager">
            {children.map(|c| c())}
            <button
                type="button"
                class="btn btn-secondary btn-sm"
                data-testid="pager-prev"
                disabled=move || !has_prev.get()
                on:click=move |_| on_prev.run(())
            >
                <span aria-hidden="true">"\u{2190} "</span>
                "Previous"
            </button>
            <span class="small pager-status" data-testid=status_testid>
                {move || status.get()}
            </span>
            <button
                type="button"
                class="btn btn-secondary btn-sm"
                data-testid="pager-next"
                disabled=move || !has_next.get()
                on:click=move |_| on_next.run(())
            >
                "Next"
                <span aria-hidden="true">" \u{2192}"</span>
            </button>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_where_the_user_is() {
        assert_eq!(page_status(2, Some(7), false), "Page 2 of 7");
        assert_eq!(page_status(1, Some(0), false), "Page 1 of 1");
        assert_eq!(page_status(3, Some(100), true), "Page 3 of 100+");
        assert_eq!(page_status(4, None, false), "Page 4");
    }

    #[test]
    fn counts_pages() {
        assert_eq!(page_count(0, 50), 1);
        assert_eq!(page_count(50, 50), 1);
        assert_eq!(page_count(51, 50), 2);
    }
}
