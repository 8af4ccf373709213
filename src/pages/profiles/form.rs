//! The email server profile form (`/profiles/<id>`, `/profiles/new`): every column of
//! the profile, the form rules applied as the user edits (`model::apply_rules`), core's
//! supported-configuration findings for what is on screen (`check_profile`), Save with
//! `If-Match` (Create for a new one), "Test & Enable Mailboxes" for all the profile's
//! mailboxes, and the profile's alerts.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use mailsync_core::report::Finding;
use mailsync_core::rules::{
    check_profile, forces_auto_detect, offers_exchange_settings, takes_profile_credentials,
    MAX_CONNECTIONS, POLLING_MINUTES,
};
use mailsync_core::Severity;
use serde_json::{Map, Value};

use super::model::{
    apply_rules, auth_protocols, credential_retrievals, defaults, exchange_versions, server_types,
    settings_of, test_status_label, PROFILES,
};
use super::{can_edit, can_test};
use crate::api;
use crate::components::error::load_message;
use crate::components::ErrorNote;
use crate::form::fields::{
    self, CheckField, ChoiceField, DateField, NumberField, ReadOnly, ReadOnlyDate, SecretField,
    TextField,
};
use crate::form::{self, unsaved, Note, RecordForm, SaveError, SaveNote};
use crate::pages::alerts::RecordAlerts;
use crate::pages::mailboxes::bulk::{self, BulkAction, Run};
use crate::pages::mailboxes::results::RunView;
use crate::pages::mailboxes::tools::TestEnableDialog;
use crate::session::{use_session, RequireSignIn};

const LEAVE: &str =
    "You have unsaved changes to this email server profile. Leave this page and lose them?";

/// One direction's columns (the fields name their columns with `&'static str`).
struct DirectionColumns {
    loc: &'static str,
    cr: &'static str,
    proto: &'static str,
    user: &'static str,
    pw: &'static str,
    imp: &'static str,
    ssl: &'static str,
    port: &'static str,
}

const INCOMING: DirectionColumns = DirectionColumns {
    loc: "incomingserverlocation",
    cr: "incomingcredentialretrieval",
    proto: "incomingauthenticationprotocol",
    user: "incomingusername",
    pw: "incomingpassword",
    imp: "incominguseimpersonation",
    ssl: "incomingusessl",
    port: "incomingportnumber",
};

const OUTGOING: DirectionColumns = DirectionColumns {
    loc: "outgoingserverlocation",
    cr: "outgoingcredentialretrieval",
    proto: "outgoingauthenticationprotocol",
    user: "outgoingusername",
    pw: "outgoingpassword",
    imp: "outgoinguseimpersonation",
    ssl: "outgoingusessl",
    port: "outgoingportnumber",
};

/// The fields that `check_profile`'s errors (what blocks Save) are about, with the
/// finding's message: (property, message). A finding that names no field of the form
/// is only in the findings list.
fn blocking_fields(
    findings: &[Finding],
    draft: &Map<String, Value>,
) -> Vec<(&'static str, String)> {
    let int = |p: &str| draft.get(p).and_then(Value::as_i64);
    let on = |p: &str| draft.get(p).and_then(Value::as_bool) == Some(true);
    let port_bad = |p: &str| int(p).is_some_and(|n| !(1..=65_535).contains(&n));
    let protocol_bad = |c: &DirectionColumns| {
        forces_auto_detect(int(c.cr).and_then(|v| i32::try_from(v).ok()))
            && int(c.proto).is_some_and(|v| v != 0)
    };
    let mut out = Vec::new();
    for f in findings.iter().filter(|f| f.severity == Severity::Error) {
        let props: Vec<&'static str> = match f.code.as_ref() {
            "profile_connections_out_of_range" => vec!["maxconcurrentconnections"],
            "profile_polling_out_of_range" => vec!["minpollingintervalinminutes"],
            "profile_port_out_of_range" => [INCOMING.port, OUTGOING.port]
                .into_iter()
                .filter(|p| port_bad(p))
                .collect(),
            "profile_protocol_must_autodetect" => [&INCOMING, &OUTGOING]
                .into_iter()
                .filter(|c| protocol_bad(c))
                .map(|c| c.proto)
                .collect(),
            "profile_autodiscover_not_for_pop_imap" => vec!["useautodiscover"],
            "profile_impersonation_not_for_pop_imap" => [INCOMING.imp, OUTGOING.imp]
                .into_iter()
                .filter(|p| on(p))
                .collect(),
            _ => Vec::new(),
        };
        out.extend(props.into_iter().map(|p| (p, f.message.clone())));
    }
    out
}

#[component]
pub fn ProfileRecord() -> impl IntoView {
    view! {
        <RequireSignIn>
            <ProfileForm />
        </RequireSignIn>
    }
}

/// The id in the URL; `None` for `/profiles/new`.
fn record_id(param: Option<String>) -> Option<String> {
    param.filter(|p| p != "new")
}

#[component]
fn ProfileForm() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| record_id(params.with(|p| p.get("id"))));
    let session = use_session();
    let editable = Signal::derive(move || can_edit(&session.auth()));
    let testable = Signal::derive(move || can_test(&session.auth()));
    let form = RecordForm::new(editable);
    crate::api::provide_option_labels("emailserverprofile");
    form.follow_rules(apply_rules);
    // What a failed read says (`load_message`).
    let load_error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<Note>);
    let saving = RwSignal::new(false);
    let run = RwSignal::new(None::<Run>);
    let cancel = RwSignal::new(false);
    let test_dialog = RwSignal::new(None::<Vec<(String, String)>>);
    let navigate = StoredValue::new_local(use_navigate());

    let reload = move |then: Option<Note>| match id.get_untracked() {
        None => {
            form.blank(defaults());
            note.set(then);
        }
        Some(id) => {
            spawn_local(async move {
                match api::get_json::<Map<String, Value>>(&format!("{PROFILES}({id})")).await {
                    Ok(record) => {
                        form.load(record);
                        load_error.set(None);
                        note.set(then);
                    }
                    Err(e) => load_error.set(Some(load_message(
                        &e,
                        "This email server profile does not exist.",
                    ))),
                }
            });
        }
    };
    Effect::new(move |_| {
        id.track();
        // A created profile opens as itself: its "created" note stays.
        let kept = note.get_untracked().filter(|n| *n == Note::Created);
        reload(kept);
    });

    let is_new = move || id.with(Option::is_none);
    let dirty = Memo::new(move |_| {
        if is_new() {
            form.draft.with(|d| *d != defaults())
        } else {
            !form.changes(&[]).is_empty()
        }
    });
    unsaved::guard(dirty.into(), LEAVE);
    let findings = Memo::new(move |_| form.draft.with(|d| check_profile(&settings_of(d))));
    let has_errors = move || findings.with(|f| f.iter().any(|f| f.severity == Severity::Error));
    // What blocks Save is also marked on the field it is about.
    fields::provide_field_errors(Signal::derive(move || {
        findings.with(|f| form.draft.with(|d| blocking_fields(f, d)))
    }));

    let save = move || {
        let body = form.changes(&[]);
        if body.is_empty() {
            return;
        }
        saving.set(true);
        note.set(None);
        spawn_local(async move {
            match id.get_untracked() {
                Some(id) => {
                    let path = format!("{PROFILES}({id})");
                    let result = form::save(form, &path, &[]).await;
                    saving.set(false);
                    match result {
                        Ok(()) => reload(Some(Note::Saved)),
                        Err(SaveError::Stale(_)) => reload(Some(Note::Stale)),
                        Err(SaveError::Api(e)) => note.set(Some(Note::Error(e.message))),
                    }
                }
                None => {
                    let created: api::ApiResult<Map<String, Value>> =
                        api::create(PROFILES, &body).await;
                    saving.set(false);
                    match created {
                        Ok(record) => {
                            let new_id = record
                                .get("emailserverprofileid")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            unsaved::release();
                            note.set(Some(Note::Created));
                            navigate.with_value(|n| {
                                n(&format!("/profiles/{new_id}"), NavigateOptions::default())
                            });
                        }
                        Err(e) => note.set(Some(Note::Error(e.message))),
                    }
                }
            }
        });
    };

    // Test & Enable Mailboxes: every mailbox of the profile, after the dialog.
    let test_mailboxes = move |_| {
        let Some(id) = id.get_untracked() else {
            return;
        };
        spawn_local(async move {
            let path = format!(
                "/api/data/v9.2/mailboxes?$select=mailboxid,name&$orderby=name&$filter=_emailserverprofile_value%20eq%20{id}"
            );
            match api::names(path, "mailboxid", "name").await {
                Ok(list) => test_dialog.set(Some(list)),
                Err(e) => note.set(Some(Note::Error(e.message))),
            }
        });
    };
    let start = Callback::new(
        move |(action, targets): (BulkAction, Vec<(String, String)>)| {
            spawn_local(async move { bulk::run_all(action, targets, run, cancel).await });
        },
    );

    let cr = move |dir: &str| {
        form.int(&format!("{dir}credentialretrieval"))
            .and_then(|v| i32::try_from(v).ok())
    };
    let exchange = move || offers_exchange_settings(form.int("servertype").map(|v| v as i32));
    let same = move || form.flag("usesamesettingsforoutgoingconnections") == Some(true);
    let oauth_of = move || {
        let outgoing = if same() { None } else { cr("outgoing") };
        [cr("incoming"), outgoing]
    };
    let per_mailbox_oauth = move || {
        oauth_of()
            .iter()
            .any(|c| mailsync_core::oauth::is_per_mailbox(*c))
    };
    let entra_oauth = move || oauth_of().contains(&Some(mailsync_core::oauth::ENTRA_OAUTH));
    // The environment's address: the redirect URI is on it (`webapi/signin.rs`; in
    // Dataverse, Microsoft's `dlg_gmailoauth.aspx` on the environment).
    let redirect_uri = move || {
        let origin = match crate::org::current::current() {
            crate::org::current::Org::Dataverse(e) => e.url.trim_end_matches('/').to_string(),
            crate::org::current::Org::Local => web_sys::window()
                .and_then(|w| w.location().origin().ok())
                .unwrap_or_default(),
        };
        format!("{origin}{}", mailsync_core::oauth::REDIRECT_PATH)
    };

    let direction = move |outgoing: bool, title: &'static str| {
        let dir = if outgoing { "outgoing" } else { "incoming" };
        let locked_by_same = move || outgoing && same();
        let c = if outgoing { &OUTGOING } else { &INCOMING };
        view! {
            <section class="card record-section" aria-label=title>
                <div class="card-header"><span class="card-title">{title}</span></div>
                <div class="card-body stack">
                    <TextField form=form prop=c.loc label="Server Location"
                        hint="The EWS URL or the mail server's host name."
                        locked=Signal::derive(move || form.flag("useautodiscover") == Some(true)) />
                    <ChoiceField form=form prop=c.cr label="Authenticate Using" options=credential_retrievals()
                        locked=Signal::derive(locked_by_same) />
                    <Show when=move || takes_profile_credentials(cr(dir))>
                        <TextField form=form prop=c.user label="User Name" locked=Signal::derive(locked_by_same) />
                        <SecretField form=form prop=c.pw label="Password" locked=Signal::derive(locked_by_same)
                            hint="Write-only: the password is never shown or sent back." />
                    </Show>
                    <ChoiceField form=form prop=c.proto label="Authentication Protocol" options=auth_protocols()
                        hint="Server to Server Authentication and Anonymous always use Auto Detect."
                        locked=Signal::derive(move || locked_by_same() || forces_auto_detect(cr(dir))) />
                    <CheckField form=form prop=c.ssl label="Use SSL" />
                    <NumberField form=form prop=c.port label="Port" min=1 max=65535 />
                    <Show when=exchange>
                        <CheckField form=form prop=c.imp label="Use Impersonation" />
                    </Show>
                </div>
            </section>
        }
    };

    view! {
        <section class="page record-page profile-record" aria-labelledby="record-title">
            <div class="page-header">
                <div>
                    <p class="muted small"><A href="/profiles">"Email Server Profiles"</A>" / Email Server Profile"</p>
                    <h1 id="record-title">{move || {
                        if is_new() { "New Email Server Profile".to_string() } else { form.text("name").unwrap_or_else(|| "Email Server Profile".into()) }
                    }}</h1>
                </div>
                <div class="page-actions">
                    <Show when=move || dirty.get()>
                        <span class="badge badge-warning" data-testid="dirty">"Unsaved changes"</span>
                    </Show>
                    <Show when=move || !is_new()>
                        <button class="btn btn-secondary" disabled=move || dirty.get() || !testable.get() on:click=test_mailboxes>
                            "Test & Enable Mailboxes"
                        </button>
                    </Show>
                    <button class="btn btn-secondary" disabled=move || !dirty.get() || saving.get() on:click=move |_| form.discard()>
                        "Discard"
                    </button>
                    <button class="btn btn-primary" disabled=move || !editable.get() || !dirty.get() || saving.get() || has_errors() on:click=move |_| save()>
                        {move || match (saving.get(), is_new()) { (true, _) => "Saving\u{2026}", (false, true) => "Create", (false, false) => "Save" }}
                    </button>
                </div>
            </div>
            <Show when=move || !editable.get()>
                <div class="callout callout-info">"Only a System Administrator or Global Administrator can change email server profiles."</div>
            </Show>
            <SaveNote note=note what="profile" />
            <RunView run=run retry=start cancel=cancel />
            {move || test_dialog.get().map(|targets| {
                let n = targets.len();
                let targets = StoredValue::new(targets);
                view! {
                    <TestEnableDialog
                        count=Signal::derive(move || n)
                        on_close=Callback::new(move |choice: Option<BulkAction>| {
                            test_dialog.set(None);
                            if let Some(action) = choice {
                                start.run((action, targets.get_value()));
                            }
                        })
                    />
                }
            })}
            <ErrorNote
                message=load_error
                testid="load-error"
            />
            <div class="card profile-findings" data-testid="profile-findings">
                <div class="card-body">
                    {move || {
                        let f = findings.get();
                        if f.is_empty() {
                            return view! { <p class="callout callout-success">"Supported configuration: no rule is broken."</p> }.into_any();
                        }
                        view! {
                            <ul class="findings">
                                {f.into_iter().map(|f| {
                                    let (class, label) = match f.severity {
                                        Severity::Error => ("badge badge-error", "Not valid"),
                                        Severity::Warning => ("badge badge-warning", "Unsupported"),
                                        Severity::Info => ("badge badge-info", "Note"),
                                    };
                                    view! {
                                        <li data-code=f.code.to_string() data-severity=label>
                                            <span class=class>{label}</span>" "{f.message.clone()}
                                            {f.resolution.map(|r| view! { <div class="muted small">{r.to_string()}</div> })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </div>
            </div>
            <Show when=move || form.saved.with(Option::is_some)>
                <div class="record-grid">
                    <section class="card record-section" aria-label="General">
                        <div class="card-header"><span class="card-title">"General"</span></div>
                        <div class="card-body stack">
                            <TextField form=form prop="name" label="Name" />
                            <ChoiceField form=form prop="servertype" label="Server Type" options=server_types() />
                            <TextField form=form prop="description" label="Description" />
                            <Show when=exchange>
                                <CheckField form=form prop="useautodiscover" label="Auto Discover Server Location" />
                                <ChoiceField form=form prop="exchangeversion" label="Exchange Version" options=exchange_versions() />
                            </Show>
                            <Show when=move || exchange() || entra_oauth()>
                                <TextField form=form prop="exchangeonlinetenantid" label="Exchange Online Tenant Id" />
                            </Show>
                            <Show when=entra_oauth>
                                <TextField form=form prop="aadresourceid" label="Microsoft Entra resource ID"
                                    hint="The resource of the mailboxes' IMAP, POP and SMTP permissions; empty: https://outlook.office.com." />
                            </Show>
                            <Show when=per_mailbox_oauth>
                                <p class="small muted" data-testid="oauth-redirect-uri">
                                    "Each mailbox's user signs in from the mailbox (Sign in). Register this redirect URI with the app: "
                                    <code>{redirect_uri}</code>
                                </p>
                            </Show>
                            <CheckField form=form prop="usesamesettingsforoutgoingconnections" label="Use same settings for Outgoing"
                                hint="The outgoing connection authenticates like the incoming one." />
                        </div>
                    </section>
                    {direction(false, "Incoming Server")}
                    {direction(true, "Outgoing Server")}
                    <section class="card record-section" aria-label="Advanced">
                        <div class="card-header"><span class="card-title">"Advanced"</span></div>
                        <div class="card-body stack">
                            <DateField form=form prop="processemailsreceivedafter" label="Process Email From" />
                            <NumberField form=form prop="minpollingintervalinminutes" label="Minimum Polling Intervals in Minutes"
                                min=*POLLING_MINUTES.start() max=*POLLING_MINUTES.end() hint="0 to 1440; 0 means the 5-minute minimum." />
                            <NumberField form=form prop="maxconcurrentconnections" label="Maximum Concurrent Connections"
                                min=*MAX_CONNECTIONS.start() max=*MAX_CONNECTIONS.end() hint="1 to 300." />
                            <CheckField form=form prop="moveundeliveredemails" label="Move Failed Emails to Undeliverable Folder" />
                            <CheckField form=form prop="timeoutmailboxconnection" label="Timeout Mailbox Connection" />
                            <Show when=move || form.flag("timeoutmailboxconnection") == Some(true)>
                                <NumberField form=form prop="timeoutmailboxconnectionafteramount" label="Timeout after (milliseconds)" min=1 max=3_600_000 />
                            </Show>
                            <CheckField form=form prop="sendemailalert" label="Send an alert email to the owner"
                                hint="When more than half of the profile's mailboxes fail within an hour." />
                            <TextField form=form prop="oauthclientid" label="OAuth Client Id" />
                            <SecretField form=form prop="oauthclientsecret" label="OAuth Client Secret" />
                        </div>
                    </section>
                    <Show when=move || !is_new()>
                        <section class="card record-section" aria-label="Last test">
                            <div class="card-header"><span class="card-title">"Last test"</span></div>
                            <div class="card-body record-facts">
                                <ReadOnly label="Last Test Status" value=Signal::derive(move || test_status_label(form.saved_value("lasttestexecutionstatus").as_i64()).to_string()) />
                                <ReadOnlyDate label="Last Test Started" value=form.saved_date("lastteststarttime") />
                                <ReadOnly label="Last Test Duration (ms)" value=Signal::derive(move || form.saved_value("lasttesttotalexecutiontime").as_i64().map(|n| n.to_string()).unwrap_or_default()) />
                            </div>
                        </section>
                    </Show>
                </div>
                {move || id.get().map(|id| view! { <RecordAlerts regarding=id /> })}
            </Show>
        </section>
    }
}
