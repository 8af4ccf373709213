import { expect, test, type APIRequestContext } from '@playwright/test';
import { ADMIN, signIn, startOrganization, watchErrors } from './helpers';

// The dashboard over an organization whose engine runs: the demo organization of its
// own, with `mailsync serve`'s engine on. Its profiles point at servers that do not
// exist, so its mailboxes fail as they really would, and the dashboard shows it.
test.describe.configure({ mode: 'serial', timeout: 90_000 });

const API = '/api/data/v9.2';

let stop = () => {};
let base = '';

test.beforeAll(async () => {
  ({ base, stop } = await startOrganization(['--seed', 'demo', '--engine', 'on']));
});

test.afterAll(() => stop());

/** A number as the console writes it ("1,234"). */
const num = (text: string) => Number(text.replace(/,/g, ''));

async function count(request: APIRequestContext, bearer: string, filter: string): Promise<number> {
  const r = await request.get(`${base}${API}/mailboxes?$select=mailboxid&$top=1&$count=true&$filter=${encodeURIComponent(filter)}`, {
    headers: { Authorization: `Bearer ${bearer}` },
  });
  expect(r.ok(), await r.text()).toBeTruthy();
  return (await r.json())['@odata.count'];
}

test('the dashboard shows the engine at work, and its numbers open the records behind them', async ({ page, request }) => {
  const errors = watchErrors(page);
  const login = await request.post(`${base}/api/auth/login`, { data: { username: ADMIN.user, password: ADMIN.password } });
  const bearer = (await login.json()).access_token;
  const failing = 'statecode eq 0 and lastsyncerrorcount gt 0';
  // The engine's first passes: the demo's servers do not exist.
  await expect.poll(() => count(request, bearer, failing), { timeout: 30_000 }).toBeGreaterThan(50);

  await page.goto(`${base}/signin?next=/dashboard`);
  await signIn(page);
  await expect(page.locator('main h1')).toHaveText('Dashboard');
  await page.getByRole('button', { name: 'Refresh' }).click();
  const status = page.getByTestId('dash-status');
  const failingBar = status.locator('.bar-row[data-label="Failing"] .bar-value');
  await expect(failingBar).toHaveText(/^[\d,]+$/);
  // What the dashboard says is what the organization holds (the engine's passes keep
  // landing, so refresh until one reading of both agrees).
  await expect
    .poll(
      async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        await expect(failingBar).toHaveText(/^[\d,]+$/);
        return num(await failingBar.innerText()) === (await count(request, bearer, failing));
      },
      { timeout: 30_000 },
    )
    .toBe(true);

  // Every status bar is the organization's count for the same filter (refreshed until
  // the engine's passes in flight have landed).
  const statuses: Record<string, string> = {
    Enabled: 'statecode eq 0 and (enabledforincomingemail eq true or enabledforoutgoingemail eq true or enabledforact eq true)',
    Disabled: 'statecode eq 0 and enabledforincomingemail eq false and enabledforoutgoingemail eq false and enabledforact eq false',
    'Pending test': 'testemailconfigurationscheduled eq true',
    'Never tested': 'testmailboxaccesscompletedon eq null',
  };
  for (const [label, filter] of Object.entries(statuses)) {
    const value = status.locator(`.bar-row[data-label="${label}"] .bar-value`);
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          await expect(status.locator('.bar-row')).toHaveCount(5);
          return num(await value.innerText()) === (await count(request, bearer, filter));
        },
        { timeout: 30_000 },
      )
      .toBe(true);
  }
  // Failing mailboxes by profile: the bars add up to the failing mailboxes.
  const profileValues = page.getByTestId('dash-profiles').locator('.bar-value');
  await expect
    .poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      const bars = (await profileValues.allInnerTexts()).map(num);
      return bars.length > 0 && bars.reduce((a, b) => a + b, 0) === (await count(request, bearer, failing));
    }, { timeout: 30_000 })
    .toBe(true);

  // Failing mailboxes by error: the knowledge base names the error.
  const errorsCard = page.getByTestId('dash-errors');
  // (An entry met with several error codes is one bar per code: "<title> (code N)".)
  const location = '.bar-row[data-label^="Mailbox location could not be determined"]';
  await expect(errorsCard.locator(location).first()).toBeVisible();
  const hours = page.getByTestId('dash-hours');
  // Alerts per hour are the organization's counts of the alerts last logged in that
  // hour (the errors among them in red); the engine's own statistics add a chart.
  const thisHour = hours.locator('.chart-col').last();
  await expect.poll(async () => Number(await thisHour.getAttribute('data-failures'))).toBeGreaterThan(0);
  await expect
    .poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      const start = new Date();
      start.setUTCMinutes(0, 0, 0);
      const end = new Date(start.getTime() + 3600_000);
      const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
      const r = await request.get(
        `${base}${API}/tracelogs?$select=tracelogid&$count=true&$filter=${encodeURIComponent(`modifiedon ge ${iso(start)} and modifiedon lt ${iso(end)}`)}`,
        { headers: { Authorization: `Bearer ${bearer}`, Prefer: 'odata.maxpagesize=1' } },
      );
      return Number(await thisHour.getAttribute('data-total')) === (await r.json())['@odata.count'];
    }, { timeout: 30_000 })
    .toBe(true);
  await expect(page.getByTestId('dash-cycles').locator('.chart-col')).toHaveCount(24);
  await page.screenshot({ path: 'artifacts/dashboard.png', fullPage: true });

  // A bar opens the Mailboxes grid filtered to its mailboxes. The engine keeps failing
  // mailboxes while the test runs, so the grid is compared with the organization at the
  // moment the grid is read, not with the bar's earlier number.
  const bar = errorsCard.locator(`${location} .bar-value`).first();
  expect(num(await bar.innerText())).toBeGreaterThan(0);
  await bar.click();
  await expect(page).toHaveURL(/\/mailboxes\?view=all&f=/);
  await expect(page.getByTestId('grid-filter')).toContainText('Mailbox location could not be determined');
  const filter = new URL(page.url()).searchParams.get('f') ?? '';
  expect(filter).toContain(failing);
  // One code of the entry (seeded errors without a code are a group of their own).
  expect(filter).toMatch(/lastsyncerrorcode eq (\d+|null)/);
  const shown = page.locator('.mailboxes .page-header .muted');
  await expect
    .poll(
      async () => {
        const before = await count(request, bearer, filter);
        await page.reload();
        await expect(shown).toContainText(/[\d,]+ mailbox(es)?\b/);
        const grid = num((await shown.innerText()).match(/([\d,]+) mailbox(es)?\b/)![1]);
        return grid === before || grid === (await count(request, bearer, filter));
      },
      { timeout: 30_000 },
    )
    .toBe(true);
  await page.getByTestId('grid-filter').getByRole('button', { name: 'Show all' }).click();
  await expect(page.getByTestId('grid-filter')).toHaveCount(0);

  // An hour of the chart opens the alerts logged in it.
  await page.goto(`${base}/dashboard`);
  await page.getByTestId('dash-hours').locator('.chart-col').last().click();
  await expect(page).toHaveURL(/\/alerts\?from=/);
  await expect(page.getByTestId('alerts-window')).toBeVisible();
  await expect(page.locator('.alerts-list > .alerts-item').first()).toBeVisible();
  expect(errors).toEqual([]);
});
