//! The buttons of an alert that asks for action (core's `engine::prompt`: duplicates
//! found, a scheduling conflict, previously linked items): one per decision the alert
//! offers, each the product's bound action on the alert
//! (`tracelogs(<id>)/Microsoft.Dynamics.CRM.mailsync_<Decision>`). "Link to this
//! record" is offered once per record the alert names. The answer is shown where the
//! buttons were; the engine carries it out in the mailbox's next cycle and replaces the
//! alert with one saying what was done.
//!
//! An organization without these actions (a Dataverse environment that does not have
//! this product's solution) shows the alert without buttons: whether it has them is
//! read from its `$metadata` once, and only when such an alert is shown.

use std::cell::RefCell;
use std::collections::HashMap;

use gloo_net::http::Method;
use leptos::prelude::*;
use leptos_router::components::A;
use mailsync_core::engine::prompt::{Decision, Prompt};

use super::model::{Alert, TRACELOGS};

thread_local! {
    /// Per organization (its key): whether `$metadata` names the actions.
    static SUPPORTED: RefCell<HashMap<String, bool>> = RefCell::new(HashMap::new());
}

/// Whether the current organization offers this product's answers to alerts.
async fn supported() -> bool {
    let org = crate::org::current::current().key();
    if let Some(known) = SUPPORTED.with(|s| s.borrow().get(&org).copied()) {
        return known;
    }
    let has = match crate::api::send_raw(
        Method::GET,
        "/api/data/v9.2/$metadata",
        &[("Accept", "application/xml")],
        None,
    )
    .await
    {
        Ok(r) if r.ok() => r
            .body
            .contains(&format!("Name=\"{}\"", Decision::CreateAnyway.action())),
        _ => false,
    };
    SUPPORTED.with(|s| s.borrow_mut().insert(org, has));
    has
}

/// A record an alert names in its details (`Duplicate: contacts(<id>) Name <email>`,
/// `Linked before to: contacts(<id>) Name`): its entity set, id and description.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub set: String,
    pub id: String,
    pub description: String,
}

pub fn named_records(details: &str) -> Vec<Named> {
    details
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(": ")?;
            let (set, rest) = rest.split_once('(')?;
            let (id, description) = rest.split_once(')')?;
            let valid_set = !set.is_empty() && set.bytes().all(|b| b.is_ascii_lowercase());
            let valid_id = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
            (valid_set && valid_id).then(|| Named {
                set: set.to_string(),
                id: id.to_string(),
                description: description.trim().to_string(),
            })
        })
        .collect()
}

/// One decision to send: the action and, for "Link to this record", the record.
#[derive(Clone)]
struct Choice {
    decision: Decision,
    record: Option<Named>,
}

impl Choice {
    fn label(&self) -> String {
        match &self.record {
            Some(r) if !r.description.is_empty() => format!("Link to {}", r.description),
            _ => self.decision.label().to_string(),
        }
    }
}

/// The decisions an alert offers, or nothing when it asks for none.
#[component]
pub fn PromptActions(alert: Alert) -> impl IntoView {
    let prompt = alert.errortypedisplay.as_deref().and_then(Prompt::of_alert);
    let Some(prompt) = prompt else {
        return ().into_any();
    };
    let records = named_records(alert.errordetails.as_deref().unwrap_or(""));
    let choices: Vec<Choice> = prompt
        .decisions()
        .iter()
        .flat_map(|d| match d {
            Decision::LinkToRecord => records
                .iter()
                .map(|r| Choice {
                    decision: *d,
                    record: Some(r.clone()),
                })
                .collect::<Vec<_>>(),
            _ => vec![Choice {
                decision: *d,
                record: None,
            }],
        })
        .collect();
    let available = LocalResource::new(supported);
    // `None` until answered; then what the server said.
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let id = alert.tracelogid.clone();
    let links = records.clone();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let choices = choices.clone();
                let id = id.clone();
                let links = links.clone();
                available
                    .get()
                    .filter(|ok| *ok)
                    .map(move |_| {
                        view! {
                            <div class="alerts-decide" role="group" aria-label="Decide">
                                {(!links.is_empty())
                                    .then(|| {
                                        view! {
                                            <p class="small muted alerts-named">
                                                "Records it names: "
                                                {links
                                                    .iter()
                                                    .map(|r| {
                                                        let href = record_href(r);
                                                        let label = if r.description.is_empty() {
                                                            r.id.clone()
                                                        } else {
                                                            r.description.clone()
                                                        };
                                                        match href {
                                                            Some(h) => view! { <A href=h>{label}</A> " " }.into_any(),
                                                            None => view! { <span>{label}</span> " " }.into_any(),
                                                        }
                                                    })
                                                    .collect_view()}
                                            </p>
                                        }
                                    })}
                                <Show
                                    when=move || outcome.get().is_none_or(|o| o.is_err())
                                    fallback=move || {
                                        view! {
                                            <div class="callout callout-success alerts-decided" role="status">
                                                {move || outcome.get().and_then(|o| o.ok()).unwrap_or_default()}
                                            </div>
                                        }
                                    }
                                >
                                    <div class="row">
                                        {choices
                                            .iter()
                                            .map(|c| {
                                                let c = c.clone();
                                                let label = c.label();
                                                let action = c.decision.action();
                                                let id = id.clone();
                                                view! {
                                                    <button
                                                        class="btn btn-sm alerts-decision"
                                                        data-action=action
                                                        disabled=move || busy.get()
                                                        on:click=move |_| send(id.clone(), c.clone(), busy, outcome)
                                                    >
                                                        {label}
                                                    </button>
                                                }
                                            })
                                            .collect_view()}
                                    </div>
                                </Show>
                                {move || {
                                    outcome
                                        .get()
                                        .and_then(|o| o.err())
                                        .map(|e| view! { <div class="callout callout-error" role="alert">{e}</div> })
                                }}
                            </div>
                        }
                    })
            }}
        </Suspense>
    }
    .into_any()
}

/// The console's page of a record an alert names, where it has one.
fn record_href(r: &Named) -> Option<String> {
    match r.set.as_str() {
        "mailboxes" => Some(format!("/mailboxes/{}", r.id)),
        "emailserverprofiles" => Some(format!("/profiles/{}", r.id)),
        _ => None,
    }
}

fn send(
    id: String,
    choice: Choice,
    busy: RwSignal<bool>,
    outcome: RwSignal<Option<Result<String, String>>>,
) {
    busy.set(true);
    leptos::task::spawn_local(async move {
        let path = format!(
            "{TRACELOGS}({id})/Microsoft.Dynamics.CRM.{}",
            choice.decision.action()
        );
        let body = match &choice.record {
            Some(r) => format!("{{\"RecordId\":\"{}\"}}", r.id),
            None => "{}".to_string(),
        };
        let answer = crate::api::send_raw(
            Method::POST,
            &path,
            &[("Content-Type", "application/json")],
            Some(&body),
        )
        .await;
        outcome.set(Some(match answer {
            Ok(r) if r.ok() => Ok(format!(
                "{}: sent. It is carried out in the mailbox's next synchronization cycle; this alert is then replaced by one saying what was done.",
                choice.label()
            )),
            Ok(r) => Err(r.error().message),
            Err(e) => Err(e.message),
        }));
        busy.set(false);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_an_alert_names_are_read_from_its_details() {
        let d = "Exchange item: AAA=\nDuplicate: contacts(0b0d5bd8-6a3b-4a35-9f7e-1c2b3d4e5f60) Janet Leverling <janet@contoso.test>\nDuplicate: contacts(bad) x";
        let r = named_records(d);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].set, "contacts");
        assert_eq!(r[0].description, "Janet Leverling <janet@contoso.test>");
    }
}
