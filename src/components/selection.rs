//! A grid's "select all" checkbox, with its three states: all of the rows selected
//! (checked), none (unchecked), some (`indeterminate`: assistive technology hears
//! "mixed"). Checking it selects every row; unchecking clears them.
//!
//! ```ignore
//! <th><SelectAll label="Select page" state=Signal::derive(move || Selected::of(chosen(), rows())) on_change=toggle /></th>
//! ```

use leptos::prelude::*;

/// How much of a set of rows is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    None,
    Some,
    All,
}

impl Selected {
    /// `chosen` of `rows` selected (an empty set is `None`).
    pub fn of(chosen: usize, rows: usize) -> Self {
        match (chosen, rows) {
            (_, 0) | (0, _) => Selected::None,
            (c, n) if c >= n => Selected::All,
            _ => Selected::Some,
        }
    }
}

#[component]
pub fn SelectAll(
    /// The checkbox's accessible name ("Select page").
    label: &'static str,
    #[prop(into)] state: Signal<Selected>,
    /// `true`: select every row (from none or some); `false`: clear them (from all).
    on_change: Callback<bool>,
    #[prop(optional, into)] disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <input
            type="checkbox"
            class="select-all"
            aria-label=label
            disabled=move || disabled.get()
            prop:checked=move || state.get() == Selected::All
            prop:indeterminate=move || state.get() == Selected::Some
            on:change=move |ev| {
                on_change.run(state.get_untracked() != Selected::All);
                // The box shows what is selected now, even where the click changed
                // nothing (the browser has already toggled it).
                let now = state.get_untracked();
                let input = event_target::<web_sys::HtmlInputElement>(&ev);
                input.set_checked(now == Selected::All);
                input.set_indeterminate(now == Selected::Some);
            }
        />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_states() {
        assert_eq!(Selected::of(0, 50), Selected::None);
        assert_eq!(Selected::of(3, 50), Selected::Some);
        assert_eq!(Selected::of(50, 50), Selected::All);
        assert_eq!(Selected::of(0, 0), Selected::None);
    }
}
