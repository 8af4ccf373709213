//! The toolbar's other tools: the Test & Enable dialog (the shared [`Dialog`]),
//! Download Mailbox Details (opens the log in the Log Analyzer, or
//! saves the logs) and Export CSV of the view.

use std::collections::HashMap;

use indexmap::IndexMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use wasm_bindgen::JsValue;

use super::bulk::BulkAction;
use super::grid::Row;
use super::query::{self, GridState, SELECT};
use crate::api::{self, fetch_all};
use crate::components::{download, Dialog};

/// Test & Enable's options, then the run (or cancel: `None`).
#[component]
pub fn TestEnableDialog(
    count: Signal<usize>,
    on_close: Callback<Option<BulkAction>>,
) -> impl IntoView {
    let this_org = RwSignal::new(false);
    let after = RwSignal::new(String::new());
    view! {
        <Dialog
            title="Test & Enable Mailboxes"
            text=Signal::derive(move || format!("Schedule the configuration test for {}. They show as pending test until it runs.", crate::format::count(count.get(), "selected mailbox", "selected mailboxes")))
            confirm="Test & Enable"
            on_confirm=Callback::new(move |()| {
                let date = after.get_untracked();
                on_close.run(Some(BulkAction::test_and_enable(this_org.get_untracked(), Some(date))))
            })
            on_cancel=Callback::new(move |()| on_close.run(None))
        >
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || this_org.get() on:change=move |ev| this_org.set(event_target_checked(&ev)) />
                " Sync items with Exchange from this organization only, even if Exchange was set to sync with a different organization"
            </label>
            <div class="field">
                <label for="mb-te-after">"Process email received after"</label>
                <input
                    id="mb-te-after"
                    class="input"
                    type="date"
                    aria-describedby="mb-te-after-hint"
                    prop:value=move || after.get()
                    on:input=move |ev| after.set(event_target_value(&ev))
                />
                <span class="field-hint" id="mb-te-after-hint">"Optional: older email is not processed."</span>
            </div>
        </Dialog>
    }
}

fn file_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}.log")
}

/// Download Mailbox Details of every selected mailbox: open them in the Log Analyzer, or
/// save them as files; those whose details could not be composed are named with why.
#[component]
pub fn DownloadDetails(
    selected: RwSignal<IndexMap<String, String>>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let navigate = StoredValue::new_local(use_navigate());
    let fetch = move |open: bool| {
        let targets: Vec<(String, String)> =
            selected.with_untracked(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        if targets.is_empty() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let (logs, left_out) = compose_logs(&targets).await;
            busy.set(false);
            if !left_out.is_empty() {
                let shown: Vec<String> = left_out
                    .iter()
                    .take(20)
                    .map(|(name, why)| format!("{name}: {why}"))
                    .collect();
                notice.set(Some(format!(
                    "The details of {} of {} could not be composed and were left out: {}{}",
                    crate::format::thousands(left_out.len()),
                    crate::format::count(targets.len(), "mailbox", "mailboxes"),
                    shown.join("; "),
                    if left_out.len() > 20 { "; …" } else { "" }
                )));
            }
            if logs.is_empty() {
                return;
            }
            if open {
                for (name, text) in logs {
                    crate::handoff::give(name, text);
                }
                navigate.with_value(|n| n("/analyzer", NavigateOptions::default()));
            } else {
                let saved = match logs.as_slice() {
                    [(name, text)] => download::save_text(name, "text/plain", text),
                    _ => download::zip_texts(&logs)
                        .map_err(|e| JsValue::from_str(&e))
                        .and_then(|zip| {
                            let name = format!("mailbox-details-{}.zip", logs.len());
                            download::save_bytes(&name, "application/zip", &zip)
                        }),
                };
                if let Err(e) = saved {
                    notice.set(Some(format!("The logs could not be saved: {e:?}")));
                }
            }
        });
    };
    let disabled = move || busy.get() || selected.with(IndexMap::is_empty);
    view! {
        <div class="btn-group">
            <button class="btn btn-secondary btn-sm" disabled=disabled on:click=move |_| fetch(true)>
                "Download Mailbox Details"
            </button>
            <button class="btn btn-secondary btn-sm" title="Save the logs as files instead (several in one zip)" disabled=disabled on:click=move |_| fetch(false)>
                "Save log"
            </button>
        </div>
    }
}

/// Export CSV of every mailbox of the current view and search, in its order.
#[component]
pub fn ExportCsv(state: Memo<GridState>, notice: RwSignal<Option<String>>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let export = move |_| {
        let s = state.get_untracked().first_page();
        busy.set(true);
        spawn_local(async move {
            let profiles: HashMap<String, String> = api::profile_names()
                .await
                .unwrap_or_default()
                .into_iter()
                .collect();
            match fetch_all::<Row>(s.api_path(SELECT, false)).await {
                Ok(rows) => {
                    let csv = to_csv(&rows, &profiles);
                    let name = format!("mailboxes-{}.csv", s.view.key());
                    if let Err(e) = download::save_text(&name, "text/csv", &csv) {
                        notice.set(Some(format!("The CSV could not be saved: {e:?}")));
                    }
                }
                Err(e) => notice.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <button class="btn btn-secondary btn-sm" disabled=move || busy.get() on:click=export>
            "Export CSV"
        </button>
    }
}

fn to_csv(rows: &[Row], profiles: &HashMap<String, String>) -> String {
    let mut out = String::from(
        "Mailbox ID,Name,Email address,Email server profile,Approval,Incoming status,Outgoing status,ACT status,Enabled incoming,Enabled outgoing,Enabled ACT,Last sync error,Next sync\r\n",
    );
    for r in rows {
        let b = |v: Option<bool>| v.map(|v| v.to_string()).unwrap_or_default();
        let fields = [
            r.mailboxid.clone(),
            r.name.clone().unwrap_or_default(),
            r.emailaddress.clone().unwrap_or_default(),
            r.profile
                .as_ref()
                .map(|p| profiles.get(p).cloned().unwrap_or_else(|| p.clone()))
                .unwrap_or_default(),
            query::approval_label(r.emailrouteraccessapproval).into(),
            query::status_label(r.incomingemailstatus).into(),
            query::status_label(r.outgoingemailstatus).into(),
            query::status_label(r.actstatus).into(),
            b(r.enabledforincomingemail),
            b(r.enabledforoutgoingemail),
            b(r.enabledforact),
            r.lastsyncerror.clone().unwrap_or_default(),
            r.postponemailboxprocessinguntil.clone().unwrap_or_default(),
        ];
        out.push_str(&query::csv_line(&fields));
    }
    out
}

/// The Mailbox Details logs of `targets` (id, name), composed in the browser from the
/// mailbox, its profile and its latest alerts (core's `writer::compose`), so it works on
/// any organization: three `$batch`es of reads per 1,000 mailboxes. Returns the logs
/// (file name, text) and the mailboxes left out with why.
async fn compose_logs(
    targets: &[(String, String)],
) -> (Vec<(String, String)>, Vec<(String, String)>) {
    use crate::api::batch::{Op, MAX_OPS};
    let get = Op::get;
    let read = |ops: Vec<Op>| async move {
        match api::send_batch_answers(&ops).await {
            Ok(answers) => answers
                .into_iter()
                .map(|a| {
                    a.map_err(|e| e.message)
                        .and_then(|b| serde_json::from_str(&b).map_err(|e| e.to_string()))
                })
                .collect::<Vec<Result<serde_json::Value, String>>>(),
            Err(e) => {
                let why = e.map_or("this organization has no $batch".to_string(), |e| e.message);
                ops.iter().map(|_| Err(why.clone())).collect()
            }
        }
    };
    let mut logs = Vec::new();
    let mut left_out = Vec::new();
    for chunk in targets.chunks(MAX_OPS) {
        let mailboxes = read(
            chunk
                .iter()
                .map(|(id, _)| get(format!("/api/data/v9.2/mailboxes({id})")))
                .collect(),
        )
        .await;
        let mut profile_ids: Vec<String> = mailboxes
            .iter()
            .filter_map(|m| {
                m.as_ref().ok()?["_emailserverprofile_value"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        profile_ids.sort();
        profile_ids.dedup();
        let profiles: HashMap<String, serde_json::Value> = profile_ids
            .iter()
            .cloned()
            .zip(
                read(
                    profile_ids
                        .iter()
                        .map(|p| get(format!("/api/data/v9.2/emailserverprofiles({p})")))
                        .collect(),
                )
                .await,
            )
            .filter_map(|(id, p)| Some((id, p.ok()?)))
            .collect();
        let alerts = read(
            chunk
                .iter()
                .map(|(id, _)| {
                    get(format!(
                        "/api/data/v9.2/tracelogs?$select=level,tracecode,errortypedisplay,errordetails,text\
                         &$filter=_regardingobjectid_value%20eq%20{id}%20and%20level%20ge%202\
                         &$orderby=modifiedon%20desc&$top={}",
                        mailsync_core::writer::MAX_TRACES
                    ))
                })
                .collect(),
        )
        .await;
        for (((_, name), mailbox), alerts) in chunk.iter().zip(mailboxes).zip(alerts) {
            match mailbox {
                Err(why) => left_out.push((name.clone(), why)),
                Ok(m) => {
                    let profile = m["_emailserverprofile_value"]
                        .as_str()
                        .and_then(|p| profiles.get(p));
                    let alerts = alerts
                        .ok()
                        .and_then(|a| a["value"].as_array().cloned())
                        .unwrap_or_default();
                    logs.push((
                        file_name(name),
                        mailsync_core::writer::compose(&m, profile, &alerts),
                    ));
                }
            }
        }
    }
    (logs, left_out)
}
