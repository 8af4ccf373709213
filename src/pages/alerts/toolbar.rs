//! The wall's toolbar: the level tabs with their counts (`LevelTabs`, a record's alerts
//! use them too), and "Group by error".

use leptos::prelude::*;

use super::fetch::Counts;
use super::model::{ErrorKey, Level};

/// A level's count, `None` while it is read or where it could not be.
pub fn count_of(counts: Signal<Counts>, l: Level) -> Option<u64> {
    counts.with(|c| c.get(l.label()).copied().flatten())
}

/// The level tabs (All, Error, Warning, Information) of the wall and of a record's
/// alerts; with `counts`, each shows its count.
#[component]
pub fn LevelTabs(
    level: RwSignal<Level>,
    aria_label: &'static str,
    #[prop(optional, into)] counts: Option<Signal<Counts>>,
    #[prop(optional)] small: bool,
) -> impl IntoView {
    view! {
        <div class="tabs" class:tabs-sm=small role="tablist" aria-label=aria_label>
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
                            {counts.map(|counts| view! {
                                " "
                                <span class="alerts-count">
                                    {move || {
                                        count_of(counts, l).map_or("…".to_string(), |n| n.to_string())
                                    }}
                                </span>
                            })}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
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
            <LevelTabs level=level aria_label="Level" counts=counts />
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
