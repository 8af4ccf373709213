//! Reports out as JSON (the `mailsync analyze --json` shape) and CSV (one row a file).

use crate::report::{DirectionState, Report, Severity, Status};

pub fn to_json(reports: &[Report]) -> String {
    serde_json::to_string_pretty(reports)
        .expect("reports serialize: only strings, numbers and maps with string keys")
}

pub const CSV_HEADER: &[&str] = &[
    "file",
    "status",
    "error",
    "mailbox_id",
    "next_sync_at",
    "processing_now",
    "incoming_runs_next_cycle",
    "outgoing_runs_next_cycle",
    "act_runs_next_cycle",
    "incoming_enabled",
    "outgoing_enabled",
    "act_enabled",
    "test_scheduled",
    "last_sync_succeeded_on",
    "last_sync_error",
    "last_sync_error_code",
    "last_sync_error_count",
    "traces",
    "errors",
    "warnings",
    "finding_codes",
];

pub fn to_csv(reports: &[Report]) -> String {
    let mut out = String::with_capacity(256 * (reports.len() + 1));
    push_row(&mut out, CSV_HEADER.iter().map(|s| s.to_string()));
    for r in reports {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let b = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or_default();
        let runs = |d: &DirectionState| d.runs_next_cycle.to_string();
        let count = |s: Severity| {
            r.findings
                .iter()
                .filter(|f| f.severity == s)
                .count()
                .to_string()
        };
        let status = match r.status {
            Status::Ok => "ok",
            Status::Partial => "partial",
            Status::NotConfigured => "not_configured",
            Status::Error => "error",
        };
        push_row(
            &mut out,
            [
                r.file.clone(),
                status.to_string(),
                opt(r.error.clone()),
                opt(r.mailbox_id.clone()),
                opt(r.next_sync_at.clone()),
                r.processing_now.to_string(),
                runs(&r.directions.incoming),
                runs(&r.directions.outgoing),
                runs(&r.directions.act),
                b(r.directions.incoming.enabled),
                b(r.directions.outgoing.enabled),
                b(r.directions.act.enabled),
                b(r.test_and_enable.scheduled),
                opt(r.last_sync.succeeded_on.clone()),
                opt(r.last_sync.error.clone()),
                opt(r.last_sync.error_code.map(|c| c.to_string())),
                opt(r.last_sync.error_count.map(|c| c.to_string())),
                r.traces.len().to_string(),
                count(Severity::Error),
                count(Severity::Warning),
                r.findings
                    .iter()
                    .map(|f| f.code.as_ref())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
            .into_iter(),
        );
    }
    out
}

fn push_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, c) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A leading = + - @ would run as a formula in a spreadsheet.
        let c = if c.starts_with(['=', '+', '-', '@']) && c.parse::<f64>().is_err() {
            format!("'{c}")
        } else {
            c
        };
        if c.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&c.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&c);
        }
    }
    out.push_str("\r\n");
}
