//! Many reports at once: counts of mailboxes by condition and the findings and trace
//! causes grouped with the mailboxes that share them, so a profile-wide problem stands out.

use crate::report::{LastSyncOutcome, Report, Scope, Severity, Status};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetSummary {
    pub files: usize,
    /// Read as Mailbox Details logs (ok or partial).
    pub analyzed: usize,
    pub partial: usize,
    pub not_configured: usize,
    /// Could not be read at all.
    pub unreadable: usize,
    pub disabled: usize,
    pub failing: usize,
    pub pending_test: usize,
    pub overdue: usize,
    pub processing_now: usize,
    /// Logs that record that the mailbox never completed a synchronization.
    pub never_synced: usize,
    /// Readable logs that do not say how the last synchronization went (the section or
    /// its fields are missing): neither synced nor never synced, unknown.
    #[serde(default)]
    pub last_sync_unknown: usize,
    /// Most shared first.
    pub groups: Vec<FleetGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetGroup {
    /// A finding code, e.g. `kb.exchange-server-unavailable` or `incoming_disabled`.
    pub code: String,
    pub severity: Severity,
    /// The scope of the cause, where known (profile-level causes affect every mailbox of the profile).
    pub scope: Option<Scope>,
    pub title: String,
    /// Indexes into the reports slice.
    pub reports: Vec<usize>,
}

impl Report {
    pub fn is_readable(&self) -> bool {
        matches!(self.status, Status::Ok | Status::Partial)
    }

    /// A direction that synchronizes through server-side sync has been switched off.
    pub fn is_disabled(&self) -> bool {
        self.has_finding_prefix("incoming_disabled")
            || self.has_finding_prefix("outgoing_disabled")
            || self.has_finding_prefix("act_disabled")
    }

    pub fn is_failing(&self) -> bool {
        self.last_sync.last_cycle_failed
    }

    pub fn is_pending_test(&self) -> bool {
        self.test_and_enable.scheduled == Some(true)
    }

    pub fn is_overdue(&self) -> bool {
        self.has_finding_prefix("overdue")
    }

    /// A readable log that does not say how the last synchronization went.
    pub fn is_last_sync_unknown(&self) -> bool {
        self.is_readable() && self.last_sync.outcome == LastSyncOutcome::Unknown
    }

    pub fn worst_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).min()
    }

    fn has_finding_prefix(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// The next sync as a timestamp, for sorting.
    pub fn next_sync(&self) -> Option<Timestamp> {
        self.next_sync_at
            .as_deref()
            .and_then(Timestamp::parse)
            .map(|d| d.at)
    }
}

/// Codes that say something about nearly every mailbox and would drown the groups.
const UNGROUPED: &[&str] = &["test_pending", "processing_now"];

/// The summary of a slice of reports (what the console shows); the same as adding them
/// one by one to a [`FleetBuilder`].
pub fn summarize(reports: &[Report]) -> FleetSummary {
    let mut fleet = FleetBuilder::new();
    for r in reports {
        fleet.add(r);
    }
    fleet.finish()
}

/// A [`FleetSummary`] accumulated report by report, so a caller that streams reports
/// (`mailsync analyze`) need not hold them all: what it keeps is the counts, the groups
/// with their members' indexes, and the distinct reasons of unreadable files. A report's
/// index is its position in the order it was added.
#[derive(Debug, Clone, Default)]
pub struct FleetBuilder {
    summary: FleetSummary,
    /// Finding codes to their group in `summary.groups`, in the order first seen.
    index: HashMap<String, usize>,
    /// Why the unreadable files could not be read, each reason once (for the group's title).
    unreadable_reasons: BTreeSet<String>,
}

impl FleetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports added so far.
    pub fn len(&self) -> usize {
        self.summary.files
    }

    pub fn is_empty(&self) -> bool {
        self.summary.files == 0
    }

    /// Counts `r` as the next report (its index is [`len`](Self::len) before the call).
    pub fn add(&mut self, r: &Report) {
        let i = self.summary.files;
        let s = &mut self.summary;
        s.files += 1;
        match r.status {
            Status::Ok => s.analyzed += 1,
            Status::Partial => {
                s.analyzed += 1;
                s.partial += 1;
            }
            Status::NotConfigured => s.not_configured += 1,
            Status::Error => s.unreadable += 1,
        }
        s.disabled += usize::from(r.is_disabled());
        s.failing += usize::from(r.is_failing());
        s.pending_test += usize::from(r.is_pending_test());
        s.overdue += usize::from(r.is_overdue());
        s.processing_now += usize::from(r.processing_now);
        s.never_synced += usize::from(r.findings.iter().any(|f| f.code == "never_synced"));
        s.last_sync_unknown += usize::from(r.is_last_sync_unknown());
        for f in r
            .findings
            .iter()
            .filter(|f| !UNGROUPED.contains(&f.code.as_ref()))
        {
            match self.index.get(f.code.as_ref()) {
                Some(&g) => {
                    let g = &mut s.groups[g];
                    if g.reports.last() != Some(&i) {
                        g.reports.push(i);
                    }
                    g.severity = g.severity.min(f.severity);
                }
                None => {
                    let scope = r
                        .traces
                        .iter()
                        .find(|t| crate::diagnose::trace_finding_code(t) == f.code)
                        .map(|t| t.scope)
                        .or_else(|| {
                            r.last_sync
                                .classification
                                .as_ref()
                                .filter(|c| {
                                    c.rule.as_deref().map(|x| format!("kb.{x}")).as_deref()
                                        == Some(f.code.as_ref())
                                })
                                .map(|c| c.scope)
                        });
                    self.index.insert(f.code.to_string(), s.groups.len());
                    s.groups.push(FleetGroup {
                        code: f.code.to_string(),
                        severity: f.severity,
                        scope,
                        title: group_title(&f.code, &f.message),
                        reports: vec![i],
                    });
                }
            }
        }
        if let Some(reason) = &r.error {
            match self.index.get("unreadable") {
                Some(&g) => s.groups[g].reports.push(i),
                None => {
                    self.index.insert("unreadable".to_string(), s.groups.len());
                    s.groups.push(FleetGroup {
                        code: "unreadable".to_string(),
                        severity: Severity::Error,
                        scope: None,
                        title: String::new(),
                        reports: vec![i],
                    });
                }
            }
            if !self.unreadable_reasons.contains(reason) {
                self.unreadable_reasons.insert(reason.clone());
            }
        }
    }

    /// The summary of every report added: groups most shared first.
    pub fn finish(self) -> FleetSummary {
        let mut s = self.summary;
        // The title says what is true of every member: their reason when they share one.
        if let Some(&g) = self.index.get("unreadable") {
            s.groups[g].title = unreadable_title(&self.unreadable_reasons);
        }
        s.groups.sort_by(|a, b| {
            b.reports
                .len()
                .cmp(&a.reports.len())
                .then(a.severity.cmp(&b.severity))
                .then(a.code.cmp(&b.code))
        });
        s
    }
}

fn unreadable_title(reasons: &BTreeSet<String>) -> String {
    match reasons.len() {
        1 => format!(
            "Could not be read ({})",
            reasons.first().map_or("", String::as_str)
        ),
        many => format!("Could not be read ({many} different reasons: each file says why)"),
    }
}

fn group_title(code: &str, message: &str) -> String {
    if let Some(rule) = code.strip_prefix("kb.") {
        if let Some(e) = crate::kb::by_id(rule) {
            return e.title.to_string();
        }
    }
    let fixed = match code {
        "incoming_disabled" => "Disabled for incoming email",
        "outgoing_disabled" => "Disabled for outgoing email",
        "act_disabled" => "Disabled for appointments, contacts and tasks",
        "error_streak" => "Last sync failed (retrying)",
        "last_sync_failed_disabled" => "Last sync failed; disabled until Test & Enable",
        "retry_limit_reached" => "Retry limit reached: disabled",
        "last_sync_failed" => "Last sync failed with a permanent error",
        "never_synced" => "Never synchronized successfully",
        "never_tested" => "Never tested",
        "test_pending_overdue" => "Test & Enable overdue",
        "test_retrying" => "Test & Enable retrying",
        "overdue" => "Next synchronization overdue",
        "partial_file" => "Incomplete file",
        "not_configured" => "Not configured for server-side synchronization",
        "items_failed" => "Items failed to be created",
        "processing_stuck" => "Processing stuck",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    if let Some(ty) = code.strip_prefix("trace_unrecognized.") {
        return format!("Unrecognized trace: {ty}");
    }
    message
        .split(['.', ':'])
        .next()
        .unwrap_or(message)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, synth::synthetic_log};

    /// Varied reports: synthetic logs in many states, the fixtures, and unreadable files
    /// with the same and with different reasons.
    fn reports() -> Vec<Report> {
        let now = Timestamp(1_700_000_000);
        let mut out: Vec<Report> = (0..300)
            .map(|i| {
                let log = synthetic_log(7, i, now);
                analyze(&format!("mailbox-{i:05}.log"), log.as_bytes(), Some(now))
            })
            .collect();
        for (name, bytes) in [
            (
                "healthy.log",
                &include_bytes!("../tests/fixtures/healthy.log")[..],
            ),
            (
                "failing.log",
                include_bytes!("../tests/fixtures/failing.log"),
            ),
            (
                "truncated.log",
                include_bytes!("../tests/fixtures/truncated.log"),
            ),
            (
                "not-configured.log",
                include_bytes!("../tests/fixtures/not-configured.log"),
            ),
            (
                "not-a-log.txt",
                include_bytes!("../tests/fixtures/not-a-log.txt"),
            ),
            ("empty.log", b""),
            ("image.log", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0"),
        ] {
            out.insert(out.len() / 2, analyze(name, bytes, Some(now)));
        }
        out.push(Report::failed(
            "gone.log",
            "cannot be read: gone".to_string(),
        ));
        out
    }

    #[test]
    fn accumulating_report_by_report_equals_the_slice_summary() {
        let all = reports();
        let whole = summarize(&all);
        let mut fleet = FleetBuilder::new();
        assert!(fleet.is_empty());
        for r in &all {
            fleet.add(r);
        }
        assert_eq!(fleet.len(), all.len());
        assert_eq!(fleet.finish(), whole);
        // The summary is not trivial: counts and several groups, unreadable ones included.
        assert_eq!(whole.files, all.len());
        assert!(whole.groups.len() > 3, "{:?}", whole.groups);
        let unreadable = whole
            .groups
            .iter()
            .find(|g| g.code == "unreadable")
            .unwrap();
        assert!(
            unreadable.title.contains("different reasons"),
            "{}",
            unreadable.title
        );
        // Any prefix too: a running total is the summary of what has been seen so far.
        let mut fleet = FleetBuilder::new();
        for (n, r) in all.iter().enumerate().take(150) {
            fleet.add(r);
            if n % 37 == 0 {
                assert_eq!(fleet.clone().finish(), summarize(&all[..=n]));
            }
        }
        assert_eq!(summarize(&[]), FleetBuilder::new().finish());
    }
}
