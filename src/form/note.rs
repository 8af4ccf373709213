//! What the last save of a record form did, shown above the form.

use leptos::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Saved,
    Created,
    /// Someone else changed what the user edited: the form was reloaded.
    Stale,
    Error(String),
}

/// The note of `note`; `what` names the record ("mailbox", "profile").
#[component]
pub fn SaveNote(note: RwSignal<Option<Note>>, what: &'static str) -> impl IntoView {
    move || {
        note.get().map(|n| match n {
            Note::Saved => view! { <div class="callout callout-success record-note" role="status">"Saved."</div> }.into_any(),
            Note::Created => view! {
                <div class="callout callout-success record-note" role="status">{format!("The {what} was created.")}</div>
            }
            .into_any(),
            Note::Stale => view! {
                <div class="callout callout-warning record-note" role="alert">
                    <div class="callout-title">{format!("Not saved: someone else changed this {what}")}</div>
                    {format!("The {what} was changed by someone else after you opened it. It has been reloaded; make your changes again.")}
                </div>
            }
            .into_any(),
            Note::Error(m) => view! { <div class="callout callout-error record-note" role="alert">{m}</div> }.into_any(),
        })
    }
}
