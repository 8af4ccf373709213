#!/usr/bin/env node
// Requests the console sends to a Dataverse-like organization (not a test: it prints
// figures and asserts nothing). The organization is `mailsync serve` in OpenID Connect
// mode on its own origin (`--oidc-issuer`, `--oidc-audience`, seeded `scale:N`), the
// identity provider the npm oauth2-mock-server on loopback (Entra ID's stand-in), the
// console served by a second `mailsync serve`. In Debian's Chromium it counts, per
// step, the requests that reached the organization (the browser's own CORS preflights
// are not counted by Playwright; they are cached for the session, see the note):
//
//   * sign-in: from the code's return to the first Mailboxes page shown (who is signed
//     in, their privileges, the page);
//   * the Mailboxes page alone: a client-side visit from the profiles (goal: 2);
//   * "Unapproved Mailboxes" searched `7@` (the scale seed's pending 10%), "Select all
//     N that match", then "Approve Email" until the run finished: requests and time
//     (goal: 10,000 approvals and their read-back in at most 20 requests);
//   * the dashboard, until every number is shown.
//
// Usage, from the repository root, after `bash scripts/build.sh`:
//   node e2e/bench/requests-bench.mjs [--seed scale:100000]
// scale:100000 holds 10,000 pending mailboxes (about 20 s to seed, 0.75 GB of disk).

import { chromium } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { arg, freePort, launchChromium, requireBuild, serve } from './lib.mjs';

const SEED = arg('seed', 'scale:100000');
const CLIENT_ID = 'mailsync-bench-console';
const PASSWORD = 'bench-admin-password';

requireBuild('requests-bench');

const tmp = mkdtempSync(path.join(tmpdir(), 'mailsync-requests-bench-'));
const children = [];
function cleanup() {
  for (const c of children) c.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** `mailsync serve` (engine off) on a database of its own in `tmp`: its base URL. */
async function serveOrg(name, args) {
  const { base, child } = await serve(path.join(tmp, `${name}.sqlite`), ['--engine', 'off', ...args], PASSWORD);
  children.push(child);
  return base;
}

// ---- the provider and the two servers --------------------------------------------

const idp = new OAuth2Server();
await idp.issuer.keys.generate('RS256');
await idp.start(0, '127.0.0.1');
const issuer = idp.issuer.url;
const orgPort = await freePort();
const orgBase = `http://127.0.0.1:${orgPort}`;
idp.service.on('beforeTokenSigning', (token) => {
  if (token.payload.aud !== CLIENT_ID) {
    token.payload.aud = orgBase;
    token.payload.upn = 'admin@contoso.com'; // the demo's UPN-style sign-in name
  }
});

let t0 = Date.now();
console.log(`seeding ${SEED} into the organization...`);
await serveOrg('org', ['--seed', SEED, '--port', String(orgPort), '--oidc-issuer', issuer, '--oidc-audience', orgBase]);
console.log(`organization ${orgBase} ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const consoleBase = await serveOrg('console', ['--seed', 'empty', '--connect-src', issuer, '--connect-src', orgBase]);

// ---- the browser -----------------------------------------------------------------

const browser = await launchChromium(chromium);
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));

/** Requests that reached the organization, by step. */
let step = null;
const sent = {};
page.on('requestfinished', (r) => {
  for (const lines of Object.values(sent)) {
    const line = lines.find((l) => l.request === r);
    if (line) {
      const t = r.timing();
      line.ms = Math.round(t.responseEnd - t.requestStart);
    }
  }
});
page.on('request', (r) => {
  if (step && r.url().startsWith(orgBase)) {
    const u = new URL(r.url());
    const line = { text: `${r.method()} ${u.pathname.replace('/api/data/v9.2', '')}${u.search ? '?…' : ''}`, ms: null };
    (sent[step] ??= []).push(line);
    line.request = r;
  }
});
const measure = async (name, action) => {
  step = name;
  const t = performance.now();
  await action();
  const ms = performance.now() - t;
  step = null;
  return { name, requests: (sent[name] ?? []).length, ms };
};
const rows = page.locator('[data-testid="mailbox-grid"] tbody tr[data-id]');
const results = [];

await page.goto(`${consoleBase}/signin?next=/mailboxes`);
await page.getByRole('button', { name: 'Add an environment' }).click();
await page.getByLabel('Environment URL').fill(orgBase);
await page.getByLabel('Application (client) ID').fill(CLIENT_ID);
await page.locator('summary', { hasText: 'Another OpenID Connect authority' }).click();
await page.getByLabel('Authority').fill(issuer);
results.push(
  await measure('sign-in, then the first Mailboxes page', async () => {
    await page.getByRole('button', { name: 'Save and sign in' }).click();
    await page.waitForURL(`${consoleBase}/mailboxes`);
    await rows.first().waitFor();
  }),
);

// Away from the grid, and every request of that page answered, so the next step
// counts the Mailboxes page alone.
await page.getByRole('link', { name: 'Email Server Profiles' }).first().click();
await page.getByTestId('profile-grid').waitFor();
await page.waitForLoadState('networkidle');
results.push(
  await measure('Mailboxes page (client-side visit)', async () => {
    await page.getByRole('link', { name: 'Mailboxes' }).first().click();
    await rows.first().waitFor();
    await page.waitForLoadState('networkidle');
  }),
);

results.push(
  await measure('Dashboard (client-side visit, every number loaded)', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).first().click();
    await page.getByTestId('dash-hours').waitFor({ timeout: 300_000 });
    await page.waitForLoadState('networkidle');
  }),
);

await page.goto(`${consoleBase}/mailboxes?view=unapproved&q=7%40`);
await rows.first().waitFor({ timeout: 120_000 });
const selectAll = page.getByRole('button', { name: /^Select all .* that match$/ });
const label = await selectAll.innerText();
results.push(
  await measure(`${label}`, async () => {
    await selectAll.click();
    await page.getByTestId('selected-count').filter({ hasNotText: /^0 selected$/ }).waitFor({ timeout: 300_000 });
  }),
);
const selected = await page.getByTestId('selected-count').innerText();
results.push(
  await measure(`Approve Email over ${selected} (with the read-back)`, async () => {
    await page.getByRole('button', { name: 'Approve Email' }).click();
    await page.locator('[data-testid="bulk-run"][data-finished="true"]').waitFor({ timeout: 1_200_000 });
  }),
);
const title = await page.getByTestId('bulk-title').innerText();

console.log(`\nrequests the console sent to ${orgBase} (${SEED}):`);
for (const r of results) {
  console.log(`  ${r.name.padEnd(56)} ${String(r.requests).padStart(4)} requests  ${(r.ms / 1000).toFixed(1).padStart(7)} s`);
  if (process.env.BENCH_VERBOSE) {
    for (const s of sent[r.name] ?? []) console.log(`      ${s.text.padEnd(60)} ${s.ms ?? '?'} ms`);
  }
}
console.log(`  run: ${title}`);
if (pageErrors.length) console.log(`page errors: ${pageErrors.join('; ')}`);
console.log('note: CORS preflights are not counted (Playwright does not report them); the');
console.log('organization answers them with Access-Control-Max-Age, so a session sends each once.');

await browser.close();
await idp.stop();
cleanup();
