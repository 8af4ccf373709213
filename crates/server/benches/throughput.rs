//! Analysis throughput over a generated corpus of 10,000 Mailbox Details logs, with the
//! allocator the `mailsync` binary uses. Run: `cargo bench -p mailsync --bench throughput`
//! (prints figures; asserts nothing).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mailsync_core::{analyze, synth::synthetic_log, Timestamp};
use std::time::Instant;

const FILES: u64 = 10_000;
const ROUNDS: usize = 5;

fn main() {
    let now = Timestamp(1_800_000_000);
    let corpus: Vec<(String, Vec<u8>)> = (0..FILES)
        .map(|i| {
            (
                format!("mailbox-{i:05}.log"),
                synthetic_log(42, i, now).into_bytes(),
            )
        })
        .collect();
    let bytes: usize = corpus.iter().map(|(_, b)| b.len()).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "corpus: {FILES} logs, {mb:.1} MB ({} bytes per log on average)",
        bytes / FILES as usize
    );

    // One pass only, for instruction counts: `perf stat -e instructions:u` is steady under load.
    if let Some(mode) = std::env::var_os("THROUGHPUT_ONE_PASS") {
        if mode == "corpus" {
            return;
        }
        let traces: usize = corpus
            .iter()
            .map(|(n, b)| analyze(n, b, Some(now)).traces.len())
            .sum();
        println!("one pass: {traces} traces");
        return;
    }
    let single = best_of(|| {
        let mut traces = 0;
        for (name, b) in &corpus {
            traces += analyze(name, b, Some(now)).traces.len();
        }
        traces
    });
    println!(
        "analyze, 1 thread:  {:>7.1} MB/s  {:>8.0} logs/s  (best of {ROUNDS}: {:.3} s)",
        mb / single,
        FILES as f64 / single,
        single
    );

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = best_of(|| {
        let chunk = corpus.len().div_ceil(threads);
        std::thread::scope(|s| {
            let hs: Vec<_> = corpus
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(n, b)| analyze(n, b, Some(now)).traces.len())
                            .sum::<usize>()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        })
    });
    println!(
        "analyze, {threads} threads: {:>7.1} MB/s  {:>8.0} logs/s  (best of {ROUNDS}: {:.3} s)",
        mb / parallel,
        FILES as f64 / parallel,
        parallel
    );

    let reports: Vec<_> = corpus
        .iter()
        .map(|(n, b)| analyze(n, b, Some(now)))
        .collect();
    let json = best_of(|| mailsync_core::export::to_json(&reports).len());
    let summary = best_of(|| mailsync_core::summarize(&reports).groups.len());
    println!(
        "to_json of all reports: {:.3} s; fleet summary: {:.3} s",
        json, summary
    );
}

fn best_of<T>(mut f: impl FnMut() -> T) -> f64 {
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
