#!/usr/bin/env node
// Engine benchmark (it prints figures and asserts nothing about time). It
// runs the synchronization engine of a real `mailsync serve` over N mailboxes (default
// 10,000) on the local test mail servers (dovecot IMAP, aiosmtpd SMTP:
// scripts/mailservers.sh, with one dovecot user per mailbox), and prints:
//
//   * the Test & Enable wave: every mailbox scheduled at once through the Web API, until
//     every one is tested (IMAP sign-in and EXAMINE, SMTP STARTTLS and AUTH): tests/s;
//   * the first sync cycles, which each passed test starts at once: cycles/s;
//   * the CPU time and the memory (peak and final resident set) of `mailsync serve`;
//   * then every mailbox's Mailbox Details log, downloaded and read by
//     `mailsync analyze --json`, compared with what the database holds for it. The
//     server is restarted with `--engine off` on the same database first, so the
//     engine does not change a mailbox between its log and the database's answer.
//
// Exit status: 0 when every mailbox was tested and synchronized (or failed) in time and
// every log agrees with the database; 1 otherwise (the differences are printed).
//
// Usage, from the repository root, after `bash scripts/build.sh`:
//   node e2e/bench/engine-bench.mjs [--mailboxes 10000] [--connections 100]
//                                   [--act-mailboxes 10000] [--act-items 20]
// The ACT phase: that many more users, each with --act-items contacts and tasks and a
// mailbox on an Exchange profile (the fake EWS): Test & Enable, then the first ACT
// cycle creating every record in Exchange; ACT cycles/s and items/s.
// --connections is the profile's maximum concurrent connections (1..300): the engine
// never runs more of the profile's mailboxes at once. The mail servers are started
// (and the dovecot users made) by the script; they are left running.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.MAILSYNC_E2E_BIN ?? path.join(ROOT, 'target/release/mailsync');
const DIST = process.env.MAILSYNC_E2E_DIST ?? path.join(ROOT, 'dist');
const PASSWORD = 'engine-bench-password';
const API = '/api/data/v9.2';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const N = arg('--mailboxes', 10000);
const CONNECTIONS = arg('--connections', 100);
const ACT_N = arg('--act-mailboxes', 10000);
const ACT_ITEMS = arg('--act-items', 20);

// ---- mail servers
console.error(`starting the test mail servers with ${N} users…`);
execFileSync('bash', [path.join(ROOT, 'scripts/mailservers.sh'), 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
execFileSync('bash', [path.join(ROOT, 'scripts/mailservers.sh'), 'users', String(N)], { stdio: ['ignore', 'ignore', 'inherit'] });
const mail = Object.fromEntries(
  readFileSync(path.join(ROOT, 'target/mailservers/env'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('=') && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const user = (i) => mail.MAIL_BULK_USER_FORMAT.replace('%05d', String(i).padStart(5, '0'));
const pass = (i) => mail.MAIL_BULK_PASSWORD_FORMAT.replace('%05d', String(i).padStart(5, '0'));

// ---- the organization
const work = mkdtempSync(path.join(tmpdir(), 'mailsync-engine-bench-'));
let server = null;
let base = null;
let bearer = null;
/** Starts `mailsync serve` on the benchmark's database and signs in. */
async function start(engine) {
  server = spawn(
    BIN,
    ['serve', '--port', '0', '--dist', DIST, '--db', path.join(work, 'org.sqlite'), '--engine', engine,
      '--trust-ca', mail.MAIL_CA, '--mail-timeout', '30',
      // The benchmark's own polling and 10,000 downloads are not what is measured.
      '--max-requests-per-5min', '10000000'],
    { env: { ...process.env, MAILSYNC_ADMIN_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  base = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/mailsync console: (http:\/\/\S+?)\/\n/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`mailsync serve exited with ${code}`)));
  });
  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  bearer = `Bearer ${(await login.json()).access_token}`;
}
/** Stops `mailsync serve` and waits until it is gone. */
async function stop() {
  const s = server;
  server = null;
  if (!s || s.exitCode !== null || s.signalCode !== null) return;
  await new Promise((resolve) => {
    s.removeAllListeners('exit');
    s.on('exit', resolve);
    s.kill();
  });
}
process.on('exit', () => server?.kill());
await start('on');

async function call(method, p, body, headers = {}) {
  const r = await fetch(`${base}${API}/${p}`, {
    method,
    headers: { Authorization: bearer, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}
// Counted by $apply, not $count: Dataverse's $count stops at 5,000 (and so does the
// local organization's), which 10,000 mailboxes pass.
async function count(filter) {
  const apply = `filter(${filter})/aggregate($count as n)`;
  return (await call('GET', `mailboxes?$apply=${encodeURIComponent(apply)}`)).value[0]?.n ?? 0;
}
/** One $batch of independent operations (each its own transaction). */
async function batch(ops) {
  const b = `batch_${randomUUID()}`;
  const parts = ops.map(([method, url, body]) =>
    `--${b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n` +
    `${method} ${API}/${url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n${body ? JSON.stringify(body) : ''}\r\n`);
  const r = await fetch(`${base}${API}/$batch`, {
    method: 'POST',
    headers: { Authorization: bearer, 'Content-Type': `multipart/mixed; boundary=${b}` },
    body: `${parts.join('')}--${b}--\r\n`,
  });
  const text = await r.text();
  if (!r.ok || /HTTP\/1\.1 [45]\d\d/.test(text)) throw new Error(`$batch: ${r.status} ${text.slice(0, 500)}`);
}
async function inBatches(ops) {
  for (let i = 0; i < ops.length; i += 1000) await batch(ops.slice(i, i + 1000));
}

console.error(`creating ${N} users and mailboxes…`);
const profile = await call('POST', 'emailserverprofiles', {
  name: 'Benchmark IMAP/SMTP', servertype: 4, useautodiscover: false,
  incomingserverlocation: mail.MAIL_HOST, outgoingserverlocation: mail.MAIL_HOST,
  incomingcredentialretrieval: 0, outgoingcredentialretrieval: 0,
  incomingauthenticationprotocol: 3, outgoingauthenticationprotocol: 3,
  incomingusessl: true, outgoingusessl: true,
  incomingportnumber: Number(mail.MAIL_IMAP_PORT), outgoingportnumber: Number(mail.MAIL_SMTP_PORT),
  maxconcurrentconnections: CONNECTIONS,
}, { Prefer: 'return=representation' });
const users = Array.from({ length: N }, (_, k) => ({ id: randomUUID(), i: k + 1 }));
await inBatches(users.map((u) => ['POST', 'systemusers', {
  systemuserid: u.id, fullname: `Bench ${user(u.i)}`, domainname: user(u.i),
  internalemailaddress: `${user(u.i)}@${mail.MAIL_DOMAIN}`,
}]));
const boxes = users.map((u) => ({ ...u, box: randomUUID() }));
await inBatches(boxes.map((u) => ['POST', 'mailboxes', {
  mailboxid: u.box, name: `Bench ${user(u.i)}`, emailaddress: `${user(u.i)}@${mail.MAIL_DOMAIN}`,
  'regardingobjectid_systemuser@odata.bind': `/systemusers(${u.id})`,
  'emailserverprofile@odata.bind': `/emailserverprofiles(${profile.emailserverprofileid})`,
  emailrouteraccessapproval: 1, incomingemaildeliverymethod: 2, outgoingemaildeliverymethod: 2,
  actdeliverymethod: 2, allowemailconnectortousecredentials: true,
  username: user(u.i), password: pass(u.i),
}]));

// ---- the waves
function proc() {
  const stat = readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in seconds (USER_HZ)
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kb = (k) => Number(status.match(new RegExp(`${k}:\\s+(\\d+)`))[1]);
  return { cpu, rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}
const before = proc();
const t0 = performance.now();
console.error('scheduling Test & Enable for every mailbox…');
await inBatches(boxes.map((u) => ['PATCH', `mailboxes(${u.box})`, { testemailconfigurationscheduled: true }]));
const scheduled = performance.now();
let tested = 0;
let synced = 0;
let failing = 0;
let testsDone = null;
let firstSynced = null;
let peak = before.hwm;
let timedOut = false;
for (;;) {
  [tested, synced, failing] = await Promise.all([
    count('testmailboxaccesscompletedon ne null and testemailconfigurationscheduled eq false'),
    count('lastsuccessfulsynccompletedon ne null'),
    count('lastsyncerrorcount gt 0'),
  ]);
  const now = performance.now();
  if (synced > 0 && firstSynced === null) firstSynced = now;
  if (tested === N && testsDone === null) testsDone = now;
  peak = Math.max(peak, proc().hwm);
  if (synced + failing >= N && tested === N) break;
  if (now - t0 > 30 * 60_000) {
    timedOut = true;
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
const done = performance.now();
const after = proc();
const secs = (a, b) => ((b - a) / 1000).toFixed(1);
const wall = (done - t0) / 1000;

console.log(`\nEngine benchmark: ${N} mailboxes on one IMAP/SMTP profile (max ${CONNECTIONS} connections), dovecot + aiosmtpd on 127.0.0.1`);
console.log(`  scheduling Test & Enable (${Math.ceil(N / 1000)} $batch of PATCHes):  ${secs(t0, scheduled)} s`);
console.log(`  Test & Enable of all ${N}:                    ${secs(t0, testsDone ?? done)} s  = ${(N / (((testsDone ?? done) - t0) / 1000)).toFixed(0)} tests/s`);
console.log(`  first sync cycle of all ${N}:                 ${secs(firstSynced ?? done, done)} s after the first  = ${(synced / ((done - (firstSynced ?? t0)) / 1000)).toFixed(0)} cycles/s`);
console.log(`  passes (tests + cycles) overall:               ${((tested + synced) / wall).toFixed(0)} per second over ${wall.toFixed(1)} s`);
console.log(`  failed: ${failing}; tested: ${tested}; synced: ${synced}`);
console.log(`  mailsync serve CPU: ${(after.cpu - before.cpu).toFixed(1)} s over ${wall.toFixed(1)} s = ${((after.cpu - before.cpu) / wall * 100).toFixed(0)}% of one core`);
console.log(`  mailsync serve memory: peak ${peak.toFixed(0)} MB resident, ${after.rss.toFixed(0)} MB at the end (${before.rss.toFixed(0)} MB before)`);

const problems0 = [];

// ---- appointments, contacts and tasks
// ACT_N more users, each with ACT_ITEMS records of their own (half contacts, half
// tasks) and a mailbox on an Exchange profile whose service account impersonates (the
// fake EWS gives every `act-*` address a mailbox). Test & Enable records the
// organization in each Exchange mailbox; the first cycle creates every record there.
const actBoxes = [];
if (ACT_N > 0) {
  console.error(`creating ${ACT_N} users with ${ACT_ITEMS} contacts and tasks each, and their Exchange mailboxes…`);
  const exchange = await call('POST', 'emailserverprofiles', {
    name: 'Benchmark Exchange (fake EWS)', servertype: 0, useautodiscover: false,
    incomingserverlocation: mail.MAIL_EWS_URL, outgoingserverlocation: mail.MAIL_EWS_URL,
    incomingcredentialretrieval: 1, outgoingcredentialretrieval: 1,
    incomingusername: mail.MAIL_USER_SVC, incomingpassword: mail.MAIL_PASSWORD_SVC,
    incominguseimpersonation: true, maxconcurrentconnections: CONNECTIONS,
  }, { Prefer: 'return=representation' });
  const run = randomUUID().slice(0, 8);
  for (let k = 1; k <= ACT_N; k++) actBoxes.push({ id: randomUUID(), box: randomUUID(), address: `act-bench-${run}-${k}@${mail.MAIL_DOMAIN}` });
  await inBatches(actBoxes.map((u, k) => ['POST', 'systemusers', {
    systemuserid: u.id, fullname: `ACT bench ${k + 1}`, domainname: u.address, internalemailaddress: u.address,
  }]));
  const records = [];
  for (const u of actBoxes) {
    for (let j = 0; j < ACT_ITEMS; j++) {
      records.push(j % 2 === 0
        ? ['POST', 'contacts', { lastname: `Contact ${j}`, firstname: 'Bench', emailaddress1: `c${j}.${u.box.slice(0, 8)}@contoso.test`, 'ownerid@odata.bind': `/systemusers(${u.id})` }]
        : ['POST', 'tasks', { subject: `Task ${j}`, scheduledend: '2030-01-15T17:00:00Z', 'ownerid@odata.bind': `/systemusers(${u.id})` }]);
    }
  }
  await inBatches(records);
  await inBatches(actBoxes.map((u, k) => ['POST', 'mailboxes', {
    mailboxid: u.box, name: `ACT bench ${k + 1}`, emailaddress: u.address,
    'regardingobjectid_systemuser@odata.bind': `/systemusers(${u.id})`,
    'emailserverprofile@odata.bind': `/emailserverprofiles(${exchange.emailserverprofileid})`,
    emailrouteraccessapproval: 1, incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0, actdeliverymethod: 1,
  }]));
  const actBefore = proc();
  const a0 = performance.now();
  await inBatches(actBoxes.map((u) => ['PATCH', `mailboxes(${u.box})`, { testemailconfigurationscheduled: true }]));
  const actFilter = `_emailserverprofile_value eq ${exchange.emailserverprofileid}`;
  let actTested = 0;
  let actSynced = 0;
  let actFailing = 0;
  let actTestsDone = null;
  // Items written both ways, from the engine's hourly statistics of the profile: a
  // mailbox's later cycles (nothing new) set its itemsprocessedforlastsync back to 0,
  // so the mailboxes' own counts cannot tell when every first cycle is done.
  const statItems = async () => (await call('GET',
    `mailsync_syncstatistics?$select=mailsync_items&$filter=_mailsync_emailserverprofileid_value eq ${exchange.emailserverprofileid}`))
    .value.reduce((n, r) => n + (r.mailsync_items ?? 0), 0);
  let items = 0;
  let grewAt = performance.now();
  for (;;) {
    let now;
    [actTested, actSynced, actFailing, now] = await Promise.all([
      count(`${actFilter} and testmailboxaccesscompletedon ne null and testemailconfigurationscheduled eq false`),
      count(`${actFilter} and lastsuccessfulsynccompletedon ne null`),
      count(`${actFilter} and lastsyncerrorcount gt 0`),
      statItems(),
    ]);
    if (now > items) {
      items = now;
      grewAt = performance.now();
    }
    if (actTested === ACT_N && actTestsDone === null) actTestsDone = performance.now();
    peak = Math.max(peak, proc().hwm);
    const cycled = actSynced + actFailing >= ACT_N && actTested === ACT_N;
    // Done: every item synchronized, or every mailbox cycled and nothing more for 15 s.
    if (cycled && (items >= ACT_N * ACT_ITEMS || performance.now() - grewAt > 15_000)) break;
    if (performance.now() - a0 > 30 * 60_000) {
      timedOut = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const a1 = items >= ACT_N * ACT_ITEMS ? performance.now() : grewAt;
  const actAfter = proc();
  const actWall = (a1 - a0) / 1000;
  console.log(`\nACT: ${ACT_N} mailboxes on one Exchange profile (fake EWS, impersonation), ${ACT_ITEMS} records each (${ACT_ITEMS / 2} contacts, ${ACT_ITEMS / 2} tasks)`);
  console.log(`  Test & Enable of all ${ACT_N} (the organization recorded in each Exchange mailbox): ${secs(a0, actTestsDone ?? a1)} s`);
  console.log(`  first ACT cycles (every record created in Exchange): ${actSynced} of ${ACT_N} done, ${items} items, ${actFailing} failed, ${actWall.toFixed(1)} s in all = ${(actSynced / actWall).toFixed(0)} ACT cycles/s (tests included), ${(items / actWall).toFixed(0)} items/s`);
  console.log(`  mailsync serve CPU: ${(actAfter.cpu - actBefore.cpu).toFixed(1)} s over ${actWall.toFixed(1)} s = ${((actAfter.cpu - actBefore.cpu) / actWall * 100).toFixed(0)}% of one core (the rest is the Python fake EWS)`);
  if (items !== ACT_N * ACT_ITEMS) problems0.push(`ACT: ${items} of ${ACT_N * ACT_ITEMS} items synchronized`);
  boxes.push(...actBoxes);
}

// ---- every Mailbox Details log against the database
// The engine goes on synchronizing: a log and the database read a moment apart would
// disagree for nothing. The same database, served without the engine, holds still.
console.error('restarting mailsync serve with --engine off…');
await stop();
await start('off');
console.error('downloading every Mailbox Details log…');
const logs = path.join(work, 'logs');
mkdirSync(logs);
const t3 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
  for (;;) {
    const k = next++;
    if (k >= boxes.length) return;
    const r = await fetch(`${base}${API}/mailboxes(${boxes[k].box})/Microsoft.Dynamics.CRM.DownloadMailboxDetails()`, { headers: { Authorization: bearer } });
    if (!r.ok) throw new Error(`Download Mailbox Details of ${boxes[k].box}: ${r.status}`);
    writeFileSync(path.join(logs, `${boxes[k].box}.log`), await r.text());
  }
}));
const downloaded = performance.now();
const reports = JSON.parse(execFileSync(BIN, ['analyze', '--json', logs], { maxBuffer: 1 << 30 }).toString());
const analyzed = performance.now();
const records = new Map();
let page = `mailboxes?$select=mailboxid,postponemailboxprocessinguntil,enabledforincomingemail,enabledforoutgoingemail,testemailconfigurationscheduled,testmailboxaccesscompletedon,lastsuccessfulsynccompletedon,lastsyncerrorcount,itemsprocessedforlastsync,processingstatecode`;
while (page) {
  const r = await call('GET', page, undefined, { Prefer: 'odata.maxpagesize=5000' });
  for (const m of r.value) records.set(m.mailboxid, m);
  page = r['@odata.nextLink'] ? r['@odata.nextLink'].slice(r['@odata.nextLink'].indexOf(`${API}/`) + API.length + 1) : null;
}
const second = (t) => (t ? Math.floor(Date.parse(t) / 1000) : null);
let agree = 0;
const differences = [];
for (const rep of reports) {
  const m = records.get(rep.mailbox_id);
  const checks = m && [
    ['next sync', second(rep.next_sync_at), second(m.postponemailboxprocessinguntil)],
    ['incoming enabled', rep.directions.incoming.enabled, m.enabledforincomingemail],
    ['outgoing enabled', rep.directions.outgoing.enabled, m.enabledforoutgoingemail],
    ['test scheduled', rep.test_and_enable.scheduled, m.testemailconfigurationscheduled],
    ['test completed', second(rep.test_and_enable.completed_on), second(m.testmailboxaccesscompletedon)],
    ['last success', second(rep.last_sync.succeeded_on), second(m.lastsuccessfulsynccompletedon)],
    ['error count', rep.last_sync.error_count, m.lastsyncerrorcount],
    ['items processed', rep.last_sync.items_processed, m.itemsprocessedforlastsync],
    ['processing now', rep.processing_now, m.processingstatecode === 1],
  ];
  const wrong = checks ? checks.filter(([, a, b]) => a !== b) : [['mailbox id', rep.mailbox_id, null]];
  if (wrong.length === 0) agree++;
  else if (differences.length < 5) differences.push(`${rep.file}: ${wrong.map(([k, a, b]) => `${k} log=${a} db=${b}`).join('; ')}`);
}
console.log(`  Mailbox Details logs: ${reports.length} downloaded in ${secs(t3, downloaded)} s, analyzed in ${secs(downloaded, analyzed)} s; ${agree} of ${boxes.length} agree with the database on 9 facts each`);
for (const d of differences) console.log(`    differs: ${d}`);
await stop();
const problems = [...problems0];
if (timedOut) problems.push(`not every mailbox was tested and synchronized within 30 minutes (tested ${tested}, synced ${synced}, failing ${failing})`);
if (reports.length !== boxes.length) problems.push(`${reports.length} of ${boxes.length} logs were analyzed`);
if (agree !== boxes.length) problems.push(`${boxes.length - agree} of ${boxes.length} logs disagree with the database`);
for (const p of problems) console.log(`FAILED: ${p}`);
if (problems.length === 0) rmSync(work, { recursive: true, force: true });
else console.log(`  (the database and the logs are kept in ${work})`);
process.exit(problems.length === 0 ? 0 : 1);
