import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { watchErrors } from './helpers';

// The Log Analyzer page against the release build: real drops (a synthesized
// DataTransfer dispatched as dragenter/dragover/drop), the file and folder pickers,
// paste, the fleet summary, filters, pagination and the JSON/CSV exports.

const FIXTURES = path.resolve(__dirname, '../../crates/core/tests/fixtures');
const MAILSYNC = path.resolve(__dirname, '../../target/release/mailsync');
const ARTIFACTS = 'artifacts';

// Dates render in the browser's zone and language: pin both.
test.use({ timezoneId: 'UTC', locale: 'en-US' });

interface DropFile {
  name: string;
  b64: string;
}

function fixture(name: string, as?: string): DropFile {
  return { name: as ?? name, b64: readFileSync(path.join(FIXTURES, name)).toString('base64') };
}

function text(name: string, body: string): DropFile {
  return { name, b64: Buffer.from(body, 'utf8').toString('base64') };
}


/**
 * Drops `files` the way a browser does: File objects in a DataTransfer, dispatched
 * as dragenter, dragover and drop on `target` (they bubble to the page's window
 * listeners). Returns whether the page accepted the drag (dragover cancelled).
 */
async function drop(page: Page, files: DropFile[], target = '[data-testid="dropzone"]') {
  return page.evaluate(
    async ({ files, target }) => {
      const dt = new DataTransfer();
      for (const f of files) {
        const bin = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
        dt.items.add(new File([bin], f.name, { type: 'text/plain' }));
      }
      const el = document.querySelector(target)!;
      const fire = (type: string) =>
        el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      fire('dragenter');
      const accepted = !fire('dragover');
      // The page re-renders on the next microtask: let it show the drop overlay.
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const overlay = document.querySelector('.az-drop-overlay')!.classList.contains('is-visible');
      fire('drop');
      return { accepted, overlay };
    },
    { files, target },
  );
}

const cards = (page: Page) => page.getByTestId('mailbox-card');
const card = (page: Page, file: string) => page.locator(`[data-testid="mailbox-card"][data-file="${file}"]`);

async function analyzed(page: Page, total: number) {
  const progress = page.getByTestId('progress');
  await expect(progress).toHaveAttribute('data-total', String(total));
  await expect(progress).toHaveAttribute('data-running', 'false');
  await expect(progress).toHaveAttribute('data-elapsed-ms', /\d/);
}

test.beforeEach(async ({ page }) => {
  await page.goto('/analyzer');
  await expect(page.locator('main h1')).toHaveText('Log Analyzer');
});

test('says that nothing is uploaded and offers every way in', async ({ page }) => {
  await expect(page.getByTestId('privacy-note')).toContainText(
    'Nothing is uploaded: files are analyzed in your browser',
  );
  await expect(page.getByRole('button', { name: 'Choose files' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Choose a folder' })).toBeVisible();
  await expect(page.getByLabel('Choose a folder of log files')).toHaveAttribute('webkitdirectory', '');
  await expect(page.getByLabel('Or paste a log’s text')).toBeVisible();
  await expect(page.getByTestId('export-json')).toBeDisabled();
  await expect(page.getByTestId('progress')).toBeHidden();
});

test('a dropped log shows its diagnosis', async ({ page }) => {
  const errors = watchErrors(page);
  const result = await drop(page, [fixture('healthy.log')]);
  expect(result).toEqual({ accepted: true, overlay: true });
  await analyzed(page, 1);
  await expect(page.getByTestId('progress-label')).toHaveText(/^Analyzed 1 of 1 files in \d+\.\d\d s$/);
  await expect(page.locator('.az-drop-overlay')).not.toHaveClass(/is-visible/);

  // One file: no fleet summary, one card with its details open.
  await expect(page.getByTestId('fleet-summary')).toHaveCount(0);
  await expect(cards(page)).toHaveCount(1);
  const c = card(page, 'healthy.log');
  await expect(c.getByTestId('card-mailbox-id')).toHaveText('9fb6600b-0965-e811-a97f-000d4a161089');
  await expect(c.getByTestId('card-file')).toHaveText('healthy.log');
  await expect(c.getByTestId('card-status')).toHaveText('Analyzed');

  // Next sync: local time with its zone (UTC here), the exact UTC value on hover, and how
  // far from the log's latest entry (an old log is not judged against today's clock).
  const next = c.getByTestId('card-next-sync');
  await expect(next).toContainText('3 Dec 2018, 15:28 UTC');
  await expect(next.locator('time')).toHaveAttribute('title', '2018-12-03 15:28:37 UTC');
  await expect(next).toContainText("in 5 min as of the log's latest entry");
  await expect(next).not.toContainText('overdue');
  await expect(c.getByTestId('card-processing')).toContainText('No');

  // Directions: incoming runs in the next cycle, act is postponed past it.
  await expect(c.getByTestId('direction-incoming').getByTestId('direction-runs')).toHaveText('Yes');
  await expect(c.getByTestId('direction-incoming')).toContainText('Server-Side Synchronization');
  const act = c.getByTestId('direction-act');
  await expect(act.getByTestId('direction-runs')).toHaveText('No');
  await expect(act.getByTestId('direction-reason')).toContainText('Postponed until 2018-12-03 15:45 UTC');

  // Traces with their classification.
  const traces = c.getByTestId('trace');
  await expect(traces).toHaveCount(3);
  await expect(traces.nth(0).getByTestId('trace-nature')).toHaveText('transient');
  await expect(traces.nth(0).getByTestId('trace-scope')).toHaveText('profile scope');
  await expect(traces.nth(0).getByTestId('trace-rule')).toHaveText('known: exchange-server-unavailable');
  await expect(traces.nth(0)).toContainText('503');
  await expect(traces.nth(1).getByTestId('trace-rule')).toHaveText('known: mailbox-move-in-progress');
  // The full details render when opened.
  const details = traces.nth(2).getByTestId('trace-details');
  await expect(details.locator('pre')).toHaveCount(0);
  await details.locator('summary').click();
  await expect(details.locator('pre')).toContainText('EndOperation()');

  // Findings, ordered by severity.
  const finding = c.locator('[data-testid="finding"][data-code="kb.exchange-server-unavailable"]');
  await expect(finding).toBeVisible();
  await expect(finding.getByTestId('finding-message')).not.toBeEmpty();

  // Profile explanations, the time assumption, raw fields on demand.
  await expect(c.getByTestId('profile')).toContainText('5-minute minimum');
  await expect(c.getByTestId('time-assumption')).toContainText('UTC');
  const raw = c.getByTestId('section-fields');
  await expect(raw.getByTestId('raw-fields')).toHaveCount(0);
  await raw.locator('summary').click();
  await expect(raw.getByTestId('raw-fields')).toContainText('postponemailboxprocessinguntil');
  expect(errors).toEqual([]);
});

test('several files: fleet summary, unreadable file, filters, groups and sorting', async ({ page }) => {
  const errors = watchErrors(page);
  await drop(page, [
    fixture('healthy.log'),
    fixture('failing.log'),
    fixture('truncated.log'),
    fixture('not-configured.log'),
    fixture('not-a-log.txt'),
  ]);
  await analyzed(page, 5);

  const fleet = page.getByTestId('fleet-summary');
  const count = (id: string) => fleet.getByTestId(`fleet-${id}`).locator('.stat-value');
  await expect(count('files')).toHaveText('5');
  await expect(count('analyzed')).toHaveText('3');
  await expect(count('unreadable')).toHaveText('1');
  await expect(count('disabled')).toHaveText('1');
  await expect(count('failing')).toHaveText('1');
  await expect(count('pending-test')).toHaveText('1');
  await expect(count('processing-now')).toHaveText('1');
  // The fixtures are years old: judged as of their latest entries, none is overdue.
  await expect(count('overdue')).toHaveText('0');

  // The unreadable file shows why, and does not stop the others.
  await expect(cards(page)).toHaveCount(5);
  const broken = card(page, 'not-a-log.txt');
  await expect(broken.getByTestId('card-status')).toHaveText('Unreadable');
  await expect(broken.getByTestId('card-error')).toContainText('not a Mailbox Details log');
  await expect(card(page, 'not-configured.log').getByTestId('card-status')).toHaveText('Not configured');
  await expect(card(page, 'truncated.log').getByTestId('card-status')).toHaveText('Partial file');

  const failing = card(page, 'failing.log');
  await expect(failing.getByTestId('card-processing')).toContainText('CRMASYNC-07');
  await expect(failing.getByTestId('card-last-sync')).toContainText('Failed (7 times in a row)');
  await expect(failing.getByTestId('direction-incoming').getByTestId('direction-reason')).toContainText(
    'Disabled for incoming email',
  );
  await expect(failing.locator('[data-testid="finding"][data-code="incoming_disabled"] .badge')).toHaveText(
    'Error',
  );
  // Sections start closed with several cards; they render when opened.
  const sync = failing.getByTestId('section-sync');
  await expect(sync.getByTestId('last-sync')).toHaveCount(0);
  await sync.locator('summary').click();
  await expect(sync.getByTestId('error-count')).toHaveText('7 of 10');
  await expect(sync.getByTestId('classification-title')).not.toBeEmpty();

  // Worst first: errors, then the unreadable file.
  const order = () => cards(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-file')));
  expect((await order()).slice(0, 2)).toContain('failing.log');
  await page.getByTestId('sort').selectOption('file');
  await expect.poll(order).toEqual([
    'failing.log',
    'healthy.log',
    'not-a-log.txt',
    'not-configured.log',
    'truncated.log',
  ]);

  // Toggles (any of the ticked conditions) and text search.
  await page.getByTestId('filter-unreadable').check();
  await expect(cards(page)).toHaveCount(1);
  await expect(cards(page).first()).toHaveAttribute('data-file', 'not-a-log.txt');
  await page.getByTestId('filter-disabled').check();
  await expect.poll(order).toEqual(['failing.log', 'not-a-log.txt']);
  await page.getByTestId('filter-reset').click();
  await expect(cards(page)).toHaveCount(5);
  await page.getByTestId('filter-text').fill('9FB6600B');
  await expect.poll(order).toEqual(['healthy.log']);
  await page.getByTestId('filter-text').fill('incomplete');
  await expect.poll(order).toEqual(['truncated.log']);
  await page.getByTestId('filter-text').fill('');
  await expect(cards(page)).toHaveCount(5);

  // A shared group filters the cards to its members.
  const group = fleet.locator('[data-testid="fleet-group"][data-code="unreadable"]');
  await expect(group.getByTestId('fleet-group-count')).toHaveText('1');
  await expect(group).toContainText('not-a-log.txt');
  await group.getByRole('button').click();
  await expect(page.getByTestId('group-filter')).toBeVisible();
  await expect.poll(order).toEqual(['not-a-log.txt']);
  await page.getByTestId('group-filter-clear').click();
  await expect(cards(page)).toHaveCount(5);

  await page.getByTestId('sort').selectOption('severity');
  await expect(page.getByTestId('fleet-groups')).toBeVisible();
  // From the top, so the sticky header is where it belongs in the full-page image.
  await page.evaluate(() => window.scrollTo(0, 0));
  // Cards off screen skip rendering (content-visibility: auto) until scrolled to; a
  // full-page capture does not scroll, so render them all for the picture.
  // (Through the CSSOM: the console's CSP allows no inline style sheet.)
  await page.evaluate(() => {
    for (const card of document.querySelectorAll<HTMLElement>('.az-card')) card.style.contentVisibility = 'visible';
  });
  await page.screenshot({ path: `${ARTIFACTS}/analyzer.png`, fullPage: true });

  await page.getByTestId('clear').click();
  await expect(cards(page)).toHaveCount(0);
  await expect(page.getByTestId('fleet-summary')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('pasted text is analyzed', async ({ page }) => {
  const body = readFileSync(path.join(FIXTURES, 'failing.log'), 'utf8');
  await page.getByTestId('paste-text').fill(body);
  await page.getByTestId('paste-analyze').click();
  await analyzed(page, 1);
  const c = card(page, 'pasted-1.log');
  await expect(c.getByTestId('card-mailbox-id')).toHaveText('3c1a7e52-5d0b-4f7e-9a43-1f2e3d4c5b6a');
  await expect(page.getByTestId('paste-text')).toHaveValue('');
  await expect(page.getByTestId('paste-analyze')).toBeDisabled();
});

test('the file input and the folder picker add files', async ({ page }) => {
  await page
    .getByTestId('file-input')
    .setInputFiles([path.join(FIXTURES, 'healthy.log'), path.join(FIXTURES, 'truncated.log')]);
  await analyzed(page, 2);
  await expect(cards(page)).toHaveCount(2);
  await expect(card(page, 'truncated.log')).toBeVisible();

  // The folder picker: every file, named by its path inside the folder.
  await page.getByTestId('folder-input').setInputFiles(FIXTURES);
  await expect(page.getByTestId('progress')).toHaveAttribute('data-running', 'false');
  await expect(page.getByTestId('fleet-files').locator('.stat-value')).toHaveText('8');
  await expect(card(page, 'fixtures/failing.log')).toBeVisible();
});

test('many files are paginated and stay fast', async ({ page }) => {
  const base = readFileSync(path.join(FIXTURES, 'healthy.log'), 'utf8');
  const files: DropFile[] = [];
  for (let i = 0; i < 120; i++) {
    const id = `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
    files.push(text(`bulk/m-${String(i).padStart(3, '0')}.log`, base.replace(/^mailboxid : .*$/m, `mailboxid : ${id}`)));
  }
  files.push(text('bulk/empty.log', ''));
  await drop(page, files);
  await analyzed(page, 121);
  await expect(page.getByTestId('fleet-files').locator('.stat-value')).toHaveText('121');
  await expect(page.getByTestId('fleet-unreadable').locator('.stat-value')).toHaveText('1');
  await expect(cards(page)).toHaveCount(50);
  await expect(page.getByTestId('results-count')).toHaveText('Showing 1–50 of 121');
  await expect(page.getByTestId('pager-status')).toHaveText('Page 1 of 3');
  // The empty file sorts first (unreadable) and says why.
  await expect(cards(page).first().getByTestId('card-error')).toContainText('empty');
  await page.getByTestId('pager-next').click();
  await page.getByTestId('pager-next').click();
  await expect(page.getByTestId('pager-status')).toHaveText('Page 3 of 3');
  await expect(cards(page)).toHaveCount(21);
  await expect(page.getByTestId('pager-next')).toBeDisabled();
  const ms = Number(await page.getByTestId('progress').getAttribute('data-elapsed-ms'));
  expect(ms).toBeGreaterThan(0);
  expect(ms).toBeLessThan(5000);
});

test('exports JSON in the CLI shape and CSV', async ({ page }) => {
  await drop(page, [fixture('healthy.log'), fixture('not-a-log.txt')]);
  await analyzed(page, 2);

  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  expect(json.suggestedFilename()).toBe('mailsync-analysis.json');
  const reports = JSON.parse(readFileSync((await json.path())!, 'utf8'));
  expect(Array.isArray(reports)).toBe(true);
  expect(reports).toHaveLength(2);
  for (const r of reports) {
    for (const key of ['file', 'status', 'error', 'mailbox_id', 'next_sync_at', 'directions', 'last_sync', 'traces', 'findings', 'fields']) {
      expect(r).toHaveProperty(key);
    }
    expect(Array.isArray(r.findings)).toBe(true);
  }
  const healthy = reports.find((r: { file: string }) => r.file === 'healthy.log');
  expect(healthy.status).toBe('ok');
  expect(healthy.mailbox_id).toBe('9fb6600b-0965-e811-a97f-000d4a161089');
  expect(healthy.next_sync_at).toBe('2018-12-03T15:28:37Z');
  expect(healthy.directions.act.runs_next_cycle).toBe(false);
  expect(healthy.traces[0].rule).toBe('exchange-server-unavailable');
  const broken = reports.find((r: { file: string }) => r.file === 'not-a-log.txt');
  expect(broken.status).toBe('error');
  expect(broken.error).toContain('not a Mailbox Details log');

  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
  expect(csv.suggestedFilename()).toBe('mailsync-analysis.csv');
  const lines = readFileSync((await csv.path())!, 'utf8').trim().split(/\r\n/);
  expect(lines).toHaveLength(3);
  expect(lines[0].startsWith('file,status,error,mailbox_id,next_sync_at')).toBe(true);
  expect(lines.some((l) => l.startsWith('healthy.log,ok,'))).toBe(true);
});

// Findings whose presence depends on the current time (the page and the CLI run a
// few seconds apart).
const NOW_DEPENDENT = new Set(['overdue', 'processing_stuck', 'test_pending_overdue']);

test('a generated fleet: summary and export agree with `mailsync analyze --json`', async ({ page }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailsync-e2e-'));
  try {
    execFileSync(MAILSYNC, ['sample-logs', '--count', '200', '--out', dir]);
    const names = readdirSync(dir).sort();
    expect(names).toHaveLength(200);
    const cli = JSON.parse(execFileSync(MAILSYNC, ['analyze', '--json', ...names], { cwd: dir, maxBuffer: 1 << 28 }).toString());
    await drop(page, names.map((n) => ({ name: n, b64: readFileSync(path.join(dir, n)).toString('base64') })));
    await analyzed(page, 200);

    // The fleet counts, recomputed from the CLI's reports.
    type R = {
      status: string;
      processing_now: boolean;
      last_sync: { last_cycle_failed: boolean };
      test_and_enable: { scheduled: boolean | null };
      findings: { code: string; severity: string }[];
      as_of?: { basis: string; at: string | null; explanation: string } | null;
    };
    const has = (r: R, ...codes: string[]) => r.findings.some((f) => codes.includes(f.code));
    const expected: Record<string, number> = {
      files: cli.length,
      analyzed: cli.filter((r: R) => r.status === 'ok' || r.status === 'partial').length,
      unreadable: cli.filter((r: R) => r.status === 'error').length,
      disabled: cli.filter((r: R) => has(r, 'incoming_disabled', 'outgoing_disabled', 'act_disabled')).length,
      failing: cli.filter((r: R) => r.last_sync.last_cycle_failed).length,
      'pending-test': cli.filter((r: R) => r.test_and_enable.scheduled === true).length,
      'processing-now': cli.filter((r: R) => r.processing_now).length,
      'never-synced': cli.filter((r: R) => has(r, 'never_synced')).length,
    };
    expect(expected.failing).toBeGreaterThan(0);
    expect(expected.disabled).toBeGreaterThan(0);
    const fleet = page.getByTestId('fleet-summary');
    for (const [id, n] of Object.entries(expected)) {
      await expect(fleet.getByTestId(`fleet-${id}`).locator('.stat-value'), id).toHaveText(n.toLocaleString('en-US'));
    }
    await expect(cards(page)).toHaveCount(50);
    await expect(page.getByTestId('pager-status')).toHaveText('Page 1 of 4');

    // The page's JSON export is the CLI's output for the same files.
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    const exported = JSON.parse(readFileSync((await json.path())!, 'utf8'));
    const stable = (reports: R[]) =>
      reports.map((r) => ({
        ...r,
        findings: r.findings.filter((f) => !NOW_DEPENDENT.has(f.code)).map((f) => `${f.severity} ${f.code}`),
        // A recent log is judged as of the clock, which differs between the two runs.
        as_of: r.as_of?.basis === 'now' ? { ...r.as_of, at: null, explanation: '' } : r.as_of,
      }));
    const byFile = (a: { file: string }, b: { file: string }) => a.file.localeCompare(b.file);
    expect(stable([...exported].sort(byFile))).toEqual(stable([...cli].sort(byFile)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
