//! Placeholder for console areas that have not been built yet.

use leptos::prelude::*;

/// Says that `area` is not available yet — nothing more.
#[component]
pub fn NotYet(
    /// Human-readable area name, e.g. "Mailboxes".
    area: &'static str,
) -> impl IntoView {
    view! {
        <section class="page not-yet">
            <h1>{area}</h1>
            <div class="card">
                <p class="muted">{format!("The {area} area is not available yet.")}</p>
            </div>
        </section>
    }
}
