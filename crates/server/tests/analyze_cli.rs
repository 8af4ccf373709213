//! `mailsync analyze` as a user runs it: the real binary over real files and folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn core_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures")
        .join(name)
}

/// A fresh folder of logs: three good ones, a cut-short one, a not-configured one, an
/// image renamed .log, and a .txt that a folder walk must skip.
fn fleet_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailsync-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    for (src, dst) in [
        ("healthy.log", "a-healthy.log"),
        ("failing.log", "b-failing.log"),
        ("truncated.log", "c-truncated.log"),
        ("not-configured.log", "d-not-configured.log"),
        ("healthy.log", "nested/e-healthy.log"),
        ("not-a-log.txt", "notes.txt"),
    ] {
        std::fs::copy(core_fixture(src), dir.join(dst)).unwrap();
    }
    std::fs::write(
        dir.join("f-broken.log"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0",
    )
    .unwrap();
    dir
}

fn mailsync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsync"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Vec<serde_json::Value> {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn folder_with_a_broken_file_reports_all_and_exits_1() {
    let dir = fleet_dir("broken");
    let out = mailsync(&["analyze", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a file could not be analyzed");
    let reports = json(&out);
    let names: Vec<String> = reports
        .iter()
        .map(|r| {
            Path::new(r["file"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "a-healthy.log",
            "b-failing.log",
            "c-truncated.log",
            "d-not-configured.log",
            "f-broken.log",
            "e-healthy.log"
        ]
    );
    let status: Vec<&str> = reports
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        ["ok", "ok", "partial", "not_configured", "error", "ok"]
    );
    let broken = &reports[4];
    assert!(broken["error"].as_str().unwrap().contains("PNG image"));
    let healthy = &reports[0];
    assert_eq!(
        healthy["mailbox_id"],
        "9fb6600b-0965-e811-a97f-000d4a161089"
    );
    assert_eq!(healthy["next_sync_at"], "2018-12-03T15:28:37Z");
    assert_eq!(healthy["directions"]["act"]["runs_next_cycle"], false);
    assert_eq!(healthy["traces"][0]["rule"], "exchange-server-unavailable");
    assert_eq!(healthy["traces"][0]["http_status"], 503);
    let failing = &reports[1];
    assert_eq!(failing["last_sync"]["error_code"], -2147220956i64);
    assert_eq!(failing["last_sync"]["error_count"], 7);
    assert!(failing["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "incoming_disabled" && f["severity"] == "error"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn good_files_exit_0_with_a_human_summary() {
    let out = mailsync(&[
        "analyze",
        core_fixture("healthy.log").to_str().unwrap(),
        core_fixture("failing.log").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Next sync: 2018-12-03 15:28 UTC"), "{text}");
    assert!(
        text.contains("Postponed until 2018-12-03 15:45 UTC"),
        "{text}"
    );
    assert!(
        text.contains("Last sync: Failed (7 times in a row)"),
        "{text}"
    );
    // Old logs are judged as of their latest entry, and say so.
    assert!(
        text.contains("(in 5 min as of the log's latest entry)"),
        "{text}"
    );
    assert!(text.contains("Times: As of 2018-12-03 15:23 UTC"), "{text}");
    assert!(text.contains("== Fleet: 2 files, 2 analyzed"), "{text}");
}

#[test]
fn missing_path_is_reported_and_bad_usage_is_2() {
    let out = mailsync(&[
        "analyze",
        "--json",
        "/definitely/not/here.log",
        core_fixture("healthy.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let reports = json(&out);
    assert_eq!(reports.len(), 2);
    assert!(
        reports
            .iter()
            .any(|r| r["status"] == "error"
                && r["error"].as_str().unwrap().contains("cannot be read"))
    );
    assert!(reports.iter().any(|r| r["status"] == "ok"));
    assert_eq!(mailsync(&["analyze"]).status.code(), Some(2));
    assert_eq!(
        mailsync(&["analyze", "--frobnicate", "x.log"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn sample_logs_round_trip_through_analyze() {
    let dir = std::env::temp_dir().join(format!("mailsync-cli-samples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = mailsync(&[
        "sample-logs",
        "--count",
        "40",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let out = mailsync(&["analyze", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let reports = json(&out);
    assert_eq!(reports.len(), 40);
    assert!(reports.iter().all(|r| r["status"] == "ok"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Enough copies of the fixtures to span many of the workers' chunks (and a broken file
/// among them), named so that the folder's name order interleaves them.
fn many_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailsync-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let sources = [
        "healthy.log",
        "failing.log",
        "truncated.log",
        "not-configured.log",
        "article-pasted.txt",
        "not-a-log.txt",
    ];
    for i in 0..300 {
        let to = if i % 50 == 7 {
            dir.join(format!("sub/m-{i:04}.log"))
        } else {
            dir.join(format!("m-{i:04}.log"))
        };
        std::fs::copy(core_fixture(sources[i % sources.len()]), to).unwrap();
    }
    std::fs::write(dir.join("m-0150.log"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0").unwrap();
    dir
}

/// What `mailsync analyze` reports for `args` (files, a folder), computed with core over
/// the whole list at once as the command did before it streamed: the folder's `.log`
/// files in path order, then the other files, then the paths that cannot be read.
fn expected_reports(dir: &Path, files: &[PathBuf], missing: &Path) -> Vec<mailsync_core::Report> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "log") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    paths.sort();
    paths.extend(files.iter().cloned());
    // Old logs are judged as of their latest entry, so the clock does not matter.
    let now = mailsync_core::Timestamp(1_900_000_000);
    let mut reports: Vec<_> = paths
        .iter()
        .map(|p| {
            let name = p.display().to_string();
            mailsync_core::analyze(&name, &std::fs::read(p).unwrap(), Some(now))
        })
        .collect();
    let err = std::fs::metadata(missing).unwrap_err();
    reports.push(mailsync_core::Report::failed(
        &missing.display().to_string(),
        format!("cannot be read: {err}"),
    ));
    reports
}

#[test]
fn streamed_json_is_the_array_of_all_reports() {
    let dir = many_dir("stream-json");
    let extra = [core_fixture("not-a-log.txt"), core_fixture("failing.log")];
    let missing = Path::new("/definitely/not/here.log");
    let out = mailsync(&[
        "analyze",
        "--json",
        dir.to_str().unwrap(),
        extra[0].to_str().unwrap(),
        missing.to_str().unwrap(),
        extra[1].to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a PNG and a missing path");
    let expected = expected_reports(&dir, &extra, missing);
    assert_eq!(expected.len(), 300 + 2 + 1);
    let before = mailsync_core::export::to_json(&expected) + "\n";
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want: serde_json::Value = serde_json::from_str(&before).unwrap();
    assert_eq!(got, want);
    // Byte for byte, too: the same pretty printing, field order and final newline.
    assert!(
        out.stdout == before.as_bytes(),
        "the streamed JSON differs from core's export of the same reports"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn streamed_fleet_summary_is_that_of_all_reports() {
    let dir = many_dir("stream-human");
    let extra = [core_fixture("healthy.log")];
    let missing = Path::new("/definitely/not/there.log");
    let out = mailsync(&[
        "analyze",
        dir.to_str().unwrap(),
        missing.to_str().unwrap(),
        extra[0].to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = expected_reports(&dir, &extra, missing);
    // Every file once, in order.
    let files: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("== "))
        .filter(|l| !l.starts_with("Fleet: "))
        .map(|l| l.split(" [").next().unwrap())
        .collect();
    let want: Vec<&str> = expected.iter().map(|r| r.file.as_str()).collect();
    assert_eq!(files, want);
    let s = mailsync_core::summarize(&expected);
    let mut summary = format!(
        "== Fleet: {} files, {} analyzed, {} unreadable, {} not configured; {} disabled, {} failing, {} pending test, {} overdue, {} processing now\n",
        s.files, s.analyzed, s.unreadable, s.not_configured, s.disabled, s.failing, s.pending_test, s.overdue, s.processing_now
    );
    for g in s.groups.iter().take(15) {
        let tag = match g.severity {
            mailsync_core::Severity::Error => "ERROR  ",
            mailsync_core::Severity::Warning => "WARNING",
            mailsync_core::Severity::Info => "info   ",
        };
        summary += &format!(
            "   {tag} {:>5} x {} ({})\n",
            g.reports.len(),
            g.title,
            g.code
        );
    }
    let at = text.find("== Fleet: ").expect("a fleet summary");
    assert_eq!(&text[at..], summary);
    assert!(summary.contains("== Fleet: 302 files"), "{summary}");
    std::fs::remove_dir_all(dir).unwrap();
}
