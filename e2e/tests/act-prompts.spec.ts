import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { randomUUID } from 'node:crypto';
import { adminApi, mailEnv, signIn, startOrganization, watchErrors } from './helpers';

// Issue 11 §2, end to end: an organization of its own with the engine on, synchronizing
// contacts with the test mail servers' fake EWS (scripts/mailservers.sh; the test
// command starts them). A contact tracked in Outlook duplicates one the organization
// has: the mailbox's wall asks; the administrator answers on the wall; the engine
// carries the answer out, and the alert is replaced by one saying what was done.
test.describe.configure({ mode: 'serial', timeout: 120_000 });

const API = '/api/data/v9.2';

const mail = mailEnv();
const address = `act-e2e-${randomUUID().slice(0, 8)}@${mail.MAIL_DOMAIN}`;

/** One EWS call as the service account, impersonating the test's mailbox (as Outlook's
 * own changes reach Exchange). */
function ews(body: string): Promise<string> {
  const envelope = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<soap:Header><t:RequestServerVersion Version="Exchange2010_SP2"/><t:ExchangeImpersonation><t:ConnectingSID>
<t:PrimarySmtpAddress>${address}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header>
<soap:Body>${body}</soap:Body></soap:Envelope>`;
  const url = new URL(mail.MAIL_EWS_URL);
  const auth = Buffer.from(`${mail.MAIL_USER_SVC}:${mail.MAIL_PASSWORD_SVC}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        ca: readFileSync(mail.MAIL_CA),
        headers: {
          'Content-Type': 'text/xml; charset=utf-8',
          Authorization: `Basic ${auth}`,
          'X-AnchorMailbox': address,
          'Content-Length': Buffer.byteLength(envelope),
        },
      },
      (res) => {
        let out = '';
        res.on('data', (c) => (out += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(out) : reject(new Error(`${res.statusCode} ${out}`))));
      },
    );
    req.on('error', reject);
    req.end(envelope);
  });
}

let stop = () => {};
let base = '';

test.beforeAll(async () => {
  ({ base, stop } = await startOrganization(['--engine', 'on', '--trust-ca', mail.MAIL_CA, '--mail-timeout', '5']));
});

test.afterAll(() => stop());

test('a duplicates alert answered on the wall is carried out by the engine and replaced', async ({ page, request }) => {
  const errors = watchErrors(page);
  const { headers, me, created } = await adminApi(request, base);
  const profile = await created('emailserverprofiles', {
    name: 'Exchange (fake EWS)', servertype: 0, useautodiscover: false,
    incomingserverlocation: mail.MAIL_EWS_URL, outgoingserverlocation: mail.MAIL_EWS_URL,
    incomingcredentialretrieval: 1, outgoingcredentialretrieval: 1,
    incomingusername: mail.MAIL_USER_SVC, incomingpassword: mail.MAIL_PASSWORD_SVC,
    incominguseimpersonation: true,
  });
  const mailbox = await created('mailboxes', {
    name: 'Contacts of the administrator', emailaddress: address,
    'regardingobjectid_systemuser@odata.bind': `/systemusers(${me})`,
    'emailserverprofile@odata.bind': `/emailserverprofiles(${profile})`,
    incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0, actdeliverymethod: 1,
  });
  await created('contacts', { firstname: 'Janet', lastname: 'Leverling', emailaddress1: 'janet@contoso.test' });
  // In Outlook: the same person, tracked.
  const answer = await ews(`<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="contacts"/></m:SavedItemFolderId>
<m:Items><t:Contact><t:Categories><t:String>Tracked to Dynamics 365</t:String></t:Categories><t:GivenName>Janet</t:GivenName>
<t:EmailAddresses><t:Entry Key="EmailAddress1">Janet@Contoso.test</t:Entry></t:EmailAddresses><t:Surname>Leverling</t:Surname></t:Contact></m:Items></m:CreateItem>`);
  expect(answer).toContain('NoError');
  const patch = await request.patch(`${base}${API}/mailboxes(${mailbox})`, {
    headers, data: { emailrouteraccessapproval: 1, testemailconfigurationscheduled: true },
  });
  expect(patch.ok(), await patch.text()).toBeTruthy();

  const alerts = async (filter: string) => {
    const r = await request.get(`${base}${API}/tracelogs?$select=tracelogid,text,level&$filter=${encodeURIComponent(`_regardingobjectid_value eq ${mailbox} and ${filter}`)}`, { headers });
    return (await r.json()).value as { tracelogid: string; text: string; level: number }[];
  };
  // Tested, then the first cycle asks.
  await expect.poll(async () => (await alerts("errortypedisplay eq 'ExchangeSyncDuplicateRecordsError'")).length, { timeout: 60_000 }).toBe(1);
  const janets = async () => {
    const r = await request.get(`${base}${API}/contacts?$select=contactid&$filter=${encodeURIComponent("emailaddress1 eq 'janet@contoso.test'")}`, { headers });
    return (await r.json()).value.length;
  };
  expect(await janets()).toBe(1);

  await page.goto(`${base}/signin?next=/alerts`);
  await signIn(page);
  const card = page.locator('.alerts-item', { hasText: 'One or more duplicate records were found' });
  await expect(card).toBeVisible();
  await expect(card.getByRole('button', { name: 'Create anyway' })).toBeVisible();
  await expect(card.getByRole('button', { name: 'Skip' })).toBeVisible();
  await expect(card.getByRole('button', { name: /^Link to Janet Leverling/ })).toBeVisible();
  await card.getByRole('button', { name: 'Create anyway' }).click();
  await expect(card.getByRole('status')).toContainText('Create anyway: sent');

  // The engine's next cycle creates the record and replaces the alert.
  await expect.poll(janets, { timeout: 60_000 }).toBe(2);
  await expect.poll(async () => (await alerts("errortypedisplay eq 'ExchangeSyncDuplicateRecordsError'")).length, { timeout: 30_000 }).toBe(0);
  const done = await alerts('level eq 1 and tracecode eq 70');
  expect(done.map((a) => a.text).join('\n')).toContain('saved in Microsoft Dynamics 365 as a new record although duplicates exist, as');
  // The wall says so, with nothing left to decide.
  await page.reload();
  await expect(page.locator('.alerts-item', { hasText: 'as a new record although duplicates exist' })).toBeVisible();
  await expect(page.locator('.alerts-decision')).toHaveCount(0);
  expect(errors).toEqual([]);
});
