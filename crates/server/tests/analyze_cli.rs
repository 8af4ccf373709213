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
    assert!(text.contains("7 time(s) in a row (limit 10)"), "{text}");
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
