//! Downloads of the results: JSON (core's `to_json`, the shape of
//! `mailsync analyze --json`) and CSV (core's `to_csv`), made in the browser.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use super::queue::Analyzer;

/// Saves `body` as a file named `name` through a Blob object URL.
fn download(name: &str, mime: &str, body: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(body));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.set_attribute("hidden", "")?;
    let body_el = document.body().ok_or("no body")?;
    body_el.append_child(&a)?;
    a.click();
    a.remove();
    // Give the download a moment to start before the URL goes away.
    let revoke = url.clone();
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&revoke);
        },
        std::time::Duration::from_secs(30),
    );
    Ok(())
}

/// Export and Clear buttons for the page header.
#[component]
pub fn ResultActions(analyzer: Analyzer) -> impl IntoView {
    let empty = move || analyzer.reports.with(Vec::is_empty);
    let busy = move || analyzer.progress.with(|p| p.running);
    let export_json = move |_| {
        let body = analyzer
            .reports
            .with_untracked(|r| mailsync_core::export::to_json(r));
        let _ = download("mailsync-analysis.json", "application/json", &body);
    };
    let export_csv = move |_| {
        let body = analyzer
            .reports
            .with_untracked(|r| mailsync_core::export::to_csv(r));
        let _ = download("mailsync-analysis.csv", "text/csv", &body);
    };
    view! {
        <div class="page-actions az-actions">
            <button
                type="button"
                class="btn btn-secondary"
                data-testid="export-json"
                title="Download the analysis as JSON (same shape as mailsync analyze --json)"
                disabled=move || empty() || busy()
                on:click=export_json
            >
                "Export JSON"
            </button>
            <button
                type="button"
                class="btn btn-secondary"
                data-testid="export-csv"
                title="Download one CSV row per file"
                disabled=move || empty() || busy()
                on:click=export_csv
            >
                "Export CSV"
            </button>
            <button
                type="button"
                class="btn btn-ghost"
                data-testid="clear"
                disabled=move || empty() && !busy()
                on:click=move |_| analyzer.clear()
            >
                "Clear"
            </button>
        </div>
    }
}
