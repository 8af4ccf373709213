//! The grid's toolbar: the system views (a tablist: arrow keys, Home and End move
//! between them), the search, and an extra filter from a link.

use leptos::prelude::*;

use super::query::View;
use super::Nav;

/// The grid, the panel every view tab controls.
pub const GRID_PANEL: &str = "mb-grid-panel";

/// The id of a view's tab.
pub fn tab_id(v: View) -> String {
    format!("mb-view-{}", v.key())
}

/// The views and the search beside them (not in the tablist).
#[component]
pub fn Toolbar(nav: Nav) -> impl IntoView {
    view! {
        <div class="toolbar mb-views">
            <ViewTabs nav=nav />
            <span class="spacer"></span>
            <SearchBox nav=nav />
        </div>
    }
}

/// The views as tabs: the selected one is the only Tab stop; arrow keys, Home and End
/// select the next, previous, first or last view and move focus to its tab (the tabs
/// stay in place: only their attributes change).
#[component]
fn ViewTabs(nav: Nav) -> impl IntoView {
    let set_view = move |v: View| nav.restart(|s| s.view = v);
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let current = nav.state.get_untracked().view;
        let at = View::ALL.iter().position(|v| *v == current).unwrap_or(0);
        let n = View::ALL.len();
        let last = n - 1;
        if ev.alt_key() || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let next = match ev.key().as_str() {
            "ArrowRight" | "ArrowDown" => (at + 1) % n,
            "ArrowLeft" | "ArrowUp" => (at + last) % n,
            "Home" => 0,
            "End" => last,
            _ => return,
        };
        ev.prevent_default();
        let v = View::ALL[next];
        if v != current {
            set_view(v);
        }
        if let Some(tab) = crate::components::focus::document()
            .and_then(|d| d.get_element_by_id(&tab_id(v)))
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = tab.focus();
        }
    };
    view! {
        <div class="mb-tabs" role="tablist" aria-label="Views" on:keydown=on_key>
            {View::ALL
                .into_iter()
                .map(|v| {
                    let selected = move || nav.state.get().view == v;
                    view! {
                        <button
                            role="tab"
                            id=tab_id(v)
                            aria-controls=GRID_PANEL
                            class=move || {
                                if selected() { "btn btn-sm btn-primary" } else { "btn btn-sm btn-secondary" }
                            }
                            aria-selected=move || selected().to_string()
                            tabindex=move || if selected() { "0" } else { "-1" }
                            on:click=move |_| set_view(v)
                        >
                            {v.label()}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Search on name or address (submitted: back to the first page).
#[component]
fn SearchBox(nav: Nav) -> impl IntoView {
    let on_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = event_target::<web_sys::HtmlFormElement>(&ev);
        let q = form
            .elements()
            .named_item("q")
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(e).ok())
            .map(|i| i.value())
            .unwrap_or_default();
        nav.restart(|s| s.search = q.trim().to_string());
    };
    view! {
        <form class="row mb-search" role="search" on:submit=on_search>
            <input
                class="input"
                type="search"
                name="q"
                aria-label="Search mailboxes"
                placeholder="Name or email contains\u{2026}"
                prop:value=move || nav.state.get().search
            />
            <button class="btn btn-secondary btn-sm" type="submit">"Search"</button>
        </form>
    }
}

/// The extra filter a link opened the grid with (the dashboard's numbers), and the way
/// back to the whole view.
#[component]
pub fn ExtraFilter(nav: Nav) -> impl IntoView {
    move || {
        nav.state.get().extra.map(|(_, label)| {
            view! {
                <div class="callout callout-info mb-extra" data-testid="grid-filter">
                    "Showing only: " <strong>{label}</strong> " "
                    <button class="btn btn-link btn-sm" on:click=move |_| nav.restart(|s| s.extra = None)>
                        "Show all"
                    </button>
                </div>
            }
        })
    }
}
