//! `/settings`: System Settings, Email tab — the organization's email columns
//! (`GET/PATCH /organizations(<id>)`). Saving sends only what changed, with
//! `If-Match`: a 412 (someone else saved first) says so and reloads. Unsaved changes
//! are guarded (`form::unsaved`). Read-only without an administrator role.

mod email;
mod model;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::form::unsaved;
use crate::session::{use_session, Auth};
use email::EmailTab;
use model::{Form, Org, Profile, SELECT};

const ORGS: &str = "/api/data/v9.2/organizations";
const LEAVE: &str = "You have unsaved changes to System Settings. Leave this page and lose them?";

/// The roles that may change System Settings.
fn can_edit(auth: &Auth) -> bool {
    matches!(auth, Auth::SignedIn(u) if u.is_admin())
}

#[derive(Debug, Clone, PartialEq)]
enum Note {
    Saved,
    Stale,
    Error(String),
}

async fn load() -> Result<(Org, Vec<Profile>), ApiError> {
    let orgs: api::Collection<Org> =
        api::get_json(&format!("{ORGS}?$select={SELECT}&$top=1")).await?;
    let org = orgs.value.into_iter().next().ok_or_else(|| ApiError {
        status: 404,
        code: None,
        message: "The organization record was not found.".to_string(),
    })?;
    let profiles: api::Collection<Profile> = api::get_json(
        "/api/data/v9.2/emailserverprofiles?$select=emailserverprofileid,name&$orderby=name",
    )
    .await?;
    Ok((org, profiles.value))
}

/// A user without a security role does not read the organization's settings (the
/// server answers 403, as Dataverse does for a basic user): say so instead of asking.
#[component]
pub fn Settings() -> impl IntoView {
    let session = use_session();
    let plain =
        Memo::new(move |_| matches!(session.auth(), Auth::SignedIn(u) if u.roles.is_empty()));
    view! {
        <Show when=move || !plain.get() fallback=|| view! { <NotForYou /> }>
            <SettingsForm />
        </Show>
    }
}

#[component]
fn NotForYou() -> impl IntoView {
    view! {
        <section class="page settings-page">
            <h1>"System Settings"</h1>
            <p class="callout callout-info settings-forbidden">
                "System Settings are open to administrators and to Exchange Administrators \
                 and Delegated Mailbox Approvers. Ask an administrator to change them."
            </p>
        </section>
    }
}

#[component]
fn SettingsForm() -> impl IntoView {
    let session = use_session();
    let editable = Memo::new(move |_| can_edit(&session.auth()));
    let saved = RwSignal::new(None::<Org>);
    let profiles = RwSignal::new(Vec::<Profile>::new());
    let form = RwSignal::new(Form::default());
    let load_error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<Note>);
    let saving = RwSignal::new(false);

    // Fetch (again after a save).
    let reload = move |then: Option<Note>| {
        spawn_local(async move {
            match load().await {
                Ok((org, list)) => {
                    form.set(Form::of(&org));
                    saved.set(Some(org));
                    profiles.set(list);
                    load_error.set(None);
                }
                Err(e) => load_error.set(Some(e.message)),
            }
            note.set(then);
        });
    };
    reload(None);

    let dirty = Memo::new(move |_| {
        saved.with(|s| {
            s.as_ref()
                .is_some_and(|s| form.with(|f| !f.changes(s).is_empty()))
        })
    });
    unsaved::guard(dirty.into(), LEAVE);

    let save = move || {
        let Some(org) = saved.get_untracked() else {
            return;
        };
        let body = form.with_untracked(|f| f.changes(&org));
        if body.is_empty() {
            return;
        }
        saving.set(true);
        note.set(None);
        spawn_local(async move {
            let path = format!("{ORGS}({})", org.organizationid);
            let result = api::patch_json(&path, &body, org.etag.as_deref()).await;
            saving.set(false);
            match result {
                Ok(()) => reload(Some(Note::Saved)),
                Err(e) if e.status == 412 => reload(Some(Note::Stale)),
                Err(e) => note.set(Some(Note::Error(e.message))),
            }
        });
    };

    // View.
    view! {
        <section class="page settings-page">
            <Header saved=saved form=form dirty=dirty editable=editable saving=saving on_save=Callback::new(move |()| save()) />
            // System Settings' tabs: Email is the one this console has; its panel is
            // the form below.
            <div class="tabs" role="tablist" aria-label="System Settings">
                <button
                    class="tab is-active"
                    role="tab"
                    id="settings-tab-email"
                    aria-selected="true"
                    aria-controls="settings-panel-email"
                >
                    "Email"
                </button>
            </div>
            <Show when=move || !editable.get()>
                <div class="callout callout-info settings-readonly">
                    "Only a System Administrator or Global Administrator can change System Settings."
                </div>
            </Show>
            <SettingsNote note=note />
            {move || load_error.get().map(|e| view! { <div class="callout callout-error" role="alert">{e}</div> })}
            <div role="tabpanel" id="settings-panel-email" aria-labelledby="settings-tab-email">
                <Show
                    when=move || saved.with(Option::is_some)
                    fallback=|| view! { <p class="muted">"Loading settings…"</p> }
                >
                    <EmailTab form=form profiles=profiles editable=editable />
                </Show>
            </div>
        </section>
    }
}

/// The title (the organization's name), "Unsaved changes", Discard and Save.
#[component]
fn Header(
    saved: RwSignal<Option<Org>>,
    form: RwSignal<Form>,
    dirty: Memo<bool>,
    editable: Memo<bool>,
    saving: RwSignal<bool>,
    on_save: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>"System Settings"</h1>
                <p class="muted">
                    {move || {
                        saved
                            .with(|s| s.as_ref().and_then(|o| o.name.clone()))
                            .unwrap_or_else(|| "The organization".to_string())
                    }}
                </p>
            </div>
            <div class="page-actions">
                <Show when=move || dirty.get()>
                    <span class="badge badge-warning settings-dirty">"Unsaved changes"</span>
                </Show>
                <button
                    class="btn btn-secondary"
                    disabled=move || !dirty.get() || saving.get()
                    on:click=move |_| {
                        if let Some(o) = saved.get_untracked() {
                            form.set(Form::of(&o));
                        }
                    }
                >
                    "Discard"
                </button>
                <button
                    class="btn btn-primary"
                    disabled=move || !editable.get() || !dirty.get() || saving.get()
                    on:click=move |_| on_save.run(())
                >
                    {move || if saving.get() { "Saving…" } else { "Save" }}
                </button>
            </div>
        </div>
    }
}

/// What the last Save did.
#[component]
fn SettingsNote(note: RwSignal<Option<Note>>) -> impl IntoView {
    move || {
        note.get().map(|n| match n {
            Note::Saved => view! {
                <div class="callout callout-success settings-note" role="status">
                    "Settings saved. They are in force at once."
                </div>
            }
            .into_any(),
            Note::Stale => view! {
                <div class="callout callout-warning settings-note" role="alert">
                    <div class="callout-title">"Not saved: someone else changed these settings"</div>
                    "The settings were changed by someone else after you opened them. They have been reloaded; make your changes again."
                </div>
            }
            .into_any(),
            Note::Error(m) => {
                view! { <div class="callout callout-error settings-note" role="alert">{m}</div> }.into_any()
            }
        })
    }
}
