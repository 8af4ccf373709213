import { expect, test } from '@playwright/test';
import { ADMIN, signIn, watchErrors } from './helpers';

// What a user without a role is offered reports what really happened.
const API = '/api/data/v9.2';

test('a plain user is told their approved mailbox is already approved, and nothing is sent', async ({ page, request }) => {
  const errors = watchErrors(page);
  const login = await request.post('/api/auth/login', { data: { username: 'nestor', password: ADMIN.password } });
  expect(login.ok()).toBeTruthy();
  const bearer = (await login.json()).access_token;
  const r = await request.get(`${API}/mailboxes?$select=mailboxid,name&$filter=emailrouteraccessapproval eq 1&$top=1`, {
    headers: { Authorization: `Bearer ${bearer}` },
  });
  expect(r.ok(), await r.text()).toBeTruthy();
  const [mine] = (await r.json()).value;
  expect(mine, "the demo gives nestor an approved mailbox").toBeTruthy();

  await page.goto('/signin?next=/mailboxes');
  await signIn(page, 'nestor');
  // The grid does not offer what his privileges do not allow.
  await expect(page.getByTestId('mailbox-grid').locator('tbody tr[data-id]').first()).toBeVisible();
  await expect(page.getByRole('button', { name: 'Approve Email' })).toHaveCount(0);

  await page.goto(`/mailboxes/${mine.mailboxid}`);
  await expect(page.locator('main h1')).toContainText(mine.name);
  const writes: string[] = [];
  page.on('request', (req) => {
    if (req.method() !== 'GET') writes.push(`${req.method()} ${req.url()}`);
  });
  await page.getByRole('button', { name: 'Approve Email' }).click();
  await expect(page.getByText('already approved')).toBeVisible();
  await expect(page.getByTestId('bulk-run')).toHaveCount(0);
  expect(writes).toEqual([]);
  expect(errors).toEqual([]);
});
