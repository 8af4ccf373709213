//! The mailbox form (`/mailboxes/<id>`): the sections of the product's form (General,
//! Credentials, Synchronization Method, Configuration Test Results, approval) plus the
//! synchronization state, the mailbox's alerts, and the grid's actions for this one
//! mailbox. Save sends only what changed with `If-Match`; a 412 says someone else saved
//! first and reloads. The actions run only on a saved form (they change the record).

use indexmap::IndexMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use mailsync_core::options::delivery_method_label;
use mailsync_core::report::Direction;
use serde_json::{Map, Value};

use super::bulk::{self, BulkAction, Run};
use super::query::{approval_label, status_label};
use super::results::RunView;
use super::signin::OAuthSignIn;
use super::tools::{DownloadDetails, TestEnableDialog};
use crate::api;
use crate::components::error::load_message;
use crate::components::{Confirm, ErrorNote};
use crate::form::fields::{
    CheckField, ChoiceField, LookupField, ReadOnly, ReadOnlyDate, SecretField, TextField,
};
use crate::form::{self, unsaved, Lookup, Note, RecordForm, SaveError, SaveNote};
use crate::pages::alerts::RecordAlerts;
use crate::session::RequireSignIn;

const MAILBOXES: &str = "/api/data/v9.2/mailboxes";
const LOOKUPS: &[Lookup] = &[Lookup {
    property: "_emailserverprofile_value",
    nav: "emailserverprofile",
    set: "emailserverprofiles",
}];
const LEAVE: &str = "You have unsaved changes to this mailbox. Leave this page and lose them?";

#[component]
pub fn MailboxRecord() -> impl IntoView {
    view! {
        <RequireSignIn>
            <MailboxForm />
        </RequireSignIn>
    }
}

fn methods(dir: Direction, values: &[i64]) -> Vec<(i64, &'static str)> {
    values
        .iter()
        .map(|&v| (v, delivery_method_label(dir, v as i32)))
        .collect()
}

/// The name of a user or queue record (`None` when it cannot be read).
async fn name_of(set: &str, key: &str, name: &str, id: &str) -> Option<String> {
    let path = format!("/api/data/v9.2/{set}({id})?$select={key},{name}");
    let v: Value = api::get_json(&path).await.ok()?;
    v.get(name).and_then(Value::as_str).map(str::to_string)
}

#[component]
fn MailboxForm() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id")).unwrap_or_default());
    let form = RecordForm::new(Signal::derive(|| true));
    crate::api::provide_option_labels("mailbox");
    // What a failed read says (`load_message`).
    let load_error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<Note>);
    let saving = RwSignal::new(false);
    let profiles = RwSignal::new(Vec::<(String, String)>::new());
    let names = RwSignal::new((None::<String>, None::<String>));
    let run = RwSignal::new(None::<Run>);
    let cancel = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let test_dialog = RwSignal::new(false);
    let defaults_dialog = RwSignal::new(false);
    let reloads = RwSignal::new(0u32);

    let reload = move |then: Option<Note>| {
        let id = id.get_untracked();
        spawn_local(async move {
            match api::get_json::<Map<String, Value>>(&format!("{MAILBOXES}({id})")).await {
                Ok(record) => {
                    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
                    let owner = text("_ownerid_value");
                    let regarding = text("_regardingobjectid_value");
                    let regarding_set = text("regardingobjecttypecode");
                    form.load(record);
                    load_error.set(None);
                    note.set(then);
                    reloads.update(|n| *n += 1);
                    let owner = match owner {
                        Some(o) => name_of("systemusers", "systemuserid", "fullname", &o).await,
                        None => None,
                    };
                    let regarding = match (regarding, regarding_set.as_deref()) {
                        (Some(r), Some("queue")) => name_of("queues", "queueid", "name", &r).await,
                        (Some(r), _) => {
                            name_of("systemusers", "systemuserid", "fullname", &r).await
                        }
                        _ => None,
                    };
                    names.set((owner, regarding));
                }
                Err(e) => load_error.set(Some(load_message(
                    &e,
                    "This mailbox does not exist, or you may not see it.",
                ))),
            }
        });
    };
    Effect::new(move |_| {
        id.track();
        reload(None);
    });
    spawn_local(async move {
        if let Ok(list) = api::profile_names().await {
            profiles.set(list);
        }
    });

    let dirty = Memo::new(move |_| !form.changes(LOOKUPS).is_empty());
    unsaved::guard(dirty.into(), LEAVE);

    let save = move || {
        if form.changes(LOOKUPS).is_empty() {
            return;
        }
        saving.set(true);
        note.set(None);
        let path = format!("{MAILBOXES}({})", id.get_untracked());
        spawn_local(async move {
            let result = form::save(form, &path, LOOKUPS).await;
            saving.set(false);
            match result {
                Ok(()) => reload(Some(Note::Saved)),
                Err(SaveError::Stale(_)) => reload(Some(Note::Stale)),
                Err(SaveError::Api(e)) => note.set(Some(Note::Error(e.message))),
            }
        });
    };

    let name = move || form.text("name").unwrap_or_default();
    let this_one = move || vec![(id.get_untracked(), name())];
    let start = Callback::new(
        move |(action, targets): (BulkAction, Vec<(String, String)>)| {
            spawn_local(async move {
                bulk::run_all(action, targets, run, cancel).await;
                reload(None);
            });
        },
    );
    let act = move |action: BulkAction| {
        let approval = form.saved_value("emailrouteraccessapproval").as_i64();
        match action.already(approval) {
            Some(already) => notice.set(Some(already.to_string())),
            None => start.run((action, this_one())),
        }
    };
    let apply_defaults = move || {
        spawn_local(async move {
            match bulk::default_settings().await {
                Ok(action) => act(action),
                Err(e) => notice.set(Some(e.message)),
            }
        });
    };
    let busy = move || dirty.get() || run.with(|r| r.as_ref().is_some_and(|r| !r.finished));
    let selected = RwSignal::new(IndexMap::<String, String>::new());
    Effect::new(move |_| {
        reloads.track();
        selected.set(IndexMap::from([(id.get_untracked(), name())]));
    });

    let saved_text = move |prop: &'static str| {
        Signal::derive(move || {
            form.saved_value(prop)
                .as_str()
                .map(str::to_string)
                .unwrap_or_default()
        })
    };
    let saved_status = move |prop: &'static str| {
        Signal::derive(move || status_label(form.saved_value(prop).as_i64()).to_string())
    };
    let saved_flag = move |prop: &'static str| {
        Signal::derive(move || match form.saved_value(prop).as_bool() {
            Some(true) => "Yes".to_string(),
            Some(false) => "No".to_string(),
            None => String::new(),
        })
    };
    let approval = move || form.saved_value("emailrouteraccessapproval").as_i64();
    let approval_class = move || match approval() {
        Some(1) => "badge badge-success",
        Some(3) => "badge badge-error",
        Some(2) => "badge badge-warning",
        _ => "badge badge-neutral",
    };

    view! {
        <section class="page record-page mailbox-record" aria-labelledby="record-title">
            <div class="page-header">
                <div>
                    <p class="muted small"><A href="/mailboxes">"Mailboxes"</A>" / Mailbox"</p>
                    <h1 id="record-title">{move || { let n = name(); if n.is_empty() { "Mailbox".to_string() } else { n } }}</h1>
                    <p class="row small">
                        <span class=approval_class data-testid="approval">{move || approval_label(approval())}</span>
                        {move || (form.saved_value("testemailconfigurationscheduled") == Value::Bool(true))
                            .then(|| view! { <span class="badge badge-info">"Test pending"</span> })}
                    </p>
                </div>
                <div class="page-actions">
                    <Show when=move || dirty.get()>
                        <span class="badge badge-warning" data-testid="dirty">"Unsaved changes"</span>
                    </Show>
                    <button class="btn btn-secondary" disabled=move || !dirty.get() || saving.get() on:click=move |_| form.discard()>
                        "Discard"
                    </button>
                    <button class="btn btn-primary" disabled=move || !dirty.get() || saving.get() on:click=move |_| save()>
                        {move || if saving.get() { "Saving\u{2026}" } else { "Save" }}
                    </button>
                </div>
            </div>
            <div class="toolbar record-actions">
                <button class="btn btn-secondary btn-sm" disabled=busy on:click=move |_| act(BulkAction::approve())>"Approve Email"</button>
                <button class="btn btn-secondary btn-sm" disabled=busy on:click=move |_| act(BulkAction::reject())>"Reject Email"</button>
                <button class="btn btn-secondary btn-sm" disabled=busy on:click=move |_| test_dialog.set(true)>"Test & Enable Mailbox"</button>
                <button class="btn btn-secondary btn-sm" disabled=busy on:click=move |_| defaults_dialog.set(true)>"Apply Default Email Settings"</button>
                <DownloadDetails selected=selected notice=notice />
                <Show when=move || dirty.get()>
                    <span class="muted small">"Save or discard your changes to use these actions."</span>
                </Show>
            </div>
            <SaveNote note=note what="mailbox" />
            <ErrorNote message=notice dismissable=true />
            <RunView run=run retry=start cancel=cancel />
            <Show when=move || test_dialog.get()>
                <TestEnableDialog
                    count=Signal::derive(|| 1)
                    on_close=Callback::new(move |choice: Option<BulkAction>| {
                        test_dialog.set(false);
                        if let Some(action) = choice {
                            act(action);
                        }
                    })
                />
            </Show>
            <Show when=move || defaults_dialog.get()>
                <Confirm
                    title="Apply Default Email Settings"
                    text="The organization's default email server profile and synchronization methods (System Settings) replace this mailbox's. The mailbox needs Test & Enable afterwards."
                    confirm="Apply"
                    on_close=Callback::new(move |yes: bool| {
                        defaults_dialog.set(false);
                        if yes {
                            apply_defaults();
                        }
                    })
                />
            </Show>
            <ErrorNote
                message=load_error
                testid="load-error"
            />
            <Show when=move || form.saved.with(Option::is_some)>
                <div class="record-grid">
                    <section class="card record-section" aria-label="General">
                        <div class="card-header"><span class="card-title">"General"</span></div>
                        <div class="card-body stack">
                            <TextField form=form prop="name" label="Name" />
                            <TextField form=form prop="emailaddress" label="Email Address" hint="Changing the address sets the approval back to Pending Approval." />
                            <ReadOnly label="Owner" value=Signal::derive(move || names.with(|n| n.0.clone()).unwrap_or_default()) />
                            <ReadOnly label="Regarding" value=Signal::derive(move || names.with(|n| n.1.clone()).unwrap_or_default()) />
                            <CheckField form=form prop="processanddeleteemails" label="Delete Emails after Processing" />
                            <CheckField form=form prop="isforwardmailbox" label="Is Forward Mailbox" />
                        </div>
                    </section>
                    <section class="card record-section" aria-label="Credentials">
                        <div class="card-header"><span class="card-title">"Credentials"</span></div>
                        <div class="card-body stack">
                            <CheckField form=form prop="allowemailconnectortousecredentials" label="Allow to Use Credentials for Email Processing" hint="Used when the email server profile takes credentials from the user or queue." />
                            <TextField form=form prop="username" label="User Name" />
                            <SecretField form=form prop="password" label="Password" hint="Write-only: the password is never shown or sent back." />
                            <OAuthSignIn
                                id=id
                                profile=Signal::derive(move || form.saved_value("_emailserverprofile_value").as_str().map(str::to_string))
                                signed_in=Signal::derive(move || form.saved_value("isoauthrefreshtokenset") == Value::Bool(true))
                                renewed_until=form.saved_date("oauthtokenexpireson")
                            />
                        </div>
                    </section>
                    <section class="card record-section" aria-label="Synchronization Method">
                        <div class="card-header"><span class="card-title">"Synchronization Method"</span></div>
                        <div class="card-body stack">
                            <LookupField form=form prop="_emailserverprofile_value" label="Server Profile" options=profiles />
                            <ChoiceField form=form prop="incomingemaildeliverymethod" label="Incoming Email" options=methods(Direction::Incoming, &[0, 1, 2, 3]) />
                            <ChoiceField form=form prop="outgoingemaildeliverymethod" label="Outgoing Email" options=methods(Direction::Outgoing, &[0, 1, 2]) />
                            <ChoiceField form=form prop="actdeliverymethod" label="Appointments, Contacts, and Tasks" options=methods(Direction::Act, &[0, 1, 2]) />
                            {move || form.text("_emailserverprofile_value").map(|p| view! {
                                <A href=format!("/profiles/{p}") attr:class="small">"Open the email server profile"</A>
                            })}
                        </div>
                    </section>
                    <section class="card record-section" aria-label="Configuration Test Results">
                        <div class="card-header"><span class="card-title">"Configuration Test Results"</span></div>
                        <div class="card-body record-facts" data-testid="test-results">
                            <ReadOnly label="Incoming Email Status" value=saved_status("incomingemailstatus") />
                            <ReadOnly label="Outgoing Email Status" value=saved_status("outgoingemailstatus") />
                            <ReadOnly label="Appointments, Contacts, and Tasks Status" value=saved_status("actstatus") />
                            <ReadOnly label="Mailbox Status" value=saved_status("mailboxstatus") />
                            <ReadOnlyDate label="Mailbox Test Completed On" value=form.saved_date("testmailboxaccesscompletedon") />
                            <ReadOnly label="Test & Enable scheduled" value=saved_flag("testemailconfigurationscheduled") />
                            <ReadOnly label="Enabled for incoming email" value=saved_flag("enabledforincomingemail") />
                            <ReadOnly label="Enabled for outgoing email" value=saved_flag("enabledforoutgoingemail") />
                            <ReadOnly label="Enabled for appointments, contacts, tasks" value=saved_flag("enabledforact") />
                        </div>
                    </section>
                    <section class="card record-section" aria-label="Approval">
                        <div class="card-header"><span class="card-title">"Approval"</span></div>
                        <div class="card-body record-facts">
                            <ReadOnly label="Email address approval" value=Signal::derive(move || approval_label(approval()).to_string()) />
                            <ReadOnly label="Approved by an Exchange Online administrator" value=saved_flag("isemailaddressapprovedbyo365admin") />
                        </div>
                    </section>
                    <section class="card record-section" aria-label="Synchronization">
                        <div class="card-header"><span class="card-title">"Synchronization"</span></div>
                        <div class="card-body record-facts">
                            <ReadOnlyDate label="Next processing" value=form.saved_date("postponemailboxprocessinguntil") />
                            <ReadOnlyDate label="Last successful sync" value=form.saved_date("lastsuccessfulsynccompletedon") />
                            <ReadOnly label="Last sync error" value=saved_text("lastsyncerror") />
                            <ReadOnlyDate label="Last error occurred on" value=form.saved_date("lastsyncerroroccurredon") />
                            <ReadOnly label="Same error in a row" value=Signal::derive(move || form.saved_value("lastsyncerrorcount").as_i64().map(|n| n.to_string()).unwrap_or_default()) />
                            <ReadOnly label="Being processed by" value=saved_text("hostid") />
                        </div>
                    </section>
                </div>
                {move || view! { <RecordAlerts regarding=id.get() /> }}
            </Show>
        </section>
    }
}
