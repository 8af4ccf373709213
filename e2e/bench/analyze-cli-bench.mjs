#!/usr/bin/env node
// `mailsync analyze` benchmark (not a test): whole-process throughput and peak memory of
// the CLI over N generated Mailbox Details logs. For each count it writes the logs with
// `mailsync sample-logs` into a temporary folder, runs
// `/usr/bin/time mailsync analyze --json <folder> > /dev/null` a few times and prints
// files, MB of input, seconds (best and median), MB/s (from the best run) and the peak
// resident set size, then removes the folder. Asserts nothing.
//
// Usage, from the repository root after `cargo build --release -p mailsync`:
//   node e2e/bench/analyze-cli-bench.mjs [--counts 1000,10000,50000] [--runs 3]
//        [--bin target/release/mailsync] [--human] [--keep]
// --human measures the text output instead of --json; --keep leaves the logs behind
// (their folder is printed). Needs GNU time at /usr/bin/time (Debian's `time` package)
// for user/system seconds and peak RSS.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const COUNTS = String(arg('counts', '1000,10000,50000')).split(',').map(Number);
const RUNS = Number(arg('runs', 3));
const BIN = path.resolve(ROOT, arg('bin', 'target/release/mailsync'));
const HUMAN = process.argv.includes('--human');
const KEEP = process.argv.includes('--keep');
const TIME = '/usr/bin/time';

if (!existsSync(BIN)) {
  console.error(`${BIN} not found: build it with cargo build --release -p mailsync`);
  process.exit(1);
}
const hasTime = existsSync(TIME);
if (!hasTime) console.log(`(${TIME} not found: no peak RSS or CPU seconds, wall time only)`);

/** One run: wall seconds measured here, CPU seconds and peak RSS (KB) from GNU time. */
function runOnce(dir) {
  const cli = [BIN, 'analyze', ...(HUMAN ? [] : ['--json']), dir];
  const [cmd, args] = hasTime ? [TIME, ['-f', 'TIME %e %U %S %M', ...cli]] : [cli[0], cli.slice(1)];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stderr = r.stderr.toString();
  const m = stderr.match(/^TIME (\S+) (\S+) (\S+) (\d+)$/m);
  // Exit 1 only means some file could not be analyzed; anything else is a failure.
  if (r.status !== 0 && r.status !== 1) throw new Error(`mailsync analyze exited ${r.status}: ${stderr}`);
  return {
    seconds: m ? Number(m[1]) || seconds : seconds,
    cpu: m ? Number(m[2]) + Number(m[3]) : NaN,
    rssKb: m ? Number(m[4]) : NaN,
  };
}

console.log(`mailsync analyze${HUMAN ? '' : ' --json'} > /dev/null, best of ${RUNS} (${BIN})`);
console.log('   files       MB   best s  median s    MB/s   CPU s   peak RSS MB');
for (const count of COUNTS) {
  const dir = mkdtempSync(path.join(tmpdir(), `mailsync-analyze-bench-${count}-`));
  try {
    execFileSync(BIN, ['sample-logs', '--count', String(count), '--out', dir], { stdio: 'ignore' });
    const names = readdirSync(dir).filter((n) => n.endsWith('.log'));
    const bytes = names.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    runOnce(dir); // warm the page cache: the first run would measure the disk
    const runs = Array.from({ length: RUNS }, () => runOnce(dir)).sort((a, b) => a.seconds - b.seconds);
    const best = runs[0];
    const median = runs[Math.floor(runs.length / 2)];
    const mb = bytes / 1e6;
    const peak = Math.max(...runs.map((r) => r.rssKb)) / 1024;
    console.log(
      `${String(names.length).padStart(8)} ${mb.toFixed(1).padStart(8)} ${best.seconds.toFixed(2).padStart(8)} ` +
        `${median.seconds.toFixed(2).padStart(9)} ${(mb / best.seconds).toFixed(1).padStart(7)} ` +
        `${best.cpu.toFixed(2).padStart(7)} ${peak.toFixed(1).padStart(13)}`,
    );
  } finally {
    if (KEEP) console.log(`   logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
