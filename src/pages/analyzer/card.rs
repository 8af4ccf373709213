//! One card per analyzed file: what the mailbox will do next and why, and the
//! evidence behind it. The detailed sections are `<details>` whose contents are
//! only built when opened, so a page of cards renders fast.

use leptos::prelude::*;
use mailsync_core::{Classification, DirectionState, Report, Status, Trace, RETRY_LIMIT};
use wasm_bindgen::JsCast;

use mailsync_core::parse::Section;

use super::model::{
    as_of_note, last_cycle_text, last_sync_fact, nature_class, nature_label, next_sync,
    scope_class, scope_label, severity_class, severity_label, status_badge, unknown_text, NextSync,
};
use super::when::date_view;

/// Reads report `idx` without subscribing (a card's report never changes).
fn with_report<T>(
    reports: RwSignal<Vec<Report>>,
    idx: usize,
    f: impl FnOnce(&Report) -> T,
) -> Option<T> {
    reports.with_untracked(|all| all.get(idx).map(f))
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "—",
    }
}

fn text_or_dash(v: Option<&str>) -> String {
    v.map(str::to_string).unwrap_or_else(|| "—".to_string())
}

fn num_or_dash(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "—".to_string())
}

/// A collapsible section whose body is rendered the first time it is opened.
fn lazy_details(
    title: String,
    testid: &'static str,
    open: bool,
    body: impl Fn() -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    let opened = RwSignal::new(open);
    view! {
        <details
            class="disclosure az-section"
            data-testid=testid
            open=open
            on:toggle=move |ev| {
                if let Some(d) = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                {
                    if d.open() && !opened.get_untracked() {
                        opened.set(true);
                    }
                }
            }
        >
            <summary>{title}</summary>
            {move || opened.get().then(&body)}
        </details>
    }
}

#[component]
pub fn MailboxCard(
    reports: RwSignal<Vec<Report>>,
    idx: usize,
    /// Open the detail sections (when a single file is shown).
    expanded: bool,
) -> impl IntoView {
    with_report(reports, idx, |r| card(r, reports, idx, expanded)).unwrap_or_else(|| ().into_any())
}

fn card(r: &Report, reports: RwSignal<Vec<Report>>, idx: usize, expanded: bool) -> AnyView {
    let (status_text, status_class) = status_badge(r.status);
    let worst = r.worst_severity();
    let tone = match (r.status, worst) {
        (Status::Error | Status::NotConfigured, _) | (_, Some(mailsync_core::Severity::Error)) => {
            "az-card-error"
        }
        (_, Some(mailsync_core::Severity::Warning)) => "az-card-warning",
        _ => "az-card-ok",
    };
    let title = r.mailbox_id.clone().unwrap_or_else(|| match r.status {
        Status::Error => "Unreadable file".to_string(),
        Status::NotConfigured => "Mailbox not configured".to_string(),
        _ => "No mailbox id in the log".to_string(),
    });
    let health = worst.map(|s| {
        let n = r.findings.iter().filter(|f| f.severity == s).count();
        let word = match (s, n) {
            (mailsync_core::Severity::Error, 1) => "1 error".to_string(),
            (mailsync_core::Severity::Error, n) => format!("{n} errors"),
            (mailsync_core::Severity::Warning, 1) => "1 warning".to_string(),
            (mailsync_core::Severity::Warning, n) => format!("{n} warnings"),
            (mailsync_core::Severity::Info, _) => "No problems".to_string(),
        };
        view! { <span class=severity_class(s) data-testid="card-health">{word}</span> }
    });
    let body = match r.status {
        Status::Error => view! {
            <div class="callout callout-error" role="alert" data-testid="card-error">
                <div class="callout-title">"This file could not be analyzed"</div>
                {r.error.clone().unwrap_or_default()}
            </div>
        }
        .into_any(),
        Status::NotConfigured => findings(r).into_any(),
        _ => readable_body(r, reports, idx, expanded).into_any(),
    };
    view! {
        <article
            class=format!("card az-card {tone}")
            data-testid="mailbox-card"
            data-file=r.file.clone()
            data-status=status_text
        >
            <header class="az-card-head">
                <div class="grow az-card-ids">
                    <h3 class="az-card-title mono" data-testid="card-mailbox-id">{title}</h3>
                    <div class="muted small az-card-file" data-testid="card-file">{r.file.clone()}</div>
                </div>
                <div class="row az-card-badges">
                    <span class=status_class data-testid="card-status">{status_text}</span>
                    {health}
                </div>
            </header>
            {body}
        </article>
    }
    .into_any()
}

fn readable_body(
    r: &Report,
    reports: RwSignal<Vec<Report>>,
    idx: usize,
    expanded: bool,
) -> impl IntoView {
    let processing = if r.processing_now {
        format!("Yes, on host {}", r.host_id.as_deref().unwrap_or("?"))
    } else {
        "No".to_string()
    };
    let ls = &r.last_sync;
    let as_of = r.as_of.as_ref();
    let last_sync = match (last_sync_fact(r), ls.succeeded_on.as_deref()) {
        ((text, ""), Some(on)) => {
            view! { <span>{text}" "{date_view(Some(on), None)}</span> }.into_any()
        }
        ((text, class), _) => view! { <span class=class>{text}</span> }.into_any(),
    };
    let test = match (
        r.test_and_enable.scheduled,
        r.test_and_enable.runs_at.as_deref(),
    ) {
        (Some(true), runs) => {
            view! { <span>"Pending, runs "{date_view(runs, as_of)}</span> }.into_any()
        }
        (Some(false), _) => view! { <span>"Not pending"</span> }.into_any(),
        (None, _) => view! { <span class="muted">{unknown_text(r, Section::TestAndEnable)}</span> }
            .into_any(),
    };
    let next = match next_sync(r) {
        NextSync::At(at) => date_view(Some(at), as_of),
        NextSync::WillNotSync(note) => {
            view! { <span class="az-fact-bad" data-testid="next-sync-note">{note.to_string()}</span> }
                .into_any()
        }
        NextSync::Unknown(text) => view! { <span class="muted">{text}</span> }.into_any(),
    };
    let as_of_text = as_of_note(r).map(str::to_string);
    let traces_title = format!("Recent traces ({})", r.traces.len());
    let fields_title = format!("Raw fields ({})", r.fields.len());
    view! {
        <dl class="az-facts">
            <div class="az-fact az-fact-wide" data-testid="card-next-sync">
                <dt>"Next sync"</dt>
                <dd>{next}</dd>
            </div>
            <div class="az-fact" data-testid="card-processing">
                <dt>"Processing now"</dt>
                <dd>{processing}</dd>
            </div>
            <div class="az-fact" data-testid="card-last-sync">
                <dt>"Last sync"</dt>
                <dd>{last_sync}</dd>
            </div>
            <div class="az-fact" data-testid="card-test-enable">
                <dt>"Test & Enable"</dt>
                <dd>{test}</dd>
            </div>
        </dl>
        {directions(r)}
        {findings(r)}
        <div class="az-sections">
            {lazy_details(
                "Test & Enable and last sync cycle".to_string(),
                "section-sync",
                expanded,
                move || with_report(reports, idx, sync_section).unwrap_or_else(|| ().into_any()),
            )}
            {lazy_details(
                "Email server profile".to_string(),
                "section-profile",
                expanded,
                move || with_report(reports, idx, profile_section).unwrap_or_else(|| ().into_any()),
            )}
            {lazy_details(
                traces_title,
                "section-traces",
                expanded,
                move || with_report(reports, idx, traces_section).unwrap_or_else(|| ().into_any()),
            )}
            {lazy_details(
                fields_title,
                "section-fields",
                false,
                move || with_report(reports, idx, fields_section).unwrap_or_else(|| ().into_any()),
            )}
        </div>
        {as_of_text
            .map(|t| view! { <p class="small muted az-note" data-testid="as-of">"Times: "{t}</p> })}
        {r
            .time_assumption
            .clone()
            .map(|t| view! { <p class="small muted az-note" data-testid="time-assumption">"Time zone: "{t}</p> })}
    }
}

fn directions(r: &Report) -> impl IntoView {
    let row = |name: &'static str, key: &'static str, d: &DirectionState| {
        let runs = if d.runs_next_cycle {
            view! { <span class="badge badge-success">"Yes"</span> }
        } else {
            view! { <span class="badge badge-neutral">"No"</span> }
        };
        view! {
            <tr data-testid=format!("direction-{key}")>
                <th scope="row">{name}</th>
                <td data-label="Method">{text_or_dash(d.method_label.as_deref())}</td>
                <td data-label="Enabled">{yes_no(d.enabled)}</td>
                <td data-label="Postponed until">{date_view(d.postponed_until.as_deref(), None)}</td>
                <td data-label="Next cycle" data-testid="direction-runs">{runs}</td>
                <td data-label="Why" class="az-reason" data-testid="direction-reason">{d.reason.clone()}</td>
            </tr>
        }
    };
    view! {
        <div class="table-wrap az-directions">
            <table class="table table-compact" data-testid="directions">
                <caption class="sr-only">"Synchronization directions"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Direction"</th>
                        <th scope="col">"Method"</th>
                        <th scope="col">"Enabled"</th>
                        <th scope="col">"Postponed until"</th>
                        <th scope="col">"Next cycle"</th>
                        <th scope="col">"Why"</th>
                    </tr>
                </thead>
                <tbody>
                    {row("Incoming email", "incoming", &r.directions.incoming)}
                    {row("Outgoing email", "outgoing", &r.directions.outgoing)}
                    {row("Appointments, contacts, tasks", "act", &r.directions.act)}
                </tbody>
            </table>
        </div>
    }
}

fn findings(r: &Report) -> impl IntoView {
    if r.findings.is_empty() {
        return view! { <p class="az-no-findings muted small" data-testid="no-findings">"No findings: nothing needs attention in this log."</p> }.into_any();
    }
    let items = r
        .findings
        .iter()
        .map(|f| {
            view! {
                <li class="az-finding" data-testid="finding" data-code=f.code.clone()>
                    <span class=severity_class(f.severity)>{severity_label(f.severity)}</span>
                    <div class="az-finding-text">
                        <div data-testid="finding-message">{f.message.clone()}</div>
                        {f.resolution.clone().map(|res| view! { <div class="small muted az-resolution">"What to do: "{res}</div> })}
                    </div>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="az-findings-wrap">
            <h4 class="az-subtitle">"Findings"</h4>
            <ul class="az-findings" data-testid="findings">{items}</ul>
        </div>
    }
    .into_any()
}

fn classification_view(c: &Classification) -> impl IntoView {
    let steps = c
        .resolution
        .iter()
        .map(|s| view! { <li>{s.clone()}</li> })
        .collect_view();
    let rule = match &c.rule {
        Some(rule) => format!("known: {rule}"),
        None => "inferred".to_string(),
    };
    view! {
        <div class="az-classification" data-testid="classification">
            <div class="row">
                <strong data-testid="classification-title">{c.title.clone()}</strong>
                <span class=nature_class(c.nature)>{nature_label(c.nature)}</span>
                <span class=scope_class(c.scope)>{format!("{} scope", scope_label(c.scope))}</span>
                <span class="badge badge-neutral az-rule">{rule}</span>
            </div>
            <p class="az-cause">{c.cause.clone()}</p>
            {(!c.resolution.is_empty()).then(|| view! { <ol class="az-steps">{steps}</ol> })}
            {c.source.clone().map(|s| view! { <div class="small muted">"Source: "{s}</div> })}
        </div>
    }
}

fn sync_section(r: &Report) -> AnyView {
    let t = &r.test_and_enable;
    let ls = &r.last_sync;
    let count = ls.error_count.map(|n| {
        format!(
            "{n} of {}",
            if ls.retry_limit == 0 {
                RETRY_LIMIT
            } else {
                ls.retry_limit
            }
        )
    });
    view! {
        <div class="az-two-col">
            <div>
                <h4 class="az-subtitle">"Test & Enable"</h4>
                <dl class="kv" data-testid="test-enable">
                    <dt>"Scheduled"</dt>
                    <dd>{yes_no(t.scheduled)}</dd>
                    <dt>"Retry count"</dt>
                    <dd>{num_or_dash(t.retry_count)}</dd>
                    <dt>"Completed on"</dt>
                    <dd>{date_view(t.completed_on.as_deref(), None)}</dd>
                    <dt>"Postponed until"</dt>
                    <dd>{date_view(t.postponed_until.as_deref(), None)}</dd>
                    <dt>"Runs at"</dt>
                    <dd>{date_view(t.runs_at.as_deref(), r.as_of.as_ref())}</dd>
                </dl>
                {r.idle.explanation.clone().map(|e| view! {
                    <h4 class="az-subtitle">"Idle state"</h4>
                    <p class="small">{e}</p>
                })}
            </div>
            <div>
                <h4 class="az-subtitle">"Last sync cycle"</h4>
                <dl class="kv" data-testid="last-sync">
                    <dt>"Succeeded on"</dt>
                    <dd>{date_view(ls.succeeded_on.as_deref(), None)}</dd>
                    <dt>"Last cycle"</dt>
                    <dd>{last_cycle_text(r)}</dd>
                    <dt>"Error"</dt>
                    <dd class="az-break">{text_or_dash(ls.error.as_deref())}</dd>
                    <dt>"Error code"</dt>
                    <dd class="mono">{num_or_dash(ls.error_code)}</dd>
                    <dt>"Consecutive failures"</dt>
                    <dd data-testid="error-count">{count.unwrap_or_else(|| "—".to_string())}</dd>
                    <dt>"Error occurred on"</dt>
                    <dd>{date_view(ls.error_occurred_on.as_deref(), None)}</dd>
                    <dt>"Items processed"</dt>
                    <dd>{num_or_dash(ls.items_processed)}</dd>
                    <dt>"Items failed"</dt>
                    <dd>{num_or_dash(ls.items_failed)}</dd>
                </dl>
                {ls.classification.as_ref().map(classification_view)}
            </div>
        </div>
    }
    .into_any()
}

fn profile_section(r: &Report) -> AnyView {
    let Some(p) = &r.profile else {
        return view! { <p class="muted small">"The log has no email server profile details."</p> }
            .into_any();
    };
    let conn =
        |c: &mailsync_core::ConnectionSettings| c.summary().unwrap_or_else(|| "—".to_string());
    let polling = match (p.min_polling_interval_minutes, p.effective_polling_minutes) {
        (Some(m), Some(e)) if m != e => format!("{m} min (effective {e} min)"),
        (Some(m), _) => format!("{m} min"),
        _ => "—".to_string(),
    };
    let explanations = p
        .explanations
        .iter()
        .map(|e| view! { <li>{e.clone()}</li> })
        .collect_view();
    view! {
        <div class="az-two-col" data-testid="profile">
            <dl class="kv">
                <dt>"Server type"</dt>
                <dd>{text_or_dash(p.server_type_label.as_deref())}</dd>
                <dt>"Autodiscover"</dt>
                <dd>{yes_no(p.use_autodiscover)}</dd>
                <dt>"Max connections"</dt>
                <dd>{num_or_dash(p.max_concurrent_connections)}</dd>
                <dt>"Polling interval"</dt>
                <dd>{polling}</dd>
                <dt>"Incoming"</dt>
                <dd>{conn(&p.incoming)}</dd>
                <dt>"Outgoing"</dt>
                <dd>{conn(&p.outgoing)}</dd>
            </dl>
            <ul class="az-explanations small">{explanations}</ul>
        </div>
    }
    .into_any()
}

fn trace_view(t: &Trace) -> impl IntoView {
    let c = &t.classification;
    let rule = match &t.rule {
        Some(rule) => format!("known: {rule}"),
        None => "inferred".to_string(),
    };
    let steps = c
        .resolution
        .iter()
        .map(|s| view! { <li>{s.clone()}</li> })
        .collect_view();
    let details = t.details.clone();
    view! {
        <li class="az-trace" data-testid="trace">
            <div class="row az-trace-head">
                <strong>{t.error_type.clone().unwrap_or_else(|| "Trace".to_string())}</strong>
                <span class=nature_class(t.nature) data-testid="trace-nature">{nature_label(t.nature)}</span>
                <span class=scope_class(t.scope) data-testid="trace-scope">{format!("{} scope", scope_label(t.scope))}</span>
                <span class="badge badge-neutral az-rule" data-testid="trace-rule">{rule}</span>
            </div>
            <div class="az-trace-title" data-testid="trace-title">{c.title.clone()}</div>
            {t.message.clone().map(|m| view! { <div class="mono small az-break az-trace-message">{m}</div> })}
            <dl class="kv small az-trace-facts">
                <dt>"Trace code"</dt>
                <dd class="mono">{num_or_dash(t.tracecode)}</dd>
                <dt>"HTTP status"</dt>
                <dd class="mono">{t.http_status.map(|s| s.to_string()).unwrap_or_else(|| "—".to_string())}</dd>
                <dt>"Error code"</dt>
                <dd class="mono">{num_or_dash(t.error_code)}</dd>
                <dt>"ActivityId"</dt>
                <dd class="mono">{text_or_dash(t.activity_id.as_deref())}</dd>
            </dl>
            <p class="az-cause">{c.cause.clone()}</p>
            {(!c.resolution.is_empty()).then(|| view! { <ol class="az-steps">{steps}</ol> })}
            {lazy_details(
                "Full details".to_string(),
                "trace-details",
                false,
                move || view! { <pre class="log az-pre">{details.clone()}</pre> }.into_any(),
            )}
        </li>
    }
}

fn traces_section(r: &Report) -> AnyView {
    if r.traces.is_empty() {
        return view! { <p class="muted small">"No recent traces in the log."</p> }.into_any();
    }
    view! { <ol class="az-traces">{r.traces.iter().map(trace_view).collect_view()}</ol> }.into_any()
}

fn fields_section(r: &Report) -> AnyView {
    let rows = r
        .fields
        .iter()
        .map(|(k, v)| {
            view! {
                <tr>
                    <th scope="row" class="mono">{k.to_string()}</th>
                    <td class="mono az-break">
                        {match v {
                            Some(v) => view! { <span>{v.to_string()}</span> }.into_any(),
                            None => view! { <span class="muted">"Null"</span> }.into_any(),
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table table-compact" data-testid="raw-fields">
                <thead>
                    <tr>
                        <th scope="col">"Field"</th>
                        <th scope="col">"Value"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
