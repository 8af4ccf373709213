#!/usr/bin/env node
// Log Analyzer benchmark (not a test): drops N generated Mailbox Details logs on the
// page in Debian's Chromium and prints the time from the drop to "every file analyzed
// and the first page of cards on screen", as the page measures it itself
// (performance.now() at the drop event to the frame after the cards rendered; exposed
// as data-elapsed-ms on [data-testid=progress]).
//
// Usage, from the repository root after `bash scripts/build.sh`:
//   node e2e/bench/analyzer-bench.mjs [--count 1000] [--runs 5] [--url http://127.0.0.1:8080]
// Without --url it starts `target/release/mailsync serve --dist dist` on a free port.
// Logs come from `target/release/mailsync sample-logs --count N --out <tmp>`.

import { chromium } from '@playwright/test';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'target/release/mailsync');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const COUNT = Number(arg('count', 1000));
const RUNS = Number(arg('runs', 5));
let url = arg('url', '');

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(u, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(u)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server at ${u} did not come up`);
}

let server;
if (!url) {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // Its own throwaway organization: the page under test needs none, but serve opens one.
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'mailsync-bench-')), 'org.sqlite');
  server = spawn(BIN, ['serve', '--port', String(port), '--dist', path.join(ROOT, 'dist'), '--db', db, '--engine', 'off'], {
    stdio: 'ignore',
    env: { ...process.env, MAILSYNC_ADMIN_PASSWORD: process.env.MAILSYNC_ADMIN_PASSWORD ?? 'bench-admin-password' },
  });
  await waitFor(`${url}/`);
}

/** N logs from `mailsync sample-logs`, or (older binaries) variations of the fixtures. */
function generate() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailsync-bench-'));
  try {
    execFileSync(BIN, ['sample-logs', '--count', String(COUNT), '--out', dir], { stdio: 'ignore' });
    const files = readdirSync(dir)
      .sort()
      .map((name) => ({ name, b64: readFileSync(path.join(dir, name)).toString('base64') }));
    return { files, source: 'mailsync sample-logs' };
  } catch {
    const fx = path.join(ROOT, 'crates/core/tests/fixtures');
    const bases = ['healthy.log', 'failing.log', 'healthy.log', 'truncated.log', 'failing.log', 'not-configured.log', 'healthy.log', 'not-a-log.txt']
      .map((f) => readFileSync(path.join(fx, f), 'utf8'));
    const files = [];
    for (let i = 0; i < COUNT; i++) {
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const body = bases[i % bases.length].replace(/^(mailboxid\s*:\s*).*$/m, `$1${id}`);
      files.push({ name: `mailbox-${String(i).padStart(5, '0')}.log`, b64: Buffer.from(body).toString('base64') });
    }
    return { files, source: 'variations of crates/core/tests/fixtures (this mailsync has no sample-logs)' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const { files, source } = generate();
const bytes = files.reduce((n, f) => n + Buffer.from(f.b64, 'base64').length, 0);
console.log(`${files.length} logs from ${source}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const results = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    await page.goto(`${url}/analyzer`);
    await page.getByTestId('dropzone').waitFor();
    // Build the Files and the DataTransfer before the clock starts.
    await page.evaluate((files) => {
      const dt = new DataTransfer();
      for (const f of files) {
        const bin = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
        dt.items.add(new File([bin], f.name, { type: 'text/plain' }));
      }
      window.__benchDrop = dt;
    }, files);
    const outside = await page.evaluate(async () => {
      const dt = window.__benchDrop;
      const el = document.querySelector('[data-testid="dropzone"]');
      const t0 = performance.now();
      for (const type of ['dragenter', 'dragover', 'drop']) {
        el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      }
      const progress = document.querySelector('[data-testid="progress"]');
      await new Promise((resolve) => {
        const check = () =>
          progress.getAttribute('data-elapsed-ms') && progress.getAttribute('data-running') === 'false'
            ? resolve()
            : setTimeout(check, 5);
        check();
      });
      return performance.now() - t0;
    });
    const inside = Number(await page.getByTestId('progress').getAttribute('data-elapsed-ms'));
    const done = await page.getByTestId('progress').getAttribute('data-done');
    const readMs = Number(await page.getByTestId('progress').getAttribute('data-read-ms'));
    const analyzeMs = Number(await page.getByTestId('progress').getAttribute('data-analyze-ms'));
    const renderMs = Number(await page.getByTestId('progress').getAttribute('data-render-ms'));
    const paintMs = Number(await page.getByTestId('progress').getAttribute('data-paint-ms'));
    const shown = await page.getByTestId('mailbox-card').count();
    const fleet = await page.getByTestId('fleet-files').locator('.stat-value').textContent();
    if (Number(done) !== COUNT || shown === 0) throw new Error(`run ${run}: analyzed ${done}, cards shown ${shown}`);
    results.push(inside);
    console.log(
      `run ${run}: ${COUNT} files (${(bytes / 1e6).toFixed(1)} MB) analyzed and first ${shown} cards shown in ${inside.toFixed(0)} ms ` +
        `(page clock; ${outside.toFixed(0)} ms seen by the poller): waiting for reads ${readMs.toFixed(0)} ms, ` +
        `analyze ${analyzeMs.toFixed(0)} ms, final render ${renderMs.toFixed(0)} ms + paint ${paintMs.toFixed(0)} ms; fleet summary counts ${fleet} files`,
    );
  }
} finally {
  await browser.close();
  server?.kill();
}
const sorted = [...results].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`median ${median.toFixed(0)} ms, best ${sorted[0].toFixed(0)} ms, worst ${sorted.at(-1).toFixed(0)} ms (target < 1000 ms)`);
