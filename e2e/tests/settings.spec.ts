import { expect, test, type Page } from '@playwright/test';
import { ADMIN, signIn, watchErrors } from './helpers';

// System Settings, Email tab, against the demo organization (one organization record:
// these tests run in order and put back what they change).
test.describe.configure({ mode: 'serial' });

const ARTIFACTS = 'artifacts';

const save = (page: Page) => page.getByRole('button', { name: 'Save', exact: true });

async function open(page: Page, user = ADMIN.user) {
  await page.goto('/signin?next=/settings');
  await signIn(page, user);
  await expect(page.locator('main h1')).toHaveText('System Settings');
  await expect(page.getByLabel('Process email using')).toBeVisible();
}

test('changes persist after a reload', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page);
  await expect(page.getByLabel('Process email using')).toHaveValue('0');
  const notify = page.getByLabel('Notify mailbox owner');
  const warning = page.getByLabel('Warning', { exact: true });
  const before = { notify: await notify.isChecked(), warning: await warning.isChecked() };
  const outgoing = page.getByLabel('Outgoing Email');
  const outBefore = await outgoing.inputValue();
  const profile = page.getByLabel('Server Profile');
  const profBefore = await profile.inputValue();
  const other = await profile
    .locator('option')
    .evaluateAll((os, cur) => os.map((o) => (o as HTMLOptionElement).value).find((v) => v && v !== cur), profBefore);
  expect(other).toBeTruthy();
  await expect(save(page)).toBeDisabled();

  await notify.setChecked(!before.notify);
  await warning.setChecked(!before.warning);
  await outgoing.selectOption(outBefore === '2' ? '0' : '2');
  await profile.selectOption(other!);
  await expect(page.locator('.settings-dirty')).toBeVisible();
  await page.locator('main').evaluate((m) => m.scrollTo(0, 0));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${ARTIFACTS}/settings.png` });
  await save(page).click();
  await expect(page.getByRole('status').filter({ hasText: 'Settings saved' })).toBeVisible();
  await expect(page.locator('.settings-dirty')).toHaveCount(0);

  await page.reload();
  await expect(page.getByLabel('Process email using')).toBeVisible();
  await expect(notify).toBeChecked({ checked: !before.notify });
  await expect(warning).toBeChecked({ checked: !before.warning });
  await expect(outgoing).toHaveValue(outBefore === '2' ? '0' : '2');
  await expect(profile).toHaveValue(other!);

  // Put everything back.
  await notify.setChecked(before.notify);
  await warning.setChecked(before.warning);
  await outgoing.selectOption(outBefore);
  await profile.selectOption(profBefore);
  await save(page).click();
  await expect(page.getByRole('status').filter({ hasText: 'Settings saved' })).toBeVisible();
  await page.reload();
  await expect(notify).toBeChecked({ checked: before.notify });
  await expect(profile).toHaveValue(profBefore);
  expect(errors).toEqual([]);
});

test('a stale save gets the 412 message and the current settings', async ({ page, request }) => {
  const errors = watchErrors(page);
  await open(page);
  const info = page.getByLabel('Information', { exact: true });
  const before = await info.isChecked();

  // Someone else saves in the meantime (an administrator over the API).
  const login = await request.post('/api/auth/login', {
    data: { username: 'megan', password: ADMIN.password },
  });
  const token = (await login.json()).access_token;
  const auth = { Authorization: `Bearer ${token}` };
  const orgs = await (await request.get('/api/data/v9.2/organizations?$select=organizationid', { headers: auth })).json();
  const id = orgs.value[0].organizationid;
  const r = await request.patch(`/api/data/v9.2/organizations(${id})`, {
    headers: auth,
    data: { generatealertsforinformation: !before },
  });
  expect(r.status()).toBe(204);

  // This page still holds the old version: its save is refused (412).
  await page.getByLabel('Allow messages with unresolved email recipients to be sent').click();
  await save(page).click();
  const alert = page.getByRole('alert').filter({ hasText: 'someone else changed these settings' });
  await expect(alert).toBeVisible();
  // Reloaded: the other change shows, this page's change is gone.
  await expect(info).toBeChecked({ checked: !before });
  await expect(page.locator('.settings-dirty')).toHaveCount(0);

  const put = await request.patch(`/api/data/v9.2/organizations(${id})`, {
    headers: auth,
    data: { generatealertsforinformation: before },
  });
  expect(put.status()).toBe(204);
  // The refused PATCH is a 412 the browser logs; nothing else.
  expect(errors.filter((e) => !/status of 412/.test(e))).toEqual([]);
});

test('unsaved changes are not lost silently', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page);
  const notify = page.getByLabel('Notify mailbox owner');
  const before = await notify.isChecked();
  await notify.setChecked(!before);
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
  await expect.poll(() => asked).toContain('unsaved changes');
  await expect(page).toHaveURL(/\/settings$/);
  await expect(notify).toBeChecked({ checked: !before });
  await page.getByRole('button', { name: 'Discard' }).click();
  await expect(notify).toBeChecked({ checked: before });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
  await expect(page).toHaveURL(/\/alerts$/);
  expect(errors).toEqual([]);
});

test('a user without a role is told that System Settings are not theirs to read', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/settings');
  await signIn(page, 'nestor');
  await expect(page.locator('main h1')).toHaveText('System Settings');
  await expect(page.locator('.settings-forbidden')).toBeVisible();
  await expect(page.getByLabel('Process email using')).toHaveCount(0);
  await expect(save(page)).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('an Exchange Administrator manages mailboxes but not settings or profiles', async ({ page }) => {
  const errors = watchErrors(page);
  await open(page, 'alex');
  await expect(page.locator('.settings-readonly')).toBeVisible();
  await expect(page.getByLabel('Process email using')).toBeDisabled();
  await expect(save(page)).toBeDisabled();

  await page.goto('/profiles');
  await expect(page.locator('main h1')).toHaveText('Email Server Profiles');
  await expect(page.getByRole('link', { name: 'New profile' })).toHaveCount(0);
  await page.getByTestId('profile-grid').locator('tbody a').first().click();
  await expect(page).toHaveURL(/\/profiles\/[0-9a-f-]{36}$/);
  await expect(page.getByText('Only a System Administrator or Global Administrator can change email server profiles.')).toBeVisible();
  await expect(page.getByLabel('Maximum Concurrent Connections')).toBeDisabled();
  await expect(page.getByLabel('Server Type')).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Save', exact: true })).toBeDisabled();
  // Test & Enable of the profile's mailboxes is a mailbox change: still offered.
  await expect(page.getByRole('button', { name: 'Test & Enable Mailboxes' })).toBeEnabled();
  expect(errors).toEqual([]);
});
