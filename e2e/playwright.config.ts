import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Browser tests run against the release build served by the real server:
//   bash scripts/build.sh && (cd e2e && npx playwright test)
// scripts/test.sh does both. The browser is Debian's chromium package; Playwright
// never downloads one (do not run `npx playwright install`).

const port = Number(process.env.MAILSYNC_E2E_PORT ?? 18080);
const baseURL = `http://127.0.0.1:${port}`;
// The server binary under test (default: the release build).
const server = process.env.MAILSYNC_E2E_BIN ?? '../target/release/mailsync';
const dist = process.env.MAILSYNC_E2E_DIST ?? '../dist';
// A fresh organization per run, never the user's own database.
const db = path.join(mkdtempSync(path.join(tmpdir(), 'mailsync-e2e-')), 'org.sqlite');

// Debian's chromium, headless, with nothing reaching for the network.
const browser = {
  browserName: 'chromium' as const,
  viewport: { width: 1280, height: 800 },
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  },
};

export default defineConfig({
  testDir: './tests',
  outputDir: './artifacts/test-results',
  snapshotPathTemplate: './artifacts/snapshots/{testFilePath}/{arg}{ext}',
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: 'list',
  use: {
    baseURL,
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'chromium', use: browser, testIgnore: /records\.spec\.ts$/ },
    // Tests that change many shared records run after the others, not beside them.
    { name: 'records', use: browser, testMatch: /records\.spec\.ts$/, dependencies: ['chromium'] },
  ],
  webServer: {
    // The engine stays off: the tests read and change the demo records themselves
    // (engine.spec.ts runs an organization of its own with the engine on).
    command: `${server} serve --port ${port} --dist ${dist} --db ${db} --seed demo --engine off`,
    env: { MAILSYNC_ADMIN_PASSWORD: process.env.MAILSYNC_ADMIN_PASSWORD ?? 'e2e-admin-password' },
    url: `${baseURL}/`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
