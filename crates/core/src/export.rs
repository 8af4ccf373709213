//! Reports out as JSON (the `mailsync analyze --json` shape) and CSV (one row a file).

use crate::report::{AsOfBasis, DirectionState, Report, Severity, Status};

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
    "next_sync_note",
    "last_sync",
    "as_of",
    "as_of_basis",
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
                opt(r.next_sync_note.clone()),
                r.last_sync.summary.clone(),
                opt(r.as_of.as_ref().and_then(|a| a.at.clone())),
                r.as_of
                    .as_ref()
                    .map(|a| match a.basis {
                        AsOfBasis::Now => "now",
                        AsOfBasis::LatestEntry => "latest_entry",
                        AsOfBasis::Unknown => "unknown",
                    })
                    .unwrap_or_default()
                    .to_string(),
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
        out.push_str(&csv_cell(&c));
    }
    out.push_str("\r\n");
}

/// One CSV cell as a spreadsheet may safely open it: a leading `=`, `+`, `-`, `@`, tab
/// or carriage return would make the cell a formula (text from a log or a mailbox's
/// last error is not ours to run), so it gets a `'` before it unless it is a plain
/// number; then quoted when it holds a comma, quote or line break. Every CSV mailsync
/// writes goes through here.
pub fn csv_cell(c: &str) -> String {
    let c = if c.starts_with(['=', '+', '-', '@', '\t', '\r']) && c.parse::<f64>().is_err() {
        format!("'{c}")
    } else {
        c.to_string()
    };
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_never_start_a_formula() {
        for (raw, cell) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "\"'\r=1\""),
            ("-12.5", "-12.5"),
            ("+3", "+3"),
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("", ""),
        ] {
            assert_eq!(csv_cell(raw), cell, "{raw:?}");
        }
    }
}
