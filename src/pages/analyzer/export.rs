//! Downloads of the results: JSON (core's `to_json`, the shape of
//! `mailsync analyze --json`) and CSV (core's `to_csv`), made in the browser.

use leptos::prelude::*;

use super::queue::Analyzer;
use crate::components::download::save_text as download;

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
