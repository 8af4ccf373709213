//! The monitoring dashboard (`/dashboard`), after the product's Server-Side
//! Synchronization Performance dashboard: mailboxes by status, failing mailboxes by
//! error and by profile, alerts over the last 24 hours, and when mailboxes are due
//! next. Every number links to the records behind it (the Mailboxes grid with the
//! number's filter, or the alerts wall of that hour). It reads the plain Web API, so
//! it works on any organization, and refreshes on its own.
//!
//! Requests per refresh: one `$batch` of every count (statuses, due buckets, 48
//! hourly alert counts), a sample of the failing mailboxes, the profiles' names, and,
//! when more mailboxes fail than the sample holds, a `$batch` counting each error
//! group and an `$apply` grouping by profile (a `$batch` of counts where `$apply` is
//! refused, e.g. past 50,000 records). Errors are grouped by the knowledge-base entry
//! that recognizes them (core's `classify::text_filter` makes each group's filter). The local
//! organization's engine statistics add a chart of sync cycles when the organization
//! has that table.
//!
//! - [`model`]: the filters, buckets and groupings (host unit tests)
//! - [`charts`]: the bar list and the 24-hour column chart

mod charts;
mod model;

use std::collections::HashMap;

use leptos::prelude::*;
use serde_json::Value;

use crate::api::{self, encode, fetch_all, ApiError, Collection, Total};
use crate::session::RequireSignIn;
use crate::time::now;
use charts::{BarList, Bars, HourChart};
use model::{
    alert_hour_filters, alert_hours, by_error, by_profile, day_hours, due_buckets, errors_over_all,
    every_profile, failing_groups_query, hours, mailboxes_href, profiles_from_groups, sort_groups,
    Failing, Group, Hour, Statistic, FAILING, STATUSES,
};

/// Seconds between refreshes.
const REFRESH_SECS: u64 = 15;
/// Failing mailboxes read for the error and profile charts (the newest failures).
const FAILING_SAMPLE: usize = 5000;

#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <RequireSignIn>
            <DashboardPage />
        </RequireSignIn>
    }
}

/// Everything the dashboard shows, read in one go.
#[derive(Debug, Clone)]
struct Figures {
    statuses: Vec<Group>,
    due: Vec<Group>,
    failing_total: Total,
    failing_read: usize,
    errors: Vec<Group>,
    profiles: Vec<Group>,
    alerts: Vec<Hour>,
    /// The engine's sync cycles, where the organization has its statistics table.
    cycles: Option<Vec<Hour>>,
}

fn groups(items: Vec<(&'static str, String)>, counts: &[Total]) -> Vec<Group> {
    items
        .into_iter()
        .zip(counts)
        .map(|((label, filter), &count)| Group {
            label: label.to_string(),
            count,
            filter,
        })
        .collect()
}

async fn load() -> Result<Figures, ApiError> {
    let t = now();
    let statuses: Vec<(&'static str, String)> =
        STATUSES.iter().map(|(l, f)| (*l, f.to_string())).collect();
    let due = due_buckets(t);
    let starts = day_hours(t);
    let mut queries: Vec<(&str, &str, String)> = statuses
        .iter()
        .chain(&due)
        .map(|(_, f)| ("mailboxes", "mailboxid", f.clone()))
        .collect();
    for &start in &starts {
        for f in alert_hour_filters(start) {
            queries.push(("tracelogs", "tracelogid", f));
        }
    }
    let failing_path = format!(
        "/api/data/v9.2/mailboxes?$select=lastsyncerrorcode,lastsyncerror,_emailserverprofile_value\
         &$orderby=lastsyncerroroccurredon%20desc&$count=true&$top={FAILING_SAMPLE}&$filter={}",
        encode(FAILING)
    );
    // Independent reads go at once (the organization answers them in parallel).
    let (counts, failing, names, cycles) = futures::join!(
        api::counts(&queries),
        api::get_json_with::<Collection<Failing>>(
            &failing_path,
            &[(
                "Prefer",
                "odata.maxpagesize=5000,odata.include-annotations=\"Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded\"",
            )],
        ),
        api::profile_names(),
        statistics(t),
    );
    let (counts, failing, cycles) = (counts?, failing?, cycles?);
    let names: HashMap<String, String> = names?.into_iter().collect();
    let (status_counts, rest) = counts.split_at(statuses.len());
    let (due_counts, alert_counts) = rest.split_at(due.len());
    let failing_total = failing
        .total()
        .unwrap_or(Total::new(failing.value.len() as u64, Some(false)));
    let mut errors = by_error(&failing.value);
    let mut profiles = by_profile(&failing.value, &names);
    if (failing.value.len() as u64) < failing_total.n || failing_total.more {
        // The sample finds the errors; each bar is then counted over every failing
        // mailbox, so its number is what its link opens: per code through `$apply`
        // (one request), and by text only for a code under which the sample found
        // several errors (`errors_over_all`). Profiles are few: all are counted.
        let (by_code, by_profile_rows) = futures::join!(
            apply_rows_of("lastsyncerrorcode"),
            apply_rows_of("_emailserverprofile_value")
        );
        errors = match by_code {
            Some(rows) => {
                let (groups, mixed) = errors_over_all(&rows, &failing.value);
                let mut all = groups;
                all.extend(recount(mixed).await?);
                sort_groups(&mut all);
                all
            }
            None => recount(errors).await?,
        };
        profiles = match by_profile_rows {
            Some(rows) => profiles_from_groups(&rows, &names),
            None => recount(every_profile(&names)).await?,
        };
    }
    Ok(Figures {
        statuses: groups(statuses, status_counts),
        due: groups(due, due_counts),
        failing_total,
        failing_read: failing.value.len(),
        errors,
        profiles,
        alerts: alert_hours(&starts, alert_counts),
        cycles,
    })
}

/// The rows of `$apply` grouping the failing mailboxes by `key`; `None` where the
/// organization refuses it (e.g. past 50,000 records).
async fn apply_rows_of(key: &str) -> Option<Vec<Value>> {
    Some(
        api::get_json::<Collection<Value>>(&failing_groups_query(key))
            .await
            .ok()?
            .value,
    )
}

/// The groups counted through `$count` (one `$batch`), empty ones left out, largest
/// first.
async fn recount(groups: Vec<Group>) -> Result<Vec<Group>, ApiError> {
    let queries: Vec<_> = groups
        .iter()
        .map(|g| ("mailboxes", "mailboxid", g.filter.clone()))
        .collect();
    let counts = api::counts(&queries).await?;
    let mut out: Vec<Group> = groups
        .into_iter()
        .zip(counts)
        .filter(|(_, c)| c.n > 0)
        .map(|(g, count)| Group { count, ..g })
        .collect();
    sort_groups(&mut out);
    Ok(out)
}

/// The engine's hourly statistics (the local organization's `mailsync_syncstatistics`):
/// `None` where the organization has no such table (404) or the user may not read it.
async fn statistics(t: mailsync_core::Timestamp) -> Result<Option<Vec<Hour>>, ApiError> {
    let since = day_hours(t)[0];
    match fetch_all::<Statistic>(format!(
        "/api/data/v9.2/mailsync_syncstatistics?$select=mailsync_hour,mailsync_cycles,\
         mailsync_failures,mailsync_tests,mailsync_testfailures&$filter=mailsync_hour%20ge%20{}",
        since.to_rfc3339()
    ))
    .await
    {
        Ok(s) => Ok(Some(hours(&s, t))),
        Err(e) if matches!(e.status, 400 | 403 | 404) => Ok(None),
        Err(e) => Err(e),
    }
}

#[component]
fn DashboardPage() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let figures = LocalResource::new(move || {
        tick.track();
        load()
    });
    // Kept while a refresh is under way, so the page does not flash.
    let shown = RwSignal::new(None::<Result<Figures, String>>);
    // The next refresh is due REFRESH_SECS after this one answered, never while it
    // runs: on a large organization a load can take longer than the interval.
    let next = StoredValue::new_local(None::<TimeoutHandle>);
    Effect::new(move |_| {
        if let Some(r) = figures.get() {
            shown.set(Some(r.map_err(|e| e.message)));
            let handle = set_timeout_with_handle(
                move || tick.update(|n| *n += 1),
                std::time::Duration::from_secs(REFRESH_SECS),
            )
            .ok();
            if let Some(old) = next
                .try_update_value(|h| std::mem::replace(h, handle))
                .flatten()
            {
                old.clear();
            }
        }
    });
    on_cleanup(move || {
        if let Some(h) = next.try_update_value(Option::take).flatten() {
            h.clear();
        }
    });

    let bars = |groups: Vec<Group>| -> Bars {
        groups
            .into_iter()
            .map(|g| {
                let href = mailboxes_href(&g.filter, &g.label);
                (g.label, g.count, href)
            })
            .collect()
    };
    let sum = |hours: &[Hour]| {
        (
            hours.iter().map(|h| h.total).sum::<i64>(),
            hours.iter().map(|h| h.failed).sum::<i64>(),
        )
    };

    view! {
        <section class="page dashboard-page" aria-labelledby="dash-title">
            <div class="page-header">
                <div>
                    <h1 id="dash-title">"Dashboard"</h1>
                    <p class="muted">"Server-side synchronization performance. Every number opens the records behind it."</p>
                </div>
                <div class="page-actions">
                    <span class="muted small" data-testid="dash-updated">
                        {move || shown.with(|s| s.is_some()).then(|| format!("Refreshes {REFRESH_SECS} s after each update"))}
                    </span>
                    <button class="btn btn-secondary btn-sm" on:click=move |_| tick.update(|n| *n += 1)>"Refresh"</button>
                </div>
            </div>
            {move || match shown.get() {
                None => view! { <p class="muted"><span class="spinner"></span>" Loading\u{2026}"</p> }.into_any(),
                Some(Err(e)) => view! { <div class="callout callout-error" role="alert">{e}</div> }.into_any(),
                Some(Ok(f)) => {
                    let profiles_note = format!("{} failing", f.failing_total.of("mailbox", "mailboxes"));
                    let errors_note = if f.failing_read as u64 >= f.failing_total.n && !f.failing_total.more {
                        profiles_note.clone()
                    } else {
                        format!(
                            "{} failing; the errors of the newest {}, each counted over all",
                            f.failing_total.of("mailbox", "mailboxes"), crate::format::thousands(f.failing_read)
                        )
                    };
                    let (alerts, alert_errors) = sum(&f.alerts);
                    let cycles = f.cycles.map(|hours| {
                        let (passes, failed) = sum(&hours);
                        view! {
                            <section class="card dash-card dash-wide" aria-label="Sync cycles and failures" data-testid="dash-cycles">
                                <div class="card-header">
                                    <span class="card-title">"Sync cycles and failures, last 24 hours"</span>
                                    <span class="muted small">{format!("{}, {failed} failed", crate::format::count(passes as usize, "pass", "passes"))}</span>
                                </div>
                                <div class="card-body"><HourChart hours=hours what="sync cycles" total="succeeded" failed="failed" /></div>
                            </section>
                        }
                    });
                    view! {
                        <div class="dash-grid">
                            <section class="card dash-card" aria-label="Mailboxes by status" data-testid="dash-status">
                                <div class="card-header"><span class="card-title">"Mailboxes by status"</span></div>
                                <div class="card-body"><BarList bars=bars(f.statuses) /></div>
                            </section>
                            <section class="card dash-card" aria-label="When enabled mailboxes synchronize next" data-testid="dash-due">
                                <div class="card-header"><span class="card-title">"When enabled mailboxes synchronize next"</span></div>
                                <div class="card-body"><BarList bars=bars(f.due) /></div>
                            </section>
                            <section class="card dash-card" aria-label="Failing mailboxes by error" data-testid="dash-errors">
                                <div class="card-header">
                                    <span class="card-title">"Failing mailboxes by error"</span>
                                    <span class="muted small">{errors_note}</span>
                                </div>
                                <div class="card-body"><BarList bars=bars(f.errors) empty="No mailbox is failing." /></div>
                            </section>
                            <section class="card dash-card" aria-label="Failing mailboxes by profile" data-testid="dash-profiles">
                                <div class="card-header">
                                    <span class="card-title">"Failing mailboxes by email server profile"</span>
                                    <span class="muted small">{profiles_note}</span>
                                </div>
                                <div class="card-body"><BarList bars=bars(f.profiles) empty="No mailbox is failing." /></div>
                            </section>
                            <section class="card dash-card dash-wide" aria-label="Alerts per hour" data-testid="dash-hours">
                                <div class="card-header">
                                    <span class="card-title">"Alerts, last 24 hours"</span>
                                    <span class="muted small">{format!("{}, {}", crate::format::count(alerts as usize, "alert", "alerts"), crate::format::count(alert_errors as usize, "error", "errors"))}</span>
                                </div>
                                <div class="card-body"><HourChart hours=f.alerts what="alerts" total="warnings and information" failed="errors" /></div>
                            </section>
                            {cycles}
                        </div>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}
