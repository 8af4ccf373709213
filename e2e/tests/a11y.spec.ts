import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN, audit, signIn, watchErrors } from './helpers';

// Keyboard and screen readers (issue 12, §3): axe-core on every page and in every
// dialog state, signed out and signed in as the administrator, with no violation
// allowed; and the keyboard paths: the skip link, focus after a route change, the
// dialogs (focus in, Tab kept inside, Escape, focus back), the Mailboxes view tabs,
// the dashboard's hour columns and a profile field that blocks Save.

// axe is injected with `page.addScriptTag({ path })`, which Playwright inserts as an
// inline <script>: the console's Content-Security-Policy (no 'unsafe-inline', see
// crates/server/src/boundary.rs and csp.spec.ts) would block it, so this file's pages
// run with the CSP bypassed. Nothing here tests the CSP itself.
test.use({ bypassCSP: true, timezoneId: 'UTC', locale: 'en-US' });

const FIXTURES = path.resolve(__dirname, '../../crates/core/tests/fixtures');
const API = '/api/data/v9.2';

async function focused(page: Page, selector?: string) {
  return page.evaluate((selector) => {
    const a = document.activeElement as HTMLElement | null;
    return {
      tag: a?.tagName.toLowerCase() ?? '',
      type: a?.getAttribute('type') ?? '',
      text: (a?.textContent ?? '').trim(),
      label: a?.getAttribute('aria-label') ?? '',
      inside: selector ? !!a?.closest(selector) : false,
    };
  }, selector);
}

/** Drops the fixture `name` on the analyzer's drop zone as a browser does (see analyzer.spec.ts). */
async function dropFixture(page: Page, name: string): Promise<void> {
  const b64 = readFileSync(path.join(FIXTURES, name)).toString('base64');
  await page.evaluate(
    ({ name, b64 }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'text/plain' }));
      const el = document.querySelector('[data-testid="dropzone"]')!;
      for (const type of ['dragenter', 'dragover', 'drop']) {
        el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      }
    },
    { name, b64 },
  );
}

async function token(request: APIRequestContext): Promise<string> {
  const r = await request.post('/api/auth/login', { data: { username: ADMIN.user, password: ADMIN.password } });
  expect(r.ok()).toBeTruthy();
  return (await r.json()).access_token;
}

async function mailboxesSettled(page: Page): Promise<void> {
  await expect(page.getByTestId('mailbox-grid')).toHaveAttribute('aria-busy', 'false');
  await expect(page.getByTestId('mailbox-grid').locator('tbody tr').first()).toBeVisible();
}

/** Opens a dialog with `open`, audits it, checks focus went in, then closes it with Escape. */
async function auditDialog(page: Page, name: string, open: () => Promise<void>): Promise<void> {
  await open();
  const dialog = page.getByRole('dialog', { name });
  await expect(dialog).toBeVisible();
  await expect.poll(async () => (await focused(page, '[role=dialog]')).inside, { message: `focus in ${name}` }).toBe(true);
  await audit(page, `the "${name}" dialog`);
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
}

test.describe('axe: no violation', () => {
  // Each test audits several pages and dialogs: more than the default 30 s on a busy machine.
  test.describe.configure({ timeout: 90_000 });

  test('signed out: sign-in page and Log Analyzer, empty and with logs dropped', async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('/signin');
    await expect(page.locator('main h1')).toHaveText('Sign in');
    await audit(page, '/signin');

    await page.goto('/analyzer');
    await expect(page.locator('main h1')).toHaveText('Log Analyzer');
    await audit(page, '/analyzer (empty)');

    // One log dropped: its card, details open.
    await dropFixture(page, 'failing.log');
    await expect(page.getByTestId('progress')).toHaveAttribute('data-running', 'false');
    await expect(page.getByTestId('mailbox-card')).toHaveCount(1);
    await audit(page, '/analyzer with one log');

    // Several: the fleet summary too.
    await page
      .getByTestId('file-input')
      .setInputFiles([path.join(FIXTURES, 'healthy.log'), path.join(FIXTURES, 'truncated.log')]);
    await expect(page.getByTestId('progress')).toHaveAttribute('data-running', 'false');
    await expect(page.getByTestId('fleet-summary')).toBeVisible();
    await audit(page, '/analyzer with several logs');
    expect(errors).toEqual([]);
  });

  test('signed in: Mailboxes, a mailbox, and their dialogs', async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('/signin?next=/mailboxes');
    await signIn(page);
    await mailboxesSettled(page);
    await audit(page, '/mailboxes');

    // The dialogs act on the selection.
    await page.getByTestId('mailbox-grid').locator('tbody tr').first().locator('input[type=checkbox]').check();
    await auditDialog(page, 'Test & Enable Mailboxes', () => page.getByRole('button', { name: 'Test & Enable', exact: true }).click());
    await auditDialog(page, 'Apply Default Email Settings', () =>
      page.getByRole('button', { name: 'Apply Default Email Settings' }).click(),
    );

    // A mailbox record and its dialogs.
    await page.getByTestId('mailbox-grid').locator('tbody tr').first().locator('a').first().click();
    await expect(page).toHaveURL(/\/mailboxes\/[0-9a-f-]{36}$/);
    await expect(page.locator('main h1')).not.toHaveText('Mailbox');
    await expect(page.locator('.record-grid')).toBeVisible();
    await audit(page, 'a mailbox record');
    await auditDialog(page, 'Test & Enable Mailboxes', () => page.getByRole('button', { name: 'Test & Enable Mailbox' }).click());
    await auditDialog(page, 'Apply Default Email Settings', () =>
      page.getByRole('button', { name: 'Apply Default Email Settings' }).click(),
    );
    expect(errors).toEqual([]);
  });

  test('signed in: profiles, a profile and its dialog, a new profile with a value that blocks Save', async ({ page }) => {
    const errors = watchErrors(page);
    await page.goto('/signin?next=/profiles');
    await signIn(page);
    await expect(page.locator('main h1')).toHaveText('Email Server Profiles');
    const first = page.locator('main table tbody a').first();
    await expect(first).toBeVisible();
    await audit(page, '/profiles');

    await first.click();
    await expect(page).toHaveURL(/\/profiles\/[0-9a-f-]{36}$/);
    await expect(page.getByLabel('Maximum Concurrent Connections')).toBeVisible();
    await audit(page, 'a profile record');
    await auditDialog(page, 'Test & Enable Mailboxes', () => page.getByRole('button', { name: 'Test & Enable Mailboxes' }).click());

    await page.goto('/profiles/new');
    await expect(page.locator('main h1')).toHaveText('New Email Server Profile');
    await expect(page.getByLabel('Maximum Concurrent Connections')).toBeVisible();
    await audit(page, '/profiles/new');
    await page.getByLabel('Maximum Concurrent Connections').fill('500');
    await expect(page.getByLabel('Maximum Concurrent Connections')).toHaveAttribute('aria-invalid', 'true');
    await audit(page, '/profiles/new with Maximum Concurrent Connections 500');
    expect(errors).toEqual([]);
  });

  test('signed in: alerts and Delete all alerts, settings, dashboard, analyzer', async ({ page, request }) => {
    const errors = watchErrors(page);
    // The wall needs an alert for "Delete all alerts" (other tests delete theirs).
    // `request` has cookies of its own: the browser still signs in through /signin.
    const bearer = await token(request);
    const created = await request.post(`${API}/tracelogs`, {
      headers: { Authorization: `Bearer ${bearer}` },
      data: { level: 2, tracecode: 12, text: `E2E a11y: an alert (${Date.now()})`, canbedeleted: true },
    });
    expect(created.status(), await created.text()).toBe(204);

    await page.goto('/signin?next=/alerts');
    await signIn(page);
    await expect(page.locator('main h1')).toHaveText('Alerts');
    await expect(page.locator('.alerts-list > .alerts-item').first()).toBeVisible();
    await audit(page, '/alerts');
    await auditDialog(page, 'Delete all alerts', () => page.getByRole('button', { name: 'Delete all alerts' }).click());

    await page.locator('nav.sidenav').getByRole('link', { name: 'Settings' }).click();
    await expect(page.locator('main h1')).toHaveText('System Settings');
    await expect(page.getByLabel('Process email using')).toBeVisible();
    await audit(page, '/settings');

    await page.locator('nav.sidenav').getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.locator('main h1')).toHaveText('Dashboard');
    await expect(page.getByTestId('dash-hours').locator('.chart-col')).toHaveCount(24);
    await audit(page, '/dashboard');

    await page.locator('nav.sidenav').getByRole('link', { name: 'Log Analyzer' }).click();
    await expect(page.locator('main h1')).toHaveText('Log Analyzer');
    await dropFixture(page, 'failing.log');
    await expect(page.getByTestId('mailbox-card')).toHaveCount(1);
    await expect(page.getByTestId('progress')).toHaveAttribute('data-running', 'false');
    await audit(page, '/analyzer (signed in) with a log');

    await page.goto('/no-such-page');
    await expect(page.locator('main h1')).toHaveText('Page not found');
    await audit(page, 'the not-found page');
    expect(errors).toEqual([]);
  });
});

test.describe('keyboard', () => {
  test('"Skip to content" is the first Tab stop and leads to the main content', async ({ page }) => {
    await page.goto('/analyzer');
    await expect(page.locator('main h1')).toHaveText('Log Analyzer');
    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatchObject({ tag: 'a', text: 'Skip to content' });
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeInViewport();
    await page.keyboard.press('Enter');
    expect(await focused(page, 'main')).toMatchObject({ tag: 'h1', text: 'Log Analyzer', inside: true });
    // The next Tab stop is inside the main content, past the header and navigation.
    await page.keyboard.press('Tab');
    expect((await focused(page, 'main')).inside).toBe(true);
    await expect(page).toHaveURL(/\/analyzer$/);
  });

  test('a route change moves focus to the page heading', async ({ page }) => {
    await page.goto('/signin?next=/mailboxes');
    await signIn(page);
    await expect(page.locator('main h1')).toHaveText('Mailboxes');
    for (const [link, heading] of [
      ['Alerts', 'Alerts'],
      ['Email Server Profiles', 'Email Server Profiles'],
      ['Dashboard', 'Dashboard'],
    ]) {
      await page.locator('nav.sidenav').getByRole('link', { name: link }).click();
      await expect.poll(async () => focused(page, 'main')).toMatchObject({ tag: 'h1', text: heading, inside: true });
      await expect(page.locator('main h1')).toHaveAttribute('tabindex', '-1');
    }
  });

  test('a dialog takes focus, keeps Tab inside, closes on Escape and gives focus back', async ({ page }) => {
    await page.goto('/signin?next=/mailboxes');
    await signIn(page);
    await mailboxesSettled(page);
    await page.getByTestId('mailbox-grid').locator('tbody tr').first().locator('input[type=checkbox]').check();
    const opener = page.getByRole('button', { name: 'Test & Enable', exact: true });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Test & Enable Mailboxes' });
    await expect(dialog).toBeVisible();
    await expect(dialog).toHaveAttribute('aria-modal', 'true');
    await expect(dialog).toHaveAccessibleDescription(/Schedule the configuration test for 1 selected mailbox\./);
    // The first field has focus.
    await expect(dialog.getByRole('checkbox')).toBeFocused();
    // Tab goes round inside: checkbox, date (Chromium stops on each of its parts),
    // Cancel, Test & Enable, and the checkbox again.
    const stops: string[] = [];
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      const f = await focused(page, '[role=dialog]');
      expect(f.inside, `Tab ${i + 1} stays in the dialog`).toBe(true);
      const stop = f.tag === 'input' ? `input ${f.type}` : f.text;
      if (stops[stops.length - 1] !== stop) stops.push(stop);
    }
    expect(stops.slice(0, 5)).toEqual(['input date', 'Cancel', 'Test & Enable', 'input checkbox', 'input date']);
    await dialog.getByRole('checkbox').focus();
    await page.keyboard.press('Shift+Tab');
    await expect(dialog.getByRole('button', { name: 'Test & Enable', exact: true })).toBeFocused();
    // Escape is Cancel: nothing runs, and the button that opened it has focus again.
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    await expect(opener).toBeFocused();
    await expect(page.getByTestId('bulk-run')).toHaveCount(0);

    // A confirmation: the primary button has focus; Cancel gives focus back too.
    const apply = page.getByRole('button', { name: 'Apply Default Email Settings' });
    await apply.click();
    const confirm = page.getByRole('dialog', { name: 'Apply Default Email Settings' });
    await expect(confirm.getByRole('button', { name: 'Apply' })).toBeFocused();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect(confirm).toHaveCount(0);
    await expect(apply).toBeFocused();
  });

  test('Delete all alerts: Cancel has focus first, Escape cancels', async ({ page, request }) => {
    const bearer = await token(request);
    const created = await request.post(`${API}/tracelogs`, {
      headers: { Authorization: `Bearer ${bearer}` },
      data: { level: 3, tracecode: 12, text: `E2E a11y: another alert (${Date.now()})`, canbedeleted: true },
    });
    expect(created.status()).toBe(204);
    await page.goto('/signin?next=/alerts');
    await signIn(page);
    await expect(page.locator('.alerts-list > .alerts-item').first()).toBeVisible();
    const opener = page.getByRole('button', { name: 'Delete all alerts' });
    await opener.click();
    const dialog = page.getByRole('dialog', { name: 'Delete all alerts' });
    await expect(dialog).toHaveAccessibleDescription(/^Delete all \d+ alerts\? This cannot be undone\.$/);
    await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    await expect(opener).toBeFocused();
    await expect(page.locator('.alerts-list > .alerts-item').first()).toBeVisible();
  });

  test('the Mailboxes views are a tablist: arrow keys, Home and End', async ({ page }) => {
    await page.goto('/signin?next=/mailboxes');
    await signIn(page);
    await mailboxesSettled(page);
    const tablist = page.getByRole('tablist', { name: 'Views' });
    await expect(tablist.getByRole('tab')).toHaveCount(5);
    // The search is beside the tablist, not in it.
    await expect(tablist.getByRole('searchbox')).toHaveCount(0);
    await expect(page.getByRole('search').getByRole('searchbox', { name: 'Search mailboxes' })).toBeVisible();
    const active = tablist.getByRole('tab', { name: 'Active Mailboxes' });
    await expect(active).toHaveAttribute('aria-selected', 'true');
    await expect(active).toHaveAttribute('tabindex', '0');
    await expect(tablist.getByRole('tab', { name: 'Pending Test' })).toHaveAttribute('tabindex', '-1');
    const panel = await active.getAttribute('aria-controls');
    await expect(page.locator(`#${panel}`)).toHaveAttribute('role', 'tabpanel');
    await expect(page.locator(`#${panel}`)).toHaveAttribute('aria-labelledby', (await active.getAttribute('id'))!);

    await active.focus();
    await page.keyboard.press('ArrowRight');
    const unapproved = tablist.getByRole('tab', { name: 'Unapproved Mailboxes' });
    await expect(unapproved).toBeFocused();
    await expect(unapproved).toHaveAttribute('aria-selected', 'true');
    await expect(page).toHaveURL(/view=unapproved/);
    await page.keyboard.press('End');
    await expect(tablist.getByRole('tab', { name: 'All Mailboxes' })).toBeFocused();
    await expect(page).toHaveURL(/view=all/);
    await page.keyboard.press('ArrowRight');
    await expect(active).toBeFocused();
    await page.keyboard.press('ArrowLeft');
    await expect(tablist.getByRole('tab', { name: 'All Mailboxes' })).toBeFocused();
    await page.keyboard.press('Home');
    await expect(active).toBeFocused();
    await expect(active).toHaveAttribute('aria-selected', 'true');
    // Tab leaves the tablist (one stop) for the search.
    await page.keyboard.press('Tab');
    await expect(page.getByRole('searchbox', { name: 'Search mailboxes' })).toBeFocused();
  });

  test("the dashboard's hours are links reached and opened by keyboard", async ({ page }) => {
    await page.goto('/signin?next=/dashboard');
    await signIn(page);
    const hours = page.getByTestId('dash-hours');
    await expect(hours.locator('.chart-col')).toHaveCount(24);
    const links = hours.getByRole('link');
    await expect(links).toHaveCount(24);
    // One Tab stop per chart: the latest hour.
    await expect(hours.locator('.chart-col[tabindex="0"]')).toHaveCount(1);
    const last = hours.locator('.chart-col').last();
    await expect(last).toHaveAttribute('tabindex', '0');
    await expect(last).toHaveAttribute('aria-label', /: \d+ alerts, \d+ errors$/);
    await last.focus();
    await page.keyboard.press('ArrowLeft');
    const previous = hours.locator('.chart-col').nth(22);
    await expect(previous).toBeFocused();
    await expect(previous).toHaveAttribute('tabindex', '0');
    await expect(last).toHaveAttribute('tabindex', '-1');
    // Visible focus: the focused column's hit area is drawn.
    const stroke = await previous.locator('.chart-hit').evaluate((el) => getComputedStyle(el).stroke);
    expect(stroke).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(/\/alerts\?from=/);
  });

  test('a value that blocks Save is marked invalid on its field', async ({ page }) => {
    await page.goto('/signin?next=/profiles/new');
    await signIn(page);
    const field = page.getByLabel('Maximum Concurrent Connections');
    await expect(field).toBeVisible();
    await expect(field).not.toHaveAttribute('aria-invalid', /.*/);
    await field.fill('500');
    await expect(field).toHaveAttribute('aria-invalid', 'true');
    await expect(field).toHaveAccessibleDescription(
      /Maximum concurrent connections is 500; it must be between 1 and 300\./,
    );
    const id = (await field.getAttribute('aria-describedby'))!.split(' ')[0];
    await expect(page.locator(`#${id}`)).toHaveText('Maximum concurrent connections is 500; it must be between 1 and 300.');
    await expect(page.getByRole('button', { name: 'Create' })).toBeDisabled();
    // Fixed: no longer invalid, the hint still describes it.
    await field.fill('20');
    await expect(field).not.toHaveAttribute('aria-invalid', /.*/);
    await expect(field).toHaveAccessibleDescription('1 to 300.');
  });
});
