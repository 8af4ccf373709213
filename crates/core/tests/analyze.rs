//! The analyzer end to end over the fixtures and the encodings and layouts real files use.

use mailsync_core::{
    analyze, analyze_text, summarize, Direction, Nature, Report, Scope, Severity, Status, Timestamp,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn codes(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.code.as_ref()).collect()
}

fn utf16(text: &str, le: bool) -> Vec<u8> {
    let mut v = if le {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for u in text.encode_utf16() {
        v.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    v
}

#[test]
fn healthy_log_reads_every_section() {
    let r = analyze("healthy.log", &fixture("healthy.log"), None);
    assert_eq!(r.status, Status::Ok, "{:?}", r.findings);
    assert_eq!(
        r.mailbox_id.as_deref(),
        Some("9fb6600b-0965-e811-a97f-000d4a161089")
    );
    assert_eq!(r.next_sync_at.as_deref(), Some("2018-12-03T15:28:37Z"));
    assert!(!r.processing_now);
    assert!(r.time_assumption.as_deref().unwrap().contains("UTC"));
    // Incoming postponed to the same minute runs; act postponed past the cycle does not.
    assert!(r.directions.incoming.runs_next_cycle);
    assert!(r.directions.outgoing.runs_next_cycle);
    assert!(!r.directions.act.runs_next_cycle);
    assert!(
        r.directions
            .act
            .reason
            .contains("Postponed until 2018-12-03 15:45 UTC"),
        "{}",
        r.directions.act.reason
    );
    assert_eq!(
        r.directions.act.method,
        Some(1),
        "act uses Dataverse's numbering: 1 is SSS"
    );
    assert_eq!(r.directions.incoming.method, Some(2));
    assert_eq!(r.test_and_enable.scheduled, Some(false));
    assert!(!r.last_sync.last_cycle_failed);
    assert_eq!(r.last_sync.items_processed, Some(2));
    let p = r.profile.as_ref().unwrap();
    assert_eq!(
        (p.server_type, p.effective_polling_minutes),
        (Some(0), Some(5))
    );
    assert_eq!(p.incoming.credential_retrieval, Some(2));
    assert!(p
        .explanations
        .iter()
        .any(|e| e.contains("5-minute minimum")));
    assert_eq!(r.traces.len(), 3);
    let t = &r.traces[0];
    assert_eq!(
        (t.tracecode, t.t, t.http_status),
        (Some(126), Some(391), Some(503))
    );
    assert_eq!(t.rule.as_deref(), Some("exchange-server-unavailable"));
    assert_eq!((t.nature, t.scope), (Nature::Transient, Scope::Profile));
    assert_eq!(t.classification.direction, Some(Direction::Act));
    assert_eq!(
        r.traces[1].rule.as_deref(),
        Some("mailbox-move-in-progress")
    );
    assert_eq!(
        r.traces[2].rule.as_deref(),
        Some("exchange-server-unavailable")
    );
    assert!(
        r.traces[2].details.contains("EndOperation()"),
        "stack trace kept"
    );
    assert!(codes(&r).contains(&"kb.exchange-server-unavailable"));
    assert!(
        r.findings.iter().all(|f| f.severity != Severity::Error),
        "{:?}",
        r.findings
    );
}

#[test]
fn pasted_article_parses_like_the_file() {
    let r = analyze("article.txt", &fixture("article-pasted.txt"), None);
    let clean = analyze("healthy.log", &fixture("healthy.log"), None);
    assert_eq!(r.status, Status::Ok, "{:?}", r.findings);
    assert_eq!(r.mailbox_id, clean.mailbox_id);
    assert_eq!(r.next_sync_at, clean.next_sync_at);
    assert_eq!(r.directions.incoming, clean.directions.incoming);
    assert_eq!(r.traces.len(), 3);
    let rules: Vec<_> = r.traces.iter().map(|t| t.rule.clone()).collect();
    let clean_rules: Vec<_> = clean.traces.iter().map(|t| t.rule.clone()).collect();
    assert_eq!(rules, clean_rules);
}

#[test]
fn failing_mailbox_findings() {
    let now = Timestamp::parse("2024-05-06T10:00:00Z").unwrap().at;
    let r = analyze("failing.log", &fixture("failing.log"), Some(now));
    assert_eq!(r.status, Status::Ok, "{:?}", r.findings);
    assert!(r.processing_now);
    assert_eq!(r.host_id.as_deref(), Some("CRMASYNC-07"));
    assert!(
        r.time_assumption.is_none(),
        "ISO dates with Z need no assumption"
    );
    assert!(!r.directions.incoming.runs_next_cycle);
    assert!(r.directions.incoming.reason.contains("Disabled"));
    assert!(r.directions.outgoing.runs_next_cycle);
    assert_eq!(
        r.directions.act.method,
        Some(2),
        "log 0 is None, Dataverse act None is 2"
    );
    assert!(r.directions.act.reason.contains("None"));
    assert_eq!(
        r.test_and_enable.runs_at.as_deref(),
        Some("2024-05-06T10:10:00Z")
    );
    assert!(r.last_sync.last_cycle_failed);
    assert_eq!(r.last_sync.error_count, Some(7));
    let c = r.last_sync.classification.as_ref().unwrap();
    assert_eq!(c.rule.as_deref(), Some("isv-unexpected"));
    assert!(
        r.fields.contains_key("customdiagnosticflag"),
        "unknown keys kept"
    );
    assert_eq!(r.fields.get("receivingpostponeduntilforact"), Some(None));
    assert_eq!(r.fields.get("hostid"), Some(Some("CRMASYNC-07")));
    let codes = codes(&r);
    for want in [
        "incoming_disabled",
        "error_streak",
        "test_pending",
        "test_retrying",
        "items_failed",
        "processing_now",
        "profile_ssl_port_mismatch",
        "kb.secure-connection",
        "kb.isv-unexpected",
        "trace_unrecognized.OutgoingEmailMailboxError",
    ] {
        assert!(codes.contains(&want), "missing {want} in {codes:?}");
    }
    let streak = r
        .findings
        .iter()
        .find(|f| f.code == "error_streak")
        .unwrap();
    assert!(streak.message.contains("7 of 10"), "{}", streak.message);
    assert_eq!(
        r.findings[0].severity,
        Severity::Error,
        "ordered by severity"
    );
    assert!(r
        .findings
        .windows(2)
        .all(|w| w[0].severity <= w[1].severity));
    let timeout = r.traces.iter().find(|t| t.tracecode == Some(77)).unwrap();
    assert!(timeout.inferred);
    assert_eq!(timeout.nature, Nature::Transient);
    assert_eq!(timeout.classification.direction, Some(Direction::Outgoing));
}

#[test]
fn truncated_file_reports_what_it_holds() {
    let r = analyze("truncated.log", &fixture("truncated.log"), None);
    assert_eq!(r.status, Status::Partial);
    assert_eq!(r.next_sync_at.as_deref(), Some("2025-03-14T08:05:00Z"));
    let partial = r
        .findings
        .iter()
        .find(|f| f.code == "partial_file")
        .unwrap();
    assert!(
        partial
            .message
            .contains("Mailbox Last Sync Cycle Information"),
        "{}",
        partial.message
    );
    assert!(
        partial.message.contains("receivingpostponeduntil"),
        "{}",
        partial.message
    );
    assert!(codes(&r).contains(&"unreadable_date.postponesendinguntil"));
}

#[test]
fn not_configured_and_not_a_log() {
    let r = analyze("nc.log", &fixture("not-configured.log"), None);
    assert_eq!(r.status, Status::NotConfigured);
    assert_eq!(codes(&r), ["not_configured"]);
    let r = analyze("list.txt", &fixture("not-a-log.txt"), None);
    assert_eq!(r.status, Status::Error);
    assert!(r
        .error
        .as_deref()
        .unwrap()
        .contains("not a Mailbox Details log"));
    let r = analyze("pic.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None);
    assert_eq!(r.status, Status::Error);
    assert!(r.error.as_deref().unwrap().contains("PNG"));
}

#[test]
fn encodings_and_line_ends_read_the_same() {
    let text = String::from_utf8(fixture("healthy.log")).unwrap();
    let base = analyze_text("a", &text, None);
    let crlf = text.replace('\n', "\r\n");
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(crlf.as_bytes());
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("crlf", crlf.clone().into_bytes()),
        ("utf8 bom", bom),
        ("utf16le", utf16(&crlf, true)),
        ("utf16be", utf16(&text, false)),
        (
            "tabs and tight colons",
            text.replace(" : ", ":\t").into_bytes(),
        ),
        (
            "numbers for methods",
            text.replace("EmailRouter", "2").into_bytes(),
        ),
        (
            "no heading explanations",
            text.lines()
                .map(|l| {
                    if l.starts_with("Mailbox ") || l.starts_with("Email Server") {
                        l.split(" (").next().unwrap()
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        ),
    ];
    for (name, bytes) in variants {
        let r = analyze("a", &bytes, None);
        assert_eq!(r.status, Status::Ok, "{name}: {:?}", r.findings);
        assert_eq!(r.mailbox_id, base.mailbox_id, "{name}");
        assert_eq!(r.directions, base.directions, "{name}");
        assert_eq!(r.last_sync, base.last_sync, "{name}");
        assert_eq!(r.traces.len(), 3, "{name}");
        assert_eq!(r.traces[0].rule, base.traces[0].rule, "{name}");
    }
}

#[test]
fn relative_findings_need_now() {
    let log = fixture("healthy.log");
    let now = Timestamp::parse("2018-12-03T18:00:00Z").unwrap().at;
    let r = analyze("h", &log, Some(now));
    let overdue = r
        .findings
        .iter()
        .find(|f| f.code == "overdue")
        .expect("2.5 h past due is overdue");
    assert!(
        overdue.message.contains("overdue by 2 h"),
        "{}",
        overdue.message
    );
    let just_before = Timestamp::parse("2018-12-03T15:25:00Z").unwrap().at;
    assert!(!codes(&analyze("h", &log, Some(just_before))).contains(&"overdue"));
}

#[test]
fn fleet_groups_shared_causes() {
    let now = Timestamp::parse("2024-05-06T10:00:00Z").unwrap().at;
    let reports: Vec<Report> = [
        ("a.log", "healthy.log"),
        ("b.log", "healthy.log"),
        ("c.log", "failing.log"),
        ("d.txt", "not-a-log.txt"),
        ("e.log", "not-configured.log"),
    ]
    .iter()
    .map(|(name, f)| analyze(name, &fixture(f), Some(now)))
    .collect();
    let s = summarize(&reports);
    assert_eq!(
        (s.files, s.analyzed, s.unreadable, s.not_configured),
        (5, 3, 1, 1)
    );
    assert_eq!(
        (s.disabled, s.failing, s.pending_test, s.processing_now),
        (1, 1, 1, 1)
    );
    let g = s
        .groups
        .iter()
        .find(|g| g.code == "kb.exchange-server-unavailable")
        .unwrap();
    assert_eq!(g.reports, vec![0, 1]);
    assert_eq!(g.scope, Some(Scope::Profile));
    assert!(s
        .groups
        .iter()
        .any(|g| g.code == "unreadable" && g.reports == vec![3]));
    assert!(s
        .groups
        .windows(2)
        .all(|w| w[0].reports.len() >= w[1].reports.len()));
}

#[test]
fn json_shape_has_the_contract_members() {
    let r = analyze("failing.log", &fixture("failing.log"), None);
    let json = mailsync_core::export::to_json(std::slice::from_ref(&r));
    let back: Vec<Report> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, vec![r], "the JSON reads back to the same report");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let o = &v[0];
    for key in [
        "file",
        "status",
        "error",
        "mailbox_id",
        "next_sync_at",
        "processing_now",
        "directions",
        "test_and_enable",
        "last_sync",
        "fields",
        "traces",
        "findings",
    ] {
        assert!(o.get(key).is_some(), "missing {key}");
    }
    for key in ["method", "enabled", "runs_next_cycle", "reason"] {
        assert!(
            o["directions"]["incoming"].get(key).is_some(),
            "directions.incoming.{key}"
        );
    }
    for key in ["scheduled", "retry_count", "completed_on"] {
        assert!(o["test_and_enable"].get(key).is_some(), "{key}");
    }
    for key in ["succeeded_on", "error", "error_code", "error_count"] {
        assert!(o["last_sync"].get(key).is_some(), "{key}");
    }
    for key in [
        "tracecode",
        "error_type",
        "activity_id",
        "http_status",
        "error_code",
        "message",
        "nature",
        "scope",
        "rule",
        "inferred",
    ] {
        assert!(o["traces"][0].get(key).is_some(), "traces.{key}");
    }
    assert_eq!(o["status"], "ok");
    assert_eq!(o["traces"][0]["nature"], "transient");
    assert_eq!(o["traces"][0]["scope"], "email");
    for key in ["severity", "code", "message", "resolution"] {
        assert!(o["findings"][0].get(key).is_some(), "findings.{key}");
    }
}

#[test]
fn csv_has_a_row_per_file_and_escapes() {
    let r = analyze("a,b.log", &fixture("failing.log"), None);
    let formula = analyze("=HYPERLINK(x).log", &fixture("failing.log"), None);
    let csv = mailsync_core::export::to_csv(&[r, formula]);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("file,status,error,mailbox_id,next_sync_at"));
    assert!(lines[1].starts_with("\"a,b.log\",ok,"));
    assert!(
        lines[1].contains(",-2147220956,"),
        "numbers are not quoted: {}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("'=HYPERLINK(x).log,"),
        "formulas are neutralized: {}",
        lines[2]
    );
}
