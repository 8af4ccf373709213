//! Collections of the Web API: one page (`Collection`), every page (`fetch_all`), and
//! the (id, name) pairs a select list or a lookup's label needs (`names`).

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{get_json_with, same_origin, ApiResult};

/// A collection page of the Web API.
#[derive(Debug, Clone, Deserialize)]
pub struct Collection<T> {
    pub value: Vec<T>,
    #[serde(default, rename = "@odata.count")]
    pub count: Option<u64>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next: Option<String>,
}

/// Follows `@odata.nextLink` from `path` to the end (pages of 5,000).
pub async fn fetch_all<T: DeserializeOwned>(path: String) -> ApiResult<Vec<T>> {
    let mut out = Vec::new();
    let mut next = Some(path);
    while let Some(path) = next.take() {
        let page: Collection<T> =
            get_json_with(&path, &[("Prefer", "odata.maxpagesize=5000")]).await?;
        out.extend(page.value);
        next = page.next.map(|link| same_origin(&link));
    }
    Ok(out)
}

/// How many mailboxes match `filter` (`$count` of a one-record page).
pub async fn count_mailboxes(filter: &str) -> ApiResult<u64> {
    let path = format!(
        "/api/data/v9.2/mailboxes?$select=mailboxid&$top=1&$count=true&$filter={}",
        super::encode(filter)
    );
    let page: Collection<serde_json::Value> = super::get_json(&path).await?;
    Ok(page.count.unwrap_or(0))
}

/// Every record of `path` as (the `key` property, the `name` property), in order.
pub async fn names(path: String, key: &str, name: &str) -> ApiResult<Vec<(String, String)>> {
    Ok(fetch_all::<serde_json::Value>(path)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some((
                r[key].as_str()?.to_string(),
                r[name].as_str().unwrap_or_default().to_string(),
            ))
        })
        .collect())
}

/// The email server profiles, by name.
pub async fn profile_names() -> ApiResult<Vec<(String, String)>> {
    names(
        "/api/data/v9.2/emailserverprofiles?$select=emailserverprofileid,name&$orderby=name".into(),
        "emailserverprofileid",
        "name",
    )
    .await
}
