import { expect, test, type Locator } from '@playwright/test';
import path from 'node:path';
import { signIn, watchErrors } from './helpers';

// A phone (390 x 844): nothing the page says is cut off or pushed off-screen.
const PHONE = { width: 390, height: 844 };

const FIXTURES = path.resolve(__dirname, '../../crates/core/tests/fixtures');

/** The element lies within the viewport's width (not cut off, not off to the right). */
async function withinWidth(el: Locator) {
  const box = (await el.boundingBox())!;
  expect(box, await el.innerText()).not.toBeNull();
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390 + 0.5);
}

test('at 390 px the dashboard cards and their counts fit the screen', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/signin?next=/dashboard');
  await signIn(page);
  await page.setViewportSize(PHONE);
  await expect(page.locator('main h1')).toHaveText('Dashboard');
  const values = page.getByTestId('dash-status').locator('.bar-value');
  await expect(values.first()).toHaveText(/^[\d,]+/);
  for (const card of await page.locator('.dash-card').all()) await withinWidth(card);
  for (const value of await values.all()) await withinWidth(value);
  expect(errors).toEqual([]);
});

test("at 390 px the analyzer's directions show why without scrolling sideways", async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize(PHONE);
  await page.goto('/analyzer');
  await page.getByTestId('file-input').setInputFiles([path.join(FIXTURES, 'healthy.log')]);
  const card = page.getByTestId('mailbox-card').first();
  await expect(card).toBeVisible();
  const why = card.getByTestId('direction-act').getByTestId('direction-reason');
  await expect(why).toContainText('Postponed until');
  await withinWidth(why);
  expect(errors).toEqual([]);
});
