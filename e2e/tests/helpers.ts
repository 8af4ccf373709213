import { expect, type Page } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The demo organization's administrator (playwright.config.ts seeds it). */
export const ADMIN = {
  user: 'admin',
  password: process.env.MAILSYNC_ADMIN_PASSWORD ?? 'e2e-admin-password',
  fullName: 'Admin (System Administrator)',
};

/**
 * A 401 from the sign-in API is an answer, not a fault: `GET /api/auth/me` says
 * "signed out" that way, and a wrong password is a 401 from `POST /api/auth/login`.
 * Chromium still logs each as "Failed to load resource: ... 401".
 */
function expectedAuthAnswer(text: string, url: string): boolean {
  return /status of 401\b/.test(text) && /\/api\/auth\/(me|login)$/.test(new URL(url, 'http://x').pathname);
}

/** Collects uncaught page errors and console errors (e.g. a wasm panic); tests assert it stays empty. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expectedAuthAnswer(m.text(), m.location().url ?? '')) return;
    errors.push(`console.error: ${m.text()}`);
  });
  return errors;
}

/**
 * Signs in through the console's /signin page and waits until the header shows the
 * user. Leaves the page wherever sign-in sends it (default /mailboxes).
 */
export async function signIn(page: Page, user = ADMIN.user, password = ADMIN.password): Promise<void> {
  if (!/\/signin(\?|$)/.test(page.url())) await page.goto('/signin');
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.locator('header .session-name')).toBeVisible();
  await expect(page).not.toHaveURL(/\/signin(\?|$)/);
}

/**
 * An organization of the test's own: `mailsync serve --port 0` (unless `args` name a
 * port) on a new database with `args` (e.g. `--seed demo --engine on`). Resolves to its
 * address once it listens; `stop()` ends it.
 */
export async function startOrganization(args: string[]): Promise<{ base: string; stop: () => void }> {
  const bin = process.env.MAILSYNC_E2E_BIN ?? '../target/release/mailsync';
  const dist = process.env.MAILSYNC_E2E_DIST ?? '../dist';
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'mailsync-e2e-own-')), 'org.sqlite');
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const server = spawn(bin, ['serve', ...port, '--dist', dist, '--db', db, ...args], {
    env: { ...process.env, MAILSYNC_ADMIN_PASSWORD: ADMIN.password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/mailsync console: (http:\/\/\S+?)\/\n/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`mailsync serve exited with ${code}`)));
  });
  return { base, stop: () => server.kill() };
}

/** A TCP port free on 127.0.0.1 now (for a server that must know its address first). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The test mail servers' settings (target/mailservers/env, written by
 * `bash scripts/mailservers.sh start`; the test command starts them). */
export function mailEnv(): Record<string, string> {
  const text = readFileSync(path.resolve(__dirname, '../../target/mailservers/env'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('=') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
  );
}

/** An API client signed in as the administrator of the organization at `base`, with
 * `created(set, data)`: a new record's id. */
export async function adminApi(request: import('@playwright/test').APIRequestContext, base: string) {
  const login = await request.post(`${base}/api/auth/login`, { data: { username: ADMIN.user, password: ADMIN.password } });
  const headers = { Authorization: `Bearer ${(await login.json()).access_token}`, 'Content-Type': 'application/json' };
  const me: string = (await (await request.get(`${base}/api/data/v9.2/WhoAmI`, { headers })).json()).UserId;
  const created = async (set: string, data: object): Promise<string> => {
    const r = await request.post(`${base}/api/data/v9.2/${set}`, { headers, data });
    expect(r.status(), await r.text()).toBe(204);
    const id = r.headers()['odata-entityid'];
    return id.slice(id.lastIndexOf('(') + 1, -1);
  };
  return { headers, me, created };
}

const AXE = require.resolve('axe-core/axe.min.js');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: string; summary: string }[];
}

/** Runs axe on the page as it is and fails on any violation, listing them. The page's
 * context needs `bypassCSP` (axe is injected as an inline script). */
export async function audit(page: Page, state: string): Promise<void> {
  // Let the page's reads finish and the view settle (no spinner mid-animation).
  await page.waitForLoadState('networkidle');
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  const { violations, passes } = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<any> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    const violations: Violation[] = result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n: any) => ({ target: n.target.join(' '), summary: n.failureSummary ?? '' })),
    }));
    return { violations, passes: result.passes.length as number };
  });
  // axe did run: some rules were checked and passed.
  expect(passes, `axe ran on ${state}`).toBeGreaterThan(10);
  const report = violations
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>\n` +
        v.nodes.map((n) => `    ${n.target}\n      ${n.summary.replace(/\n/g, '\n      ')}`).join('\n'),
    )
    .join('\n');
  expect(report, `axe violations on ${state}`).toBe('');
}

/** The element that has focus: its tag, text, role and whether it is inside `selector`. */
