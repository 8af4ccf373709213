//! What the alerts wall reads: the counts of its level tabs, one page of alerts with
//! the names of their records, the error groups, and every alert for "Delete all".

use std::collections::HashMap;

use serde::Deserialize;

use super::model::{filter, group, query, within, Alert, ErrorKey, Group, Level};
use crate::api::{self, ApiError, Collection};

/// Alerts a page.
pub const PAGE_SIZE: u32 = 50;
/// How many alerts "group by error" reads (newest first).
pub const GROUP_LIMIT: u32 = 5000;

/// A time window: the `from` and `to` of a link (the dashboard's hours).
pub type Window = Option<(String, String)>;

/// Each level tab's `$count` (by the level's label; `None` where it could not be read).
pub type Counts = HashMap<&'static str, Option<u64>>;

/// One page of alerts and the names of the records they are about.
pub type Page = (Collection<Alert>, HashMap<String, String>);

/// The groups, how many alerts were read and how many match.
pub type Groups = (Vec<Group>, u64, u64);

/// The count of every level tab, within the error group and the window.
pub async fn counts(error: Option<ErrorKey>, window: Window) -> Counts {
    let mut out = HashMap::new();
    for l in Level::ALL {
        let f = within(filter(l, error.as_ref()), window.as_ref());
        let path = query("tracelogid", f.as_deref(), "&$top=1");
        let page: api::ApiResult<Collection<serde_json::Value>> = api::get_json(&path).await;
        out.insert(l.label(), page.ok().and_then(|p| p.count));
    }
    out
}

/// The page at `path` (a first page's query or a nextLink).
pub async fn page(path: String) -> Result<Page, ApiError> {
    let page: Collection<Alert> = api::get_json_with(
        &path,
        &[("Prefer", &format!("odata.maxpagesize={PAGE_SIZE}"))],
    )
    .await?;
    let names = names_of(&page.value).await;
    Ok((page, names))
}

/// The newest `GROUP_LIMIT` alerts of the level and window, grouped by error.
pub async fn groups(level: Level, window: Window) -> Result<Groups, ApiError> {
    let f = within(filter(level, None), window.as_ref());
    let path = query(
        "tracecode,errortypedisplay,text,level",
        f.as_deref(),
        &format!("&$top={GROUP_LIMIT}"),
    );
    let p = api::get_json::<Collection<Alert>>(&path).await?;
    let total = p.count.unwrap_or(p.value.len() as u64);
    Ok((group(&p.value), p.value.len() as u64, total))
}

/// Every alert matching `filter` (all pages).
pub async fn all_alerts(filter: Option<&str>) -> Result<Vec<Alert>, ApiError> {
    api::fetch_all(query("tracelogid,text,canbedeleted", filter, "")).await
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    mailboxid: Option<String>,
    #[serde(default)]
    emailserverprofileid: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The names of the alerts' mailboxes and profiles (what cannot be read is left out).
async fn names_of(alerts: &[Alert]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut mailboxes: Vec<&str> = Vec::new();
    let mut profiles: Vec<&str> = Vec::new();
    for a in alerts {
        if let Some(id) = a.regarding.as_deref() {
            let list = match a.regardingobjecttypecode.as_deref() {
                Some("emailserverprofile") => &mut profiles,
                _ => &mut mailboxes,
            };
            if !list.contains(&id) {
                list.push(id);
            }
        }
    }
    for (set, key, ids) in [
        ("mailboxes", "mailboxid", &mailboxes),
        ("emailserverprofiles", "emailserverprofileid", &profiles),
    ] {
        for chunk in ids.chunks(25) {
            let f: Vec<String> = chunk.iter().map(|id| format!("{key} eq {id}")).collect();
            let path = format!(
                "/api/data/v9.2/{set}?$select={key},name&$filter={}",
                f.join(" or ")
            );
            if let Ok(p) = api::get_json::<Collection<Named>>(&path).await {
                for n in p.value {
                    if let (Some(id), Some(name)) = (n.mailboxid.or(n.emailserverprofileid), n.name)
                    {
                        out.insert(id, name);
                    }
                }
            }
        }
    }
    out
}
