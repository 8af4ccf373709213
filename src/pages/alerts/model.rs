//! The alerts wall's data: the `tracelogs` records, the query for a filter, and the
//! grouping by error. Plain functions (host unit tests).

use serde::Deserialize;

/// The Web API's tracelogs collection.
pub const TRACELOGS: &str = "/api/data/v9.2/tracelogs";

/// The columns the wall shows.
pub const SELECT: &str =
    "tracelogid,level,tracecode,text,errortypedisplay,errordetails,_regardingobjectid_value,\
                          regardingobjecttypecode,canbedeleted,createdon,modifiedon";

/// One alert (`tracelog`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alert {
    pub tracelogid: String,
    #[serde(default)]
    pub level: Option<i64>,
    #[serde(default)]
    pub tracecode: Option<i64>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub errortypedisplay: Option<String>,
    #[serde(default)]
    pub errordetails: Option<String>,
    #[serde(default, rename = "_regardingobjectid_value")]
    pub regarding: Option<String>,
    #[serde(default)]
    pub regardingobjecttypecode: Option<String>,
    #[serde(default)]
    pub canbedeleted: Option<bool>,
    #[serde(default)]
    pub createdon: Option<String>,
    #[serde(default)]
    pub modifiedon: Option<String>,
}

impl Alert {
    /// Deletable unless the record says otherwise.
    pub fn deletable(&self) -> bool {
        self.canbedeleted != Some(false)
    }
}

/// The level filter: all, or one of Error (3), Warning (2), Information (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    All,
    Error,
    Warning,
    Information,
}

impl Level {
    /// The level of a link's `level=` (`errors`, `warnings`, `information`).
    pub fn from_key(key: Option<&str>) -> Level {
        match key {
            Some("errors") => Level::Error,
            Some("warnings") => Level::Warning,
            Some("information") => Level::Information,
            _ => Level::All,
        }
    }

    pub const ALL: [Level; 4] = [Level::All, Level::Error, Level::Warning, Level::Information];

    pub fn value(self) -> Option<i64> {
        match self {
            Level::All => None,
            Level::Error => Some(3),
            Level::Warning => Some(2),
            Level::Information => Some(1),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::All => "All",
            Level::Error => "Errors",
            Level::Warning => "Warnings",
            Level::Information => "Information",
        }
    }
}

/// A level's name and badge class.
pub fn level_badge(level: Option<i64>) -> (&'static str, &'static str) {
    match level {
        Some(3) => ("Error", "badge badge-error"),
        Some(2) => ("Warning", "badge badge-warning"),
        Some(1) => ("Information", "badge badge-info"),
        _ => ("Alert", "badge badge-neutral"),
    }
}

/// What groups alerts: the same error code and error type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ErrorKey {
    pub tracecode: Option<i64>,
    pub errortypedisplay: Option<String>,
}

impl ErrorKey {
    pub fn of(a: &Alert) -> Self {
        ErrorKey {
            tracecode: a.tracecode,
            errortypedisplay: a.errortypedisplay.clone(),
        }
    }

    /// "IncomingEmailServerServiceError (code 31)", or what is known of it.
    pub fn label(&self) -> String {
        match (&self.errortypedisplay, self.tracecode) {
            (Some(t), Some(c)) => format!("{t} (code {c})"),
            (Some(t), None) => t.clone(),
            (None, Some(c)) => format!("Code {c}"),
            (None, None) => "No error code (information)".to_string(),
        }
    }

    fn filter(&self) -> String {
        let code = match self.tracecode {
            Some(c) => format!("tracecode eq {c}"),
            None => "tracecode eq null".to_string(),
        };
        let kind = match &self.errortypedisplay {
            Some(t) => format!("errortypedisplay eq '{}'", t.replace('\'', "''")),
            None => "errortypedisplay eq null".to_string(),
        };
        format!("{code} and {kind}")
    }
}

/// One group of the "group by error" view.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub key: ErrorKey,
    pub count: usize,
    /// The newest alert's text in the group.
    pub sample: String,
    pub level: Option<i64>,
}

/// Groups `alerts` (newest first) by error, largest group first.
pub fn group(alerts: &[Alert]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for a in alerts {
        let key = ErrorKey::of(a);
        match index.get(&key) {
            Some(&i) => {
                let g: &mut Group = &mut groups[i];
                g.count += 1;
            }
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Group {
                    key,
                    count: 1,
                    sample: a.text.clone().unwrap_or_default(),
                    level: a.level,
                });
            }
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.level.cmp(&a.level)));
    groups
}

/// The `$filter` for a level and an error group (`None`: no filter).
pub fn filter(level: Level, error: Option<&ErrorKey>) -> Option<String> {
    let parts: Vec<String> = level
        .value()
        .map(|v| format!("level eq {v}"))
        .into_iter()
        .chain(error.map(ErrorKey::filter))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// `filter` narrowed to the alerts last logged in `[from, to)` (RFC 3339 times; anything
/// else is ignored, so a hand-edited link cannot break the query).
pub fn within(filter: Option<String>, window: Option<&(String, String)>) -> Option<String> {
    let span = window.and_then(|(from, to)| {
        let from = mailsync_core::Timestamp::parse(from)?.at.to_rfc3339();
        let to = mailsync_core::Timestamp::parse(to)?.at.to_rfc3339();
        Some(format!("modifiedon ge {from} and modifiedon lt {to}"))
    });
    match (filter, span) {
        (Some(f), Some(s)) => Some(format!("{f} and {s}")),
        (f, s) => f.or(s),
    }
}

/// "from <from> to <to>": a window as the link gave it.
pub fn window_label(from: &str, to: &str) -> String {
    format!("from {from} to {to}")
}

/// The collection address for `select`, a filter, last logged first, with `$count`.
pub fn query(select: &str, filter: Option<&str>, extra: &str) -> String {
    let mut q = format!("{TRACELOGS}?$select={select}&$orderby=modifiedon desc&$count=true");
    if let Some(f) = filter {
        q.push_str("&$filter=");
        q.push_str(f);
    }
    q.push_str(extra);
    q
}

/// Where an alert's regarding record lives in the console.
pub fn regarding_href(a: &Alert) -> Option<String> {
    let id = a.regarding.as_deref()?;
    match a.regardingobjecttypecode.as_deref() {
        Some("emailserverprofile") => Some(format!("/profiles/{id}")),
        _ => Some(format!("/mailboxes/{id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(level: i64, code: Option<i64>, kind: Option<&str>, text: &str) -> Alert {
        Alert {
            tracelogid: text.to_string(),
            level: Some(level),
            tracecode: code,
            text: Some(text.to_string()),
            errortypedisplay: kind.map(str::to_string),
            errordetails: None,
            regarding: Some("m1".into()),
            regardingobjecttypecode: Some("mailbox".into()),
            canbedeleted: Some(true),
            createdon: None,
            modifiedon: None,
        }
    }

    #[test]
    fn filters() {
        assert_eq!(filter(Level::All, None), None);
        assert_eq!(filter(Level::Error, None).as_deref(), Some("level eq 3"));
        let key = ErrorKey {
            tracecode: Some(31),
            errortypedisplay: Some("It's".into()),
        };
        assert_eq!(
            filter(Level::Warning, Some(&key)).as_deref(),
            Some("level eq 2 and tracecode eq 31 and errortypedisplay eq 'It''s'")
        );
        assert_eq!(
            filter(Level::All, Some(&ErrorKey::default())).as_deref(),
            Some("tracecode eq null and errortypedisplay eq null")
        );
    }

    #[test]
    fn windows_narrow_the_filter() {
        let w = (
            "2026-12-02T10:00:00Z".to_string(),
            "2026-12-02T11:00:00Z".to_string(),
        );
        assert_eq!(
            within(Some("level eq 3".into()), Some(&w)).as_deref(),
            Some("level eq 3 and modifiedon ge 2026-12-02T10:00:00Z and modifiedon lt 2026-12-02T11:00:00Z")
        );
        assert_eq!(within(None, None), None);
        let bad = ("x') or (1 eq 1".to_string(), "y".to_string());
        assert_eq!(
            within(Some("level eq 1".into()), Some(&bad)).as_deref(),
            Some("level eq 1")
        );
        assert_eq!(Level::from_key(Some("errors")), Level::Error);
        assert_eq!(Level::from_key(None), Level::All);
    }

    #[test]
    fn groups_by_error() {
        let alerts = [
            alert(3, Some(31), Some("A"), "first"),
            alert(1, None, None, "info"),
            alert(3, Some(31), Some("A"), "second"),
        ];
        let g = group(&alerts);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].count, 2);
        assert_eq!(g[0].sample, "first");
        assert_eq!(g[0].key.label(), "A (code 31)");
        assert_eq!(g[1].key.label(), "No error code (information)");
    }

    #[test]
    fn links() {
        let mut a = alert(3, None, None, "x");
        assert_eq!(regarding_href(&a).as_deref(), Some("/mailboxes/m1"));
        a.regardingobjecttypecode = Some("emailserverprofile".into());
        assert_eq!(regarding_href(&a).as_deref(), Some("/profiles/m1"));
    }
}
