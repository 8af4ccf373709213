//! The Alerts section of a mailbox or email server profile form: the alerts regarding
//! that one record, newest first, filtered by level, paged, each deletable.

use leptos::prelude::*;

use super::card::{delete_action, AlertCard, DeleteNote};
use super::model::{query, Alert, Level, SELECT};
use super::toolbar::LevelTabs;
use crate::api::{self, Collection};

const PAGE_SIZE: u32 = 20;

/// The alerts regarding the record `regarding` (a mailbox or profile id).
#[component]
pub fn RecordAlerts(#[prop(into)] regarding: String) -> impl IntoView {
    let level = RwSignal::new(Level::All);
    let reload = RwSignal::new(0u32);
    // Pages shown so far: "Show more" follows the last one's nextLink.
    let more = RwSignal::new(Vec::<String>::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let regarding = StoredValue::new(regarding);

    let first = move || {
        let id = regarding.get_value();
        let by_level = level.get().value().map(|v| format!(" and level eq {v}"));
        let f = format!(
            "_regardingobjectid_value eq {id}{}",
            by_level.unwrap_or_default()
        );
        query(SELECT, Some(&f), "")
    };
    let pages = LocalResource::new(move || {
        reload.track();
        let mut paths = vec![first()];
        paths.extend(more.get());
        async move {
            let mut alerts = Vec::new();
            let mut total = None;
            let mut next = None;
            for path in paths {
                let page: Collection<Alert> = api::get_json_with(
                    &path,
                    &[("Prefer", &format!("odata.maxpagesize={PAGE_SIZE}"))],
                )
                .await?;
                total = total.or(page.count);
                next = page.next.map(|l| api::same_origin(&l));
                alerts.extend(page.value);
            }
            Ok::<_, api::ApiError>((alerts, total, next))
        }
    });
    Effect::new(move |_| {
        level.track();
        more.set(Vec::new());
    });

    let delete_one = delete_action(message, reload);

    view! {
        <section class="card record-alerts" aria-labelledby="record-alerts-title">
            <div class="card-header row">
                <span class="card-title" id="record-alerts-title">"Alerts"</span>
                <span class="spacer"></span>
                <LevelTabs level=level aria_label="Alert level" small=true />
            </div>
            <div class="card-body">
                <DeleteNote message=message />
                <Transition fallback=|| view! { <p class="muted">"Loading alerts\u{2026}"</p> }>
                    {move || pages.get().map(|r| match r {
                        Err(e) => view! { <div class="callout callout-error" role="alert">{e.message}</div> }.into_any(),
                        Ok((alerts, _, _)) if alerts.is_empty() => {
                            view! { <p class="muted record-alerts-empty">"No alerts for this record."</p> }.into_any()
                        }
                        Ok((alerts, total, next)) => {
                            let shown = alerts.len();
                            view! {
                                <ul class="alerts-list">
                                    {alerts
                                        .into_iter()
                                        .map(|a| view! { <AlertCard alert=a name=None on_delete=delete_one on_record=true /> })
                                        .collect_view()}
                                </ul>
                                <div class="row">
                                    <span class="muted small" data-testid="record-alerts-range">
                                        {format!("{shown} of {}", total.unwrap_or(shown as u64))}
                                    </span>
                                    <span class="spacer"></span>
                                    {next.map(|link| view! {
                                        <button class="btn btn-secondary btn-sm" on:click=move |_| more.update(|m| m.push(link.clone()))>
                                            "Show more"
                                        </button>
                                    })}
                                </div>
                            }
                                .into_any()
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}
