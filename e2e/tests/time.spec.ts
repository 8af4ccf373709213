import { expect, test, type Locator } from '@playwright/test';
import { signIn, watchErrors } from './helpers';

// One rule for time: the browser's local time with its zone, the exact UTC value on
// hover, in the grid, the forms and the alerts alike. Run in a zone that is not UTC and
// observes daylight saving, so a time shown in UTC (or without its zone) fails.
test.use({ timezoneId: 'America/New_York', locale: 'en-US' });

/** What the console must show for an instant, computed by the browser's own Intl. */
async function expected(el: Locator): Promise<{ text: string; title: string }> {
  return el.evaluate((node) => {
    const d = new Date(node.getAttribute('datetime')!);
    const part = (o: Intl.DateTimeFormatOptions, type: string) =>
      new Intl.DateTimeFormat('en-US', o).formatToParts(d).find((p) => p.type === type)!.value;
    const month = part({ month: 'short' }, 'month');
    const day = d.getDate();
    const hh = String(d.getHours()).padStart(2, '0');
    const mm = String(d.getMinutes()).padStart(2, '0');
    const zone = part({ timeZoneName: 'short' }, 'timeZoneName');
    const iso = d.toISOString();
    return {
      text: `${day} ${month} ${d.getFullYear()}, ${hh}:${mm} ${zone}`,
      title: `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`,
    };
  });
}

async function shownAsTheRuleSays(el: Locator) {
  const want = await expected(el);
  expect(want.text).toMatch(/ E[SD]T$/);
  await expect(el).toHaveText(want.text);
  await expect(el).toHaveAttribute('title', want.title);
}

test('times are local with their zone and UTC on hover, in the grid, the form and the alerts', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/mailboxes');
  await signIn(page);

  // The grid's Next sync column.
  const row = page
    .locator('table tbody tr[data-id]')
    .filter({ has: page.locator('td[data-col="next"] time') })
    .first();
  const cell = row.locator('td[data-col="next"] time');
  await expect(cell).toBeVisible();
  await shownAsTheRuleSays(cell);

  // The same mailbox's form: its read-only times follow the same rule.
  await row.locator('td[data-col="name"] a').click();
  await expect(page.locator('main h1')).toBeVisible();
  const formTime = page.locator('.field-readonly time').first();
  await expect(formTime).toBeVisible();
  await shownAsTheRuleSays(formTime);

  // The alerts wall.
  await page.goto('/alerts');
  const alertTime = page.locator('.alerts-item time').first();
  await expect(alertTime).toBeVisible();
  await shownAsTheRuleSays(alertTime);

  expect(errors).toEqual([]);
});
