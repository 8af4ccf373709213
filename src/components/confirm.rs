//! A confirmation: "are you sure?" before an action that changes or deletes records,
//! as a [`Dialog`] (it takes focus — Cancel first when `danger` —, keeps Tab inside,
//! closes on Escape and gives focus back to what opened it).
//!
//! ```ignore
//! <Show when=move || asking.get()>
//!     <Confirm
//!         title="Delete alert"
//!         text="Delete this alert? This cannot be undone."
//!         confirm="Delete"
//!         danger=true
//!         on_close=Callback::new(move |yes: bool| {
//!             asking.set(false);
//!             if yes { delete() }
//!         })
//!     />
//! </Show>
//! ```

use leptos::prelude::*;

use super::Dialog;

#[component]
pub fn Confirm(
    /// The question's heading and the dialog's accessible name.
    #[prop(into)]
    title: Signal<String>,
    /// What will happen, in a sentence.
    #[prop(into)]
    text: Signal<String>,
    /// The button that goes ahead ("Delete", "Apply").
    confirm: &'static str,
    /// `true` when the user went ahead, `false` on Cancel or Escape. Whoever renders
    /// the confirmation hides it here.
    on_close: Callback<bool>,
    /// A destructive action: a red button, and Cancel takes focus first.
    #[prop(optional)]
    danger: bool,
    /// Another class on the confirm button.
    #[prop(optional)]
    confirm_class: &'static str,
    /// Notes under the sentence.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    view! {
        <Dialog
            title=title
            text=text
            confirm=confirm
            danger=danger
            confirm_class=confirm_class
            on_confirm=Callback::new(move |()| on_close.run(true))
            on_cancel=Callback::new(move |()| on_close.run(false))
        >
            {children.map(|c| c())}
        </Dialog>
    }
}
