//! Log Analyzer page: drop, pick or paste "Download Mailbox Details" logs and get a
//! diagnosis per mailbox plus a fleet summary. Everything runs in the browser with
//! `mailsync_core::analyze`; nothing is uploaded.
//!
//! - [`input`]: page-wide drop (files and folders), file/folder pickers, paste box
//! - [`queue`]: chunked reading and analysis with progress
//! - [`fleet`]: counts and shared findings across files
//! - [`card`]: one mailbox's diagnosis
//! - [`export`]: JSON/CSV downloads and Clear
//! - [`model`]: filtering and sorting (pure, unit-tested)

mod card;
mod export;
mod fleet;
mod input;
mod model;
mod queue;
pub(crate) mod when;

use std::sync::Arc;

use leptos::prelude::*;
use mailsync_core::FleetSummary;

use crate::components::pager::page_status;
use crate::components::{Pager, Progress as ProgressBar};
use card::MailboxCard;
use export::ResultActions;
use fleet::FleetSummaryView;
use input::{install_page_drop, DropZone, PasteBox};
use model::{thousands, Condition, Filter, SortKey};
use queue::{Analyzer, Progress, Source};

/// Cards per page.
const PAGE_SIZE: usize = 50;

#[component]
pub fn LogAnalyzer() -> impl IntoView {
    let analyzer = Analyzer::new();
    queue::warm_up();
    let reports = analyzer.reports;
    let dragging = install_page_drop(analyzer);
    // Logs handed over by another page (Mailboxes' Download Mailbox Details).
    let handed: Vec<Source> = crate::handoff::take()
        .into_iter()
        .map(|(name, text)| Source::Text { name, text })
        .collect();
    if !handed.is_empty() {
        analyzer.enqueue(handed, queue::performance_now());
    }

    let filter = RwSignal::new(Filter::default());
    let sort = RwSignal::new(SortKey::Severity);
    let group = RwSignal::new(None::<String>);
    let page = RwSignal::new(0usize);

    let count = Memo::new(move |_| reports.with(Vec::len));
    let summary: Memo<Arc<FleetSummary>> = Memo::new(move |_| {
        if count.get() > 1 {
            Arc::new(reports.with(|r| mailsync_core::summarize(r)))
        } else {
            Arc::new(FleetSummary::default())
        }
    });
    // Indexes of the cards passing the filters, in display order.
    let shown: Memo<Vec<usize>> = Memo::new(move |_| {
        let f = filter.get();
        let key = sort.get();
        let code = group.get();
        let s = summary.get();
        let only = code
            .as_deref()
            .and_then(|c| s.groups.iter().find(|g| g.code == c))
            .map(|g| g.reports.as_slice());
        reports.with(|r| model::visible(r, &f, only, key))
    });
    let pages = move || shown.with(Vec::len).div_ceil(PAGE_SIZE).max(1);
    // Back to the first page whenever the selection changes.
    Effect::new(move |_| {
        filter.track();
        sort.track();
        group.track();
        page.set(0);
    });
    Effect::new(move |_| {
        if analyzer.generation.get() > 0 {
            filter.set(Filter::default());
            group.set(None);
        }
    });
    let page_items = move || {
        let gen = analyzer.generation.get();
        let p = page.get().min(pages() - 1);
        shown.with(|v| {
            v.iter()
                .skip(p * PAGE_SIZE)
                .take(PAGE_SIZE)
                .map(|i| (gen, *i))
                .collect::<Vec<_>>()
        })
    };
    let single = move || count.get_untracked() == 1;

    view! {
        <section class="page analyzer" aria-labelledby="az-title">
            <div class="page-header">
                <div>
                    <h1 id="az-title">"Log Analyzer"</h1>
                    <p class="muted az-subtitle-line">
                        "Diagnose \u{201c}Download Mailbox Details\u{201d} logs: when each mailbox synchronizes next, why a direction does not run, and what its errors mean."
                    </p>
                </div>
                <ResultActions analyzer=analyzer />
            </div>
            <div class="callout callout-info az-privacy" data-testid="privacy-note">
                <strong>"Nothing is uploaded: files are analyzed in your browser."</strong>
                " The logs never leave this computer; close the tab or press Clear to forget them."
            </div>
            <div class="az-inputs">
                <DropZone analyzer=analyzer dragging=dragging />
                <PasteBox analyzer=analyzer />
            </div>
            <ProgressView progress=analyzer.progress />
            <Show when=move || { count.get() > 1 }>
                <FleetSummaryView reports=reports summary=summary selected=group />
            </Show>
            <Show when=move || { count.get() > 0 }>
                <section class="az-results" aria-labelledby="az-results-title">
                    <Show when=move || { count.get() > 1 }>
                        <Toolbar filter=filter sort=sort group=group summary=summary />
                    </Show>
                    <div class="row az-results-head">
                        <h2 id="az-results-title" class="az-results-title">"Mailboxes"</h2>
                        <span class="muted small" data-testid="results-count" aria-live="polite">
                            {move || {
                                let n = shown.with(Vec::len);
                                let total = count.get();
                                if n == 0 {
                                    return format!("No file of {} matches", thousands(total));
                                }
                                let p = page.get().min(pages() - 1);
                                let from = p * PAGE_SIZE + 1;
                                let to = (from + PAGE_SIZE - 1).min(n);
                                if n == total {
                                    format!("Showing {}\u{2013}{} of {}", thousands(from), thousands(to), thousands(n))
                                } else {
                                    format!(
                                        "Showing {}\u{2013}{} of {} matching ({} files in all)",
                                        thousands(from),
                                        thousands(to),
                                        thousands(n),
                                        thousands(total),
                                    )
                                }
                            }}
                        </span>
                    </div>
                    <div class="az-cards">
                        <For
                            each=page_items
                            key=|item| *item
                            children=move |(_, idx)| {
                                view! { <MailboxCard reports=reports idx=idx expanded=single() /> }
                            }
                        />
                    </div>
                    <Show when=move || { pages() > 1 }>
                        <CardPager page=page pages=Signal::derive(pages) />
                    </Show>
                </section>
            </Show>
        </section>
        <div class="az-drop-overlay" class:is-visible=move || dragging.get() aria-hidden="true">
            <div class="az-drop-overlay-box">"Drop to analyze \u{2014} nothing is uploaded"</div>
        </div>
    }
}

#[component]
fn ProgressView(progress: RwSignal<Progress>) -> impl IntoView {
    let label = move || {
        progress.with(|p| {
            let base = format!("Analyzed {} of {}", thousands(p.done), thousands(p.total));
            match (p.running, p.elapsed_ms) {
                (true, _) => format!("{base}\u{2026}"),
                (false, Some(ms)) => format!("{base} files in {:.2} s", ms / 1000.0),
                (false, None) => base,
            }
        })
    };
    view! {
        <div
            class="az-progress"
            class:hidden=move || progress.with(|p| p.total == 0)
            data-testid="progress"
            data-done=move || progress.with(|p| p.done.to_string())
            data-total=move || progress.with(|p| p.total.to_string())
            data-running=move || progress.with(|p| p.running.to_string())
            data-elapsed-ms=move || progress.with(|p| p.elapsed_ms.map(|ms| format!("{ms:.1}")))
            data-read-ms=move || progress.with(|p| format!("{:.1}", p.read_ms))
            data-analyze-ms=move || progress.with(|p| format!("{:.1}", p.analyze_ms))
            data-render-ms=move || progress.with(|p| format!("{:.1}", p.render_ms))
            data-paint-ms=move || progress.with(|p| format!("{:.1}", p.paint_ms))
        >
            <ProgressBar
                done=Signal::derive(move || progress.with(|p| p.done))
                total=Signal::derive(move || progress.with(|p| p.total))
                label="Analysis progress"
                text=Signal::derive(label)
                text_testid="progress-label"
            />
        </div>
    }
}

#[component]
fn Toolbar(
    filter: RwSignal<Filter>,
    sort: RwSignal<SortKey>,
    group: RwSignal<Option<String>>,
    summary: Memo<Arc<FleetSummary>>,
) -> impl IntoView {
    let toggles = Condition::ALL
        .into_iter()
        .map(|c| {
            view! {
                <label class="checkbox az-toggle">
                    <input
                        type="checkbox"
                        data-testid=format!("filter-{}", c.slug())
                        prop:checked=move || filter.with(|f| f.has(c))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            filter.update(|f| f.toggle(c, on));
                        }
                    />
                    {c.label()}
                </label>
            }
        })
        .collect_view();
    let group_chip = move || {
        group.get().map(|code| {
            let title = summary
                .with(|s| {
                    s.groups
                        .iter()
                        .find(|g| g.code == code)
                        .map(|g| g.title.clone())
                })
                .unwrap_or(code);
            view! {
                <span class="az-chip" data-testid="group-filter">
                    "Group: "
                    <strong>{title}</strong>
                    <button
                        type="button"
                        class="az-chip-close"
                        aria-label="Show all groups"
                        data-testid="group-filter-clear"
                        on:click=move |_| group.set(None)
                    >
                        "\u{00d7}"
                    </button>
                </span>
            }
        })
    };
    view! {
        <div class="toolbar az-toolbar" role="search">
            <input
                type="search"
                class="input az-search"
                placeholder="Search file, mailbox or finding"
                aria-label="Search file names, mailbox ids and findings"
                data-testid="filter-text"
                prop:value=move || filter.with(|f| f.text.clone())
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    filter.update(|f| f.text = v);
                }
            />
            <label class="az-sort">
                <span class="muted small">"Sort by"</span>
                <select
                    class="input"
                    data-testid="sort"
                    aria-label="Sort cards by"
                    on:change=move |ev| sort.set(SortKey::from_value(&event_target_value(&ev)))
                >
                    {SortKey::ALL
                        .into_iter()
                        .map(|k| {
                            view! {
                                <option value=k.value() selected=move || sort.get() == k>
                                    {k.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <div class="az-toggles" role="group" aria-label="Only show mailboxes that are">
                <span class="muted small">"Only:"</span>
                {toggles}
            </div>
            {group_chip}
            <Show when=move || { filter.with(Filter::is_active) || group.with(Option::is_some) }>
                <button
                    type="button"
                    class="btn btn-link btn-sm"
                    data-testid="filter-reset"
                    on:click=move |_| {
                        filter.set(Filter::default());
                        group.set(None);
                    }
                >
                    "Reset filters"
                </button>
            </Show>
        </div>
    }
}

/// The shared pager over the cards; a page change scrolls back to the results' heading.
#[component]
fn CardPager(page: RwSignal<usize>, pages: Signal<usize>) -> impl IntoView {
    let current = move || page.get().min(pages.get() - 1);
    let go = move |p: usize| {
        page.set(p);
        if let Some(el) = document().get_element_by_id("az-results-title") {
            el.scroll_into_view();
        }
    };
    view! {
        <Pager
            label="Pages of mailboxes"
            class="az-pager"
            status=Signal::derive(move || page_status(current() + 1, Some(pages.get()), false))
            has_prev=Signal::derive(move || current() > 0)
            has_next=Signal::derive(move || current() + 1 < pages.get())
            on_prev=Callback::new(move |()| go(current().saturating_sub(1)))
            on_next=Callback::new(move |()| go((current() + 1).min(pages.get() - 1)))
        />
    }
}
