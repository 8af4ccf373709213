//! The fleet summary shown above the cards when more than one file was analyzed:
//! counts by condition and the causes shared by several mailboxes (core's
//! `summarize`). Clicking a group narrows the cards to its mailboxes.

use std::sync::Arc;

use leptos::prelude::*;
use mailsync_core::{FleetGroup, FleetSummary, Report};

use super::model::{scope_class, scope_label, severity_class, severity_label, thousands};

/// Groups shown before "Show all".
const GROUPS_SHOWN: usize = 8;
/// Mailboxes named per group before "and N more".
const MEMBERS_NAMED: usize = 4;

fn stat(
    testid: &'static str,
    label: &'static str,
    value: usize,
    tone: &'static str,
) -> impl IntoView {
    let class = if value == 0 {
        "card stat az-stat".to_string()
    } else {
        format!("card stat az-stat {tone}")
    };
    view! {
        <div class=class data-testid=testid>
            <span class="stat-value">{thousands(value)}</span>
            <span class="stat-label">{label}</span>
        </div>
    }
}

fn member_name(r: &Report) -> String {
    match &r.mailbox_id {
        Some(m) => format!("{m} ({})", r.file),
        None => r.file.clone(),
    }
}

#[component]
pub fn FleetSummaryView(
    reports: RwSignal<Vec<Report>>,
    summary: Memo<Arc<FleetSummary>>,
    /// The selected group's code.
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let show_all = RwSignal::new(false);
    let stats = move || {
        let s = summary.get();
        view! {
            <div class="az-stats">
                {stat("fleet-files", "Files", s.files, "")}
                {stat("fleet-analyzed", "Analyzed", s.analyzed, "stat-ok")}
                {stat("fleet-unreadable", "Unreadable", s.unreadable, "stat-error")}
                {stat("fleet-disabled", "Disabled", s.disabled, "stat-error")}
                {stat("fleet-failing", "Failing", s.failing, "stat-error")}
                {stat("fleet-pending-test", "Pending test", s.pending_test, "stat-warning")}
                {stat("fleet-overdue", "Overdue", s.overdue, "stat-warning")}
                {stat("fleet-processing-now", "Processing now", s.processing_now, "")}
                {stat("fleet-never-synced", "Never synced", s.never_synced, "stat-warning")}
                {stat("fleet-last-sync-unknown", "Last sync unknown", s.last_sync_unknown, "")}
            </div>
        }
    };
    let rows = move || {
        let s = summary.get();
        let limit = if show_all.get() {
            usize::MAX
        } else {
            GROUPS_SHOWN
        };
        let current = selected.get();
        reports.with_untracked(|all| {
            s.groups
                .iter()
                .take(limit)
                .map(|g| {
                    group_row(
                        g,
                        all,
                        current.as_deref() == Some(g.code.as_str()),
                        selected,
                    )
                })
                .collect_view()
        })
    };
    let more = move || {
        let n = summary.with(|s| s.groups.len());
        (n > GROUPS_SHOWN).then(|| {
            view! {
                <button
                    type="button"
                    class="btn btn-link az-more"
                    on:click=move |_| show_all.update(|v| *v = !*v)
                >
                    {move || {
                        if show_all.get() {
                            "Show fewer groups".to_string()
                        } else {
                            format!("Show all {n} groups")
                        }
                    }}
                </button>
            }
        })
    };
    view! {
        <section class="az-fleet" data-testid="fleet-summary" aria-labelledby="az-fleet-title">
            <h2 id="az-fleet-title">"Fleet summary"</h2>
            {stats}
            <Show when=move || summary.with(|s| !s.groups.is_empty())>
                <div class="az-groups">
                    <h3>"Shared findings"</h3>
                    <p class="muted small">
                        "Findings and causes grouped with the mailboxes that share them; a profile-level cause affects every mailbox of that profile. Select a group to show only its mailboxes."
                    </p>
                    <div class="table-wrap">
                        <table class="table table-compact" data-testid="fleet-groups">
                            <thead>
                                <tr>
                                    <th scope="col">"Severity"</th>
                                    <th scope="col">"Finding"</th>
                                    <th scope="col">"Scope"</th>
                                    <th scope="col" class="num">"Mailboxes"</th>
                                    <th scope="col">"Files"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                    {more}
                </div>
            </Show>
        </section>
    }
}

fn group_row(
    g: &FleetGroup,
    all: &[Report],
    is_selected: bool,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let code = g.code.clone();
    let toggle = move || {
        let code = code.clone();
        selected.update(|s| {
            *s = if s.as_deref() == Some(code.as_str()) {
                None
            } else {
                Some(code)
            }
        });
    };
    let toggle_btn = toggle.clone();
    let names: Vec<String> = g
        .reports
        .iter()
        .take(MEMBERS_NAMED)
        .filter_map(|i| all.get(*i))
        .map(member_name)
        .collect();
    let rest = g.reports.len().saturating_sub(MEMBERS_NAMED);
    view! {
        <tr
            class="is-clickable"
            class:is-selected=is_selected
            data-testid="fleet-group"
            data-code=g.code.clone()
            on:click=move |_| toggle()
        >
            <td>
                <span class=severity_class(g.severity)>{severity_label(g.severity)}</span>
            </td>
            <td>
                <button
                    type="button"
                    class="btn btn-link az-group-title"
                    aria-pressed=if is_selected { "true" } else { "false" }
                    title="Show only these mailboxes"
                    on:click=move |ev| {
                        ev.stop_propagation();
                        toggle_btn();
                    }
                >
                    {g.title.clone()}
                </button>
                <div class="muted small mono">{g.code.clone()}</div>
            </td>
            <td>
                {g.scope.map(|s| view! { <span class=scope_class(s)>{scope_label(s)}</span> })}
            </td>
            <td class="num" data-testid="fleet-group-count">{thousands(g.reports.len())}</td>
            <td class="az-members small">
                {names.join(", ")}
                {(rest > 0).then(|| view! { <span class="muted">{format!(" and {} more", thousands(rest))}</span> })}
            </td>
        </tr>
    }
}
