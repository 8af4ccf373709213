import { expect, test } from '@playwright/test';
import { signIn, watchErrors } from './helpers';

// The console runs under the server's Content-Security-Policy (no 'unsafe-inline',
// WebAssembly by 'wasm-unsafe-eval', Trunk's loader by its hash): every page loads and
// works without a single violation. Violations are collected in the page itself
// (`securitypolicyviolation`), besides the console errors every test watches.

const PAGES = ['/analyzer', '/mailboxes', '/alerts', '/dashboard', '/settings', '/profiles'];

test('every page works under the Content-Security-Policy without a violation', async ({ page }) => {
  const errors = watchErrors(page);
  await page.addInitScript(() => {
    (window as unknown as { __violations: string[] }).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __violations: string[] }).__violations.push(
        `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`,
      );
    });
  });
  const first = await page.goto('/signin?next=/mailboxes');
  const csp = first!.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval' 'sha256-");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).toContain("frame-ancestors 'none'");
  expect(first!.headers()['x-content-type-options']).toBe('nosniff');
  await signIn(page);
  for (const path of PAGES) {
    await page.goto(path);
    await expect(page.locator('main h1')).toBeVisible();
    // Let the page's requests finish.
    await page.waitForLoadState('networkidle');
    const violations = await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
    expect(violations, path).toEqual([]);
  }
  expect(errors).toEqual([]);
});

test('the API answers are not cached and not framed', async ({ page }) => {
  await page.goto('/signin');
  await signIn(page);
  const r = await page.request.get('/api/data/v9.2/mailboxes?$top=1');
  expect(r.status()).toBe(200);
  expect(r.headers()['cache-control']).toBe('no-store');
  expect(r.headers()['x-frame-options']).toBe('DENY');
});
