import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { ADMIN, signIn, watchErrors } from './helpers';

// The alerts wall against the demo organization. The tests of this file run in order:
// one deletes a whole (plain user's) wall, which changes the counts others read.
test.describe.configure({ mode: 'serial' });

const ARTIFACTS = 'artifacts';
const API = '/api/data/v9.2';

const tab = (page: Page, label: string) => page.locator(`.alerts-toolbar .tab[data-level="${label}"]`);
const items = (page: Page) => page.locator('.alerts-list > .alerts-item');

/** The count shown on a level tab, once loaded. */
async function tabCount(page: Page, label: string): Promise<number> {
  const pill = tab(page, label).locator('.alerts-count');
  await expect(pill).toHaveText(/^\d+$/);
  return Number(await pill.textContent());
}

/** "1–50 of 123" → 123. */
async function rangeTotal(page: Page): Promise<number> {
  const range = page.locator('.alerts-range');
  await expect(range).toHaveText(/of \d+$/);
  return Number((await range.textContent())!.split('of ')[1]);
}

/** A bearer token for `user` (the demo users share the admin's password). */
async function token(request: APIRequestContext, user: string): Promise<string> {
  const r = await request.post('/api/auth/login', { data: { username: user, password: ADMIN.password } });
  expect(r.ok()).toBeTruthy();
  return (await r.json()).access_token;
}

async function apiGet(request: APIRequestContext, bearer: string, path: string) {
  const r = await request.get(`${API}/${path}`, { headers: { Authorization: `Bearer ${bearer}` } });
  expect(r.ok(), await r.text()).toBeTruthy();
  return r.json();
}

test('filters by level with counts, groups by error, pages', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/alerts');
  await signIn(page);
  await expect(page.locator('main h1')).toHaveText('Alerts');
  await expect(items(page).first()).toBeVisible();

  const all = await tabCount(page, 'All');
  const errorsN = await tabCount(page, 'Errors');
  const warnings = await tabCount(page, 'Warnings');
  const info = await tabCount(page, 'Information');
  expect(errorsN).toBeGreaterThan(0);
  expect(warnings).toBeGreaterThan(0);
  expect(info).toBeGreaterThan(0);
  expect(errorsN + warnings + info).toBe(all);
  expect(await rangeTotal(page)).toBe(all);
  // 50 a page; the wall is larger, so "Next" shows the next 50.
  await expect(items(page)).toHaveCount(50);
  const firstId = await items(page).first().getAttribute('data-id');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.locator('.alerts-range')).toHaveText(new RegExp(`^51–\\d+ of ${all}$`));
  await expect(items(page).first()).not.toHaveAttribute('data-id', firstId!);
  await page.getByRole('button', { name: 'Previous' }).click();
  await expect(items(page).first()).toHaveAttribute('data-id', firstId!);

  // Each filter lists only its level, as many as its count says.
  for (const [label, level, n] of [
    ['Errors', '3', errorsN],
    ['Warnings', '2', warnings],
    ['Information', '1', info],
  ] as const) {
    await tab(page, label).click();
    await expect(tab(page, label)).toHaveClass(/is-active/);
    await expect(page.locator('.alerts-range')).toHaveText(new RegExp(` of ${n}$`));
    const levels = await items(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-level')));
    expect(levels.length).toBeGreaterThan(0);
    expect(new Set(levels)).toEqual(new Set([level]));
  }

  // Errors carry the knowledge base's cause and resolution when it knows them.
  await tab(page, 'Errors').click();
  await expect(page.locator('.alerts-range')).toHaveText(new RegExp(` of ${errorsN}$`));
  const kb = page.locator('.alerts-kb').first();
  await expect(kb).toBeVisible();
  await kb.locator('summary').click();
  await expect(kb).toContainText('Cause:');

  // Group by error: the groups' counts add up to the filter's count; a group filters.
  await page.getByLabel('Group by error').check();
  const groups = page.locator('.alerts-group');
  await expect(groups.first()).toBeVisible();
  const counts = (await page.locator('.alerts-group-count').allTextContents()).map(Number);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(errorsN);
  expect(counts.length).toBeGreaterThan(1);
  const name = (await groups.first().locator('.alerts-group-name').textContent())!;
  await groups.first().click();
  await expect(page.locator('.alerts-group-filter')).toContainText(name);
  await expect(page.locator('.alerts-range')).toHaveText(new RegExp(` of ${counts[0]}$`));
  await expect(tab(page, 'Errors').locator('.alerts-count')).toHaveText(String(counts[0]));
  await page.screenshot({ path: `${ARTIFACTS}/alerts.png`, fullPage: false });
  await page.getByRole('button', { name: 'Show all errors' }).click();
  await expect(page.locator('.alerts-range')).toHaveText(new RegExp(` of ${errorsN}$`));
  expect(errors).toEqual([]);
});

test('deletes one alert', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/alerts');
  await signIn(page);
  const before = await tabCount(page, 'All');
  const first = items(page).first();
  const id = (await first.getAttribute('data-id'))!;
  await first.getByRole('button', { name: 'Delete' }).click();
  await first.locator('.alerts-delete-confirm').click();
  await expect(page.getByRole('status').filter({ hasText: 'The alert was deleted.' })).toBeVisible();
  await expect(tab(page, 'All').locator('.alerts-count')).toHaveText(String(before - 1));
  await expect(page.locator(`.alerts-item[data-id="${id}"]`)).toHaveCount(0);
  await page.reload();
  await expect(tab(page, 'All').locator('.alerts-count')).toHaveText(String(before - 1));
  expect(errors).toEqual([]);
});

test('a plain user sees exactly the alerts of their mailboxes, their emails and the profiles they own', async ({ page, request }) => {
  const errors = watchErrors(page);
  const nestor = await token(request, 'nestor');
  const admin = await token(request, ADMIN.user);
  // The expected wall, from the administrator's reads: alerts on Nestor's mailboxes,
  // on the profiles he owns, and on his mailboxes' emails.
  const me = (await apiGet(request, nestor, 'WhoAmI')).UserId;
  const boxes = await apiGet(
    request,
    admin,
    `mailboxes?$select=_emailserverprofile_value&$filter=_regardingobjectid_value eq ${me} or _ownerid_value eq ${me}`,
  );
  expect(boxes.value.length).toBeGreaterThan(0);
  const boxIds: string[] = boxes.value.map((m: { mailboxid: string }) => m.mailboxid);
  const profileIds = new Set<string>();
  const owned = await apiGet(request, admin, `emailserverprofiles?$select=name&$filter=_ownerid_value eq ${me}`);
  for (const p of owned.value) profileIds.add(p.emailserverprofileid);
  const regarding = [...boxIds, ...profileIds];
  for (const m of boxIds) {
    const emails = await apiGet(
      request,
      admin,
      `emails?$select=subject&$filter=_sendermailboxid_value eq ${m} or _receivingmailboxid_value eq ${m}`,
    );
    regarding.push(...emails.value.map((e: { activityid: string }) => e.activityid));
  }
  // A profile-level alert on the profile his mailbox uses (a profile he does not own)
  // names other people's mailboxes: not on his wall. His own mailbox's alert is.
  const stamp = Date.now();
  const profileText = `E2E: profile-level alert (${stamp})`;
  const mailboxText = `E2E: his mailbox's alert (${stamp})`;
  const profile = boxes.value[0]._emailserverprofile_value;
  for (const [text, bind] of [
    [profileText, { 'regardingobjectid_emailserverprofile@odata.bind': `/emailserverprofiles(${profile})` }],
    [mailboxText, { 'regardingobjectid_mailbox@odata.bind': `/mailboxes(${boxIds[0]})` }],
  ] as const) {
    const created = await request.post(`${API}/tracelogs`, {
      headers: { Authorization: `Bearer ${admin}` },
      data: { level: 3, tracecode: 7, text, ...bind },
    });
    expect(created.status(), await created.text()).toBe(204);
  }
  const filter = regarding.map((id) => `_regardingobjectid_value eq ${id}`).join(' or ');
  const expected = await apiGet(request, admin, `tracelogs?$select=tracelogid&$count=true&$top=1&$filter=${filter}`);
  const mine = await apiGet(request, nestor, 'tracelogs?$select=tracelogid&$count=true&$top=1');
  const everyone = await apiGet(request, admin, 'tracelogs?$select=tracelogid&$count=true&$top=1');
  expect(mine['@odata.count']).toBe(expected['@odata.count']);
  expect(mine['@odata.count']).toBeLessThan(everyone['@odata.count']);

  await page.goto('/signin?next=/alerts');
  await signIn(page, 'nestor');
  expect(await tabCount(page, 'All')).toBe(expected['@odata.count']);
  await expect(page.locator('.alerts-item', { hasText: mailboxText })).toHaveCount(1);
  await expect(page.locator('.alerts-item', { hasText: profileText })).toHaveCount(0);
  const links = await page
    .locator('.alerts-item .alerts-regarding')
    .evaluateAll((els) => els.map((e) => e.getAttribute('href') ?? ''));
  expect(links.length).toBeGreaterThan(0);
  for (const href of links) {
    const [, kind, id] = href.split('/');
    expect(kind === 'mailboxes' ? boxIds.includes(id) : kind === 'profiles' && profileIds.has(id)).toBeTruthy();
  }
  expect(errors).toEqual([]);
});

test('delete all empties the wall, except an alert that cannot be deleted', async ({ page, request }) => {
  const errors = watchErrors(page);
  // A plain user's wall (Joni's); an administrator adds alerts to it, one that cannot be deleted.
  const joni = await token(request, 'joni');
  const admin = await token(request, ADMIN.user);
  const boxes = await apiGet(request, joni, 'mailboxes?$select=mailboxid&$top=1');
  const mailbox = boxes.value[0].mailboxid;
  const text = `E2E: this alert cannot be deleted (${Date.now()})`;
  // Her wall holds her mailbox's alerts: one more that can go, one that cannot.
  for (const [t, deletable] of [[`E2E: an alert of Joni's mailbox (${Date.now()})`, true], [text, false]] as const) {
    const created = await request.post(`${API}/tracelogs`, {
      headers: { Authorization: `Bearer ${admin}` },
      data: {
        level: 3,
        tracecode: 12,
        text: t,
        canbedeleted: deletable,
        'regardingobjectid_mailbox@odata.bind': `/mailboxes(${mailbox})`,
      },
    });
    expect(created.status(), await created.text()).toBe(204);
  }

  await page.goto('/signin?next=/alerts');
  await signIn(page, 'joni');
  const total = await tabCount(page, 'All');
  expect(total).toBeGreaterThan(1);
  await page.getByRole('button', { name: 'Delete all alerts' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(`Delete all ${total} alerts?`);
  // Cancel changes nothing.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(tab(page, 'All').locator('.alerts-count')).toHaveText(String(total));

  // The deletes go as one `$batch` (one request against the service protection
  // limits), not one DELETE per alert.
  const sent: { method: string; url: string; body: string }[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/data/v9.2/') && r.method() !== 'GET') sent.push({ method: r.method(), url: r.url(), body: r.postData() ?? '' });
  });
  await page.getByRole('button', { name: 'Delete all alerts' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  // The shared bulk run panel: what was deleted, the one kept and why; no retry can
  // delete an alert that says it cannot be deleted.
  await expect(page.getByTestId('bulk-run')).toHaveAttribute('data-finished', 'true');
  await expect(page.getByTestId('bulk-title')).toHaveText(
    `Delete all alerts: ${total - 1} of ${total} alerts deleted, 1 could not be deleted`,
  );
  const failures = page.getByTestId('bulk-results').locator('tbody tr[data-item]');
  await expect(failures).toHaveCount(1);
  await expect(failures).toHaveAttribute('data-state', 'kept');
  await expect(failures).toContainText(text);
  await expect(failures).toContainText('Not deletable');
  await expect(page.getByRole('button', { name: 'Retry the failed ones' })).toHaveCount(0);
  expect(sent.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(['POST /api/data/v9.2/$batch']);
  expect(sent[0].body.match(/^DELETE \/api\/data\/v9\.2\/tracelogs\(/gm)?.length).toBe(total - 1);
  // What remains is the one that cannot be deleted.
  await expect(tab(page, 'All').locator('.alerts-count')).toHaveText('1');
  await expect(items(page)).toHaveCount(1);
  await expect(items(page).first()).toContainText(text);
  await expect(items(page).first()).toContainText('Cannot be deleted');
  await page.screenshot({ path: `${ARTIFACTS}/alerts-delete-all.png` });
  await page.reload();
  await expect(tab(page, 'All').locator('.alerts-count')).toHaveText('1');
  expect(errors).toEqual([]);
});
