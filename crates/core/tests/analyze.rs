//! The analyzer end to end over the fixtures and the encodings and layouts real files use.

use mailsync_core::parse::Section;
use mailsync_core::{
    analyze, analyze_text, summarize, AsOfBasis, Direction, LastSyncOutcome, Nature, Report, Scope,
    Severity, Status, Timestamp,
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
        "last_sync_failed_disabled",
        "test_pending",
        "test_retrying",
        "items_failed",
        "processing_now",
        "profile_ssl_port_mismatch",
        "kb.secure-connection",
        "kb.isv-unexpected",
        "kb.email-server-timeout",
    ] {
        assert!(codes.contains(&want), "missing {want} in {codes:?}");
    }
    // Incoming, which the error is about, is disabled: no countdown to disabling.
    assert!(!codes.contains(&"error_streak"), "{codes:?}");
    let failed = r
        .findings
        .iter()
        .find(|f| f.code == "last_sync_failed_disabled")
        .unwrap();
    assert!(
        failed.message.contains("7 consecutive failures")
            && failed.message.contains("disabled for incoming email")
            && !failed.message.contains(".."),
        "{}",
        failed.message
    );
    assert_eq!(r.last_sync.outcome, LastSyncOutcome::FailedDisabled);
    assert!(
        !r.last_sync.summary.contains("before disabling"),
        "{}",
        r.last_sync.summary
    );
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
    assert_eq!(timeout.rule.as_deref(), Some("email-server-timeout"));
    assert!(!timeout.inferred);
    assert_eq!(
        (timeout.nature, timeout.scope),
        (Nature::Transient, Scope::Mailbox)
    );
    assert_eq!(timeout.classification.direction, Some(Direction::Outgoing));
    // Judged against the clock: the latest entry (09:58) is minutes old.
    let as_of = r.as_of.as_ref().unwrap();
    assert_eq!(as_of.basis, AsOfBasis::Now);
    assert_eq!(as_of.at.as_deref(), Some("2024-05-06T10:00:00Z"));
    assert_eq!(
        as_of.latest_entry_field.as_deref(),
        Some("processinglastattemptedon")
    );
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
    // The sections it lacks are unknown, not "never".
    assert!(r.lacks(Section::LastSync) && r.lacks(Section::TestAndEnable));
    assert_eq!(r.last_sync.outcome, LastSyncOutcome::Unknown);
    assert_eq!(r.last_sync.summary, "Unknown (section missing)");
    for never in ["never_synced", "never_tested"] {
        assert!(!codes(&r).contains(&never), "{never}: {:?}", codes(&r));
    }
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
        .contains("text that is not a Mailbox Details log"));
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

/// `text` with the line of `key` given `value` (or removed with `None`).
fn with_field(text: &str, key: &str, value: Option<&str>) -> String {
    let prefix = format!("{key} :");
    text.lines()
        .filter_map(|l| {
            if l.starts_with(&prefix) {
                value.map(|v| format!("{key} : {v}"))
            } else {
                Some(l.to_string())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without the sections with these headings (heading and lines up to the next one).
fn without_sections(text: &str, headings: &[&str]) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for l in text.lines() {
        if l.starts_with("Mailbox ") || l.starts_with("Email Server") || l.starts_with("Recent") {
            skipping = headings.iter().any(|h| l.starts_with(h));
        }
        if !skipping {
            out.push(l);
        }
    }
    out.join("\n")
}

fn healthy() -> String {
    String::from_utf8(fixture("healthy.log")).unwrap()
}

fn no_dots(r: &Report) {
    for f in &r.findings {
        assert!(!f.message.contains(".."), "{}: {}", f.code, f.message);
        assert!(!f.message.contains("(s)"), "{}: {}", f.code, f.message);
    }
}

#[test]
fn missing_sections_are_unknown_not_never() {
    let text = without_sections(
        &healthy(),
        &[
            "Mailbox Test and Enable Parameters",
            "Mailbox Last Sync Cycle Information",
        ],
    );
    let now = Timestamp::parse("2018-12-03T16:00:00Z").unwrap().at;
    let r = analyze_text("cut.log", &text, Some(now));
    assert_eq!(r.status, Status::Partial);
    assert_eq!(r.last_sync.outcome, LastSyncOutcome::Unknown);
    assert_eq!(r.last_sync.summary, "Unknown (section missing)");
    assert_eq!(r.last_sync.succeeded_on, None);
    assert!(r.lacks(Section::LastSync) && r.lacks(Section::TestAndEnable));
    assert_eq!(r.test_and_enable.scheduled, None);
    for claim in [
        "never_synced",
        "never_tested",
        "error_streak",
        "last_sync_failed",
    ] {
        assert!(!codes(&r).contains(&claim), "{claim}: {:?}", codes(&r));
    }
    // A field cut off inside the section is unknown too.
    let cut = with_field(&healthy(), "lastsuccessfulsynccompletedon", None);
    let r2 = analyze_text("cut2.log", &cut, Some(now));
    assert_eq!(r2.last_sync.outcome, LastSyncOutcome::Unknown);
    assert!(!codes(&r2).contains(&"never_synced"));
    // `Null` is what the log says: never.
    let never = with_field(&healthy(), "lastsuccessfulsynccompletedon", Some("Null"));
    let r3 = analyze_text("never.log", &never, Some(now));
    assert_eq!(r3.last_sync.outcome, LastSyncOutcome::NeverSucceeded);
    assert_eq!(r3.last_sync.summary, "Never succeeded");
    assert!(codes(&r3).contains(&"never_synced"));
    let untested = with_field(&healthy(), "testmailboxaccesscompletedon", Some("Null"));
    assert!(codes(&analyze_text("u.log", &untested, Some(now))).contains(&"never_tested"));

    let s = summarize(&[r.clone(), r2, r3]);
    assert_eq!((s.never_synced, s.last_sync_unknown), (1, 2));
}

#[test]
fn disabled_everywhere_waits_for_test_and_enable() {
    let mut text = healthy();
    for key in [
        "enabledforincomingemail",
        "enabledforoutgoingemail",
        "enabledforact",
    ] {
        text = with_field(&text, key, Some("False"));
    }
    // A transient error, 2 of 10, newer than the last success.
    text = with_field(
        &text,
        "lastsyncerror",
        Some("The remote server returned an error: (503) Server Unavailable."),
    );
    text = with_field(&text, "lastsyncerrorcount", Some("2"));
    text = with_field(
        &text,
        "lastsyncerroroccurredon",
        Some("12/3/2018 3:24:00 PM"),
    );
    let now = Timestamp::parse("2018-12-03T18:00:00Z").unwrap().at;
    let r = analyze_text("off.log", &text, Some(now));
    assert_eq!(r.next_sync_at, None);
    let note = r.next_sync_note.as_deref().unwrap();
    assert!(
        note.starts_with("Disabled in every direction")
            && note.contains("will not synchronize until the mailbox is tested and enabled again"),
        "{note}"
    );
    assert!(!codes(&r).contains(&"overdue"), "{:?}", codes(&r));
    assert!(r.last_sync.last_cycle_failed);
    assert_eq!(r.last_sync.outcome, LastSyncOutcome::FailedDisabled);
    assert!(
        !r.last_sync.summary.contains("before disabling"),
        "{}",
        r.last_sync.summary
    );
    assert!(!codes(&r).contains(&"error_streak"));
    assert!(codes(&r).contains(&"last_sync_failed_disabled"));
    no_dots(&r);

    // One direction still enabled: it synchronizes, and a streak counts down.
    let one_on = with_field(&text, "enabledforoutgoingemail", Some("True"));
    let r = analyze_text("one.log", &one_on, Some(now));
    assert_eq!(r.next_sync_at.as_deref(), Some("2018-12-03T15:28:37Z"));
    assert_eq!(r.next_sync_note, None);
    // The 503 names no direction: incoming and act are disabled, so it is not retried there.
    assert_eq!(r.last_sync.outcome, LastSyncOutcome::FailedDisabled);
    let all_on = with_field(
        &with_field(&one_on, "enabledforincomingemail", Some("True")),
        "enabledforact",
        Some("True"),
    );
    let r = analyze_text("on.log", &all_on, Some(now));
    assert_eq!(r.last_sync.outcome, LastSyncOutcome::Retrying);
    assert_eq!(r.last_sync.summary, "Failed, 2 of 10 before disabling");
    let streak = r
        .findings
        .iter()
        .find(|f| f.code == "error_streak")
        .unwrap();
    assert!(
        streak.message.contains("Server Unavailable (2 of 10"),
        "{}",
        streak.message
    );
}

#[test]
fn old_logs_are_judged_as_of_their_latest_entry() {
    let log = fixture("healthy.log");
    // Years later: nothing is overdue "by 997 d"; the report says what it is judged as of.
    let years_later = Timestamp::parse("2021-08-27T12:00:00Z").unwrap().at;
    let r = analyze("h", &log, Some(years_later));
    let as_of = r.as_of.as_ref().unwrap();
    assert_eq!(as_of.basis, AsOfBasis::LatestEntry);
    assert_eq!(as_of.at.as_deref(), Some("2018-12-03T15:23:37Z"));
    assert_eq!(
        as_of.latest_entry_field.as_deref(),
        Some("lastsuccessfulsynccompletedon")
    );
    assert!(
        as_of
            .explanation
            .starts_with("As of 2018-12-03 15:23 UTC, the time of the log's latest entry"),
        "{}",
        as_of.explanation
    );
    assert!(!codes(&r).contains(&"overdue"), "{:?}", codes(&r));
    assert_eq!(
        as_of.relative(
            Timestamp::parse("2018-12-03T15:28:37Z").unwrap().at,
            years_later
        ),
        Some("in 5 min as of the log's latest entry".to_string())
    );
    // Without a clock: the same.
    let r = analyze("h", &log, None);
    assert_eq!(r.as_of.as_ref().unwrap().basis, AsOfBasis::LatestEntry);
    assert!(r
        .as_of
        .unwrap()
        .explanation
        .contains("no current time was given"));

    // The log itself shows the mailbox late: overdue, as of its latest entry.
    let late = with_field(
        &healthy(),
        "lastsyncerroroccurredon",
        Some("12/3/2018 5:40:00 PM"),
    );
    let r = analyze_text("late.log", &late, Some(years_later));
    let overdue = r.findings.iter().find(|f| f.code == "overdue").unwrap();
    assert!(
        overdue
            .message
            .contains("2 h before the log's latest entry (2018-12-03 17:40 UTC)")
            && !overdue.message.contains(" d "),
        "{}",
        overdue.message
    );

    // Processing for years is not "stuck": the log is old.
    let failing = fixture("failing.log");
    let r = analyze(
        "f",
        &failing,
        Some(Timestamp::parse("2028-01-01T00:00:00Z").unwrap().at),
    );
    assert!(!codes(&r).contains(&"processing_stuck"), "{:?}", codes(&r));
    assert!(
        !codes(&r).contains(&"test_pending_overdue"),
        "{:?}",
        codes(&r)
    );

    // No dated event at all: no reference, nothing relative.
    let bare =
        "Mailbox Backoff Parameters\npostponemailboxprocessinguntil : 12/3/2018 3:28:37 PM\n";
    let r = analyze_text("bare.log", bare, Some(years_later));
    let as_of = r.as_of.as_ref().unwrap();
    assert_eq!(
        (as_of.basis, as_of.at.as_deref()),
        (AsOfBasis::Unknown, None)
    );
    assert!(!codes(&r).contains(&"overdue"));
    assert_eq!(
        as_of.relative(Timestamp(0), years_later),
        None,
        "no relative wording without a reference"
    );
}

#[test]
fn unreadable_files_are_named_only_for_what_they_are() {
    let png = analyze("pic.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", None);
    let text = analyze("notes.txt", &fixture("not-a-log.txt"), None);
    let mentions_png = analyze("plain.txt", b"\x89PNG is mentioned in this text", None);
    assert!(png.error.as_deref().unwrap().contains("a PNG image"));
    for r in [&text, &mentions_png] {
        let e = r.error.as_deref().unwrap();
        assert!(e.contains("text that is not a Mailbox Details log"), "{e}");
        assert!(!e.contains("PNG"), "{e}");
    }
    let s = summarize(&[png.clone(), text.clone(), mentions_png.clone()]);
    let g = s.groups.iter().find(|g| g.code == "unreadable").unwrap();
    assert_eq!(g.reports, vec![0, 1, 2]);
    assert!(!g.title.contains("PNG"), "{}", g.title);
    assert!(g.title.contains("2 different reasons"), "{}", g.title);
    // Text files only: their shared reason.
    let s = summarize(&[text, mentions_png]);
    let g = s.groups.iter().find(|g| g.code == "unreadable").unwrap();
    assert!(
        g.title.contains("text that is not a Mailbox Details log"),
        "{}",
        g.title
    );
}

#[test]
fn counts_and_full_stops_read_right() {
    let mut text = with_field(
        &healthy(),
        "lastsyncerror",
        Some("The remote server returned an error: (401) Unauthorized."),
    );
    text = with_field(&text, "lastsyncerrorcount", Some("1"));
    text = with_field(
        &text,
        "lastsyncerroroccurredon",
        Some("12/3/2018 3:24:00 PM"),
    );
    text = with_field(&text, "itemsfailedforlastsync", Some("1"));
    text = with_field(&text, "noemailcount", Some("1"));
    text = with_field(&text, "maxconcurrentconnections", Some("1"));
    let r = analyze_text("one.log", &text, None);
    no_dots(&r);
    let failed = r
        .findings
        .iter()
        .find(|f| f.code == "last_sync_failed")
        .unwrap();
    assert!(
        failed.message.ends_with("(401) Unauthorized."),
        "{}",
        failed.message
    );
    let items = r
        .findings
        .iter()
        .find(|f| f.code == "items_failed")
        .unwrap();
    assert!(items.message.starts_with("1 item met"), "{}", items.message);
    let idle = r.idle.explanation.as_deref().unwrap();
    assert!(
        idle.starts_with("1 cycle in a row found no email"),
        "{idle}"
    );
    let p = r.profile.unwrap();
    assert!(
        p.explanations
            .iter()
            .any(|e| e.contains("Up to 1 simultaneous connection to")),
        "{:?}",
        p.explanations
    );
}

#[test]
fn an_error_is_the_last_syncs_unless_older_than_the_last_success_and_the_last_attempt() {
    let with_error = |occurred: &str| {
        let mut text = with_field(
            &healthy(),
            "lastsyncerror",
            Some("The remote server returned an error: (503) Server Unavailable."),
        );
        text = with_field(&text, "lastsyncerrorcount", Some("1"));
        text = with_field(&text, "lastsyncerroroccurredon", Some(occurred));
        analyze_text("one.log", &text, None)
    };
    // Before the last success (3:23:37 PM) and the last attempt (3:23:36 PM): an
    // earlier cycle's error.
    let r = with_error("12/3/2018 3:20:00 PM");
    assert!(!codes(&r).contains(&"error_streak"), "{:?}", codes(&r));
    // Before the last success but not before the last attempt: the last sync's.
    let r = with_error("12/3/2018 3:23:36 PM");
    assert!(codes(&r).contains(&"error_streak"), "{:?}", codes(&r));
    // After the last success: the last sync's.
    let r = with_error("12/3/2018 3:24:00 PM");
    assert!(codes(&r).contains(&"error_streak"), "{:?}", codes(&r));
}
