//! The Email tab's cards: how email is processed (channel, default profile), the
//! synchronization methods, unapproved users and queues, alerts, email form options.
//! Each field edits the form; read-only unless `editable`.

use leptos::prelude::*;
use mailsync_core::options::delivery_method_label;
use mailsync_core::report::Direction;

use super::model::{Form, Profile};

/// The tab's panel: every card of the Email tab.
#[component]
pub fn EmailTab(
    form: RwSignal<Form>,
    profiles: RwSignal<Vec<Profile>>,
    #[prop(into)] editable: Signal<bool>,
) -> impl IntoView {
    view! {
        <ProcessingCard form=form profiles=profiles editable=editable />
        <Card title="Synchronization methods" class="card-body">
            <Method form=form editable=editable label="Incoming Email" id="settings-incoming" dir=Direction::Incoming values=&[0, 1, 2, 3] get=|f| f.incoming set=|f, v| f.incoming = Some(v) />
            <Method form=form editable=editable label="Outgoing Email" id="settings-outgoing" dir=Direction::Outgoing values=&[0, 1, 2] get=|f| f.outgoing set=|f, v| f.outgoing = Some(v) />
            <Method form=form editable=editable label="Appointments, Contacts, and Tasks" id="settings-act" dir=Direction::Act values=&[0, 1, 2] get=|f| f.act set=|f, v| f.act = Some(v) />
        </Card>
        <Card title="Email processing for unapproved users and queues">
            <Check form=form editable=editable label="Process emails only for approved users" get=|f| f.approved_users set=|f, v| f.approved_users = v />
            <Check form=form editable=editable label="Process emails only for approved queues" get=|f| f.approved_queues set=|f, v| f.approved_queues = v />
        </Card>
        <Card title="Alerts">
            <span class="muted small">"Generate alerts for:"</span>
            <Check form=form editable=editable label="Error" get=|f| f.alert_errors set=|f, v| f.alert_errors = v />
            <Check form=form editable=editable label="Warning" get=|f| f.alert_warnings set=|f, v| f.alert_warnings = v />
            <Check form=form editable=editable label="Information" get=|f| f.alert_information set=|f, v| f.alert_information = v />
            <Check form=form editable=editable label="Notify mailbox owner" get=|f| f.notify_owner set=|f, v| f.notify_owner = v />
        </Card>
        <Card title="Email form options">
            <Check form=form editable=editable label="Allow messages with unresolved email recipients to be sent" get=|f| f.allow_unresolved set=|f, v| f.allow_unresolved = v />
        </Card>
    }
}

/// A card of the tab: its title, then its fields.
#[component]
fn Card(
    title: &'static str,
    /// The body's class (a column of checkboxes by default).
    #[prop(default = "card-body stack")]
    class: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="card settings-card">
            <div class="card-header">
                <span class="card-title">{title}</span>
            </div>
            <div class=class>{children()}</div>
        </div>
    }
}

/// "Configure email processing": Process email using, and the default Server Profile.
#[component]
fn ProcessingCard(
    form: RwSignal<Form>,
    profiles: RwSignal<Vec<Profile>>,
    editable: Signal<bool>,
) -> impl IntoView {
    view! {
        <Card title="Configure email processing" class="card-body">
            <div class="field">
                <label for="settings-channel">"Process email using"</label>
                <select
                    id="settings-channel"
                    class="input"
                    disabled=move || !editable.get()
                    on:change=move |ev| {
                        if let Ok(v) = event_target_value(&ev).parse::<i64>() {
                            form.update(|f| f.channel = v);
                        }
                    }
                >
                    <option value="0" prop:selected=move || form.with(|f| f.channel == 0)>
                        "Server-Side Synchronization"
                    </option>
                    <option value="1" prop:selected=move || form.with(|f| f.channel == 1)>
                        "Email Router"
                    </option>
                </select>
            </div>
            <div class="field">
                <label for="settings-profile">"Server Profile"</label>
                <select
                    id="settings-profile"
                    class="input"
                    disabled=move || !editable.get()
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if !v.is_empty() {
                            form.update(|f| f.profile = Some(v));
                        }
                    }
                >
                    <Show when=move || form.with(|f| f.profile.is_none())>
                        <option value="" selected=true>
                            "(none)"
                        </option>
                    </Show>
                    <For
                        each=move || profiles.get()
                        key=|p| p.emailserverprofileid.clone()
                        let(p)
                    >
                        {
                            let id = p.emailserverprofileid.clone();
                            let id2 = id.clone();
                            view! {
                                <option
                                    value=id
                                    prop:selected=move || form.with(|f| f.profile.as_deref() == Some(id2.as_str()))
                                >
                                    {p.name.clone().unwrap_or_default()}
                                </option>
                            }
                        }
                    </For>
                </select>
                <div class="field-hint">"The default email server profile of new mailboxes."</div>
            </div>
        </Card>
    }
}

/// A checkbox field of the form.
#[component]
fn Check(
    form: RwSignal<Form>,
    editable: Signal<bool>,
    label: &'static str,
    get: fn(&Form) -> bool,
    set: fn(&mut Form, bool),
) -> impl IntoView {
    view! {
        <label class="checkbox settings-check">
            <input
                type="checkbox"
                prop:checked=move || form.with(get)
                disabled=move || !editable.get()
                on:change=move |ev| {
                    let v = event_target_checked(&ev);
                    form.update(|f| set(f, v));
                }
            />
            " "
            {label}
        </label>
    }
}

/// A direction's synchronization method: a choice among `values`, named as the product
/// names them for that direction.
#[component]
fn Method(
    form: RwSignal<Form>,
    editable: Signal<bool>,
    label: &'static str,
    id: &'static str,
    dir: Direction,
    values: &'static [i32],
    get: fn(&Form) -> Option<i64>,
    set: fn(&mut Form, i64),
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select
                id=id
                class="input"
                disabled=move || !editable.get()
                prop:value=move || form.with(get).map(|v| v.to_string()).unwrap_or_default()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<i64>() {
                        form.update(|f| set(f, v));
                    }
                }
            >
                {values
                    .iter()
                    .map(|&v| {
                        view! {
                            <option value=v.to_string() prop:selected=move || form.with(get) == Some(v as i64)>
                                {delivery_method_label(dir, v)}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}
