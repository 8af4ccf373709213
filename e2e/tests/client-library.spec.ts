import { expect, test } from '@playwright/test';
import { DynamicsWebApi } from 'dynamics-web-api';
import { ADMIN } from './helpers';

// A widely used Dataverse client library written by others (npm dynamics-web-api),
// unchanged, against the local organization: it must answer as Dataverse does. The
// library runs in Node (no browser), with a bearer token from the local sign-in.
test.describe.configure({ mode: 'serial' });

async function client(baseURL: string): Promise<DynamicsWebApi> {
  const r = await fetch(`${baseURL}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: ADMIN.user, password: ADMIN.password }),
  });
  expect(r.status).toBe(200);
  const token = (await r.json()).access_token as string;
  return new DynamicsWebApi({
    serverUrl: `${baseURL}/`,
    dataApi: { version: '9.2' },
    onTokenRefresh: async () => token,
  });
}

test('dynamics-web-api works unchanged against the local organization', async ({ baseURL }) => {
  const api = await client(baseURL!);
  // WhoAmI.
  const who = await api.callFunction({ functionName: 'WhoAmI' });
  expect(who.UserId).toMatch(/^[0-9a-f-]{36}$/);

  // Retrieve many, filter, order, select, and page through every page.
  const page = await api.retrieveMultiple({
    collection: 'mailboxes',
    select: ['name', 'emailaddress', 'emailrouteraccessapproval'],
    filter: 'emailrouteraccessapproval eq 1',
    orderBy: ['name asc'],
    maxPageSize: 50,
  });
  expect(page.value.length).toBe(50);
  expect(page.oDataNextLink).toBeTruthy();
  const all = await api.retrieveAll({
    collection: 'mailboxes',
    select: ['name'],
    filter: 'emailrouteraccessapproval eq 1',
    maxPageSize: 50,
  });
  const count = await api.count({ collection: 'mailboxes', filter: 'emailrouteraccessapproval eq 1' });
  expect(all.value.length).toBe(count);
  expect(count).toBeGreaterThan(50);
  const counted = await api.countAll({ collection: 'mailboxes', filter: 'emailrouteraccessapproval eq 1' });
  expect(counted).toBe(count);

  // Retrieve one, then update it with If-Match: the current ETag works, a stale one is 412.
  const id = page.value[0].mailboxid as string;
  const one = await api.retrieve({ collection: 'mailboxes', key: id, select: ['name', 'username'] });
  expect(one.mailboxid).toBe(id);
  const etag = one['@odata.etag'] as string;
  await api.update({ collection: 'mailboxes', key: id, data: { username: 'client-library' }, ifmatch: etag });
  const again = await api.retrieve({ collection: 'mailboxes', key: id, select: ['username'] });
  expect(again.username).toBe('client-library');
  // (The library answers a 412 on If-Match with `false`.)
  const stale = await api.update({ collection: 'mailboxes', key: id, data: { username: 'stale' }, ifmatch: etag });
  expect(stale).toBe(false);
  expect((await api.retrieve({ collection: 'mailboxes', key: id, select: ['username'] })).username).toBe('client-library');

  // $batch with a change set: both updates apply together.
  const two = page.value.slice(1, 3).map((m: { mailboxid: string }) => m.mailboxid);
  api.startBatch();
  for (const key of two) {
    api.update({ collection: 'mailboxes', key, data: { username: 'in-a-change-set' } });
  }
  // (Writes go into a change set by default.)
  const answers = await api.executeBatch();
  expect(answers.length).toBe(2);
  for (const key of two) {
    const m = await api.retrieve({ collection: 'mailboxes', key, select: ['username'] });
    expect(m.username).toBe('in-a-change-set');
  }

  // FetchXML, paged with its paging cookie to the end.
  const fetchXml =
    "<fetch count='100'><entity name='mailbox'><attribute name='name'/><order attribute='name'/>" +
    "<filter><condition attribute='emailrouteraccessapproval' operator='eq' value='1'/></filter></entity></fetch>";
  const fetched = await api.fetchAll({ collection: 'mailboxes', fetchXml });
  expect(fetched.value.length).toBe(count);

  // Metadata: the table and a choice column's options.
  const entity = await api.retrieveEntity({ key: "LogicalName='mailbox'", select: ['LogicalName', 'EntitySetName'] });
  expect(entity.EntitySetName).toBe('mailboxes');
  const attribute = await api.retrieveAttributes({
    entityKey: "LogicalName='mailbox'",
    castType: 'Microsoft.Dynamics.CRM.PicklistAttributeMetadata',
    select: ['LogicalName'],
    expand: [{ property: 'OptionSet' }],
  });
  const approval = attribute.value.find((a: { LogicalName: string }) => a.LogicalName === 'emailrouteraccessapproval');
  expect(approval.OptionSet.Options.map((o: { Value: number }) => o.Value)).toEqual([0, 1, 2, 3]);
});
