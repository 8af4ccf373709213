//! `mailsync sample-logs`: writes core's synthetic Mailbox Details logs to a folder, for
//! trying the Log Analyzer and for the browser benchmark.

use mailsync_core::{synth::synthetic_log, Timestamp};
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn run(count: u64, out: &Path, seed: u64) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("mailsync sample-logs: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let now = Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    for i in 0..count {
        let path = out.join(format!("mailbox-{i:05}.log"));
        if let Err(e) = std::fs::write(&path, synthetic_log(seed, i, now)) {
            eprintln!("mailsync sample-logs: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    println!("wrote {count} Mailbox Details logs to {}", out.display());
    ExitCode::SUCCESS
}
