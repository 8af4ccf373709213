import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN, signIn, watchErrors } from './helpers';

// Sign-in against the real server and its demo organization (playwright.config.ts).

const ARTIFACTS = 'artifacts';
const FIXTURES = path.resolve(__dirname, '../../crates/core/tests/fixtures');
const heading = (page: Page) => page.locator('main h1');
const header = (page: Page) => page.locator('header.topbar');
const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });

test('signed out, the organization areas send you to /signin', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/mailboxes');
  await expect(page).toHaveURL(/\/signin\?next=\/mailboxes$/);
  await expect(heading(page)).toHaveText('Sign in');
  await expect(page.getByLabel('User name')).toBeFocused();
  // The header has no user while signed out (and no "Sign in" link on the sign-in page itself).
  await expect(header(page).locator('.session-name')).toHaveCount(0);
  await expect(header(page).getByRole('link', { name: 'Sign in' })).toHaveCount(0);

  // Another protected area, reached from the nav, also asks to sign in and remembers where.
  await nav(page).getByRole('link', { name: 'Alerts' }).click();
  await expect(page).toHaveURL(/\/signin\?next=\/alerts$/);
  await expect(heading(page)).toHaveText('Sign in');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: `${ARTIFACTS}/signin.png` });
  expect(errors).toEqual([]);
});

test('a wrong password shows the server\'s message and signs no one in', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin');
  await page.getByLabel('User name').fill(ADMIN.user);
  await page.getByLabel('Password').fill('not-the-password');
  const answer = page.waitForResponse('**/api/auth/login');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  expect((await answer).status()).toBe(401);
  const alert = page.getByRole('alert');
  await expect(alert).toHaveText('The user name or password is incorrect.');
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByLabel('Password')).toHaveValue('');
  await expect(page.getByLabel('User name')).toHaveValue(ADMIN.user);
  await expect(header(page).locator('.session-name')).toHaveCount(0);
  await page.screenshot({ path: `${ARTIFACTS}/signin-error.png` });

  // Still signed out: the areas still redirect.
  await page.goto('/settings');
  await expect(page).toHaveURL(/\/signin\?next=\/settings$/);
  expect(errors).toEqual([]);
});

test('admin signs in, keeps the session across a reload, and signs out', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/mailboxes');
  await expect(page).toHaveURL(/\/signin\?next=\/mailboxes$/);
  await signIn(page);

  // Back where the user came from, with the area in place of the sign-in form.
  await expect(page).toHaveURL(/\/mailboxes$/);
  await expect(heading(page)).toHaveText('Mailboxes');
  await expect(page.getByTestId('mailbox-grid')).toBeVisible();
  await expect(header(page).locator('.session-name')).toHaveText(ADMIN.fullName);
  await expect(header(page).locator('.session-roles')).toHaveText(
    'System Administrator, Global Administrator',
  );
  await expect(header(page).getByRole('button', { name: 'Sign out' })).toBeVisible();
  await page.screenshot({ path: `${ARTIFACTS}/signed-in.png` });

  // The session is the HttpOnly cookie: the page's script cannot read it.
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'mailsync_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');
  expect(await page.evaluate(() => document.cookie)).not.toContain('mailsync_session');

  // A reload asks the server again and stays signed in.
  await page.reload();
  await expect(heading(page)).toHaveText('Mailboxes');
  await expect(header(page).locator('.session-name')).toHaveText(ADMIN.fullName);
  await expect(page).toHaveURL(/\/mailboxes$/);

  // Other areas open directly now.
  await nav(page).getByRole('link', { name: 'Email Server Profiles' }).click();
  await expect(page).toHaveURL(/\/profiles$/);
  await expect(heading(page)).toHaveText('Email Server Profiles');

  // Visiting /signin while signed in goes on to the default area.
  await page.goto('/signin');
  await expect(page).toHaveURL(/\/mailboxes$/);
  await expect(header(page).locator('.session-name')).toHaveText(ADMIN.fullName);

  // Sign out: the server ends the session, the header and the guard follow.
  const loggedOut = page.waitForResponse('**/api/auth/logout');
  await header(page).getByRole('button', { name: 'Sign out' }).click();
  expect((await loggedOut).status()).toBe(204);
  await expect(page).toHaveURL(/\/signin\?next=\/mailboxes$/);
  await expect(header(page).locator('.session-name')).toHaveCount(0);
  expect((await page.context().cookies()).find((c) => c.name === 'mailsync_session')).toBeUndefined();

  // Signed out for the server too: a reload stays signed out.
  await page.goto('/dashboard');
  await expect(page).toHaveURL(/\/signin\?next=\/dashboard$/);
  const me = await page.request.get('/api/auth/me');
  expect(me.status()).toBe(401);
  expect(errors).toEqual([]);
});

test('a session that ends elsewhere sends the page to sign-in at its next request', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/mailboxes?view=all');
  await signIn(page);
  await expect(page.getByTestId('mailbox-grid')).toHaveAttribute('aria-busy', 'false');
  // The session ends on the server (another tab signed out, or it expired).
  expect((await page.request.post('/api/auth/logout')).ok()).toBeTruthy();
  await page.getByRole('button', { name: 'Next', exact: true }).click();
  await expect(page).toHaveURL(/\/signin\?next=/);
  await expect(header(page).locator('.session-name')).toHaveCount(0);
  // The refused page load is the answer that signed the console out.
  expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
});

test('the header links to sign-in and comes back to the page it was on', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/analyzer');
  await expect(heading(page)).toHaveText('Log Analyzer');
  const link = header(page).getByRole('link', { name: 'Sign in' });
  await expect(link).toHaveAttribute('href', '/signin?next=/analyzer');
  await link.click();
  await expect(page).toHaveURL(/\/signin\?next=\/analyzer$/);
  await signIn(page);
  await expect(page).toHaveURL(/\/analyzer$/);
  await expect(heading(page)).toHaveText('Log Analyzer');
  await expect(header(page).locator('.session-name')).toHaveText(ADMIN.fullName);
  expect(errors).toEqual([]);
});

test('the Log Analyzer works signed out', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/analyzer');
  await expect(heading(page)).toHaveText('Log Analyzer');
  await expect(page).toHaveURL(/\/analyzer$/);
  await expect(header(page).getByRole('link', { name: 'Sign in' })).toBeVisible();
  await header(page).screenshot({ path: `${ARTIFACTS}/header-signed-out.png` });

  // Paste a real log and get its card, without any session.
  const body = readFileSync(path.join(FIXTURES, 'failing.log'), 'utf8');
  await page.getByTestId('paste-text').fill(body);
  await page.getByTestId('paste-analyze').click();
  const card = page.locator('[data-testid="mailbox-card"][data-file="pasted-1.log"]');
  await expect(card.getByTestId('card-mailbox-id')).toHaveText('3c1a7e52-5d0b-4f7e-9a43-1f2e3d4c5b6a');
  await expect(page).toHaveURL(/\/analyzer$/);
  await expect(header(page).locator('.session-name')).toHaveCount(0);
  expect(errors).toEqual([]);
});
