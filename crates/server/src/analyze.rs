//! `mailsync analyze [--json] PATH...`: core's analyzer over files and folders, a
//! human summary or the JSON array the console exports. Exit 0 when every file was
//! analyzed, 1 when some could not be (the others are still reported).

use mailsync_core::{analyze, export, summarize, Report, Severity, Status, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn run(json: bool, paths: &[PathBuf]) -> ExitCode {
    let mut inputs = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        collect(p, &mut inputs, &mut problems);
    }
    let now = Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    let mut reports = analyze_all(&inputs, now);
    reports.extend(problems);
    let out = if json {
        export::to_json(&reports) + "\n"
    } else {
        human(&reports, now)
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("mailsync analyze: cannot write the report: {e}");
            return ExitCode::from(1);
        }
    }
    if reports.iter().any(|r| r.status == Status::Error) || reports.is_empty() {
        if reports.is_empty() {
            eprintln!("mailsync analyze: no .log files found");
        }
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Files as given; folders walked for `.log` files, in name order.
fn collect(path: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Report>) {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            let mut found = Vec::new();
            walk(path, &mut found, problems);
            found.sort();
            if found.is_empty() {
                problems.push(Report::failed(
                    &path.display().to_string(),
                    "the folder holds no .log files".to_string(),
                ));
            }
            out.extend(found);
        }
        Ok(_) => out.push(path.to_path_buf()),
        Err(e) => problems.push(Report::failed(
            &path.display().to_string(),
            format!("cannot be read: {e}"),
        )),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Report>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return problems.push(Report::failed(
                &dir.display().to_string(),
                format!("cannot be read: {e}"),
            ))
        }
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out, problems);
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("log")) {
            out.push(p);
        }
    }
}

/// Reads and analyzes on every core: each file is independent.
pub fn analyze_all(files: &[PathBuf], now: Timestamp) -> Vec<Report> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|f| analyze_file(f, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn analyze_file(path: &Path, now: Timestamp) -> Report {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => analyze(&name, &bytes, Some(now)),
        Err(e) => Report::failed(&name, format!("cannot be read: {e}")),
    }
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn severity_tag(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR  ",
        Severity::Warning => "WARNING",
        Severity::Info => "info   ",
    }
}

fn short(ts: &Option<String>) -> String {
    ts.as_deref()
        .and_then(Timestamp::parse)
        .map_or_else(|| "never".to_string(), |d| d.at.to_short_utc())
}

pub fn human(reports: &[Report], now: Timestamp) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    for r in reports {
        let status = match r.status {
            Status::Ok => "ok",
            Status::Partial => "partial",
            Status::NotConfigured => "not configured",
            Status::Error => "could not be analyzed",
        };
        let _ = writeln!(
            o,
            "== {} [{}]{}",
            r.file,
            status,
            r.mailbox_id
                .as_deref()
                .map(|m| format!("  mailbox {m}"))
                .unwrap_or_default()
        );
        if let Some(e) = &r.error {
            let _ = writeln!(o, "   {e}\n");
            continue;
        }
        if r.status != Status::NotConfigured {
            let next = r.next_sync().map_or_else(
                || "unknown".to_string(),
                |t| {
                    format!(
                        "{} ({})",
                        t.to_short_utc(),
                        mailsync_core::time::relative(t, now)
                    )
                },
            );
            let processing = if r.processing_now {
                format!("yes, on {}", r.host_id.as_deref().unwrap_or("?"))
            } else {
                "no".to_string()
            };
            let _ = writeln!(o, "   Next sync: {next}   Processing now: {processing}");
            for (name, d) in [
                ("Incoming", &r.directions.incoming),
                ("Outgoing", &r.directions.outgoing),
                ("ACT", &r.directions.act),
            ] {
                let runs = if d.runs_next_cycle {
                    "runs next cycle"
                } else {
                    "not next cycle "
                };
                let _ = writeln!(o, "   {name:<9}{runs}  {}", d.reason);
            }
            let t = &r.test_and_enable;
            if t.scheduled == Some(true) {
                let _ = writeln!(
                    o,
                    "   Test & Enable: pending, runs {}; retries {}",
                    short(&t.runs_at),
                    t.retry_count.unwrap_or(0)
                );
            } else {
                let _ = writeln!(
                    o,
                    "   Test & Enable: not pending; last completed {}",
                    short(&t.completed_on)
                );
            }
            let l = &r.last_sync;
            if l.last_cycle_failed {
                let _ = writeln!(
                    o,
                    "   Last sync: FAILED {} time(s) in a row (limit {}): {}",
                    l.error_count.unwrap_or(1),
                    l.retry_limit,
                    l.error
                        .as_deref()
                        .or(l.classification.as_ref().map(|c| c.title.as_ref()))
                        .unwrap_or("unknown error")
                );
            } else {
                let _ = writeln!(
                    o,
                    "   Last sync: succeeded {}; enabled in/out/act: {}/{}/{}",
                    short(&l.succeeded_on),
                    yes_no(r.directions.incoming.enabled),
                    yes_no(r.directions.outgoing.enabled),
                    yes_no(r.directions.act.enabled)
                );
            }
            for t in &r.traces {
                let rule = t
                    .rule
                    .as_deref()
                    .map_or_else(|| "inferred".to_string(), |r| format!("known: {r}"));
                let _ = writeln!(
                    o,
                    "   Trace {}: {} [{} {}-level, {rule}] {}",
                    t.tracecode.map_or("?".to_string(), |c| c.to_string()),
                    t.error_type.as_deref().unwrap_or("?"),
                    mailsync_core::diagnose::nature_word(t.nature),
                    mailsync_core::diagnose::scope_word(t.scope),
                    t.message.as_deref().unwrap_or("")
                );
            }
        }
        for f in &r.findings {
            let _ = writeln!(o, "   {} {}", severity_tag(f.severity), f.message);
            if let Some(res) = &f.resolution {
                let _ = writeln!(o, "           -> {res}");
            }
        }
        if let Some(a) = &r.time_assumption {
            let _ = writeln!(o, "   Note: {a}");
        }
        o.push('\n');
    }
    if reports.len() > 1 {
        let s = summarize(reports);
        let _ = writeln!(
            o,
            "== Fleet: {} files, {} analyzed, {} unreadable, {} not configured; {} disabled, {} failing, {} pending test, {} overdue, {} processing now",
            s.files, s.analyzed, s.unreadable, s.not_configured, s.disabled, s.failing, s.pending_test, s.overdue, s.processing_now
        );
        for g in s.groups.iter().take(15) {
            let _ = writeln!(
                o,
                "   {} {:>5} x {} ({})",
                severity_tag(g.severity),
                g.reports.len(),
                g.title,
                g.code
            );
        }
    }
    o
}
