//! The wall's toolbar: the level tabs with their counts, and "Group by error".

use leptos::prelude::*;

use super::fetch::Counts;
use super::model::{ErrorKey, Level};

/// A level's count, `None` while it is read or where it could not be.
pub fn count_of(counts: Signal<Counts>, l: Level) -> Option<u64> {
    counts.with(|c| c.get(l.label()).copied().flatten())
}

#[component]
pub fn Toolbar(
    level: RwSignal<Level>,
    counts: Signal<Counts>,
    group_by: RwSignal<bool>,
    error_key: RwSignal<Option<ErrorKey>>,
) -> impl IntoView {
    view! {
        <div class="toolbar alerts-toolbar">
            <div class="tabs" role="tablist" aria-label="Level">
                {Level::ALL
                    .iter()
                    .map(|&l| {
                        view! {
                            <button
                                class="tab"
                                class:is-active=move || level.get() == l
                                role="tab"
                                aria-selected=move || (level.get() == l).to_string()
                                data-level=l.label()
                                on:click=move |_| level.set(l)
                            >
                                {l.label()}
                                " "
                                <span class="alerts-count">
                                    {move || {
                                        count_of(counts, l).map_or("…".to_string(), |n| n.to_string())
                                    }}
                                </span>
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <span class="spacer"></span>
            <label class="checkbox">
                <input
                    type="checkbox"
                    prop:checked=move || group_by.get()
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        group_by.set(on);
                        if !on {
                            error_key.set(None);
                        }
                    }
                />
                " Group by error"
            </label>
        </div>
    }
}
