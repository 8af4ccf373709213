//! One alert as the wall and the record forms show it: level, text, first and last
//! logged, the record it is about, and what core's knowledge base knows of it.

use leptos::prelude::*;
use leptos_router::components::A;
use mailsync_core::classify::{classify, Evidence};
use mailsync_core::engine::alerts::occurrences;
use mailsync_core::time::ago;

use super::decide::PromptActions;
use super::model::{level_badge, regarding_href, Alert, TRACELOGS};
use crate::components::Confirm;
use crate::time::{now, When};

/// What a card's Delete does: deletes the alert, says so in `message` (or why not) and
/// bumps `reload`.
pub fn delete_action(
    message: RwSignal<Option<Result<String, String>>>,
    reload: RwSignal<u32>,
) -> impl Fn(Alert) + Copy + Send + Sync + 'static {
    move |alert: Alert| {
        leptos::task::spawn_local(async move {
            match crate::api::delete(&format!("{TRACELOGS}({})", alert.tracelogid)).await {
                Ok(()) => {
                    message.set(Some(Ok("The alert was deleted.".to_string())));
                    reload.update(|n| *n += 1);
                }
                Err(e) => message.set(Some(Err(e.message))),
            }
        });
    }
}

/// One alert: level, text, dates, its record, cause and resolution when known; Delete
/// asks first ([`Confirm`]).
#[component]
pub fn AlertCard(
    alert: Alert,
    name: Option<String>,
    on_delete: impl Fn(Alert) + Copy + Send + Sync + 'static,
    /// On the record's own form the link to the record is left out.
    #[prop(optional)]
    on_record: bool,
) -> impl IntoView {
    let text = alert.text.clone().unwrap_or_default();
    let c = classify(&Evidence {
        error_type: alert.errortypedisplay.as_deref(),
        text: &text,
        http_status: None,
        error_code: None,
    });
    let known = (!c.inferred && alert.level != Some(1)).then_some(c);
    let (lname, lclass) = level_badge(alert.level);
    let link = regarding_href(&alert).filter(|_| !on_record).map(|href| {
        let kind = match alert.regardingobjecttypecode.as_deref() {
            Some("emailserverprofile") => "Email server profile",
            _ => "Mailbox",
        };
        let label = format!("{kind}: {}", name.unwrap_or_else(|| "open".to_string()));
        view! { <A href=href attr:class="alerts-regarding">{label}</A> }
    });
    let deletable = alert.deletable();
    let code = alert.tracecode.map(|c| format!("code {c}"));
    let etype = alert.errortypedisplay.clone();
    let first = alert.createdon.clone();
    let last = alert.modifiedon.clone();
    let details = alert.errordetails.clone().filter(|d| !d.trim().is_empty());
    let times = details.as_deref().map_or(1, occurrences);
    let id = alert.tracelogid.clone();
    let level_attr = alert.level.unwrap_or(0);
    let (confirm, set_confirm) = signal(false);
    view! {
        <li class="card alerts-item" data-id=id data-level=level_attr>
            <div class="card-body">
                <div class="row alerts-item-head">
                    <span class=lclass>{lname}</span>
                    {etype.map(|t| view! { <span class="mono small">{t}</span> })}
                    {code.map(|c| view! { <span class="muted small">{c}</span> })}
                    <span class="spacer"></span>
                    {link}
                </div>
                <p class="alerts-text">{text}</p>
                <PromptActions alert=alert.clone() />
                <div class="row small muted alerts-dates">
                    <span>"First logged " {when(first.as_deref())}</span>
                    <span>"Last logged " {when(last.as_deref())}</span>
                    {(times > 1).then(|| view! { <span class="alerts-times" data-testid="alert-times">{format!("Logged {times} times")}</span> })}
                    <span class="spacer"></span>
                    {if deletable {
                        view! {
                            <button
                                class="btn btn-ghost btn-sm alerts-delete"
                                on:click=move |_| set_confirm.set(true)
                            >
                                "Delete"
                            </button>
                        }
                            .into_any()
                    } else {
                        view! { <span class="badge badge-neutral">"Cannot be deleted"</span> }.into_any()
                    }}
                </div>
                {details.map(|d| view! {
                    <details class="disclosure alerts-details">
                        <summary>"Error details"</summary>
                        <pre class="mono small">{d}</pre>
                    </details>
                })}
                {known
                    .map(|c| {
                        view! {
                            <details class="disclosure alerts-kb">
                                <summary>{format!("Known issue: {}", c.title)}</summary>
                                <p>
                                    <strong>"Cause: "</strong>
                                    {c.cause.to_string()}
                                </p>
                                <ol>
                                    {c
                                        .resolution
                                        .iter()
                                        .map(|r| view! { <li>{r.to_string()}</li> })
                                        .collect_view()}
                                </ol>
                            </details>
                        }
                    })}
            </div>
            <Show when=move || confirm.get()>
                <Confirm
                    title="Delete alert"
                    text="Delete this alert? This cannot be undone."
                    confirm="Delete"
                    danger=true
                    confirm_class="alerts-delete-confirm"
                    on_close=Callback::new({
                        let alert = alert.clone();
                        move |yes: bool| {
                            set_confirm.set(false);
                            if yes {
                                on_delete(alert.clone());
                            }
                        }
                    })
                />
            </Show>
        </li>
    }
}

/// What the last Delete did: "The alert was deleted." or the server's reason.
#[component]
pub fn DeleteNote(message: RwSignal<Option<Result<String, String>>>) -> impl IntoView {
    move || {
        message.get().map(|m| match m {
            Ok(t) => {
                view! { <div class="callout callout-success" role="status">{t}</div> }.into_any()
            }
            Err(t) => {
                view! { <div class="callout callout-error" role="alert">{t}</div> }.into_any()
            }
        })
    }
}

/// A date: local time with its zone (UTC on hover), then how long ago.
pub fn when(rfc3339: Option<&str>) -> AnyView {
    match rfc3339.and_then(crate::time::parse) {
        Some(ts) => view! { <When at=Some(ts) /> " (" {ago(ts, now())} ")" }.into_any(),
        None => view! { <When at=None /> }.into_any(),
    }
}
