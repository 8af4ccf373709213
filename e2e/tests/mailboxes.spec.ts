import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { signIn, watchErrors } from './helpers';

// The Mailboxes page against the demo organization, signed in as megan (System
// Administrator without an Exchange admin role: her approval of a mailbox on the
// Exchange Online profile is accepted, as Dataverse accepts it, but is not a Microsoft
// 365 administrator's, which the console finds by reading it back). The tests change
// the organization, so they run in order.
test.describe.configure({ mode: 'serial', timeout: 60_000 });

const MEGAN = { user: 'megan', password: process.env.MAILSYNC_ADMIN_PASSWORD ?? 'e2e-admin-password' };
const EXO = 'Microsoft Exchange Online';

const API = '/api/data/v9.2';

/** A mailbox as the API reads it, signed in as megan (bearer, beside the page's cookie). */
async function readMailbox(request: APIRequestContext, id: string, select: string) {
  const login = await request.post('/api/auth/login', { data: { username: MEGAN.user, password: MEGAN.password } });
  expect(login.ok()).toBeTruthy();
  const token = (await login.json()).access_token;
  const r = await request.get(`${API}/mailboxes(${id})?$select=${select}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(r.ok(), await r.text()).toBeTruthy();
  return r.json();
}

const grid = (page: Page) => page.getByTestId('mailbox-grid');
const rows = (page: Page) => grid(page).locator('tbody tr[data-id]');
const view = (page: Page, name: string) => page.getByRole('tab', { name });

/** Waits until the grid shows the page the URL asks for. */
async function settled(page: Page): Promise<void> {
  await expect(grid(page)).toHaveAttribute('aria-busy', 'false');
}

async function openMailboxes(page: Page): Promise<void> {
  await page.goto('/signin?next=/mailboxes');
  await signIn(page, MEGAN.user, MEGAN.password);
  await expect(page.locator('main h1')).toHaveText('Mailboxes');
  await expect(rows(page).first()).toBeVisible();
}

/** Text of column `n` (1 = name) of every row shown, once the grid has loaded the URL's page. */
async function column(page: Page, n: number): Promise<string[]> {
  await settled(page);
  return rows(page).locator(`td:nth-child(${n + 1})`).allInnerTexts();
}

test('views, sorting, paging and search live in the URL', async ({ page }) => {
  const errors = watchErrors(page);
  await openMailboxes(page);
  await expect(view(page, 'Active Mailboxes')).toHaveAttribute('aria-selected', 'true');

  await view(page, 'All Mailboxes').click();
  await expect(page).toHaveURL(/view=all/);
  await expect(rows(page)).toHaveCount(50);
  await expect(page.getByTestId('page-number')).toHaveText(/^Page 1 of \d+$/);

  // Name is sorted ascending by default: one click sorts it descending.
  await page.getByRole('button', { name: 'Name', exact: true }).click();
  await expect(page).toHaveURL(/sort=name&desc=1/);
  await expect(grid(page).locator('th.sort-desc')).toHaveText('Name');
  const desc = (await column(page, 1)).map((n) => n.replace(/\s*Test pending$/, ''));
  expect(desc[0] >= desc[desc.length - 1]).toBe(true);

  // Sort by email address, then next page.
  await page.getByRole('button', { name: 'Email address', exact: true }).click();
  await expect(page).toHaveURL(/sort=emailaddress/);
  await expect(grid(page).locator('th.sort-asc')).toHaveText('Email address');
  const first = await column(page, 2);
  await page.getByRole('button', { name: 'Next', exact: true }).click();
  await expect(page).toHaveURL(/page=2&after=/);
  await expect(page.getByTestId('page-number')).toHaveText(/^Page 2 of \d+$/);
  const second = await column(page, 2);
  expect(second[0] > first[first.length - 1]).toBe(true);

  // The URL is the state: a reload shows the same page.
  await page.reload();
  await expect(page.getByTestId('page-number')).toHaveText(/^Page 2 of \d+$/);
  await expect(rows(page).first().locator('td:nth-child(3)')).toHaveText(second[0]);
  await page.getByRole('button', { name: 'Previous', exact: true }).click();
  await expect(page.getByTestId('page-number')).toHaveText(/^Page 1 of \d+$/);
  await expect(rows(page).first().locator('td:nth-child(3)')).toHaveText(first[0]);

  // Search: name or email contains.
  const target = second[0];
  await page.getByLabel('Search mailboxes').fill(target);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(/[?&]q=/);
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page).first().locator('td:nth-child(3)')).toHaveText(target);
  expect(errors).toEqual([]);
});

test('approve 25 pending mailboxes through $batch: read back, the ones not applied reported with reasons', async ({ page }) => {
  const errors = watchErrors(page);
  await openMailboxes(page);
  await view(page, 'Unapproved Mailboxes').click();
  await expect(page).toHaveURL(/view=unapproved/);
  await expect(rows(page).first()).toBeVisible();

  // 25 pending mailboxes: every one not on Exchange Online, the rest on it.
  await settled(page);
  const all = await rows(page).evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-id')!,
      name: (tr.querySelector('td:nth-child(2)') as HTMLElement).innerText.replace(/\s*Test pending$/, ''),
      profile: (tr.querySelector('td:nth-child(4)') as HTMLElement).innerText,
      approval: (tr.querySelector('td[data-col="approval"]') as HTMLElement).innerText,
    })),
  );
  const pending = all.filter((r) => r.approval === 'Pending Approval');
  const others = pending.filter((r) => r.profile !== EXO);
  const exo = pending.filter((r) => r.profile === EXO);
  const chosen = [...others.slice(0, 17), ...exo].slice(0, 25);
  expect(chosen.length).toBe(25);
  const notApplied = chosen.filter((r) => r.profile === EXO).length;
  expect(notApplied).toBeGreaterThan(0);
  for (const r of chosen) {
    await page.locator(`tr[data-id="${r.id}"] input[type=checkbox]`).check();
  }
  await expect(page.getByTestId('selected-count')).toHaveText('25 selected');

  const batch = page.waitForRequest((r) => r.url().endsWith('/api/data/v9.2/$batch') && r.method() === 'POST');
  await page.getByRole('button', { name: 'Approve Email' }).click();
  expect((await batch).headers()['content-type']).toMatch(/^multipart\/mixed; boundary=/);
  const run = page.getByTestId('bulk-run');
  await expect(run).toHaveAttribute('data-finished', 'true');
  await expect(page.getByTestId('bulk-title')).toHaveText(
    `Approve Email: ${25 - notApplied} of 25 done, ${notApplied} accepted but not applied`,
  );
  const results = page.getByTestId('bulk-results');
  await expect(results.locator('tr[data-state="done"]')).toHaveCount(25 - notApplied);
  await expect(results.locator('tr[data-state="not-applied"]')).toHaveCount(notApplied);
  await expect(results.locator('tr[data-state="not-applied"] .run-reason').first()).toContainText(
    'not by a Microsoft 365 administrator',
  );
  // The results keep the selection's order.
  const order = await results.locator('tr[data-item]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-item')));
  expect(order).toEqual(chosen.map((r) => r.id));
  // The approved ones leave the selection; the ones not applied stay selected. A retry
  // cannot make a Microsoft 365 administrator of megan: none is offered.
  await expect(page.getByTestId('selected-count')).toHaveText(`${notApplied} selected`);
  await expect(page.getByRole('button', { name: 'Retry the failed ones' })).toHaveCount(0);
  await page.screenshot({ path: 'artifacts/mailboxes.png', fullPage: true });

  // After a reload, every one of them has left the Unapproved view (Dataverse records
  // the approval; the Exchange Online ones still wait for a Microsoft 365 administrator).
  await page.reload();
  await expect(rows(page).first()).toBeVisible();
  await settled(page);
  const ids = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
  for (const r of chosen) {
    expect(ids.includes(r.id)).toBe(false);
  }
  // And the All view shows one of them Approved.
  const done = chosen.find((r) => r.profile !== EXO)!;
  await page.goto(`/mailboxes?view=all&q=${encodeURIComponent(done.name)}`);
  await expect(page.locator(`tr[data-id="${done.id}"] td[data-col="approval"]`)).toHaveText('Approved');
  expect(errors).toEqual([]);
});

test('Test & Enable schedules tests; select all that match; Pending Test view', async ({ page, request }) => {
  const errors = watchErrors(page);
  await openMailboxes(page);
  await view(page, 'Pending Test').click();
  await expect(rows(page).first()).toBeVisible();
  await settled(page);
  const before = await rows(page).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));

  // "Select all N that match" in the Active view.
  await view(page, 'Active Mailboxes').click();
  await settled(page);
  const selectAll = page.getByRole('button', { name: /^Select all [\d,]+ that match$/ });
  const shown = (await selectAll.innerText()).match(/[\d,]+/)![0];
  expect(Number(shown.replace(/,/g, ''))).toBeGreaterThan(50);
  await selectAll.click();
  await expect(page.getByTestId('selected-count')).toHaveText(`${shown} selected`);
  await page.getByRole('button', { name: 'Clear selection' }).click();
  await expect(page.getByTestId('selected-count')).toHaveText('0 selected');

  // Three mailboxes not yet pending a test.
  await settled(page);
  const candidates = await rows(page).evaluateAll((trs) =>
    trs.filter((tr) => !tr.querySelector('.badge-info')).map((tr) => tr.getAttribute('data-id')!),
  );
  const chosen = candidates.filter((id) => !before.includes(id)).slice(0, 3);
  expect(chosen.length).toBe(3);
  const TE = 'testemailconfigurationscheduled,orgmarkedasprimaryforexchangesync,processemailreceivedafter';
  for (const id of chosen) {
    // Not already what the dialog will ask for, so the saved values are the dialog's.
    const m = await readMailbox(request, id, TE);
    expect(m.testemailconfigurationscheduled).toBe(false);
    expect(m.processemailreceivedafter).not.toBe('2026-01-15T00:00:00Z');
  }
  for (const id of chosen) await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();

  await page.getByRole('button', { name: 'Test & Enable', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Test & Enable Mailboxes' });
  await expect(dialog).toBeVisible();
  await dialog
    .getByLabel(
      'Sync items with Exchange from this organization only, even if Exchange was set to sync with a different organization',
    )
    .check();
  await dialog.getByLabel('Process email received after').fill('2026-01-15');
  await dialog.getByRole('button', { name: 'Test & Enable', exact: true }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('bulk-title')).toHaveText('Test & Enable: 3 of 3 done');
  for (const id of chosen) {
    const m = await readMailbox(request, id, TE);
    expect(m.testemailconfigurationscheduled).toBe(true);
    expect(m.orgmarkedasprimaryforexchangesync).toBe(true);
    expect(m.processemailreceivedafter).toBe('2026-01-15T00:00:00Z');
  }

  await view(page, 'Pending Test').click();
  await expect(page).toHaveURL(/view=pending-test/);
  for (const id of chosen) await expect(page.locator(`tr[data-id="${id}"]`)).toBeVisible();
  expect(errors).toEqual([]);
});

test('Download Mailbox Details opens the log in the Log Analyzer', async ({ page, request }) => {
  const errors = watchErrors(page);
  await openMailboxes(page);
  await settled(page);
  const first = rows(page).first();
  const id = (await first.getAttribute('data-id'))!;
  const name = (await first.locator('td:nth-child(2)').innerText()).replace(/\s*Test pending$/, '');
  const m = await readMailbox(request, id, 'testemailconfigurationscheduled');
  await first.locator('input[type=checkbox]').check();
  await page.getByRole('button', { name: 'Download Mailbox Details' }).click();
  await expect(page).toHaveURL(/\/analyzer$/);
  const file = `${name.replace(/[^A-Za-z0-9_-]/g, '-')}.log`;
  const card = page.locator(`[data-testid="mailbox-card"][data-file="${file}"]`);
  await expect(card).toBeVisible();
  // The analyzer read the log's facts: the mailbox's id and its Test & Enable state.
  await expect(card.getByTestId('card-mailbox-id')).toHaveText(id);
  await expect(card.getByTestId('card-test-enable')).toContainText(
    m.testemailconfigurationscheduled ? 'Pending, runs' : 'Not pending',
  );
  expect(errors).toEqual([]);
});

test('Save log of several mailboxes is one zip holding every log', async ({ page }) => {
  const errors = watchErrors(page);
  await openMailboxes(page);
  await settled(page);
  // More than a browser lets a page download at once (ten).
  await page.getByRole('checkbox', { name: 'Select page' }).check();
  const count = await rows(page).count();
  expect(count).toBeGreaterThan(10);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Save log' }).click();
  const d = await download;
  expect(d.suggestedFilename()).toBe(`mailbox-details-${count}.zip`);
  const bytes = readFileSync((await d.path())!);
  // Stored zip entries: count the local file headers and read their names.
  const names: string[] = [];
  for (let i = 0; i + 30 <= bytes.length; ) {
    if (bytes.readUInt32LE(i) !== 0x04034b50) break;
    const size = bytes.readUInt32LE(i + 18);
    const nameLength = bytes.readUInt16LE(i + 26);
    const extra = bytes.readUInt16LE(i + 28);
    names.push(bytes.subarray(i + 30, i + 30 + nameLength).toString('utf8'));
    const text = bytes.subarray(i + 30 + nameLength + extra, i + 30 + nameLength + extra + size).toString('utf8');
    expect(text).toMatch(/^mailboxid\s*:/m);
    i += 30 + nameLength + extra + size;
  }
  expect(names.length).toBe(count);
  expect(new Set(names).size).toBe(count);
  expect(errors).toEqual([]);
});

test('the default columns fit a 1440 px screen; chosen columns are remembered; the name stays in view', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  await openMailboxes(page);
  await settled(page);
  const wrap = page.locator('.mb-grid');
  const fits = () => wrap.evaluate((el) => el.scrollWidth <= el.clientWidth);
  expect(await fits()).toBe(true);
  for (const header of ['Name', 'Email address', 'Approval', 'Last sync error', 'Next sync']) {
    await expect(grid(page).locator('thead th', { hasText: header }).first()).toBeVisible();
  }
  await expect(grid(page).locator('thead th[data-col="enabled"]')).toBeHidden();

  // Show "Enabled (in/out/ACT)", hide "Email address": remembered after a reload.
  await page.getByText('Columns', { exact: true }).click();
  await page.getByRole('checkbox', { name: 'Enabled (in/out/ACT)' }).check();
  await page.getByRole('checkbox', { name: 'Email address' }).uncheck();
  await expect(grid(page).locator('thead th[data-col="enabled"]')).toBeVisible();
  await expect(rows(page).first().locator('td[data-col="email"]')).toBeHidden();
  await page.reload();
  await settled(page);
  await expect(grid(page).locator('thead th[data-col="enabled"]')).toBeVisible();
  await expect(rows(page).first().locator('td[data-col="email"]')).toBeHidden();

  // On a narrow screen the grid scrolls sideways and the name stays where it was.
  await page.setViewportSize({ width: 900, height: 900 });
  const name = rows(page).first().locator('td[data-col="name"]');
  const before = (await name.boundingBox())!.x;
  await wrap.evaluate((el) => el.scrollBy(400, 0));
  await expect.poll(() => wrap.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
  expect(Math.abs((await name.boundingBox())!.x - before)).toBeLessThan(1);

  // Back to the defaults for the tests after this one.
  await page.getByText('Columns', { exact: true }).click();
  await page.getByRole('checkbox', { name: 'Enabled (in/out/ACT)' }).uncheck();
  await page.getByRole('checkbox', { name: 'Email address' }).check();
  expect(errors).toEqual([]);
});

