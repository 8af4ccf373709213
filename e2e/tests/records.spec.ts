import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { ADMIN, signIn, watchErrors } from './helpers';

// The mailbox and email server profile forms, their alerts, and the grid actions that
// change many records (Reject, Apply Default Email Settings, Export CSV). These tests
// change mailboxes, profiles and alerts, so playwright.config.ts runs this file after
// the others (project "records"), and its tests in order.
test.describe.configure({ mode: 'serial', timeout: 60_000 });

const API = '/api/data/v9.2';
const EXO = 'Microsoft Exchange Online';

async function token(request: APIRequestContext): Promise<string> {
  const r = await request.post('/api/auth/login', { data: { username: ADMIN.user, password: ADMIN.password } });
  expect(r.ok()).toBeTruthy();
  return (await r.json()).access_token;
}

async function api(request: APIRequestContext, method: string, path: string, data?: unknown, headers: Record<string, string> = {}) {
  const bearer = await token(request);
  const r = await request.fetch(`${API}/${path}`, {
    method,
    data,
    headers: { Authorization: `Bearer ${bearer}`, ...headers },
  });
  expect(r.ok(), `${method} ${path}: ${r.status()} ${await r.text()}`).toBeTruthy();
  return r.status() === 204 ? null : r.json();
}

async function profileId(request: APIRequestContext, name: string): Promise<string> {
  const q = encodeURIComponent(`name eq '${name}'`);
  const r = await api(request, 'GET', `emailserverprofiles?$select=emailserverprofileid&$filter=${q}`);
  return r.value[0].emailserverprofileid;
}

/** Approved mailboxes not on Exchange Online, last by name (the other specs work from the top). */
async function approvedMailboxes(request: APIRequestContext, n: number, skip = 0) {
  const exo = await profileId(request, EXO);
  const f = encodeURIComponent(`emailrouteraccessapproval eq 1 and _emailserverprofile_value ne ${exo}`);
  const r = await api(request, 'GET', `mailboxes?$select=mailboxid,name,emailaddress&$filter=${f}&$orderby=name desc&$top=${n + skip}`);
  return r.value.slice(skip) as { mailboxid: string; name: string; emailaddress: string }[];
}

async function openForm(page: Page, name: string, id: string) {
  await page.goto(`/mailboxes?view=all&q=${encodeURIComponent(name)}`);
  await page.locator(`tr[data-id="${id}"] a`).click();
  await expect(page).toHaveURL(new RegExp(`/mailboxes/${id}$`));
  await expect(page.locator('main h1')).toHaveText(name);
}

test.beforeEach(async ({ page }) => {
  await page.goto('/signin?next=/mailboxes');
  await signIn(page);
});

test('mailbox form: sections, write-only password, address change back to pending, approve, unsaved guard', async ({ page, request }) => {
  const errors = watchErrors(page);
  const [mb] = await approvedMailboxes(request, 1);
  await openForm(page, mb.name, mb.mailboxid);
  for (const section of ['General', 'Credentials', 'Synchronization Method', 'Configuration Test Results', 'Approval']) {
    await expect(page.getByRole('region', { name: section })).toBeVisible();
  }
  await expect(page.getByTestId('approval')).toHaveText('Approved');
  await expect(page.getByLabel('Email Address')).toHaveValue(mb.emailaddress);

  // The password is write-only: saved, never read back.
  await page.getByLabel('Password', { exact: true }).fill('n3w-secret');
  await expect(page.getByTestId('dirty')).toBeVisible();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('.record-note')).toHaveText('Saved.');
  const stored = await api(request, 'GET', `mailboxes(${mb.mailboxid})`);
  expect(stored).not.toHaveProperty('password');
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');

  // Unsaved changes: leaving through the navigation asks first.
  const address = `moved.${Date.now()}@contoso.com`;
  await page.getByLabel('Email Address').fill(address);
  await expect(page.getByTestId('dirty')).toBeVisible();
  page.once('dialog', (d) => d.dismiss());
  await page.locator('nav.sidenav').getByRole('link', { name: 'Alerts' }).click();
  await expect(page).toHaveURL(new RegExp(`/mailboxes/${mb.mailboxid}$`));
  await expect(page.getByLabel('Email Address')).toHaveValue(address);

  // A new address needs approval again.
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('.record-note')).toHaveText('Saved.');
  await expect(page.getByTestId('approval')).toHaveText('Pending Approval');
  await page.reload();
  await expect(page.getByLabel('Email Address')).toHaveValue(address);
  await expect(page.getByTestId('approval')).toHaveText('Pending Approval');

  await page.getByRole('button', { name: 'Approve Email' }).click();
  await expect(page.getByTestId('bulk-title')).toHaveText('Approve Email: 1 of 1 done');
  await expect(page.getByTestId('approval')).toHaveText('Approved');
  await page.screenshot({ path: 'artifacts/mailbox-form.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('mailbox form: a save after someone else\'s keeps both, unless they changed the same field', async ({ page, request }) => {
  const errors = watchErrors(page);
  const [mb] = await approvedMailboxes(request, 1, 1);
  await openForm(page, mb.name, mb.mailboxid);
  // Someone else (or the engine) changes another column: the save still goes through.
  await page.getByLabel('Name', { exact: true }).fill(`${mb.name} (edited)`);
  await api(request, 'PATCH', `mailboxes(${mb.mailboxid})`, { processanddeleteemails: true });
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('.record-note')).toHaveText('Saved.');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(`${mb.name} (edited)`);
  await expect(page.getByLabel('Delete Emails after Processing')).toBeChecked();
  // Someone else renames it meanwhile: the 412 is the user's to resolve.
  await page.getByLabel('Name', { exact: true }).fill(mb.name);
  await api(request, 'PATCH', `mailboxes(${mb.mailboxid})`, { name: `${mb.name} (theirs)` });
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.locator('.record-note')).toContainText('Not saved: someone else changed this mailbox');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(`${mb.name} (theirs)`);
  await api(request, 'PATCH', `mailboxes(${mb.mailboxid})`, { name: mb.name, processanddeleteemails: false });
  expect(errors.filter((e) => !/status of 412/.test(e))).toEqual([]);
});

test('mailbox form: its alerts, filtered and deleted one by one', async ({ page, request }) => {
  const errors = watchErrors(page);
  const f = encodeURIComponent('lastsyncerror ne null');
  const failing = (await api(request, 'GET', `mailboxes?$select=mailboxid,name&$filter=${f}&$orderby=name desc&$top=20`)).value;
  let chosen: { mailboxid: string; name: string } | undefined;
  let total = 0;
  for (const m of failing) {
    const alerts = await api(request, 'GET', `tracelogs?$select=tracelogid&$count=true&$filter=_regardingobjectid_value eq ${m.mailboxid} and canbedeleted eq true`);
    if (alerts['@odata.count'] >= 2) {
      chosen = m;
      total = (await api(request, 'GET', `tracelogs?$select=tracelogid&$count=true&$filter=_regardingobjectid_value eq ${m.mailboxid}`))['@odata.count'];
      break;
    }
  }
  expect(chosen, 'a failing mailbox with deletable alerts').toBeTruthy();
  await openForm(page, chosen!.name, chosen!.mailboxid);
  const section = page.locator('.record-alerts');
  await expect(section.getByTestId('record-alerts-range')).toHaveText(`${Math.min(total, 20)} of ${total}`);
  // Errors only.
  await section.getByRole('tab', { name: 'Errors' }).click();
  const levels = await section.locator('.alerts-item').evaluateAll((li) => li.map((e) => e.getAttribute('data-level')));
  expect(levels.every((l) => l === '3')).toBe(true);
  await section.getByRole('tab', { name: 'All' }).click();
  await expect(section.getByTestId('record-alerts-range')).toHaveText(`${Math.min(total, 20)} of ${total}`);
  // The record's own form does not link to itself.
  await expect(section.locator('.alerts-regarding')).toHaveCount(0);

  const first = section.locator('.alerts-item').filter({ has: page.locator('.alerts-delete') }).first();
  const id = await first.getAttribute('data-id');
  const item = section.locator(`.alerts-item[data-id="${id}"]`);
  await item.locator('.alerts-delete').click();
  await item.locator('.alerts-delete-confirm').click();
  await expect(section.locator('[role=status]')).toHaveText('The alert was deleted.');
  await expect(section.getByTestId('record-alerts-range')).toHaveText(`${Math.min(total - 1, 20)} of ${total - 1}`);
  await expect(item).toHaveCount(0);
  const left = await api(request, 'GET', `tracelogs?$select=tracelogid&$filter=tracelogid eq ${id}`);
  expect(left.value).toEqual([]);
  expect(errors).toEqual([]);
});

test('grid: Reject Email, Apply Default Email Settings, Export CSV', async ({ page, request }) => {
  const errors = watchErrors(page);
  const picked = await approvedMailboxes(request, 3, 2);
  for (const m of picked) await api(request, 'PATCH', `mailboxes(${m.mailboxid})`, { outgoingemaildeliverymethod: 0, actdeliverymethod: 2 });
  // The demo's names are fixed: these are among the last 50 by name.
  await page.goto('/mailboxes?view=all&sort=name&desc=1');
  await expect(page.getByTestId('mailbox-grid')).toHaveAttribute('aria-busy', 'false');
  for (const m of picked) await page.locator(`tr[data-id="${m.mailboxid}"] input[type=checkbox]`).check();
  await expect(page.getByTestId('selected-count')).toHaveText('3 selected');

  await page.getByRole('button', { name: 'Apply Default Email Settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Apply Default Email Settings' });
  await expect(dialog).toContainText('3 selected mailboxes');
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('bulk-title')).toHaveText('Apply Default Email Settings: 3 of 3 done');
  const org = (await api(request, 'GET', 'organizations?$select=defaultemailsettings,_defaultemailserverprofileid_value')).value[0];
  for (const m of picked) {
    const r = await api(request, 'GET', `mailboxes(${m.mailboxid})?$select=outgoingemaildeliverymethod,actdeliverymethod,_emailserverprofile_value`);
    expect(r.outgoingemaildeliverymethod).toBe(2);
    expect(r.actdeliverymethod).toBe(1);
    expect(r._emailserverprofile_value).toBe(org._defaultemailserverprofileid_value);
  }
  await page.getByRole('button', { name: 'Close' }).click();

  // Reject the same three (admin holds the Exchange Online right).
  for (const m of picked) await page.locator(`tr[data-id="${m.mailboxid}"] input[type=checkbox]`).check();
  await page.getByRole('button', { name: 'Reject Email' }).click();
  await expect(page.getByTestId('bulk-title')).toHaveText('Reject Email: 3 of 3 done');
  for (const m of picked) {
    await expect(page.locator(`tr[data-id="${m.mailboxid}"] td[data-col="approval"]`)).toHaveText('Rejected');
  }

  // Export CSV of a view: one line per mailbox of the view, with a header. A name that
  // a spreadsheet would run as a formula is exported as text.
  await api(request, 'PATCH', `mailboxes(${picked[0].mailboxid})`, { name: '=HYPERLINK("http://evil.example","x")' });
  await page.goto('/mailboxes?view=unapproved');
  await expect(page.getByTestId('mailbox-grid')).toHaveAttribute('aria-busy', 'false');
  const count = Number((await page.locator('.mailboxes .page-header .muted').innerText()).match(/([\d,]+) mailboxes/)![1].replace(/,/g, ''));
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('mailboxes-unapproved.csv');
  const csv = await (await file.createReadStream()).toArray();
  const lines = Buffer.concat(csv).toString('utf8').trim().split('\r\n');
  expect(lines[0]).toMatch(/^Mailbox ID,Name,Email address,Email server profile,Approval,/);
  expect(lines.length - 1).toBe(count);
  for (const m of picked) expect(lines.some((l) => l.startsWith(`${m.mailboxid},`) && l.includes(',Rejected,'))).toBe(true);
  const evil = lines.find((l) => l.startsWith(`${picked[0].mailboxid},`))!;
  expect(evil).toContain(`${picked[0].mailboxid},"'=HYPERLINK(""http://evil.example"",""x"")",`);
  expect(errors).toEqual([]);
});

test('profile form: live form rules, supported-configuration findings, create', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/profiles');
  const grid = page.getByTestId('profile-grid');
  await expect(grid.locator('tbody tr[data-id]')).toHaveCount(4);
  await expect(grid.locator('tr', { hasText: EXO }).locator('td[data-col="mailboxes"]')).toHaveText(/^\d+$/);
  // The shared data grid: a header sorts (aria-sort), a column hidden is remembered.
  const byName = grid.locator('th[data-col="name"]');
  await expect(byName).toHaveAttribute('aria-sort', 'ascending');
  await grid.getByRole('button', { name: 'Name', exact: true }).click();
  await expect(byName).toHaveAttribute('aria-sort', 'descending');
  await expect(grid).toHaveAttribute('aria-busy', 'false');
  await expect(grid.locator('tbody tr[data-id]')).toHaveCount(4);
  const names = (await grid.locator('tbody td[data-col="name"]').allInnerTexts()).map((n) => n.toLowerCase());
  expect(names[0] >= names[names.length - 1]).toBe(true);
  const columns = page.getByText('Columns', { exact: true });
  await columns.click();
  await page.getByRole('checkbox', { name: 'Incoming Server' }).uncheck();
  await expect(grid.locator('th[data-col="location"]')).toBeHidden();
  await page.reload();
  await expect(grid.locator('tbody tr[data-id]')).toHaveCount(4);
  await expect(grid.locator('th[data-col="location"]')).toBeHidden();
  await columns.click();
  await page.getByRole('checkbox', { name: 'Incoming Server' }).check();
  await expect(grid.locator('th[data-col="location"]')).toBeVisible();
  await columns.click();
  await page.getByRole('link', { name: 'New profile' }).click();
  await expect(page).toHaveURL(/\/profiles\/new$/);
  await expect(page.getByRole('button', { name: 'Create' })).toBeDisabled();

  const incoming = page.getByRole('region', { name: 'Incoming Server' });
  const findings = page.getByTestId('profile-findings');
  // IMAP/SMTP: no autodiscover, no impersonation; the usual SSL ports.
  await expect(page.getByLabel('Auto Discover Server Location')).toHaveCount(0);
  await expect(incoming.getByLabel('Port')).toHaveValue('993');
  await incoming.getByLabel('Use SSL').uncheck();
  await expect(incoming.getByLabel('Port')).toHaveValue('143');
  await expect(findings.locator('li[data-code="profile_ssl_off"]')).toBeVisible();
  await incoming.getByLabel('Use SSL').check();

  await page.getByLabel('Name', { exact: true }).fill(`E2E Exchange Online ${Date.now()}`);
  await page.getByLabel('Server Type').selectOption({ label: 'Exchange Server' });
  await expect(page.getByLabel('Auto Discover Server Location')).toBeVisible();
  await expect(incoming.getByLabel('Port')).toHaveValue('443');

  // Server to Server Authentication forces Auto Detect.
  await incoming.getByLabel('Authentication Protocol').selectOption({ label: 'Basic' });
  await incoming.getByLabel('Authenticate Using').selectOption({ label: 'Server to Server Authentication' });
  await expect(incoming.getByLabel('Authentication Protocol')).toBeDisabled();
  await expect(incoming.getByLabel('Authentication Protocol')).toHaveValue('0');
  // "Use same settings for Outgoing" carries it to the outgoing connection.
  const outgoing = page.getByRole('region', { name: 'Outgoing Server' });
  await expect(outgoing.getByLabel('Authenticate Using')).toHaveValue('2');
  await expect(outgoing.getByLabel('Authenticate Using')).toBeDisabled();
  // Exchange Online without autodiscover is unsupported.
  await expect(findings.locator('li[data-code="kb.exchange-online-unsupported-settings"]')).toContainText('Auto Discover Server Location is off');
  await page.getByLabel('Auto Discover Server Location').check();
  await expect(findings.locator('li[data-code="kb.exchange-online-unsupported-settings"]')).toHaveCount(0);
  await expect(incoming.getByLabel('Server Location')).toBeDisabled();

  // User name and password only with credentials in the profile.
  await expect(incoming.getByLabel('User Name')).toHaveCount(0);
  await incoming.getByLabel('Authenticate Using').selectOption({ label: 'Credentials Specified in Email Server Profile' });
  await expect(incoming.getByLabel('User Name')).toBeVisible();
  await expect(incoming.getByLabel('Authentication Protocol')).toBeEnabled();
  await incoming.getByLabel('Authenticate Using').selectOption({ label: 'Server to Server Authentication' });
  await expect(incoming.getByLabel('User Name')).toHaveCount(0);

  // Out of range: not valid, and Create stays disabled.
  await page.getByLabel('Maximum Concurrent Connections').fill('500');
  await expect(findings.locator('li[data-code="profile_connections_out_of_range"]')).toHaveAttribute('data-severity', 'Not valid');
  await expect(page.getByRole('button', { name: 'Create' })).toBeDisabled();
  await page.getByLabel('Maximum Concurrent Connections').fill('20');
  // Exchange 2007 is unsupported: a warning, which does not block saving.
  await page.getByLabel('Exchange Version').selectOption({ label: 'Exchange 2007 SP1' });
  await expect(findings.locator('li[data-code="profile_exchange_version_unsupported"]')).toContainText('Exchange 2007 SP1');
  await expect(page.getByRole('button', { name: 'Create' })).toBeEnabled();
  await page.getByLabel('Exchange Version').selectOption({ label: 'Exchange 2013' });
  await expect(findings.locator('li[data-code="profile_exchange_version_unsupported"]')).toHaveCount(0);
  await expect(findings).toContainText('Supported configuration');
  await page.getByRole('button', { name: 'Create' }).click();
  await expect(page).toHaveURL(/\/profiles\/[0-9a-f-]{36}$/);
  await expect(page.locator('.record-note')).toHaveText('The profile was created.');

  await page.reload();
  await expect(page.getByLabel('Server Type')).toHaveValue('0');
  await expect(page.getByLabel('Auto Discover Server Location')).toBeChecked();
  await expect(incoming.getByLabel('Authenticate Using')).toHaveValue('2');
  await expect(page.getByLabel('Maximum Concurrent Connections')).toHaveValue('20');
  await expect(page.getByRole('region', { name: 'Last test' })).toBeVisible();
  await page.screenshot({ path: 'artifacts/profile-form.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('profile form: Test & Enable Mailboxes schedules every mailbox of the profile', async ({ page, request }) => {
  const errors = watchErrors(page);
  const created = await api(request, 'POST', 'emailserverprofiles', {
    name: `E2E POP3 ${Date.now()}`, servertype: 1, useautodiscover: false,
    incomingcredentialretrieval: 0, outgoingcredentialretrieval: 0,
    incomingportnumber: 995, outgoingportnumber: 465,
  }, { Prefer: 'return=representation' });
  const id = created.emailserverprofileid;
  const mailboxes = await approvedMailboxes(request, 2, 6);
  for (const m of mailboxes) {
    await api(request, 'PATCH', `mailboxes(${m.mailboxid})`, { 'emailserverprofile@odata.bind': `/emailserverprofiles(${id})`, testemailconfigurationscheduled: false });
  }
  await page.goto(`/profiles/${id}`);
  await page.getByRole('button', { name: 'Test & Enable Mailboxes' }).click();
  const dialog = page.getByRole('dialog', { name: 'Test & Enable Mailboxes' });
  await expect(dialog).toContainText('for 2 selected mailboxes');
  await dialog.getByRole('button', { name: 'Test & Enable', exact: true }).click();
  await expect(page.getByTestId('bulk-title')).toHaveText('Test & Enable: 2 of 2 done');
  for (const m of mailboxes) {
    const r = await api(request, 'GET', `mailboxes(${m.mailboxid})?$select=testemailconfigurationscheduled`);
    expect(r.testemailconfigurationscheduled).toBe(true);
  }
  // The profile's alerts section (a new profile has none).
  await expect(page.locator('.record-alerts')).toContainText('No alerts for this record.');
  expect(errors).toEqual([]);
});
