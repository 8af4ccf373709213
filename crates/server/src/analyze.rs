//! `mailsync analyze [--json] PATH...`: core's analyzer over files and folders, a
//! human summary or the JSON array the console exports. Exit 0 when every file was
//! analyzed, 1 when some could not be (the others are still reported).
//!
//! Streamed: workers on every core take the files [`CHUNK`] at a time, read, analyze and
//! render them (their part of the JSON array, or the human text), and this thread writes
//! the chunks out in input order and keeps the fleet summary as running totals
//! ([`FleetBuilder`]). At most [`WINDOW`] chunks are in flight, so memory is bounded by
//! them, not by the number of files.

use mailsync_core::fleet::{FleetBuilder, FleetSummary};
use mailsync_core::{analyze, Report, Severity, Status, Timestamp};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Files a worker takes at a time: one hand-over to this thread per chunk.
const CHUNK: usize = 16;
/// Chunks started ahead of the one being written: enough to keep every core busy while a
/// slow file holds its chunk up, few enough that memory does not grow with the fleet.
const WINDOW: usize = 8;
/// A reused buffer that an unusually large file grew is given back down to this.
const KEEP: usize = 1 << 20;

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
    // Chunks are written whole, so no buffer of our own: each is one write.
    let mut out = Output {
        json,
        w: io::stdout().lock(),
        fleet: FleetBuilder::new(),
        written: 0,
        any_error: false,
    };
    // A closed pipe (`| head`) is the reader's choice, not an error worth a panic.
    if let Err(e) = stream(&inputs, &problems, now, &mut out) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("mailsync analyze: cannot write the report: {e}");
            return ExitCode::from(1);
        }
    }
    if out.any_error || out.written == 0 {
        if out.written == 0 {
            eprintln!("mailsync analyze: no .log files found");
        }
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Where the reports go, in order: the output, and the fleet's running totals.
struct Output<W: Write> {
    json: bool,
    w: W,
    fleet: FleetBuilder,
    /// Reports written so far.
    written: usize,
    any_error: bool,
}

impl<W: Write> Output<W> {
    /// The next reports, in order, and `text`, what [`render`] wrote for them.
    /// Counted before the write: the exit status after a closed pipe is that of the
    /// reports the reader was sent.
    fn emit(&mut self, reports: &[Report], text: &[u8]) -> io::Result<()> {
        for r in reports {
            self.any_error |= r.status == Status::Error;
            self.fleet.add(r);
        }
        self.written += reports.len();
        self.w.write_all(text)
    }

    /// The end: the array's `]`, or the human fleet summary.
    fn finish(&mut self) -> io::Result<()> {
        if self.json {
            self.w
                .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        } else if self.written > 1 {
            let s = std::mem::take(&mut self.fleet).finish();
            self.w.write_all(human_fleet(&s).as_bytes())?;
        }
        self.w.flush()
    }
}

/// Appends the report as the output writes it: with `json`, its part of the pretty JSON
/// array `export::to_json` prints (`[\n  {...}` for the first report, `,\n  {...}` for
/// the others; [`Output::finish`] closes it), else its human text (`scratch` is reused).
fn render(
    report: &Report,
    json: bool,
    first: bool,
    now: Timestamp,
    text: &mut Vec<u8>,
    scratch: &mut String,
) {
    if json {
        use serde::ser::{SerializeSeq, Serializer};
        // serde_json's pretty array of this one report, `[\n  {...}\n]`, is exactly what
        // the whole array holds for it, with `[` for `,` after the first and without the
        // closing `\n]`.
        let start = text.len();
        let mut ser = serde_json::Serializer::pretty(&mut *text);
        ser.serialize_seq(None)
            .and_then(|mut seq| {
                seq.serialize_element(report)?;
                seq.end()
            })
            .expect("reports serialize: only strings, numbers and maps with string keys");
        text.truncate(text.len() - 2);
        if !first {
            text[start] = b',';
        }
    } else {
        scratch.clear();
        human_report(scratch, report, now);
        text.extend_from_slice(scratch.as_bytes());
    }
}

/// Consecutive files read, analyzed and rendered by one worker.
struct Chunk {
    reports: Vec<Report>,
    text: Vec<u8>,
}

/// What this thread and the workers share about the chunks.
struct Shared {
    /// Chunks written so far.
    written: usize,
    /// Written chunks, for the workers to fill again.
    spare: Vec<Chunk>,
}

/// A worker that panics stops the others, so this thread is not left waiting for the
/// chunk the worker had taken.
struct StopOnPanic<'a>(&'a AtomicBool, &'a Mutex<Shared>, &'a Condvar);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
            drop(self.1.lock());
            self.2.notify_all();
        }
    }
}

/// Every input file through the workers, written in input order, then the `problems`
/// (paths that could not be read) after them, as before streaming.
fn stream<W: Write>(
    files: &[PathBuf],
    problems: &[Report],
    now: Timestamp,
    out: &mut Output<W>,
) -> io::Result<()> {
    let chunks = files.len().div_ceil(CHUNK);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks)
        .max(1);
    let json = out.json;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // A worker starts chunk `c` only once `c < written + WINDOW`, so at most WINDOW
    // chunks are being read, analyzed or waiting for their turn.
    let shared = Mutex::new(Shared {
        written: 0,
        spare: Vec::new(),
    });
    let turn = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, Chunk)>();
    let result = std::thread::scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, shared, turn) = (&next, &stop, &shared, &turn);
            s.spawn(move || {
                let _guard = StopOnPanic(stop, shared, turn);
                let (mut bytes, mut scratch) = (Vec::new(), String::new());
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    if c >= chunks {
                        return;
                    }
                    let part = &files[c * CHUNK..files.len().min((c + 1) * CHUNK)];
                    let spare = {
                        let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
                        while c >= sh.written + WINDOW && !stop.load(Ordering::Relaxed) {
                            sh = turn.wait(sh).unwrap_or_else(|e| e.into_inner());
                        }
                        sh.spare.pop()
                    };
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    // A written chunk's buffers again: its reports are dropped here, on a
                    // worker, and the text's capacity is kept.
                    let mut chunk = spare.unwrap_or_else(|| Chunk {
                        reports: Vec::with_capacity(CHUNK),
                        text: Vec::with_capacity(CHUNK * if json { 16 << 10 } else { 4 << 10 }),
                    });
                    chunk.reports.clear();
                    chunk.text.clear();
                    chunk.text.shrink_to(KEEP);
                    for (k, path) in part.iter().enumerate() {
                        let report = analyze_file(path, now, &mut bytes);
                        let first = c == 0 && k == 0;
                        render(&report, json, first, now, &mut chunk.text, &mut scratch);
                        chunk.reports.push(report);
                    }
                    if tx.send((c, chunk)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut slots: Vec<Option<Chunk>> = (0..WINDOW).map(|_| None).collect();
        let mut write_all = || -> io::Result<()> {
            for c in 0..chunks {
                while slots[c % WINDOW].is_none() {
                    // Every chunk a worker starts is sent, unless the worker panicked
                    // (the scope then passes its panic on).
                    let (d, chunk) = rx
                        .recv()
                        .map_err(|_| io::Error::other("a worker stopped"))?;
                    slots[d % WINDOW] = Some(chunk);
                }
                let chunk = slots[c % WINDOW].take().expect("just filled");
                out.emit(&chunk.reports, &chunk.text)?;
                let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
                sh.written = c + 1;
                sh.spare.push(chunk);
                drop(sh);
                turn.notify_all();
            }
            Ok(())
        };
        let result = write_all();
        // After a write error the workers stop before their next chunk.
        stop.store(true, Ordering::Relaxed);
        drop(shared.lock());
        turn.notify_all();
        drop(rx);
        result
    });
    result?;
    let (mut text, mut scratch) = (Vec::new(), String::new());
    for report in problems {
        text.clear();
        render(report, json, out.written == 0, now, &mut text, &mut scratch);
        out.emit(std::slice::from_ref(report), &text)?;
    }
    out.finish()
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
        // The entry's type comes with the listing; only a symbolic link needs a look
        // at what it points to.
        let is_dir = match entry.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => p.is_dir(),
        };
        if is_dir {
            walk(&p, out, problems);
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("log")) {
            out.push(p);
        }
    }
}

/// Reads `path` into `bytes` (reused from file to file) and analyzes it. A panic in the
/// analyzer (a bug) costs that file, not the run.
fn analyze_file(path: &Path, now: Timestamp, bytes: &mut Vec<u8>) -> Report {
    let name = path.display().to_string();
    bytes.clear();
    bytes.shrink_to(KEEP);
    // Into the buffer the last file left (no size query: logs are small).
    if let Err(e) = std::fs::File::open(path).and_then(|f| f.take(u64::MAX).read_to_end(bytes)) {
        return Report::failed(&name, format!("cannot be read: {e}"));
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyze(&name, bytes, Some(now))
    }))
    .unwrap_or_else(|_| {
        Report::failed(
            &name,
            "the analyzer failed on this file (a bug in mailsync)".to_string(),
        )
    })
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

/// One report in words, ending with a blank line.
fn human_report(o: &mut String, r: &Report, now: Timestamp) {
    use std::fmt::Write;
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
        return;
    }
    if r.status != Status::NotConfigured {
        // Relative to the time the report is judged as of (the log's latest entry
        // for an old log), and why there is none when there is none.
        let next = match (r.next_sync(), &r.next_sync_note) {
            (Some(t), _) => match r.as_of.as_ref().and_then(|a| a.relative(t, now)) {
                Some(rel) => format!("{} ({rel})", t.to_short_utc()),
                None => t.to_short_utc(),
            },
            (None, Some(note)) => note.clone(),
            (None, None) => "unknown".to_string(),
        };
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
            let completed = if r.lacks(mailsync_core::parse::Section::TestAndEnable) {
                "unknown (section missing)".to_string()
            } else {
                short(&t.completed_on)
            };
            let _ = writeln!(
                o,
                "   Test & Enable: not pending; last completed {completed}"
            );
        }
        // Core's words for the last cycle: unknown when the log does not hold it.
        let l = &r.last_sync;
        let error = l
            .error
            .as_deref()
            .or(l.classification.as_ref().map(|c| c.title.as_ref()));
        let _ = writeln!(
            o,
            "   Last sync: {}{}\n   Enabled in/out/act: {}/{}/{}",
            l.summary,
            match (l.last_cycle_failed, error) {
                (true, Some(e)) => format!(": {e}"),
                _ => String::new(),
            },
            yes_no(r.directions.incoming.enabled),
            yes_no(r.directions.outgoing.enabled),
            yes_no(r.directions.act.enabled)
        );
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
    if let Some(a) = r.as_of.as_ref().filter(|a| !a.explanation.is_empty()) {
        let _ = writeln!(o, "   Times: {}", a.explanation);
    }
    o.push('\n');
}

/// The fleet's summary line and its largest groups (for more than one file).
fn human_fleet(s: &FleetSummary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
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
    o
}
