//! The console's one dialog: a modal card with a title, an optional sentence saying
//! what will happen, optional body content (fields, notes), Cancel and one primary
//! action.
//!
//! ```ignore
//! <Dialog
//!     title="Delete all alerts"
//!     text=Signal::derive(move || format!("Delete all {n} alerts?"))
//!     confirm="Delete"
//!     danger=true
//!     on_confirm=Callback::new(move |()| delete())
//!     on_cancel=Callback::new(move |()| open.set(false))
//! >
//!     <p class="muted small">"Alerts that cannot be deleted are left in place."</p>
//! </Dialog>
//! ```
//!
//! Render it only while it is open (`<Show>`): it is `role="dialog"`, `aria-modal`,
//! named by its title and described by its text; it takes focus when it opens (an
//! element marked `data-autofocus`, else the first field of its body, else the primary
//! button; Cancel for a `danger` dialog), keeps Tab and Shift+Tab inside, Escape is
//! Cancel, and when it closes the element that opened it gets focus back.

use std::sync::atomic::{AtomicUsize, Ordering};

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::focus;

/// Makes the ids of each dialog's title and text unique on the page.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

#[component]
pub fn Dialog(
    /// The dialog's heading and accessible name.
    #[prop(into)]
    title: Signal<String>,
    /// What the primary action does, in a sentence (the dialog's description).
    #[prop(optional, into)]
    text: Option<Signal<String>>,
    /// The primary button's label.
    confirm: &'static str,
    on_confirm: Callback<()>,
    /// Cancel, Escape.
    on_cancel: Callback<()>,
    /// A destructive action: the primary button is red and Cancel takes focus first.
    #[prop(optional)]
    danger: bool,
    /// Another class on the primary button (what a page's tests find it by).
    #[prop(optional)]
    confirm_class: &'static str,
    /// Fields or notes between the text and the buttons.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let title_id = format!("dialog-{n}-title");
    let text_id = format!("dialog-{n}-text");
    let panel = NodeRef::<leptos::html::Div>::new();

    // Whoever opened the dialog gets focus back when it closes.
    let opener = StoredValue::new_local(focus::active());

    // Focus moves in once the dialog is in the document.
    Effect::new(move |_| {
        let Some(panel) = panel.get() else {
            return;
        };
        let target = focus::find(&panel, "[data-autofocus]")
            .or_else(|| {
                focus::find(
                    &panel,
                    ".dialog-body input:not([disabled]), .dialog-body select:not([disabled]), .dialog-body textarea:not([disabled])",
                )
            })
            .or_else(|| focus::find(&panel, ".dialog-primary"));
        match target {
            Some(el) => {
                let _ = el.focus();
            }
            None => {
                let _ = panel.focus();
            }
        }
    });

    let keys = window_event_listener(ev::keydown, move |e| match e.key().as_str() {
        "Escape" => {
            e.prevent_default();
            on_cancel.run(());
        }
        "Tab" => {
            let Some(panel) = panel.get_untracked() else {
                return;
            };
            let panel: web_sys::Element = panel.unchecked_into();
            let items = focus::tabbable(&panel);
            let (Some(first), Some(last)) = (items.first(), items.last()) else {
                e.prevent_default();
                return;
            };
            let active = focus::active();
            let inside = active.as_ref().is_some_and(|a| panel.contains(Some(a)));
            let at = |el: &web_sys::HtmlElement| {
                active.as_ref().is_some_and(|a| a.is_same_node(Some(el)))
            };
            let at_panel = active
                .as_ref()
                .is_some_and(|a| a.is_same_node(Some(&panel)));
            if e.shift_key() {
                if !inside || at_panel || at(first) {
                    e.prevent_default();
                    let _ = last.focus();
                }
            } else if !inside || at_panel || at(last) {
                e.prevent_default();
                let _ = first.focus();
            }
        }
        _ => {}
    });
    on_cleanup(move || {
        keys.remove();
        opener.with_value(|o| {
            if let Some(o) = o.as_ref().filter(|o| o.is_connected()) {
                focus::focus(o);
            }
        });
    });

    let primary = format!(
        "btn {} dialog-primary {confirm_class}",
        if danger { "btn-danger" } else { "btn-primary" }
    )
    .trim_end()
    .to_string();
    let described = text.is_some().then(|| text_id.clone());
    let labelled = title_id.clone();
    view! {
        <div class="dialog-backdrop">
            <div
                class="card dialog"
                role="dialog"
                aria-modal="true"
                aria-labelledby=labelled
                aria-describedby=described
                tabindex="-1"
                node_ref=panel
            >
                <h2 class="dialog-title" id=title_id>{move || title.get()}</h2>
                <div class="dialog-body">
                    {text.map(|t| view! { <p id=text_id>{move || t.get()}</p> })}
                    {children.map(|c| c())}
                </div>
                <div class="dialog-actions">
                    <button
                        class="btn btn-secondary"
                        data-autofocus=danger.then_some("")
                        on:click=move |_| on_cancel.run(())
                    >
                        "Cancel"
                    </button>
                    <button class=primary on:click=move |_| on_confirm.run(())>{confirm}</button>
                </div>
            </div>
        </div>
    }
}
