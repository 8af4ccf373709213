//! Columns a user chooses for a grid, remembered in the browser: the chooser (a
//! disclosure of checkboxes) and the class list that hides the others.
//!
//! Hiding is done by CSS (`.cols-hide-<key> [data-col="<key>"] { display: none }`): the
//! rows are not re-rendered when a column comes or goes, and a hidden cell is hidden from
//! screen readers too.

use std::collections::BTreeSet;

use leptos::prelude::*;

/// A grid's column: its key (the `data-col` of its cells), its header, the property it
/// sorts by (`None`: it does not sort, e.g. a value the console works out), and whether
/// it is shown.
pub struct GridColumn {
    pub key: &'static str,
    pub label: &'static str,
    pub sort: Option<&'static str>,
    pub shown: Shown,
}

/// Whether a column is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Always (the name: a row without it means nothing); not in the chooser.
    Always,
    /// Unless the user hides it.
    ByDefault,
    /// When the user asks for it.
    OnRequest,
}

/// The hidden columns' keys, loaded from (and saved to) `localStorage[storage_key]`.
pub fn hidden_columns(
    storage_key: &'static str,
    columns: &'static [GridColumn],
) -> RwSignal<BTreeSet<&'static str>> {
    let storage = || web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    // Saved as the list of hidden keys; a key no longer known is dropped.
    let saved: Option<BTreeSet<&'static str>> = storage()
        .and_then(|s| s.get_item(storage_key).ok().flatten())
        .map(|text| {
            text.split(',')
                .filter_map(|k| {
                    columns
                        .iter()
                        .find(|c| c.key == k && c.shown != Shown::Always)
                        .map(|c| c.key)
                })
                .collect()
        });
    let hidden = RwSignal::new(saved.unwrap_or_else(|| {
        columns
            .iter()
            .filter(|c| c.shown == Shown::OnRequest)
            .map(|c| c.key)
            .collect()
    }));
    Effect::new(move |first: Option<()>| {
        let keys = hidden.with(|h| h.iter().copied().collect::<Vec<_>>().join(","));
        if first.is_some() {
            if let Some(s) = storage() {
                let _ = s.set_item(storage_key, &keys);
            }
        }
    });
    hidden
}

/// The grid's class list for `hidden` (`cols-hide-act cols-hide-enabled`).
pub fn hiding_classes(hidden: &BTreeSet<&'static str>) -> String {
    hidden
        .iter()
        .map(|k| format!("cols-hide-{k}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// "Columns": a disclosure listing every choosable column with a checkbox.
#[component]
pub fn ColumnChooser(
    columns: &'static [GridColumn],
    hidden: RwSignal<BTreeSet<&'static str>>,
) -> impl IntoView {
    let boxes = columns
        .iter()
        .filter(|c| c.shown != Shown::Always)
        .map(|c| {
            let key = c.key;
            view! {
                <label class="check columns-choice">
                    <input
                        type="checkbox"
                        prop:checked=move || hidden.with(|h| !h.contains(key))
                        on:change=move |ev| {
                            let show = event_target_checked(&ev);
                            hidden.update(|h| {
                                if show {
                                    h.remove(key);
                                } else {
                                    h.insert(key);
                                }
                            });
                        }
                    />
                    " "{c.label}
                </label>
            }
        })
        .collect_view();
    view! {
        <details class="columns-chooser">
            <summary class="btn btn-secondary btn-sm">"Columns"</summary>
            <fieldset class="columns-menu card">
                <legend class="small muted">"Columns shown"</legend>
                {boxes}
            </fieldset>
        </details>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_name_each_hidden_column() {
        let hidden: BTreeSet<&'static str> = ["enabled", "act"].into_iter().collect();
        assert_eq!(hiding_classes(&hidden), "cols-hide-act cols-hide-enabled");
        assert_eq!(hiding_classes(&BTreeSet::new()), "");
    }
}
