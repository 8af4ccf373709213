//! The grid's state as it lives in the URL (`?view=&q=&sort=&desc=&page=&after=`) and
//! the Web API query it makes. Plain functions: host unit tests.

use crate::api::{decode, encode};
use crate::components::columns::{GridColumn, Shown};
use mailsync_core::export::csv_cell;

/// The system views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Active,
    Unapproved,
    PendingTest,
    DisabledOrFailing,
    All,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Active,
        View::Unapproved,
        View::PendingTest,
        View::DisabledOrFailing,
        View::All,
    ];

    pub fn key(self) -> &'static str {
        match self {
            View::Active => "active",
            View::Unapproved => "unapproved",
            View::PendingTest => "pending-test",
            View::DisabledOrFailing => "disabled-failing",
            View::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            View::Active => "Active Mailboxes",
            View::Unapproved => "Unapproved Mailboxes",
            View::PendingTest => "Pending Test",
            View::DisabledOrFailing => "Disabled or Failing",
            View::All => "All Mailboxes",
        }
    }

    pub fn from_key(key: &str) -> View {
        View::ALL
            .into_iter()
            .find(|v| v.key() == key)
            .unwrap_or(View::Active)
    }

    /// The view's `$filter` (None: every mailbox).
    pub fn filter(self) -> Option<&'static str> {
        match self {
            View::Active => Some("statecode eq 0"),
            View::Unapproved => Some("emailrouteraccessapproval ne 1"),
            View::PendingTest => Some("testemailconfigurationscheduled eq true"),
            View::DisabledOrFailing => Some(
                "(enabledforincomingemail eq false and enabledforoutgoingemail eq false) \
                 or incomingemailstatus eq 2 or outgoingemailstatus eq 2 or actstatus eq 2",
            ),
            View::All => None,
        }
    }
}

/// The grid's columns, in order: the name always; the others as the user chooses
/// (remembered), by default the set that fits a 1440 px screen.
pub const COLUMNS: &[GridColumn] = &[
    GridColumn {
        key: "name",
        label: "Name",
        sort: Some("name"),
        shown: Shown::Always,
    },
    GridColumn {
        key: "email",
        label: "Email address",
        sort: Some("emailaddress"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "profile",
        label: "Email server profile",
        sort: Some("_emailserverprofile_value"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "approval",
        label: "Approval",
        sort: Some("emailrouteraccessapproval"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "incoming",
        label: "Incoming",
        sort: Some("incomingemailstatus"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "outgoing",
        label: "Outgoing",
        sort: Some("outgoingemailstatus"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "act",
        label: "ACT",
        sort: Some("actstatus"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "enabled",
        label: "Enabled (in/out/ACT)",
        sort: Some("enabledforincomingemail"),
        shown: Shown::OnRequest,
    },
    GridColumn {
        key: "error",
        label: "Last sync error",
        sort: Some("lastsyncerror"),
        shown: Shown::ByDefault,
    },
    GridColumn {
        key: "next",
        label: "Next sync",
        sort: Some("postponemailboxprocessinguntil"),
        shown: Shown::ByDefault,
    },
];

/// The properties the grid reads.
pub const SELECT: &str =
    "mailboxid,name,emailaddress,_emailserverprofile_value,emailrouteraccessapproval,\
incomingemailstatus,outgoingemailstatus,actstatus,enabledforincomingemail,enabledforoutgoingemail,\
enabledforact,lastsyncerror,postponemailboxprocessinguntil,testemailconfigurationscheduled";

/// Rows per page.
pub const PAGE_SIZE: usize = 50;

/// Everything the URL says about the grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridState {
    pub view: View,
    pub search: String,
    pub sort: &'static str,
    pub desc: bool,
    /// 1-based page number (display only; `after` is what selects the page).
    pub page: usize,
    /// The `$skiptoken` of this page (None: first page).
    pub after: Option<String>,
    /// An extra `$filter` from a link elsewhere (the dashboard's numbers), with the
    /// words that say what it shows.
    pub extra: Option<(String, String)>,
}

impl Default for GridState {
    fn default() -> Self {
        GridState {
            view: View::Active,
            search: String::new(),
            sort: "name",
            desc: false,
            page: 1,
            after: None,
            extra: None,
        }
    }
}

impl GridState {
    /// Reads the URL's query parameters (`get("view")` ...). Unknown values fall back.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> GridState {
        let d = GridState::default();
        let sort = get("sort")
            .and_then(|s| COLUMNS.iter().find_map(|c| c.sort.filter(|c| *c == s)))
            .unwrap_or(d.sort);
        let after = get("after").filter(|a| !a.is_empty());
        GridState {
            view: get("view").map_or(d.view, |v| View::from_key(&v)),
            search: get("q").unwrap_or_default(),
            sort,
            desc: get("desc").is_some_and(|v| v == "1" || v == "true"),
            page: if after.is_some() {
                get("page")
                    .and_then(|p| p.parse().ok())
                    .filter(|p| *p >= 1)
                    .unwrap_or(2)
            } else {
                1
            },
            after,
            extra: get("f").filter(|f| !f.trim().is_empty()).map(|f| {
                let label = get("fl")
                    .filter(|l| !l.trim().is_empty())
                    .unwrap_or_else(|| f.clone());
                (f, label)
            }),
        }
    }

    /// The console URL (`/mailboxes?...`) for this state.
    pub fn url(&self) -> String {
        let mut params = vec![format!("view={}", self.view.key())];
        if !self.search.is_empty() {
            params.push(format!("q={}", encode(&self.search)));
        }
        if self.sort != "name" || self.desc {
            params.push(format!("sort={}", self.sort));
        }
        if self.desc {
            params.push("desc=1".into());
        }
        if let Some((f, label)) = &self.extra {
            params.push(format!("f={}", encode(f)));
            params.push(format!("fl={}", encode(label)));
        }
        if let Some(after) = &self.after {
            params.push(format!("page={}", self.page));
            params.push(format!("after={}", encode(after)));
        }
        format!("/mailboxes?{}", params.join("&"))
    }

    /// The same grid at its first page (view, search or sort changed).
    pub fn first_page(mut self) -> GridState {
        self.page = 1;
        self.after = None;
        self
    }

    /// The `$filter` of the view and the search, if any.
    pub fn filter(&self) -> Option<String> {
        let search = self.search.trim();
        let search = (!search.is_empty()).then(|| {
            let s = search.replace('\'', "''");
            format!("(contains(name,'{s}') or contains(emailaddress,'{s}'))")
        });
        let parts: Vec<String> = [
            self.view.filter().map(str::to_string),
            self.extra.as_ref().map(|(f, _)| f.clone()),
            search,
        ]
        .into_iter()
        .flatten()
        .collect();
        match parts.len() {
            0 => None,
            1 => parts.into_iter().next(),
            _ => Some(
                parts
                    .iter()
                    .map(|p| format!("({p})"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            ),
        }
    }

    /// The Web API request for this page (`maxpagesize` goes in `Prefer`).
    pub fn api_path(&self, select: &str, count: bool) -> String {
        let dir = if self.desc { "desc" } else { "asc" };
        let mut q = format!(
            "/api/data/v9.2/mailboxes?$select={select}&$orderby={} {dir}",
            self.sort
        );
        if let Some(f) = self.filter() {
            q.push_str("&$filter=");
            q.push_str(&encode(&f));
        }
        if count {
            q.push_str("&$count=true");
        }
        if let Some(after) = &self.after {
            q.push_str("&$skiptoken=");
            q.push_str(&encode(after));
        }
        q.replace(' ', "%20")
    }
}

/// The `$skiptoken` of an `@odata.nextLink` (still as the server encoded it, decoded once).
pub fn skiptoken(next_link: &str) -> Option<String> {
    let query = next_link.split_once('?')?.1;
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (decode(k) == "$skiptoken").then(|| decode(v))
    })
}

/// Labels of the option values the grid shows.
pub fn approval_label(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "Empty",
        Some(1) => "Approved",
        Some(2) => "Pending Approval",
        Some(3) => "Rejected",
        _ => "",
    }
}

pub fn status_label(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "Not Run",
        Some(1) => "Success",
        Some(2) => "Failure",
        _ => "",
    }
}

/// One CSV line (with its CRLF): core's cells, so a mailbox's name or last error cannot
/// run as a spreadsheet formula.
pub fn csv_line(fields: &[String]) -> String {
    let cells: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
    format!("{}\r\n", cells.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn state(url_query: &str) -> GridState {
        let map: HashMap<String, String> = url_query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        GridState::from_params(|k| map.get(k).cloned())
    }

    #[test]
    fn url_round_trips() {
        let s = GridState {
            view: View::Unapproved,
            search: "a&b 'c'".into(),
            sort: "emailaddress",
            desc: true,
            page: 3,
            after: Some("abc=/+".into()),
            extra: Some(("lastsyncerrorcount gt 0".into(), "Failing".into())),
        };
        let url = s.url();
        assert_eq!(state(url.split_once('?').unwrap().1), s);
        assert_eq!(GridState::default().url(), "/mailboxes?view=active");
        assert_eq!(state("view=nope&sort=password"), GridState::default());
    }

    #[test]
    fn builds_filters_and_paths() {
        let s = state("view=unapproved&q=o'neil");
        assert_eq!(
            s.filter().unwrap(),
            "(emailrouteraccessapproval ne 1) and ((contains(name,'o''neil') or contains(emailaddress,'o''neil')))"
        );
        let s = state("view=all&f=lastsyncerrorcount%20gt%200&fl=Failing");
        assert_eq!(s.filter().unwrap(), "lastsyncerrorcount gt 0");
        assert_eq!(s.extra.as_ref().unwrap().1, "Failing");
        let s = state("view=active&f=a%20eq%201");
        assert_eq!(s.filter().unwrap(), "(statecode eq 0) and (a eq 1)");
        assert_eq!(state("view=all").filter(), None);
        let p = state("view=all&sort=name&desc=1").api_path("mailboxid", true);
        assert_eq!(
            p,
            "/api/data/v9.2/mailboxes?$select=mailboxid&$orderby=name%20desc&$count=true"
        );
    }

    #[test]
    fn reads_skiptokens() {
        assert_eq!(
            skiptoken("http://h/api/data/v9.2/mailboxes?$select=a&$skiptoken=x%3D1").as_deref(),
            Some("x=1")
        );
        assert_eq!(skiptoken("http://h/x?$select=a"), None);
        assert_eq!(
            csv_line(&["a,\"b\"".into(), "x".into()]),
            "\"a,\"\"b\"\"\",x\r\n"
        );
        // A mailbox named like a formula, a last error starting with '-': neutralized.
        assert_eq!(
            csv_line(&[
                "=cmd|' /C calc'!A0".into(),
                "@evil".into(),
                "-Error: x".into(),
                "\t+1".into(),
                "-5".into()
            ]),
            "'=cmd|' /C calc'!A0,'@evil,'-Error: x,'\t+1,-5\r\n"
        );
    }
}
