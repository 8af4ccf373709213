import { expect, test, type Page } from '@playwright/test';
import { OAuth2Server } from 'oauth2-mock-server';
import { ADMIN, freePort, startOrganization, watchErrors } from './helpers';

// The console managing an organization on another origin, as it manages a real
// Dynamics 365 environment: it signs in through an OpenID Connect provider (the npm
// oauth2-mock-server on loopback, standing in for Microsoft Entra ID: authorization code
// with PKCE, CORS) and calls the organization's plain Web API cross-origin with the
// bearer token. The organization is a `mailsync serve` in OpenID Connect mode
// (`--oidc-issuer`, `--oidc-audience`); the console is served by another one, whose
// Content-Security-Policy allows both origins (`--connect-src`).
test.describe.configure({ mode: 'serial', timeout: 180_000 });

const CLIENT_ID = 'mailsync-e2e-console';
let idp: OAuth2Server;
let environment: { base: string; stop: () => void };
let tested: { base: string; stop: () => void };
let consoleServer: { base: string; stop: () => void };
/** Who the next token names, and how long it lives (seconds). */
// Entra's `upn` is the user's UPN, which is the demo's `domainname`.
const next = { user: 'megan@contoso.com', lifetime: 3600, tokenRequests: [] as string[] };

test.beforeAll(async () => {
  idp = new OAuth2Server();
  await idp.issuer.keys.generate('RS256');
  await idp.start(0, '127.0.0.1');
  const issuer = idp.issuer.url!;
  idp.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    // The ID token is for the console (its audience is the client id); the access token
    // is for the organization and names the user, as Entra's `upn` does.
    if (token.payload.aud !== CLIENT_ID) {
      token.payload.aud = [environment.base, tested.base];
      token.payload.upn = next.user;
      token.payload.exp = Math.floor(Date.now() / 1000) + next.lifetime;
    }
  });
  idp.service.on('beforeResponse', (response: { body: Record<string, unknown> }, req: { body: Record<string, string> }) => {
    next.tokenRequests.push(req.body.grant_type);
    if (response.body.access_token) response.body.expires_in = next.lifetime;
  });
  // Each organization is its own audience: it must know its address before it starts.
  const [envPort, testedPort] = [await freePort(), await freePort()];
  const own = (port: number) => ['--port', String(port), '--oidc-issuer', issuer, '--oidc-audience', `http://127.0.0.1:${port}`];
  // 10,200 mailboxes, 1,020 of them pending (the ones whose address contains "7@"),
  // most on the Exchange Online profile.
  environment = await startOrganization(['--seed', 'scale:10200', '--engine', 'off', ...own(envPort)]);
  tested = await startOrganization(['--seed', 'demo', '--engine', 'on', ...own(testedPort)]);
  consoleServer = await startOrganization(['--seed', 'demo', '--engine', 'off',
    '--connect-src', issuer, '--connect-src', environment.base, '--connect-src', tested.base]);
});

test.afterAll(async () => {
  environment?.stop();
  tested?.stop();
  consoleServer?.stop();
  await idp?.stop();
});

/** Adds `org` and signs in through the provider; the console comes back signed in. */
async function addAndSignIn(page: Page, org: string) {
  await page.goto(`${consoleServer.base}/signin?next=/mailboxes`);
  await page.getByRole('button', { name: 'Add an environment' }).click();
  await expect(page.locator('.signin-redirect-uri')).toHaveText(`${consoleServer.base}/signin`);
  await page.getByLabel('Environment URL').fill(org);
  await page.getByLabel('Application (client) ID').fill(CLIENT_ID);
  await page.locator('summary', { hasText: 'Another OpenID Connect authority' }).click();
  await page.getByLabel('Authority').fill(idp.issuer.url!);
  await page.getByRole('button', { name: 'Save and sign in' }).click();
  await expect(page).toHaveURL(`${consoleServer.base}/mailboxes`);
  await expect(page.locator('header .session-name')).toBeVisible();
}

test('signs in through the provider with PKCE and works cross-origin with a bearer token', async ({ page }) => {
  const errors = watchErrors(page);
  const calls: { url: string; auth?: string; cookie?: string }[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(environment.base)) {
      calls.push({ url: r.url(), auth: r.headers()['authorization'], cookie: r.headers()['cookie'] });
    }
  });
  const authorize = page.waitForRequest((r) => r.url().startsWith(`${idp.issuer.url}/authorize`));
  await addAndSignIn(page, environment.base);
  const url = new URL((await authorize).url());
  expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(url.searchParams.get('scope')).toBe(`${environment.base}/user_impersonation openid offline_access`);
  expect(url.searchParams.get('state')).toBeTruthy();
  expect(url.searchParams.get('nonce')).toBeTruthy();
  // The code left the address bar at once; the organization in use is the environment.
  expect(page.url()).not.toContain('code=');
  await expect(page.getByTestId('org-switch')).toHaveValue(environment.base);
  // The grid is the environment's, read with the bearer token and no cookie.
  await expect(page.locator('table tbody tr').first()).toBeVisible();
  expect(calls.length).toBeGreaterThan(0);
  for (const c of calls) {
    expect(c.auth, c.url).toMatch(/^Bearer /);
    expect(c.cookie, c.url).toBeUndefined();
  }
  expect(next.tokenRequests).toContain('authorization_code');
  // No token in the console's storage: only the refresh token, in this tab.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  expect(stored).not.toContain('eyJ');
  expect(errors).toEqual([]);
});

test('approving 1,000 selected mailboxes reports the ones Dataverse did not apply, and a token that expires is renewed', async ({ page }) => {
  const errors = watchErrors(page);
  next.lifetime = 6;
  await addAndSignIn(page, environment.base);
  await page.goto(`${consoleServer.base}/mailboxes?view=unapproved&q=7%40`);
  await expect(page.locator('table tbody tr').first()).toBeVisible();
  // Past its lifetime: the next requests renew it with the refresh token.
  await page.waitForTimeout(7_000);
  const before = next.tokenRequests.filter((g) => g === 'refresh_token').length;
  await page.getByRole('button', { name: /Select all/ }).click();
  await expect(page.getByTestId('selected-count')).toHaveText(/^1,?020 selected$/, { timeout: 30_000 });
  await page.getByRole('button', { name: 'Approve Email' }).click();
  const run = page.getByTestId('bulk-run');
  await expect(run).toHaveAttribute('data-finished', 'true', { timeout: 60_000 });
  const title = await page.getByTestId('bulk-title').innerText();
  const m = title.match(/^Approve Email: (\d+) of 1020 done, (\d+) accepted but not applied$/);
  expect(m, title).not.toBeNull();
  const [done, notApplied] = [Number(m![1]), Number(m![2])];
  expect(done + notApplied).toBe(1020);
  expect(notApplied).toBeGreaterThan(0);
  await expect(run.locator('tr[data-state="not-applied"] .run-reason').first()).toContainText('Microsoft 365 administrator');
  expect(next.tokenRequests.filter((g) => g === 'refresh_token').length).toBeGreaterThan(before);
  // What was read back is what the organization holds.
  next.lifetime = 3600;
  expect(errors).toEqual([]);
});

test('Test & Enable shows the results as the engine produces them', async ({ page, request }) => {
  const errors = watchErrors(page);
  await addAndSignIn(page, tested.base);
  await page.goto(`${consoleServer.base}/mailboxes?view=active`);
  const rows = page.locator('[data-testid="mailbox-grid"] tbody tr');
  await expect(rows.first()).toBeVisible();
  // Mailboxes on the Exchange Online profile: their test ends at once (the demo's
  // Autodiscover finds nothing: a permanent error). A server whose name does not resolve
  // is a network error, retried in five minutes: such a test would rightly stay waiting.
  const chosen: string[] = [];
  for (let i = 0; chosen.length < 3; i++) {
    const row = rows.nth(i);
    if ((await row.locator('.badge-info').count()) > 0) continue; // a test already pending
    if ((await row.locator('td[data-col="profile"]').innerText()).trim() !== 'Microsoft Exchange Online') continue;
    chosen.push((await row.getAttribute('data-id'))!);
    await row.locator('input[type=checkbox]').check();
  }
  await page.getByRole('button', { name: 'Test & Enable', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Test & Enable Mailboxes' });
  await dialog.getByRole('button', { name: 'Test & Enable', exact: true }).click();
  await expect(page.getByTestId('bulk-title')).toHaveText('Test & Enable: 3 of 3 done');
  // The results arrive while the page polls (with back-off): each mailbox passed or
  // failed as the organization recorded it, none left waiting.
  await expect(page.getByTestId('bulk-tests')).toContainText(/, 0 waiting for the synchronization engine$/, { timeout: 120_000 });
  const login = await request.post(`${tested.base}/api/auth/login`, { data: { username: ADMIN.user, password: ADMIN.password } });
  const bearer = (await login.json()).access_token;
  for (const id of chosen) {
    const r = await request.get(
      `${tested.base}/api/data/v9.2/mailboxes(${id})?$select=testemailconfigurationscheduled,testmailboxaccesscompletedon,incomingemailstatus,outgoingemailstatus,actstatus`,
      { headers: { Authorization: `Bearer ${bearer}` } },
    );
    const m = await r.json();
    expect(m.testemailconfigurationscheduled).toBe(false);
    expect(m.testmailboxaccesscompletedon).toBeTruthy();
    const failed = [m.incomingemailstatus, m.outgoingemailstatus, m.actstatus].includes(2);
    await expect(page.locator(`[data-testid="bulk-results"] tr[data-item="${id}"] .run-note`)).toHaveText(
      failed ? 'Test failed' : 'Test passed',
    );
  }
  expect(errors).toEqual([]);
});

test('Download Mailbox Details is composed in the browser and analyzed', async ({ page, request }) => {
  const errors = watchErrors(page);
  await addAndSignIn(page, tested.base);
  await page.goto(`${consoleServer.base}/mailboxes?view=all`);
  const first = page.locator('[data-testid="mailbox-grid"] tbody tr[data-id]').first();
  await expect(first).toBeVisible();
  const id = (await first.getAttribute('data-id'))!;
  const name = (await first.locator('td:nth-child(2) a').innerText()).trim();
  // Only the Web API is called: the local organization's DownloadMailboxDetails() is not.
  const calls: string[] = [];
  page.on('request', (r) => calls.push(r.url()));
  await first.locator('input[type=checkbox]').check();
  await page.getByRole('button', { name: 'Download Mailbox Details' }).click();
  await expect(page).toHaveURL(/\/analyzer$/);
  const card = page.locator(`[data-testid="mailbox-card"][data-file="${name.replace(/[^A-Za-z0-9_-]/g, '-')}.log"]`);
  await expect(card).toBeVisible();
  await expect(card.getByTestId('card-mailbox-id')).toHaveText(id);
  expect(calls.some((u) => u.includes('DownloadMailboxDetails'))).toBe(false);
  expect(calls.some((u) => u.startsWith(`${tested.base}/api/data/v9.2/$batch`))).toBe(true);
  // The log says what the organization holds: the same text its own function returns.
  const login = await request.post(`${tested.base}/api/auth/login`, { data: { username: ADMIN.user, password: ADMIN.password } });
  const bearer = (await login.json()).access_token;
  const local = await request.get(`${tested.base}/api/data/v9.2/mailboxes(${id})/Microsoft.Dynamics.CRM.DownloadMailboxDetails()`, {
    headers: { Authorization: `Bearer ${bearer}` },
  });
  expect(local.ok()).toBeTruthy();
  const text = await local.text();
  expect(text).toContain(`mailboxid : ${id}`);
  await expect(card.getByTestId('card-test-enable')).toContainText(
    text.includes('testemailconfigurationscheduled : True') ? 'Pending, runs' : 'Not pending',
  );
  expect(errors).toEqual([]);
});

test('an error the provider sends back is explained', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto(`${consoleServer.base}/signin`);
  // A consent error as Entra ID sends it on the redirect.
  await page.evaluate(() => {
    sessionStorage.setItem(
      'mailsync.signin',
      JSON.stringify({ environment_url: 'https://x', verifier: 'v', state: 's1', nonce: 'n', return_to: '/' }),
    );
  });
  await page.goto(
    `${consoleServer.base}/signin?error=invalid_client&error_description=${encodeURIComponent(
      'AADSTS65001: The user or administrator has not consented to use the application.',
    )}&state=s1`,
  );
  const problem = page.locator('.signin-problem');
  await expect(problem).toBeVisible();
  await expect(problem).toHaveAttribute('data-code', 'AADSTS65001');
  await expect(problem).toContainText('consent');
  expect(page.url()).not.toContain('error=');
  expect(errors).toEqual([]);
});
