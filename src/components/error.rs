//! An error the user should read: a red callout, `role="alert"` so it is announced when
//! it appears, with a Dismiss button where the page lets the user put it away. One
//! look and one sound for every page's errors: a failed read, a refused action, a grid
//! or a bulk run that could not load.
//!
//! ```ignore
//! <ErrorNote message=notice dismissable=true />
//! <ErrorNote message=load_error testid="load-error" />
//! {error_callout(e.message)}
//! ```

use leptos::prelude::*;

use crate::api::ApiError;

/// The error in `message`, while there is one; Dismiss (when `dismissable`) clears it.
#[component]
pub fn ErrorNote(
    message: RwSignal<Option<String>>,
    #[prop(optional)] dismissable: bool,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    move || {
        message.get().map(|m| {
            let dismiss = dismissable.then(|| {
                view! {
                    " "
                    <button class="btn btn-link btn-sm" on:click=move |_| message.set(None)>"Dismiss"</button>
                }
            });
            view! {
                <div class="callout callout-error" role="alert" data-testid=testid>
                    {m}
                    {dismiss}
                </div>
            }
        })
    }
}

/// An error known when the view is built (a grid's failed read).
pub fn error_callout(message: String) -> impl IntoView {
    view! { <div class="callout callout-error" role="alert">{message}</div> }
}

/// What a record's failed read says: `missing` for a 404 (no such record, or one the
/// user may not see: Dataverse answers both alike), else the server's own words.
pub fn load_message(e: &ApiError, missing: &str) -> String {
    if e.status == 404 {
        missing.to_string()
    } else {
        e.message.clone()
    }
}
