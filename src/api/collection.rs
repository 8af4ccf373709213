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
    /// Whether more records match than `$count` counts (asked for in `Prefer`).
    #[serde(
        default,
        rename = "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
    )]
    pub limit_exceeded: Option<bool>,
    #[serde(default, rename = "@odata.nextLink")]
    pub next: Option<String>,
}

impl<T> Collection<T> {
    /// How many records match (asked with `$count=true`), as far as Dataverse counts.
    pub fn total(&self) -> Option<Total> {
        self.count.map(|n| Total::new(n, self.limit_exceeded))
    }
}

/// Dataverse's `$count` stops at this many records.
pub const COUNT_LIMIT: u64 = 5000;

/// Everything a page of the grid shows: formatted values (the organization's own
/// labels of option values, a lookup's record name) and the count annotations.
pub const ANNOTATED: &str = "odata.include-annotations=\"*\"";

/// A `$count`: `n` records, or at least `n` when `more` (Dataverse counts to 5,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Total {
    pub n: u64,
    pub more: bool,
}

impl Total {
    /// `limit_exceeded`: the annotation, when the organization sent it. Without it a
    /// count at the limit may be more, so it is shown as "at least".
    pub fn new(n: u64, limit_exceeded: Option<bool>) -> Self {
        Total {
            n,
            more: limit_exceeded.unwrap_or(n >= COUNT_LIMIT),
        }
    }
}

impl Total {
    /// "1 mailbox", "1,234 mailboxes", "5,000+ mailboxes".
    pub fn of(&self, one: &str, many: &str) -> String {
        if self.n == 1 && !self.more {
            format!("1 {one}")
        } else {
            format!("{self} {many}")
        }
    }
}

impl std::fmt::Display for Total {
    /// "1,234", or "5,000+" past Dataverse's counting limit.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = crate::format::thousands(self.n as usize);
        write!(f, "{n}{}", if self.more { "+" } else { "" })
    }
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

/// The `Prefer` of a count: one record per page (the count does not depend on the
/// page size, `$top` would limit it) and the annotations.
const COUNT_PREFER: &str =
    "odata.maxpagesize=1,odata.include-annotations=\"Microsoft.Dynamics.CRM.totalrecordcount,\
     Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded\"";

/// The query counting the records of `entity_set` (key column `key`) that match `filter`.
fn count_path(entity_set: &str, key: &str, filter: &str) -> String {
    format!(
        "/api/data/v9.2/{entity_set}?$select={key}&$count=true&$filter={}",
        super::encode(filter)
    )
}

fn read_total(body: &str) -> ApiResult<Total> {
    let page: Collection<serde::de::IgnoredAny> =
        serde_json::from_str(body).map_err(|e| super::ApiError::unreadable(200, e))?;
    Ok(page.total().unwrap_or_default())
}

/// Many counts at once, in order: (entity set, key column, `$filter`) each. They go
/// as the reads of `$batch`es (one request per 1,000 counts, which is what a
/// dashboard of 60 numbers needs against the service protection limits), one by one
/// where the organization has no `$batch`.
pub async fn counts(queries: &[(&str, &str, String)]) -> ApiResult<Vec<Total>> {
    let paths: Vec<String> = queries
        .iter()
        .map(|(set, key, filter)| count_path(set, key, filter))
        .collect();
    if paths.len() == 1 {
        let page: Collection<serde::de::IgnoredAny> =
            get_json_with(&paths[0], &[("Prefer", COUNT_PREFER)]).await?;
        return Ok(vec![page.total().unwrap_or_default()]);
    }
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(super::batch::MAX_OPS) {
        let ops: Vec<super::batch::Op> = chunk
            .iter()
            .map(|p| super::batch::Op {
                prefer: Some(COUNT_PREFER),
                ..super::batch::Op::get(p.clone())
            })
            .collect();
        match super::send_batch_answers(&ops).await {
            Ok(answers) => {
                for answer in answers {
                    out.push(read_total(&answer?)?);
                }
            }
            Err(Some(e)) => return Err(e),
            Err(None) => {
                for p in chunk {
                    let page: Collection<serde::de::IgnoredAny> =
                        get_json_with(p, &[("Prefer", COUNT_PREFER)]).await?;
                    out.push(page.total().unwrap_or_default());
                }
            }
        }
    }
    Ok(out)
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
