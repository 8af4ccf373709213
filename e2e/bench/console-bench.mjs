#!/usr/bin/env node
// Console benchmark over a large organization (not a test: it prints figures and
// asserts nothing about time). It starts `target/release/mailsync serve` on a
// `--seed scale:100000` organization (100,000 mailboxes, about 1,000,000 alerts) and
// measures, in Debian's Chromium and over HTTP:
//
//   * the Mailboxes grid's first page: the exact request the console sends (captured
//     from the browser, replayed from Node with a bearer token): the server's own time
//     (`Server-Timing: db;dur=` = SQLite, `total;dur=` = the whole read) and the
//     client-observed HTTP time; and in the browser, from the navigation to
//     `/mailboxes` until the grid's 50 rows are in the document (performance.now() in
//     the page, at the animation frame the rows are there);
//   * a filtered view: "Unapproved Mailboxes" with the search `7@` (the scale seed's
//     pending 10% slice: user numbers ending in 7), the same way;
//   * the alerts wall (`/alerts` as admin): each request the page sends (counts per
//     level, first page, names of the regarding mailboxes) replayed, and in the browser
//     until the first alerts are shown and until every level count is shown;
//   * approving 10,000 selected mailboxes end to end in the browser: that view, click
//     "Select all 10000 that match" (until "10000 selected"), click "Approve Email"
//     (until the results panel says finished); then the API counts what is approved.
//     The same 10,000 approvals are then sent from Node ($batch ×10, no browser) for
//     the server's share. After each run the 10,000 are put back to pending through
//     the Web API ($batch, not timed), so runs (and a reused `--db`) start from the
//     same state (their users keep "Approved": only approve/reject is mirrored).
//
// Usage, from the repository root, after `bash scripts/build.sh`:
//   node e2e/bench/console-bench.mjs [--runs 3] [--db PATH] [--seed scale:100000]
// Without --db the organization is seeded into a temporary file (about 20 s for
// scale:100000, and about 0.75 GB of disk) and deleted at the end. With --db PATH a file
// that does not exist yet is seeded and kept; an existing one is reused as it is (it
// must have been seeded with scale:N). MAILSYNC_ADMIN_PASSWORD is the admin's password
// (default bench-admin-password; an existing --db needs the one it was seeded with).
// BENCH_VERBOSE=1 also prints each run's $batch server times. MAILSYNC_E2E_BIN and
// MAILSYNC_E2E_DIST (as for the Playwright tests) pick another server binary and
// console build, e.g. to measure an older commit. Run 1 starts with cold caches
// (SQLite's and the browser's).

import { chromium } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { arg, launchChromium, requireBuild, serve } from './lib.mjs';

const RUNS = Number(arg('runs', 3));
const SEED = arg('seed', 'scale:100000');
const PASSWORD = process.env.MAILSYNC_ADMIN_PASSWORD ?? 'bench-admin-password';
const SLICE = '7@'; // the scale seed's pending mailboxes: user numbers ending in 7
const API = '/api/data/v9.2';

requireBuild('console-bench');

// ---- the server ------------------------------------------------------------------

let tmp = null;
let db = arg('db', '');
if (!db) {
  tmp = mkdtempSync(path.join(tmpdir(), 'mailsync-console-bench-'));
  db = path.join(tmp, 'org.sqlite');
}
const seeding = !existsSync(db);
if (seeding) console.log(`seeding ${SEED} into ${db} (about 20 s for scale:100000)...`);
else console.log(`reusing ${db}`);

const started = Date.now();
const { base, child: server } = await serve(db, ['--seed', SEED, '--engine', 'off'], PASSWORD);
console.log(`${base} ready after ${((Date.now() - started) / 1000).toFixed(1)} s${seeding ? ' (seeded)' : ''}`);

function cleanup() {
  server.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

// ---- HTTP from Node ------------------------------------------------------------------

const login = await fetch(`${base}/api/auth/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password: PASSWORD }),
});
if (!login.ok) throw new Error(`sign-in failed: ${login.status} ${await login.text()}`);
const TOKEN = (await login.json()).access_token;

function serverTiming(header, name) {
  const m = new RegExp(`(?:^|,)\\s*${name};dur=([0-9.]+)`).exec(header ?? '');
  return m ? Number(m[1]) : NaN;
}

/** GET `pathAndQuery` as the console sends it: the server's and the client's times. */
async function timedGet(pathAndQuery, headers = {}) {
  const t0 = performance.now();
  const r = await fetch(base + pathAndQuery, { headers: { Authorization: `Bearer ${TOKEN}`, ...headers } });
  const body = await r.text();
  const http = performance.now() - t0;
  if (!r.ok) throw new Error(`GET ${pathAndQuery}: ${r.status} ${body.slice(0, 300)}`);
  const st = r.headers.get('server-timing');
  return { http, db: serverTiming(st, 'db'), total: serverTiming(st, 'total'), json: JSON.parse(body) };
}

async function getJson(pathAndQuery, headers = {}) {
  return (await timedGet(pathAndQuery, headers)).json;
}

async function count(filter) {
  const q = `${API}/mailboxes?$select=mailboxid&$top=1&$count=true&$filter=${encodeURIComponent(filter)}`;
  return (await getJson(q))['@odata.count'];
}

/** Every id matching `filter` (pages of 5,000). */
async function ids(filter) {
  const out = [];
  let next = `${API}/mailboxes?$select=mailboxid&$filter=${encodeURIComponent(filter)}`;
  while (next) {
    const page = await getJson(next, { Prefer: 'odata.maxpagesize=5000' });
    out.push(...page.value.map((m) => m.mailboxid));
    const link = page['@odata.nextLink'];
    next = link ? link.slice(link.indexOf('/api/')) : null;
  }
  return out;
}

/**
 * PATCHes `body` onto every mailbox in `list` through $batch (1,000 a request), as the
 * console does; returns the server's time (sum of `Server-Timing: batch;dur=`).
 */
async function patchAll(list, body) {
  let server = 0;
  for (let i = 0; i < list.length; i += 1000) {
    const boundary = `batch_${Math.random().toString(16).slice(2)}`;
    const parts = list.slice(i, i + 1000).map(
      (id) =>
        `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n` +
        `PATCH ${API}/mailboxes(${id}) HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n` +
        `${JSON.stringify(body)}\r\n`,
    );
    const r = await fetch(`${base}${API}/$batch`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${TOKEN}`,
        'Content-Type': `multipart/mixed; boundary=${boundary}`,
        Prefer: 'odata.continue-on-error',
      },
      body: parts.join('') + `--${boundary}--\r\n`,
    });
    const text = await r.text();
    if (!r.ok || /HTTP\/1\.1 [45]\d\d/.test(text)) throw new Error(`$batch failed: ${r.status} ${text.slice(0, 500)}`);
    server += serverTiming(r.headers.get('server-timing'), 'batch');
  }
  return server;
}

// ---- the browser -----------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
// The console's CSP forbids eval, which Playwright's waitForFunction needs for its
// predicates: the benchmark's own probes are not the page's scripts.
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
const signin = await context.request.post(`${base}/api/auth/login`, { data: { username: 'admin', password: PASSWORD } });
if (!signin.ok()) throw new Error(`browser sign-in failed: ${signin.status()}`);
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));

/** The Web API requests the page sends while `action` runs (path + query, in order). */
async function capture(action) {
  const seen = [];
  const onRequest = (req) => {
    const u = new URL(req.url());
    if (u.pathname.startsWith(API)) seen.push({ method: req.method(), path: u.pathname + u.search, prefer: req.headers()['prefer'] });
  };
  page.on('request', onRequest);
  try {
    return { result: await action(), requests: seen };
  } finally {
    page.off('request', onRequest);
  }
}

/**
 * Navigates to `url` (from a blank page) and returns performance.now() in the new
 * document (ms since its navigation started) at the first animation frame where
 * `ready` holds.
 */
async function navigateUntil(url, ready, arg) {
  await page.goto('about:blank');
  await page.goto(base + url, { waitUntil: 'commit' });
  const handle = await page.waitForFunction(
    ([src, a]) => (new Function('a', `return (${src})(a)`)(a) ? performance.now() : false),
    [ready.toString(), arg],
    { polling: 'raf', timeout: 120_000 },
  );
  return handle.jsonValue();
}

const gridRows = (n) => document.querySelectorAll('[data-testid=mailbox-grid] tbody tr[data-id]').length === n;
const gridSettled = (n) =>
  document.querySelector('[data-testid=mailbox-grid]')?.getAttribute('aria-busy') === 'false' &&
  document.querySelectorAll('[data-testid=mailbox-grid] tbody tr[data-id]').length === n;

/** Clicks the button `label` (exact text, or a RegExp source) and times until `ready`. */
async function clickUntil(label, ready, arg) {
  return page.evaluate(
    async ([label, src, a]) => {
      const ok = new Function('a', `return (${src})(a)`);
      const re = new RegExp(label);
      const button = [...document.querySelectorAll('button')].find((b) => re.test(b.textContent.trim()) && !b.disabled);
      if (!button) throw new Error(`no enabled button ${label}`);
      const t0 = performance.now();
      button.click();
      return new Promise((resolve, reject) => {
        const deadline = t0 + 300_000;
        const tick = () => {
          if (ok(a)) resolve(performance.now() - t0);
          else if (performance.now() > deadline) reject(new Error(`timed out after clicking ${label}`));
          else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      });
    },
    [label, ready.toString(), arg],
  );
}

// ---- the measurements ------------------------------------------------------------

const figures = new Map(); // label -> [ms per run]
function record(label, ms) {
  if (!figures.has(label)) figures.set(label, []);
  figures.get(label).push(ms);
}

async function replay(prefix, requests, { total = false } = {}) {
  for (const r of requests) {
    const t = await timedGet(r.path, r.prefer ? { Prefer: r.prefer } : {});
    record(`${prefix} server db`, t.db);
    if (total) record(`${prefix} server total`, t.total);
    record(`${prefix} HTTP (Node)`, t.http);
  }
}

const mailboxes = await count('mailboxid ne null');
const slice = await count(`emailrouteraccessapproval eq 2 and contains(emailaddress,'${SLICE}')`);
const unapprovedSlice = await count(`emailrouteraccessapproval ne 1 and (contains(name,'${SLICE}') or contains(emailaddress,'${SLICE}'))`);
console.log(`${mailboxes} mailboxes; ${slice} pending with '${SLICE}' in the address; Unapproved + search '${SLICE}': ${unapprovedSlice}`);
if (slice !== unapprovedSlice) console.log('warning: the view matches more than the pending slice (not a scale seed of this mailsync?)');
const expected = unapprovedSlice;
if (!expected) {
  console.error(`console-bench: no pending mailbox has '${SLICE}' in its address: use a --seed scale:N organization`);
  cleanup();
  process.exit(2);
}
const selectLabel = `^Select all ${expected} that match$`;
const approved = [];
const titles = [];

for (let run = 1; run <= RUNS; run++) {
  // 1. Mailboxes, first page (default view, Active, by name).
  const first = await capture(() => navigateUntil('/mailboxes', gridRows, 50));
  record('Mailboxes first page: browser (navigation → 50 rows)', first.result);
  const firstGrid = first.requests.filter((r) => r.path.startsWith(`${API}/mailboxes?`));
  await replay('Mailboxes first page:', firstGrid, { total: true });

  // 2. Filtered view: Unapproved + search.
  const filtered = await capture(() => navigateUntil(`/mailboxes?view=unapproved&q=${encodeURIComponent(SLICE)}`, gridRows, 50));
  record(`Unapproved + '${SLICE}': browser (navigation → 50 rows)`, filtered.result);
  await replay(`Unapproved + '${SLICE}':`, filtered.requests.filter((r) => r.path.startsWith(`${API}/mailboxes?`)), { total: true });

  // 3. The alerts wall.
  const alerts = await capture(async () => {
    const shown = await navigateUntil('/alerts', () => document.querySelectorAll('li.alerts-item').length > 0);
    const counted = await page.waitForFunction(
      () => {
        const c = [...document.querySelectorAll('.alerts-count')];
        return c.length === 4 && c.every((e) => /^\d+$/.test(e.textContent.trim())) ? performance.now() : false;
      },
      null,
      { polling: 'raf', timeout: 120_000 },
    );
    return { shown, counted: await counted.jsonValue() };
  });
  record('Alerts: browser (navigation → first alerts)', alerts.result.shown);
  record('Alerts: browser (navigation → all 4 level counts)', alerts.result.counted);
  const tl = alerts.requests.filter((r) => r.path.startsWith(`${API}/tracelogs?`));
  const counts = tl.filter((r) => r.path.includes('$top=1'));
  const pageReq = tl.filter((r) => !r.path.includes('$top=1'));
  for (const c of counts) {
    const level = /level(?:%20| )eq(?:%20| )(\d)/.exec(c.path)?.[1];
    await replay(`Alerts count, ${{ 3: 'Errors', 2: 'Warnings', 1: 'Information' }[level] ?? 'All'}:`, [c]);
  }
  await replay('Alerts first page:', pageReq);
  if (run === 1) {
    const total = await getJson(counts[0].path);
    console.log(`alerts wall: ${total['@odata.count']} alerts; ${tl.length} tracelogs requests, ${alerts.requests.length - tl.length} others`);
  }

  // 4. Approve 10,000 selected mailboxes.
  await navigateUntil(`/mailboxes?view=unapproved&q=${encodeURIComponent(SLICE)}`, gridSettled, 50);
  await page.waitForFunction((re) => [...document.querySelectorAll('button')].some((b) => new RegExp(re).test(b.textContent.trim())), selectLabel);
  const batches = [];
  const onResponse = (resp) => {
    if (resp.url().endsWith(`${API}/$batch`)) batches.push(serverTiming(resp.headers()['server-timing'], 'batch'));
  };
  page.on('response', onResponse);
  await page.evaluate(() => {
    performance.setResourceTimingBufferSize(10_000);
    performance.clearResourceTimings();
  });
  const selectMs = await clickUntil(
    selectLabel,
    (n) => document.querySelector('[data-testid=selected-count]')?.textContent.trim() === `${n} selected`,
    expected,
  );
  const approveMs = await clickUntil('^Approve Email$', () => document.querySelector('[data-testid=bulk-run]')?.getAttribute('data-finished') === 'true');
  page.off('response', onResponse);
  // The console's own time during the approval: everything but waiting for $batch
  // answers (building the requests, reading the answers, rendering the results).
  const waiting = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((e) => e.name.endsWith('/$batch'))
      .reduce((a, e) => a + (e.responseEnd - e.startTime), 0),
  );
  record(`Approve Email ×${expected}: browser time outside $batch requests`, approveMs - waiting);
  record(`Select all ${expected} that match: browser (click → "${expected} selected")`, selectMs);
  record(`Approve Email ×${expected}: browser (click → results finished)`, approveMs);
  record(`Select all + Approve ×${expected}: end to end`, selectMs + approveMs);
  record(`Approve Email ×${expected}: server time in $batch (sum of ${batches.length})`, batches.reduce((a, b) => a + b, 0));
  if (process.env.BENCH_VERBOSE) console.log(`run ${run}: $batch server times ${batches.map((b) => b.toFixed(0)).join(' ')} ms`);
  titles.push(await page.locator('[data-testid=bulk-title]').textContent());
  const nowApproved = await count(`emailrouteraccessapproval eq 1 and contains(emailaddress,'${SLICE}')`);
  approved.push(nowApproved);

  // Back to pending (not timed); the same approvals from Node, without a browser, for
  // the server's share; back to pending again for the next run.
  const list = await ids(`contains(emailaddress,'${SLICE}')`);
  await patchAll(list, { emailrouteraccessapproval: 2 });
  const t0 = performance.now();
  const server = await patchAll(list, { emailrouteraccessapproval: 1 });
  record(`Approve ×${list.length} from Node ($batch ×${Math.ceil(list.length / 1000)}, no browser): HTTP`, performance.now() - t0);
  record(`Approve ×${list.length} from Node: server time in $batch (sum)`, server);
  await patchAll(list, { emailrouteraccessapproval: 2 });
}

await browser.close();

// ---- the report ------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => (Number.isNaN(ms) ? '–' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const width = Math.max(...[...figures.keys()].map((k) => k.length));
console.log('');
console.log(`mailsync console benchmark: ${SEED}, ${RUNS} run(s); median / min / max`);
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${'figure'.padEnd(width)}  ${'median'.padStart(10)}  ${'min'.padStart(10)}  ${'max'.padStart(10)}  n`);
for (const [label, xs] of figures) {
  console.log(
    `${label.padEnd(width)}  ${fmt(median(xs)).padStart(10)}  ${fmt(Math.min(...xs)).padStart(10)}  ${fmt(Math.max(...xs)).padStart(10)}  ${xs.length}`,
  );
}
console.log('');
console.log(`results panel: ${[...new Set(titles)].join(' | ')}`);
console.log(`approved afterwards (API count, per run): ${approved.join(', ')} of ${expected}`);
if (pageErrors.length) console.log(`page errors: ${pageErrors.join('; ')}`);
try {
  console.log(`database: ${(statSync(db).size / 1e9).toFixed(2)} GB`);
} catch {}
console.log(`uptime: ${execFileSync('uptime').toString().trim()}`);

cleanup();
