//! The monitoring dashboard (`/dashboard`), after the product's Server-Side
//! Synchronization Performance dashboard: mailboxes by status, failing mailboxes by
//! error and by profile, sync cycles and failures over the last 24 hours, and when
//! mailboxes are due next. Every number links to the records behind it (the Mailboxes
//! grid with the number's filter, or the alerts wall of that hour). It reads the Web
//! API only, and refreshes while the engine runs.
//!
//! - [`model`]: the filters, buckets and groupings (host unit tests)
//! - [`charts`]: the bar list and the 24-hour column chart

mod charts;
mod model;

use std::collections::HashMap;

use leptos::prelude::*;

use crate::api::{self, encode, fetch_all, ApiError, Collection};
use crate::pages::analyzer::when::now;
use crate::session::RequireSignIn;
use charts::{BarList, Bars, HourChart};
use model::{
    by_error, by_profile, due_buckets, every_profile, hours, mailboxes_href, sort_groups, Failing,
    Group, Hour, Statistic, FAILING, STATUSES,
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
    failing_total: u64,
    failing_read: usize,
    errors: Vec<Group>,
    profiles: Vec<Group>,
    hours: Vec<Hour>,
}

async fn groups(items: Vec<(&'static str, String)>) -> Result<Vec<Group>, ApiError> {
    let mut out = Vec::with_capacity(items.len());
    for (label, filter) in items {
        out.push(Group {
            label: label.to_string(),
            count: api::count_mailboxes(&filter).await?,
            filter,
        });
    }
    Ok(out)
}

async fn load() -> Result<Figures, ApiError> {
    let t = now();
    let statuses = groups(STATUSES.iter().map(|(l, f)| (*l, f.to_string())).collect()).await?;
    let due = groups(due_buckets(t)).await?;
    let failing_path = format!(
        "/api/data/v9.2/mailboxes?$select=lastsyncerrorcode,lastsyncerror,_emailserverprofile_value\
         &$orderby=lastsyncerroroccurredon%20desc&$count=true&$top={FAILING_SAMPLE}&$filter={}",
        encode(FAILING)
    );
    let failing: Collection<Failing> =
        api::get_json_with(&failing_path, &[("Prefer", "odata.maxpagesize=5000")]).await?;
    let names: HashMap<String, String> = api::profile_names().await?.into_iter().collect();
    let since = mailsync_core::Timestamp(t.0 - t.0.rem_euclid(3600) - 23 * 3600);
    // The engine's statistics are the organization's: a user without a role (403) or
    // an organization without the table (404) has no hourly figures.
    let stats = match fetch_all::<Statistic>(format!(
        "/api/data/v9.2/mailsync_syncstatistics?$select=mailsync_hour,mailsync_cycles,\
         mailsync_failures,mailsync_tests,mailsync_testfailures&$filter=mailsync_hour%20ge%20{}",
        since.to_rfc3339()
    ))
    .await
    {
        Ok(s) => s,
        Err(e) if matches!(e.status, 403 | 404) => Vec::new(),
        Err(e) => return Err(e),
    };
    let failing_total = failing.count.unwrap_or(failing.value.len() as u64);
    let mut errors = by_error(&failing.value);
    let mut profiles = by_profile(&failing.value, &names);
    if (failing.value.len() as u64) < failing_total {
        // The sample finds the errors; each bar is then counted over every failing
        // mailbox, so its number is what its link opens. Profiles are few: all of them
        // are counted, so none is missed.
        errors = recount(errors).await?;
        profiles = recount(every_profile(&names)).await?;
    }
    Ok(Figures {
        statuses,
        due,
        failing_total,
        failing_read: failing.value.len(),
        errors,
        profiles,
        hours: hours(&stats, t),
    })
}

/// The groups counted exactly through `$count`, empty ones left out, largest first.
async fn recount(groups: Vec<Group>) -> Result<Vec<Group>, ApiError> {
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        g.count = api::count_mailboxes(&g.filter).await?;
        if g.count > 0 {
            out.push(g);
        }
    }
    sort_groups(&mut out);
    Ok(out)
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
    Effect::new(move |_| {
        if let Some(r) = figures.get() {
            shown.set(Some(r.map_err(|e| e.message)));
        }
    });
    let handle = set_interval_with_handle(
        move || tick.update(|n| *n += 1),
        std::time::Duration::from_secs(REFRESH_SECS),
    )
    .ok();
    on_cleanup(move || {
        if let Some(h) = handle {
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

    view! {
        <section class="page dashboard-page" aria-labelledby="dash-title">
            <div class="page-header">
                <div>
                    <h1 id="dash-title">"Dashboard"</h1>
                    <p class="muted">"Server-side synchronization performance. Every number opens the records behind it."</p>
                </div>
                <div class="page-actions">
                    <span class="muted small" data-testid="dash-updated">
                        {move || shown.with(|s| s.is_some()).then(|| format!("Updated every {REFRESH_SECS} s"))}
                    </span>
                    <button class="btn btn-secondary btn-sm" on:click=move |_| tick.update(|n| *n += 1)>"Refresh"</button>
                </div>
            </div>
            {move || match shown.get() {
                None => view! { <p class="muted"><span class="spinner"></span>" Loading\u{2026}"</p> }.into_any(),
                Some(Err(e)) => view! { <div class="callout callout-error" role="alert">{e}</div> }.into_any(),
                Some(Ok(f)) => {
                    let profiles_note = format!("{} failing mailboxes", f.failing_total);
                    let errors_note = if f.failing_read as u64 >= f.failing_total {
                        profiles_note.clone()
                    } else {
                        format!(
                            "{} failing mailboxes; the errors of the newest {}, each counted over all",
                            f.failing_total, f.failing_read
                        )
                    };
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
                            <section class="card dash-card dash-wide" aria-label="Sync cycles and failures" data-testid="dash-hours">
                                <div class="card-header">
                                    <span class="card-title">"Sync cycles and failures, last 24 hours"</span>
                                    <span class="muted small">{format!("{} passes, {} failed", f.hours.iter().map(|h| h.passes).sum::<i64>(), f.hours.iter().map(|h| h.failures).sum::<i64>())}</span>
                                </div>
                                <div class="card-body"><HourChart hours=f.hours /></div>
                            </section>
                        </div>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}
