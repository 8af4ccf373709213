import { expect, test, type Page } from '@playwright/test';
import { signIn, watchErrors } from './helpers';

// The five areas that need the organization, in nav order, so these tests sign in
// first (signin.spec.ts covers the signed-out redirect). `heading`: the page's h1 when
// it is not the nav label; `built: false`: still the "not available yet" placeholder.
const NOT_YET: { label: string; path: string; heading?: string; built?: boolean }[] = [
  { label: 'Mailboxes', path: '/mailboxes', built: true },
  { label: 'Email Server Profiles', path: '/profiles', built: true },
  { label: 'Alerts', path: '/alerts', built: true },
  { label: 'Dashboard', path: '/dashboard', built: false },
  { label: 'Settings', path: '/settings', heading: 'System Settings', built: true },
];

const ARTIFACTS = 'artifacts';


const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });
const heading = (page: Page) => page.locator('main h1');

test('root shows the shell and lands on the Log Analyzer', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await expect(page).toHaveTitle('mailsync console');
  await expect(page.locator('header .brand-name')).toHaveText('mailsync');
  await expect(page).toHaveURL(/\/analyzer$/);
  await expect(heading(page)).toHaveText('Log Analyzer');
  await expect(nav(page).getByRole('link', { name: 'Log Analyzer' })).toHaveAttribute(
    'aria-current',
    'page',
  );
  // All six areas are in the nav, in order.
  await expect(nav(page).getByRole('link')).toHaveText([
    ...NOT_YET.map((a) => a.label),
    'Log Analyzer',
  ]);
  // The stylesheet is applied (the shell is a grid, the nav is a sidebar).
  await expect(page.locator('.shell')).toHaveCSS('display', 'grid');
  await page.screenshot({ path: `${ARTIFACTS}/shell-analyzer.png`, fullPage: true });
  expect(errors).toEqual([]);
});

test('each nav link opens its area', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/analyzer');
  await signIn(page);
  await expect(heading(page)).toHaveText('Log Analyzer');

  for (const area of NOT_YET) {
    await nav(page).getByRole('link', { name: area.label, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${area.path}$`));
    await expect(heading(page)).toHaveText(area.heading ?? area.label);
    if (!area.built) {
      await expect(page.locator('main')).toContainText(`The ${area.label} area is not available yet.`);
    }
    await expect(nav(page).getByRole('link', { name: area.label, exact: true })).toHaveAttribute(
      'aria-current',
      'page',
    );
  }
  await page.screenshot({ path: `${ARTIFACTS}/shell-not-yet.png` });

  await nav(page).getByRole('link', { name: 'Log Analyzer' }).click();
  await expect(page).toHaveURL(/\/analyzer$/);
  await expect(heading(page)).toHaveText('Log Analyzer');
  await expect(page.locator('main')).not.toContainText('not available yet');
  expect(errors).toEqual([]);
});

test('deep links load directly (server SPA fallback + client router)', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  for (const area of NOT_YET) {
    const response = await page.goto(area.path);
    expect(response?.status()).toBe(200);
    await expect(heading(page)).toHaveText(area.heading ?? area.label);
    if (!area.built) await expect(page.locator('main')).toContainText('not available yet');
  }
  expect(errors).toEqual([]);
});

test('unknown paths show a not-found page inside the shell', async ({ page }) => {
  await page.goto('/no-such-area');
  await expect(heading(page)).toHaveText('Page not found');
  await expect(page.locator('header .brand-name')).toHaveText('mailsync');
  await page.getByRole('link', { name: 'Go to the Log Analyzer' }).click();
  await expect(heading(page)).toHaveText('Log Analyzer');
});

test('missing assets are 404, not the SPA page', async ({ request }) => {
  const response = await request.get('/definitely-missing-1234.wasm');
  expect(response.status()).toBe(404);
});
