import { expect, test, type Page } from '@playwright/test';
import { signIn, watchErrors } from './helpers';

// The five areas that need the organization, in nav order, so these tests sign in
// first (signin.spec.ts covers the signed-out redirect). `heading`: the page's h1 when
// it is not the nav label.
const AREAS: { label: string; path: string; heading?: string }[] = [
  { label: 'Mailboxes', path: '/mailboxes' },
  { label: 'Email Server Profiles', path: '/profiles' },
  { label: 'Alerts', path: '/alerts' },
  { label: 'Dashboard', path: '/dashboard' },
  { label: 'Settings', path: '/settings', heading: 'System Settings' },
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
    ...AREAS.map((a) => a.label),
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

  for (const area of AREAS) {
    await nav(page).getByRole('link', { name: area.label, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${area.path}$`));
    await expect(heading(page)).toHaveText(area.heading ?? area.label);
    await expect(nav(page).getByRole('link', { name: area.label, exact: true })).toHaveAttribute(
      'aria-current',
      'page',
    );
  }
  await page.screenshot({ path: `${ARTIFACTS}/shell-areas.png` });

  await nav(page).getByRole('link', { name: 'Log Analyzer' }).click();
  await expect(page).toHaveURL(/\/analyzer$/);
  await expect(heading(page)).toHaveText('Log Analyzer');
  expect(errors).toEqual([]);
});

test('deep links load directly (server SPA fallback + client router)', async ({ page }) => {
  const errors = watchErrors(page);
  await signIn(page);
  for (const area of AREAS) {
    const response = await page.goto(area.path);
    expect(response?.status()).toBe(200);
    await expect(heading(page)).toHaveText(area.heading ?? area.label);
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
