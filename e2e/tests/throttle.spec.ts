import { expect, test } from '@playwright/test';
import { ADMIN, signIn, startOrganization, watchErrors } from './helpers';

// Service protection as a real Dataverse organization applies it: an organization of
// its own with low limits (a few requests in a 3-second window), so the console's
// bulk action is answered 429 + Retry-After and must wait and send again.

const WINDOW_SECS = 3;

let stop = () => {};
let base = '';

test.beforeAll(async () => {
  ({ base, stop } = await startOrganization(['--seed', 'demo', '--engine', 'off', '--max-requests-per-5min', '40', '--throttle-window', String(WINDOW_SECS)]));
});

test.afterAll(() => stop());

test('a throttled $batch waits for Retry-After and is sent again', async ({ page, request }) => {
  const errors = watchErrors(page);
  await page.goto(`${base}/signin?next=/mailboxes?view=unapproved`);
  await signIn(page);
  const grid = page.getByTestId('mailbox-grid');
  await expect(grid).toHaveAttribute('aria-busy', 'false');
  const ids = await grid.locator('tbody tr[data-id]').evaluateAll((trs) =>
    trs
      .filter((tr) => (tr.querySelector('td[data-col="approval"]') as HTMLElement).innerText === 'Pending Approval')
      .filter((tr) => !(tr.querySelector('td:nth-child(4)') as HTMLElement).innerText.includes('Exchange Online'))
      .map((tr) => tr.getAttribute('data-id')!),
  );
  const chosen = ids.slice(0, 3);
  expect(chosen.length).toBe(3);
  for (const id of chosen) await page.locator(`tr[data-id="${id}"] input[type=checkbox]`).check();

  // Use up the window as the same user, from outside the page.
  const login = await request.post(`${base}/api/auth/login`, { data: { username: ADMIN.user, password: ADMIN.password } });
  const bearer = (await login.json()).access_token;
  let throttled = false;
  for (let i = 0; i < 100 && !throttled; i++) {
    const r = await request.get(`${base}/api/data/v9.2/WhoAmI`, { headers: { Authorization: `Bearer ${bearer}` } });
    throttled = r.status() === 429;
  }
  expect(throttled).toBe(true);

  // The run's requests (the profiles it reads first, its $batch and the read-back):
  // the first is throttled, waits and is sent again, and the run completes.
  const statuses: number[] = [];
  page.on('response', (r) => {
    if (r.url().includes('/api/data/v9.2/')) statuses.push(r.status());
  });
  await page.getByRole('button', { name: 'Approve Email' }).click();
  await expect(page.getByTestId('bulk-run')).toHaveAttribute('data-finished', 'true', { timeout: 20_000 });
  await expect(page.getByTestId('bulk-title')).toHaveText('Approve Email: 3 of 3 done');
  expect(statuses[0]).toBe(429);
  // The grid's reload after the run may meet the same window and wait its turn too:
  // what counts is that the last answer is a success.
  await expect.poll(() => statuses[statuses.length - 1], { timeout: 15_000 }).toBe(200);
  // Chromium logs the 429s as failed loads; they are the answers this test asked for.
  expect(errors.filter((e) => !/status of 429/.test(e))).toEqual([]);
});
