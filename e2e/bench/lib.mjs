// What the browser benchmarks share: where the binary and the console build are, the
// command line arguments, `mailsync serve` started and waited for, a free port, and
// Debian's Chromium launched the way the Playwright tests launch it.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.resolve(process.env.MAILSYNC_E2E_BIN ?? path.join(ROOT, 'target/release/mailsync'));
export const DIST = path.resolve(process.env.MAILSYNC_E2E_DIST ?? path.join(ROOT, 'dist'));

/** `--name value` from the command line, else `fallback`. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/** Exits with a hint unless the release build is there. */
export function requireBuild(bench) {
  if (!existsSync(BIN) || !existsSync(path.join(DIST, 'index.html'))) {
    console.error(`${bench}: build first: bash scripts/build.sh`);
    process.exit(2);
  }
}

/**
 * `mailsync serve` on `db` with `args` (`--port 0` unless they name one) and the
 * administrator's `password`; resolves to `{ base, child }` once the banner names the
 * console's address, rejects with the server's output if it exits first.
 */
export function serve(db, args, password) {
  const port = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(BIN, ['serve', ...port, '--dist', DIST, '--db', db, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MAILSYNC_ADMIN_PASSWORD: password },
  });
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk;
      const m = /mailsync console: (http:\/\/\S+?)\/?(\s|$)/.exec(log);
      if (m) resolve({ base: m[1], child });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`mailsync serve exited (${code}):\n${log}`)));
  });
}

/** A TCP port free on 127.0.0.1 now (for a server that must know its address first). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Debian's Chromium with the flags of e2e/playwright.config.ts. */
export function launchChromium(chromium) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
