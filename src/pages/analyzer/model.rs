//! What the page shows of the analyzed reports, as plain functions over core's
//! [`Report`]s: which cards pass the filters, in which order, and labels for enums.
//! No DOM here, so it is unit-tested on the host.

use mailsync_core::parse::Section;
use mailsync_core::{LastSyncOutcome, Nature, Report, Scope, Severity, Status};

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
        Nature::Prompt => "asks for a decision",
        Nature::Unknown => "unknown",
    }
}

pub fn nature_class(n: Nature) -> &'static str {
    match n {
        Nature::Transient => "badge badge-transient",
        Nature::Permanent => "badge badge-permanent",
        Nature::Prompt => "badge badge-info",
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

/// What the card says of a value the log does not give: unknown, and why when the
/// whole section is missing. Never a fact such as "Never".
pub fn unknown_text(r: &Report, section: Section) -> &'static str {
    if r.lacks(section) {
        "Unknown (section missing)"
    } else {
        "Unknown (not in the log)"
    }
}

/// The card's "Next sync".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextSync<'a> {
    /// A time (RFC 3339), shown with how far it is from the report's reference time.
    At(&'a str),
    /// No synchronization is to be expected: why (e.g. disabled in every direction).
    WillNotSync(&'a str),
    Unknown(&'static str),
}

pub fn next_sync(r: &Report) -> NextSync<'_> {
    match (r.next_sync_note.as_deref(), r.next_sync_at.as_deref()) {
        (Some(note), _) => NextSync::WillNotSync(note),
        (None, Some(at)) => NextSync::At(at),
        (None, None) => NextSync::Unknown(unknown_text(r, Section::Backoff)),
    }
}

/// The card's "Last sync": the text and its CSS class. A success is "Succeeded" (the
/// card puts its date beside it); a failure of a disabled mailbox never counts down
/// "before disabling".
pub fn last_sync_fact(r: &Report) -> (String, &'static str) {
    let ls = &r.last_sync;
    let summary = |fallback: &str| {
        if ls.summary.is_empty() {
            fallback.to_string()
        } else {
            ls.summary.clone()
        }
    };
    match ls.outcome {
        LastSyncOutcome::Succeeded => ("Succeeded".to_string(), ""),
        LastSyncOutcome::NeverSucceeded => (summary("Never succeeded"), "muted"),
        LastSyncOutcome::Unknown => (summary(unknown_text(r, Section::LastSync)), "muted"),
        LastSyncOutcome::Retrying
        | LastSyncOutcome::FailedPermanent
        | LastSyncOutcome::FailedDisabled => (summary("Failed"), "az-fact-bad"),
    }
}

/// The detail section's "Last cycle".
pub fn last_cycle_text(r: &Report) -> &'static str {
    match r.last_sync.outcome {
        LastSyncOutcome::Unknown => "Unknown",
        LastSyncOutcome::Retrying
        | LastSyncOutcome::FailedPermanent
        | LastSyncOutcome::FailedDisabled => "Failed",
        LastSyncOutcome::Succeeded | LastSyncOutcome::NeverSucceeded => "No failure recorded",
    }
}

/// The card's note on the time the log is judged as of.
pub fn as_of_note(r: &Report) -> Option<&str> {
    r.as_of
        .as_ref()
        .map(|a| a.explanation.as_str())
        .filter(|e| !e.is_empty())
}

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

    fn analyzed(text: &str, now: &str) -> Report {
        let now = mailsync_core::Timestamp::parse(now).map(|d| d.at);
        mailsync_core::analyze_text("t.log", text, now)
    }

    const LOG: &str = "Mailbox Async Processing State
mailboxid : m1
processingstatecode : 0
processinglastattemptedon : 2024-03-14T09:10:00Z
Mailbox Synchronization Methods
incomingemaildeliverymethod : 2
outgoingemaildeliverymethod : 2
actdeliverymethod : 2
Mailbox Enabled State
enabledforincomingemail : True
enabledforoutgoingemail : True
enabledforact : True
Mailbox Backoff Parameters
postponemailboxprocessinguntil : 2024-03-14T09:14:00Z
";

    #[test]
    fn missing_sections_are_shown_as_unknown() {
        let r = analyzed(LOG, "2024-03-14T09:12:00Z");
        assert_eq!(
            last_sync_fact(&r),
            ("Unknown (section missing)".to_string(), "muted")
        );
        assert_eq!(last_cycle_text(&r), "Unknown");
        assert_eq!(
            unknown_text(&r, Section::TestAndEnable),
            "Unknown (section missing)"
        );
        assert_eq!(next_sync(&r), NextSync::At("2024-03-14T09:14:00Z"));
        let without_backoff = LOG.split("Mailbox Backoff").next().unwrap();
        let r = analyzed(without_backoff, "2024-03-14T09:12:00Z");
        assert_eq!(
            next_sync(&r),
            NextSync::Unknown("Unknown (section missing)")
        );
    }

    #[test]
    fn disabled_everywhere_will_not_sync() {
        let off = LOG.replace(": True", ": False")
            + "Mailbox Last Sync Cycle Information
lastsuccessfulsynccompletedon : 2024-03-14T08:00:00Z
lastsyncerror : The remote server returned an error: (503) Server Unavailable.
lastsyncerrorcount : 2
lastsyncerroroccurredon : 2024-03-14T09:00:00Z
";
        let r = analyzed(&off, "2024-03-14T09:12:00Z");
        match next_sync(&r) {
            NextSync::WillNotSync(note) => assert!(
                note.contains("will not synchronize until the mailbox is tested and enabled"),
                "{note}"
            ),
            other => panic!("{other:?}"),
        }
        let (text, class) = last_sync_fact(&r);
        assert!(!text.contains("before disabling"), "{text}");
        assert!(text.starts_with("Failed"), "{text}");
        assert_eq!(class, "az-fact-bad");
    }

    #[test]
    fn old_logs_say_what_they_are_judged_as_of() {
        let r = analyzed(LOG, "2027-01-01T00:00:00Z");
        let note = as_of_note(&r).unwrap();
        assert!(
            note.starts_with("As of 2024-03-14 09:10 UTC, the time of the log's latest entry"),
            "{note}"
        );
        let as_of = r.as_of.as_ref().unwrap();
        let next = mailsync_core::Timestamp::parse("2024-03-14T09:14:00Z")
            .unwrap()
            .at;
        let today = mailsync_core::Timestamp::parse("2027-01-01T00:00:00Z")
            .unwrap()
            .at;
        assert_eq!(
            as_of.relative(next, today).as_deref(),
            Some("in 4 min as of the log's latest entry")
        );
        // A fresh log is measured against the clock as it is when shown.
        let r = analyzed(LOG, "2024-03-14T09:12:00Z");
        let later = mailsync_core::Timestamp::parse("2024-03-14T11:14:00Z")
            .unwrap()
            .at;
        assert_eq!(
            r.as_of.as_ref().unwrap().relative(next, later).as_deref(),
            Some("overdue by 2 h")
        );
        assert!(as_of_note(&r)
            .unwrap()
            .starts_with("Judged against the current time"));
    }

    #[test]
    fn sort_key_roundtrip() {
        for k in SortKey::ALL {
            assert_eq!(SortKey::from_value(k.value()), k);
        }
        assert_eq!(SortKey::from_value("nonsense"), SortKey::Severity);
    }
}
