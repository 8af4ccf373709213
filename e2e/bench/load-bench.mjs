#!/usr/bin/env node
// Load benchmark (issue 12 §5, "Load small and fast"; not a test: it prints figures and
// asserts nothing). It starts `target/release/mailsync serve --seed demo` on a free
// port with a temporary database, and in Debian's Chromium, with the network
// throttled through CDP `Network.emulateNetworkConditions` (1.6 Mbit/s down,
// 0.75 Mbit/s up, 150 ms round trip), measures loading `/mailboxes` signed in as the
// admin until the Mailboxes grid's rows are in the document:
//
//   * cold: a new browser context (empty HTTP cache, no compiled wasm), signed in
//     through the API (`POST /api/auth/login` from the context, so the session cookie
//     is set and the sign-in is not counted), then the navigation;
//   * warm: the same page reloaded (index.html revalidated, the hashed JS, wasm and CSS
//     from the HTTP cache: they are `immutable`).
//
// For each load: the bytes transferred (the sum of CDP `Network.loadingFinished`
// `encodedDataLength`: what came over the wire, headers included, compressed as sent;
// 0 for a file served from the cache), split into the console's files and /api, the
// number of requests, and the time from the start of the navigation to the first
// animation frame with the grid's rows (`performance.now()` in the page).
//
// Usage, from the repository root, after `bash scripts/build.sh`:
//   node e2e/bench/load-bench.mjs [--runs 3] [--down 1.6] [--up 0.75] [--rtt 150]
// (--down/--up in Mbit/s, --rtt in ms; --down 0 turns throttling off). BENCH_VERBOSE=1
// also lists each request of each load. MAILSYNC_E2E_BIN / MAILSYNC_E2E_DIST pick
// another server binary / console build (as for the Playwright tests).

import { chromium } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { arg, DIST, launchChromium, requireBuild, serve } from './lib.mjs';

const VERBOSE = process.env.BENCH_VERBOSE === '1';

const RUNS = Number(arg('runs', 3));
const DOWN_MBIT = Number(arg('down', 1.6));
const UP_MBIT = Number(arg('up', 0.75));
const RTT_MS = Number(arg('rtt', 150));
const PASSWORD = process.env.MAILSYNC_ADMIN_PASSWORD ?? 'bench-admin-password';

requireBuild('load-bench');

// ---- the server ------------------------------------------------------------------

const tmp = mkdtempSync(path.join(tmpdir(), 'mailsync-load-bench-'));
const { base, child: server } = await serve(
  path.join(tmp, 'org.sqlite'),
  ['--seed', 'demo', '--engine', 'off'],
  PASSWORD,
);

let browser = null;
async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  server.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
// Also when a measurement throws: never leave the server running.
process.on('exit', () => {
  server.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
});
process.on('SIGINT', async () => {
  await cleanup();
  process.exit(130);
});

// ---- the browser -----------------------------------------------------------------

browser = await launchChromium(chromium);

const throttled = DOWN_MBIT > 0;
const conditions = {
  offline: false,
  latency: throttled ? RTT_MS : 0,
  // CDP wants bytes per second; -1 = no limit.
  downloadThroughput: throttled ? (DOWN_MBIT * 1e6) / 8 : -1,
  uploadThroughput: throttled ? (UP_MBIT * 1e6) / 8 : -1,
};

/** A page whose network is throttled and counted; `take()` returns and resets the count. */
async function instrumentedPage(context) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', conditions);
  const urls = new Map();
  let loads = [];
  cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
  cdp.on('Network.responseReceived', (e) => {
    const r = urls.get(e.requestId);
    if (r !== undefined) urls.set(e.requestId, { url: r.url ?? r, status: e.response.status, cached: e.response.fromDiskCache || e.response.fromMemoryCache });
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = urls.get(e.requestId);
    const info = typeof r === 'string' ? { url: r } : (r ?? { url: '?' });
    loads.push({ ...info, bytes: e.encodedDataLength });
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    page,
    errors,
    take() {
      const out = loads;
      loads = [];
      return out;
    },
  };
}

/** Runs `navigate` and waits for the grid's rows; the load's time and bytes. */
async function measure(p, navigate) {
  p.take();
  await navigate();
  // A function, not a string: the page's CSP forbids eval (Playwright's own calls pass).
  const handle = await p.page.waitForFunction(
    () =>
      document.querySelectorAll('[data-testid=mailbox-grid] tbody tr[data-id]').length > 0 ? performance.now() : false,
    null,
    { polling: 'raf', timeout: 300_000 },
  );
  const ms = await handle.jsonValue();
  // Let the last loadingFinished events of the requests that produced the rows arrive.
  await p.page.waitForTimeout(300);
  const loads = p.take();
  const isApi = (u) => new URL(u, base).pathname.startsWith('/api/');
  const sum = (xs) => xs.reduce((a, x) => a + x.bytes, 0);
  const api = loads.filter((l) => isApi(l.url));
  const files = loads.filter((l) => !isApi(l.url));
  return { ms, bytes: sum(loads), fileBytes: sum(files), apiBytes: sum(api), requests: loads.length, loads };
}

const results = { cold: [], warm: [] };
for (let run = 1; run <= RUNS; run++) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const signin = await context.request.post(`${base}/api/auth/login`, { data: { username: 'admin', password: PASSWORD } });
  if (!signin.ok()) throw new Error(`browser sign-in failed: ${signin.status()} ${await signin.text()}`);
  const p = await instrumentedPage(context);
  const cold = await measure(p, () => p.page.goto(`${base}/mailboxes`, { waitUntil: 'commit' }));
  const warm = await measure(p, () => p.page.reload({ waitUntil: 'commit' }));
  results.cold.push(cold);
  results.warm.push(warm);
  if (p.errors.length) console.log(`run ${run}: page errors: ${p.errors.join(' | ')}`);
  if (VERBOSE) {
    for (const [kind, r] of [['cold', cold], ['warm', warm]]) {
      console.log(`run ${run} ${kind}:`);
      for (const l of r.loads) {
        const u = new URL(l.url, base);
        console.log(`  ${String(l.bytes).padStart(9)}  ${l.status ?? ''}${l.cached ? ' (cache)' : ''}  ${u.pathname}${u.search.slice(0, 60)}`);
      }
    }
  }
  await context.close();
}

// ---- the table -------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const kb = (b) => (b / 1000).toFixed(1);
console.log(
  `\nmailsync console load, /mailboxes until the grid's rows are shown (${RUNS} run${RUNS === 1 ? '' : 's'}, median)` +
    `\nnetwork: ${throttled ? `${DOWN_MBIT} Mbit/s down, ${UP_MBIT} Mbit/s up, ${RTT_MS} ms round trip (CDP)` : 'not throttled'}; ${DIST}\n`,
);
const rows = [['load', 'ms', 'KB total', 'KB files', 'KB /api', 'requests', 'ms per run']];
for (const kind of ['cold', 'warm']) {
  const r = results[kind];
  rows.push([
    kind,
    median(r.map((x) => x.ms)).toFixed(0),
    kb(median(r.map((x) => x.bytes))),
    kb(median(r.map((x) => x.fileBytes))),
    kb(median(r.map((x) => x.apiBytes))),
    String(median(r.map((x) => x.requests))),
    r.map((x) => x.ms.toFixed(0)).join(' '),
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
console.log('\n(KB = 1000 bytes over the wire, headers included; files = index.html, JS, wasm, CSS, icon)');

await cleanup();
