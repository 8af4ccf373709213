//! One page of the wall: its alert cards, then the range and the pager.

use leptos::prelude::*;

use super::card::AlertCard;
use super::fetch::{Page, PAGE_SIZE};
use super::model::Alert;
use crate::api::{self, ApiError};
use crate::components::pager::{page_count, page_status};
use crate::components::Pager;

/// The page shown; `pages` holds the paths of the pages seen so far (the last is this
/// one): Next follows the nextLink, Previous goes back one.
#[component]
pub fn AlertList(
    page: LocalResource<Option<Result<Page, ApiError>>>,
    pages: RwSignal<Vec<String>>,
    on_delete: impl Fn(Alert) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading alerts…"</p> }>
            {move || {
                page.get()
                    .flatten()
                    .map(|res| match res {
                        Err(e) => {
                            view! { <div class="callout callout-error" role="alert">{e.message}</div> }
                                .into_any()
                        }
                        Ok((p, _)) if p.value.is_empty() => {
                            view! { <div class="card empty-state alerts-empty">"No alerts here."</div> }
                                .into_any()
                        }
                        Ok((p, names)) => {
                            let total = p.count.unwrap_or(0);
                            let shown = p.value.len() as u64;
                            let next = p.next.clone();
                            let cards = p
                                .value
                                .into_iter()
                                .map(|a| {
                                    let name = a.regarding.as_ref().and_then(|id| names.get(id).cloned());
                                    view! { <AlertCard alert=a name=name on_delete=on_delete /> }
                                })
                                .collect_view();
                            view! {
                                <ul class="alerts-list">{cards}</ul>
                                <AlertPager pages=pages total=total shown=shown next=next />
                            }
                                .into_any()
                        }
                    })
            }}
        </Transition>
    }
}

/// "51–100 of 230", then the shared pager.
#[component]
fn AlertPager(
    pages: RwSignal<Vec<String>>,
    total: u64,
    shown: u64,
    next: Option<String>,
) -> impl IntoView {
    let n = pages.with_untracked(Vec::len).max(1);
    let from = (n as u64 - 1) * PAGE_SIZE as u64 + 1;
    let to = from + shown - 1;
    let count = page_count(total, PAGE_SIZE as usize);
    let has_next = next.is_some();
    let next = StoredValue::new(next);
    view! {
        <Pager
            label="Pages of alerts"
            class="alerts-pager"
            status=page_status(n, Some(count.max(n)), false)
            has_prev={ n > 1 }
            has_next=has_next
            on_prev=Callback::new(move |()| pages.update(|v| { v.pop(); }))
            on_next=Callback::new(move |()| {
                if let Some(link) = next.get_value() {
                    pages.update(|v| v.push(api::same_origin(&link)));
                }
            })
        >
            <span class="muted small alerts-range">{format!("{from}–{to} of {total}")}</span>
            <span class="spacer"></span>
        </Pager>
    }
}
