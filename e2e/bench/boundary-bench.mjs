#!/usr/bin/env node
// Resource benchmark of the local organization's boundary (it prints figures and
// asserts nothing about time). Against a real `mailsync serve --seed scale:N` (default
// 10,000 mailboxes, about 100,000 alerts) it measures:
//
//   * a `$batch` of 999 GETs of 5,000 mailboxes each plus one write (a 140 KB request
//     that once made the server answer 1 GB): how long it takes, how big its answer is,
//     and meanwhile another user's writes (a PATCH every 50 ms): their latency (median,
//     95th percentile, max);
//   * 500 connections that never finish their headers: how long another request takes
//     meanwhile, and when the slow ones are closed (`--header-read-timeout`);
//   * the server's resident memory (now and peak, from /proc) after each.
//
// Usage, from the repository root, after `bash scripts/build.sh`:
//   node e2e/bench/boundary-bench.mjs [--mailboxes 10000]

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.MAILSYNC_E2E_BIN ?? path.join(ROOT, 'target/release/mailsync');
const DIST = process.env.MAILSYNC_E2E_DIST ?? path.join(ROOT, 'dist');
const PASSWORD = 'boundary-bench-password';
const API = '/api/data/v9.2';
const i = process.argv.indexOf('--mailboxes');
const N = i > 0 ? Number(process.argv[i + 1]) : 10000;

const work = mkdtempSync(path.join(tmpdir(), 'mailsync-boundary-bench-'));
const server = spawn(
  BIN,
  ['serve', '--port', '0', '--dist', DIST, '--db', path.join(work, 'org.sqlite'), '--seed', `scale:${N}`,
    '--engine', 'off', '--header-read-timeout', '5'],
  { env: { ...process.env, MAILSYNC_ADMIN_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'inherit'] },
);
const stop = () => {
  server.kill();
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', stop);
const base = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (c) => {
    out += c;
    const m = out.match(/mailsync console: (http:\/\/\S+?)\/\n/);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`mailsync serve exited with ${code}`)));
});

function memory() {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kb = (k) => Number((status.match(new RegExp(`${k}:\\s+(\\d+)`)) ?? [0, 0])[1]);
  return `${Math.round(kb('VmRSS') / 1024)} MB now, ${Math.round(kb('VmHWM') / 1024)} MB peak`;
}

async function login(user) {
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password: PASSWORD }),
  });
  return `Bearer ${(await r.json()).access_token}`;
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

const admin = await login('admin');
const other = await login('admin');
const first = await (await fetch(`${base}${API}/mailboxes?$select=mailboxid&$top=1`, { headers: { Authorization: admin } })).json();
const target = first.value[0].mailboxid;
console.log(`organization: scale:${N}; memory at start: ${memory()}`);

// ---- the big batch, and another user's writes meanwhile
let body = '';
for (let k = 0; k < 999; k++) {
  body += '--b\r\nContent-Type: application/http\r\n\r\nGET mailboxes HTTP/1.1\r\nPrefer: odata.maxpagesize=5000\r\n\r\n\r\n';
}
body += `--b\r\nContent-Type: application/http\r\n\r\nPATCH mailboxes(${target}) HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"username":"bench"}\r\n--b--\r\n`;
const latencies = [];
let done = false;
const writer = (async () => {
  for (let k = 0; !done; k++) {
    const t = performance.now();
    const r = await fetch(`${base}${API}/mailboxes(${target})`, {
      method: 'PATCH',
      headers: { Authorization: other, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `Bench write ${k}` }),
    });
    latencies.push(performance.now() - t);
    if (r.status !== 204) console.log(`a write answered ${r.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
})();
const t0 = performance.now();
const r = await fetch(`${base}${API}/$batch`, {
  method: 'POST',
  headers: { Authorization: admin, 'Content-Type': 'multipart/mixed; boundary=b', Prefer: 'odata.continue-on-error' },
  body,
});
const answer = await r.text();
const took = performance.now() - t0;
done = true;
await writer;
console.log(
  `1,000-operation batch (${Math.round(body.length / 1024)} KB asked): ${took.toFixed(0)} ms, ` +
    `${(answer.length / 1048576).toFixed(1)} MB answered (status ${r.status})`,
);
console.log(
  `another user's writes during it: ${latencies.length}, median ${pct(latencies, 0.5).toFixed(1)} ms, ` +
    `p95 ${pct(latencies, 0.95).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
);
console.log(`memory after the batch: ${memory()}`);

// ---- 500 slow connections
const port = Number(new URL(base).port);
const slow = [];
const closedAt = [];
const opened = performance.now();
for (let k = 0; k < 500; k++) {
  const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
  s.on('close', () => closedAt.push(performance.now() - opened));
  s.on('error', () => {});
  slow.push(s);
}
await new Promise((res) => setTimeout(res, 500));
const t1 = performance.now();
const meanwhile = await fetch(`${base}/api/auth/me`);
console.log(`a request among 500 slow connections: ${(performance.now() - t1).toFixed(1)} ms (status ${meanwhile.status})`);
await new Promise((res) => setTimeout(res, 7000));
console.log(
  `slow connections closed: ${closedAt.length} of 500, the last after ${(Math.max(...closedAt) / 1000).toFixed(1)} s ` +
    `(header read timeout 5 s)`,
);
console.log(`memory after the slow connections: ${memory()}`);
for (const s of slow) s.destroy();
process.exit(0);
