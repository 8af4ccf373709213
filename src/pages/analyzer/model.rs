//! What the page shows of the analyzed reports, as plain functions over core's
//! [`Report`]s: which cards pass the filters, in which order, and labels for enums.
//! No DOM here, so it is unit-tested on the host.

use mailsync_core::{Nature, Report, Scope, Severity, Status};

/// Card order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Worst finding first (errors, unreadable files, warnings, info, clean).
    Severity,
    /// Soonest (or most overdue) next synchronization first; unknown last.
    NextSync,
    FileName,
    MailboxId,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Severity,
        SortKey::NextSync,
        SortKey::FileName,
        SortKey::MailboxId,
    ];

    pub fn value(self) -> &'static str {
        match self {
            SortKey::Severity => "severity",
            SortKey::NextSync => "next-sync",
            SortKey::FileName => "file",
            SortKey::MailboxId => "mailbox",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Severity => "Severity",
            SortKey::NextSync => "Next sync",
            SortKey::FileName => "File name",
            SortKey::MailboxId => "Mailbox id",
        }
    }

    pub fn from_value(v: &str) -> SortKey {
        SortKey::ALL
            .into_iter()
            .find(|k| k.value() == v)
            .unwrap_or(SortKey::Severity)
    }
}

/// The "only show" toggles. Several ticked show cards matching any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Disabled,
    Failing,
    PendingTest,
    Overdue,
    Unreadable,
}

impl Condition {
    pub const ALL: [Condition; 5] = [
        Condition::Disabled,
        Condition::Failing,
        Condition::PendingTest,
        Condition::Overdue,
        Condition::Unreadable,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Condition::Disabled => "Disabled",
            Condition::Failing => "Failing",
            Condition::PendingTest => "Pending test",
            Condition::Overdue => "Overdue",
            Condition::Unreadable => "Unreadable",
        }
    }

    /// Used in `data-testid="filter-<slug>"`.
    pub fn slug(self) -> &'static str {
        match self {
            Condition::Disabled => "disabled",
            Condition::Failing => "failing",
            Condition::PendingTest => "pending-test",
            Condition::Overdue => "overdue",
            Condition::Unreadable => "unreadable",
        }
    }

    pub fn matches(self, r: &Report) -> bool {
        match self {
            Condition::Disabled => r.is_disabled(),
            Condition::Failing => r.is_failing(),
            Condition::PendingTest => r.is_pending_test(),
            Condition::Overdue => r.is_overdue(),
            Condition::Unreadable => r.status == Status::Error,
        }
    }
}

/// Everything that narrows the card list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Case-insensitive text searched in file name, mailbox id, error and findings.
    pub text: String,
    /// Ticked conditions (any of them).
    pub conditions: Vec<Condition>,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        !self.text.trim().is_empty() || !self.conditions.is_empty()
    }

    pub fn has(&self, c: Condition) -> bool {
        self.conditions.contains(&c)
    }

    pub fn toggle(&mut self, c: Condition, on: bool) {
        self.conditions.retain(|x| *x != c);
        if on {
            self.conditions.push(c);
        }
    }

    fn matches(&self, r: &Report, needle: &str) -> bool {
        if !self.conditions.is_empty() && !self.conditions.iter().any(|c| c.matches(r)) {
            return false;
        }
        needle.is_empty() || text_matches(r, needle)
    }
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if hay.is_ascii() && needle_lower.is_ascii() {
        // Fast path without allocating: ASCII case-insensitive window search.
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        return n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle_lower)
}

fn text_matches(r: &Report, needle: &str) -> bool {
    contains_ci(&r.file, needle)
        || r.mailbox_id
            .as_deref()
            .is_some_and(|m| contains_ci(m, needle))
        || r.error.as_deref().is_some_and(|e| contains_ci(e, needle))
        || r.findings
            .iter()
            .any(|f| contains_ci(&f.message, needle) || contains_ci(&f.code, needle))
}

/// 0 = most urgent. Unreadable files rank between errors and warnings.
pub fn severity_rank(r: &Report) -> u8 {
    match (r.worst_severity(), r.status) {
        (Some(Severity::Error), _) => 0,
        (_, Status::Error) => 1,
        (Some(Severity::Warning), _) => 2,
        (Some(Severity::Info), _) => 3,
        (None, _) => 4,
    }
}

/// Indexes of the reports to show, filtered then sorted. `only` restricts to a
/// fleet group's members (indexes into `reports`).
pub fn visible(
    reports: &[Report],
    filter: &Filter,
    only: Option<&[usize]>,
    sort: SortKey,
) -> Vec<usize> {
    let needle = filter.text.trim().to_lowercase();
    let keep = |i: &usize| filter.matches(&reports[*i], &needle);
    let mut idx: Vec<usize> = match only {
        Some(members) => members
            .iter()
            .copied()
            .filter(|i| *i < reports.len())
            .filter(keep)
            .collect(),
        None => (0..reports.len()).filter(keep).collect(),
    };
    match sort {
        SortKey::Severity => idx.sort_by(|a, b| {
            let (ra, rb) = (&reports[*a], &reports[*b]);
            severity_rank(ra)
                .cmp(&severity_rank(rb))
                .then_with(|| ra.file.cmp(&rb.file))
        }),
        SortKey::NextSync => idx.sort_by(|a, b| {
            let (ra, rb) = (&reports[*a], &reports[*b]);
            match (ra.next_sync(), rb.next_sync()) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| ra.file.cmp(&rb.file))
        }),
        SortKey::FileName => idx.sort_by(|a, b| reports[*a].file.cmp(&reports[*b].file)),
        SortKey::MailboxId => idx.sort_by(|a, b| {
            let (ra, rb) = (&reports[*a], &reports[*b]);
            match (&ra.mailbox_id, &rb.mailbox_id) {
                (Some(x), Some(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| ra.file.cmp(&rb.file))
        }),
    }
    idx
}

pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
        Severity::Info => "Info",
    }
}

pub fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Error => "badge badge-error",
        Severity::Warning => "badge badge-warning",
        Severity::Info => "badge badge-info",
    }
}

pub fn nature_label(n: Nature) -> &'static str {
    match n {
        Nature::Transient => "transient",
        Nature::Permanent => "permanent",
        Nature::Unknown => "unknown",
    }
}

pub fn nature_class(n: Nature) -> &'static str {
    match n {
        Nature::Transient => "badge badge-transient",
        Nature::Permanent => "badge badge-permanent",
        Nature::Unknown => "badge badge-neutral",
    }
}

pub fn scope_label(s: Scope) -> &'static str {
    match s {
        Scope::Email => "email",
        Scope::Mailbox => "mailbox",
        Scope::Profile => "profile",
        Scope::Unknown => "unknown",
    }
}

pub fn scope_class(s: Scope) -> &'static str {
    match s {
        Scope::Email => "badge badge-email",
        Scope::Mailbox => "badge badge-mailbox",
        Scope::Profile => "badge badge-profile",
        Scope::Unknown => "badge badge-neutral",
    }
}

/// The file-status badge: (text, classes).
pub fn status_badge(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Ok => ("Analyzed", "badge badge-success"),
        Status::Partial => ("Partial file", "badge badge-warning"),
        Status::NotConfigured => ("Not configured", "badge badge-error"),
        Status::Error => ("Unreadable", "badge badge-error"),
    }
}

pub use crate::format::thousands;

#[cfg(test)]
mod tests {
    use super::*;
    use mailsync_core::Finding;

    fn report(
        file: &str,
        mailbox: Option<&str>,
        status: Status,
        findings: &[(Severity, &str)],
    ) -> Report {
        let mut r = Report::failed(file, "x".to_string());
        r.status = status;
        if status != Status::Error {
            r.error = None;
        }
        r.mailbox_id = mailbox.map(str::to_string);
        r.findings = findings
            .iter()
            .map(|(s, c)| Finding {
                severity: *s,
                code: c.to_string().into(),
                message: format!("message about {c}"),
                resolution: None,
            })
            .collect();
        r
    }

    fn sample() -> Vec<Report> {
        vec![
            report(
                "c.log",
                Some("CCC"),
                Status::Ok,
                &[(Severity::Info, "processing_now")],
            ),
            report(
                "a.log",
                Some("bbb"),
                Status::Ok,
                &[(Severity::Error, "incoming_disabled")],
            ),
            report("b.bin", None, Status::Error, &[]),
            report(
                "d.log",
                Some("aaa"),
                Status::Ok,
                &[(Severity::Warning, "overdue")],
            ),
            report("e.log", Some("eee"), Status::Ok, &[]),
        ]
    }

    #[test]
    fn severity_order_puts_errors_then_unreadable_first() {
        let r = sample();
        let order = visible(&r, &Filter::default(), None, SortKey::Severity);
        let files: Vec<&str> = order.iter().map(|i| r[*i].file.as_str()).collect();
        assert_eq!(files, ["a.log", "b.bin", "d.log", "c.log", "e.log"]);
    }

    #[test]
    fn sorts_by_name_and_mailbox() {
        let r = sample();
        let by_file = visible(&r, &Filter::default(), None, SortKey::FileName);
        assert_eq!(by_file, [1, 2, 0, 3, 4]);
        let by_mailbox = visible(&r, &Filter::default(), None, SortKey::MailboxId);
        assert_eq!(by_mailbox, [3, 1, 0, 4, 2]);
    }

    #[test]
    fn text_and_conditions_filter() {
        let r = sample();
        let f = Filter {
            text: "  OVERDUE ".into(),
            conditions: vec![],
        };
        assert_eq!(visible(&r, &f, None, SortKey::FileName), [3]);
        let f = Filter {
            text: "ccc".into(),
            conditions: vec![],
        };
        assert_eq!(visible(&r, &f, None, SortKey::FileName), [0]);
        let f = Filter {
            text: String::new(),
            conditions: vec![Condition::Disabled, Condition::Unreadable],
        };
        assert_eq!(visible(&r, &f, None, SortKey::FileName), [1, 2]);
        let f = Filter {
            text: String::new(),
            conditions: vec![Condition::Overdue],
        };
        assert_eq!(
            visible(&r, &f, Some(&[0, 1, 3, 99]), SortKey::FileName),
            [3]
        );
    }

    #[test]
    fn sort_key_roundtrip() {
        for k in SortKey::ALL {
            assert_eq!(SortKey::from_value(k.value()), k);
        }
        assert_eq!(SortKey::from_value("nonsense"), SortKey::Severity);
    }
}
