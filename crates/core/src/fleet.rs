//! Many reports at once: counts of mailboxes by condition and the findings and trace
//! causes grouped with the mailboxes that share them, so a profile-wide problem stands out.

use crate::report::{Report, Scope, Severity, Status};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

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
    pub never_synced: usize,
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

pub fn summarize(reports: &[Report]) -> FleetSummary {
    let mut s = FleetSummary {
        files: reports.len(),
        ..FleetSummary::default()
    };
    let mut groups: Vec<FleetGroup> = Vec::new();
    for (i, r) in reports.iter().enumerate() {
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
        for f in r
            .findings
            .iter()
            .filter(|f| !UNGROUPED.contains(&f.code.as_ref()))
        {
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
            match groups.iter_mut().find(|g| g.code == f.code) {
                Some(g) => {
                    if g.reports.last() != Some(&i) {
                        g.reports.push(i);
                    }
                    g.severity = g.severity.min(f.severity);
                }
                None => groups.push(FleetGroup {
                    code: f.code.to_string(),
                    severity: f.severity,
                    scope,
                    title: group_title(&f.code, &f.message),
                    reports: vec![i],
                }),
            }
        }
        if let Some(e) = &r.error {
            match groups.iter_mut().find(|g| g.code == "unreadable") {
                Some(g) => g.reports.push(i),
                None => groups.push(FleetGroup {
                    code: "unreadable".to_string(),
                    severity: Severity::Error,
                    scope: None,
                    title: format!("Could not be read ({e})"),
                    reports: vec![i],
                }),
            }
        }
    }
    groups.sort_by(|a, b| {
        b.reports
            .len()
            .cmp(&a.reports.len())
            .then(a.severity.cmp(&b.severity))
            .then(a.code.cmp(&b.code))
    });
    s.groups = groups;
    s
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
