import { expect, test } from '@playwright/test';
import { adminApi, audit, mailEnv, signIn, startOrganization, watchErrors } from './helpers';

// Issue 11 §4, in the browser: a mailbox on a "Gmail OAuth" profile is signed in from its
// form. The button asks the organization for the sign-in address, the browser goes on
// to the provider (scripts/oauth_mock.mjs stands in for Google: it signs the mailbox's
// address in at once) and comes back to the form, which says it is signed in; Test &
// Enable then reaches the test mail servers with XOAUTH2.
test.describe.configure({ mode: 'serial', timeout: 120_000 });
// axe is injected as an inline script, which the console's CSP forbids (a11y.spec.ts).
test.use({ bypassCSP: true });

const API = '/api/data/v9.2';

const mail = mailEnv();
let stop = () => {};
let base = '';

test.beforeAll(async () => {
  ({ base, stop } = await startOrganization([
    '--engine', 'on', '--trust-ca', mail.MAIL_CA, '--mail-timeout', '5',
    '--google-authority', mail.MAIL_GOOGLE_AUTHORITY,
  ]));
});

test.afterAll(() => stop());

test('Sign in to Gmail on the mailbox form, then Test & Enable with XOAUTH2', async ({ page, request }) => {
  const errors = watchErrors(page);
  const { headers, me, created } = await adminApi(request, base);
  const profile = await created('emailserverprofiles', {
    name: 'Gmail (test servers)', servertype: 4, useautodiscover: false,
    incomingserverlocation: mail.MAIL_HOST, outgoingserverlocation: mail.MAIL_HOST,
    incomingcredentialretrieval: 5, outgoingcredentialretrieval: 5,
    incomingusessl: true, outgoingusessl: true,
    incomingportnumber: Number(mail.MAIL_IMAP_PORT), outgoingportnumber: Number(mail.MAIL_SMTP_PORT),
    oauthclientid: mail.MAIL_GOOGLE_CLIENT_ID, oauthclientsecret: mail.MAIL_GOOGLE_CLIENT_SECRET,
  });
  const address = `${mail.MAIL_USER_BOB}@${mail.MAIL_DOMAIN}`;
  const mailbox = await created('mailboxes', {
    name: 'Bob (Gmail OAuth)', emailaddress: address,
    'regardingobjectid_systemuser@odata.bind': `/systemusers(${me})`,
    'emailserverprofile@odata.bind': `/emailserverprofiles(${profile})`,
    incomingemaildeliverymethod: 2, outgoingemaildeliverymethod: 2, actdeliverymethod: 0,
    emailrouteraccessapproval: 1,
  });

  await page.goto(`${base}/signin?next=/profiles/${profile}`);
  await signIn(page);
  // The profile says which redirect URI its app registers.
  await expect(page.getByTestId('oauth-redirect-uri')).toContainText(`${base}/_grid/cmds/dlg_gmailoauth.aspx`);
  await audit(page, 'a Gmail OAuth profile');

  await page.goto(`${base}/mailboxes/${mailbox}`);
  const box = page.getByTestId('oauth-sign-in');
  await expect(box).toContainText('Not signed in: the mailbox synchronizes only after its user signs in to Gmail.');
  await box.getByRole('button', { name: 'Sign in to Gmail' }).click();
  // To the provider and back, in this tab.
  await page.waitForURL(`${base}/mailboxes/${mailbox}?oauth=signed-in`);
  await expect(box.getByTestId('oauth-outcome')).toHaveText('Signed in to Gmail. Test & Enable the mailbox to start synchronizing.');
  await expect(box).toContainText('Signed in to Gmail; the current access token is good until');
  await audit(page, 'a mailbox signed in to Gmail');

  await page.getByRole('button', { name: 'Test & Enable Mailbox' }).click();
  await page.getByRole('dialog', { name: 'Test & Enable Mailboxes' }).getByRole('button', { name: 'Test & Enable', exact: true }).click();
  await expect
    .poll(async () => {
      const m = await (await request.get(`${base}${API}/mailboxes(${mailbox})?$select=incomingemailstatus,outgoingemailstatus,testemailconfigurationscheduled`, { headers })).json();
      return `${m.testemailconfigurationscheduled} ${m.incomingemailstatus} ${m.outgoingemailstatus}`;
    }, { timeout: 60_000 })
    .toBe('false 1 1');
  expect(errors).toEqual([]);
});
