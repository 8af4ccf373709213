#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (native and wasm32), unit and
# integration tests (with the test mail servers of mailservers.sh running), the release
# console build, and the Playwright browser tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash "$ROOT/scripts/setup.sh"

section "test: cargo fmt --all --check"
cargo fmt --all --check

section "test: cargo clippy (native, whole workspace)"
cargo clippy --workspace --all-targets -- -D warnings

section "test: cargo clippy (console, wasm32)"
cargo clippy -p mailsync-console --target wasm32-unknown-unknown -- -D warnings

section "test: cargo check (core, wasm32)"
cargo check -p mailsync-core --target wasm32-unknown-unknown

section "test: mail servers for the mail engine's tests"
bash "$ROOT/scripts/mailservers.sh" start
trap 'bash "$ROOT/scripts/mailservers.sh" stop' EXIT

section "test: the fake EWS speaks EWS (scripts/smtp_ews_selftest.py)"
python3 "$ROOT/scripts/smtp_ews_selftest.py"

section "test: per-mailbox OAuth and XOAUTH2 on the test servers (scripts/xoauth2_selftest.py)"
python3 "$ROOT/scripts/xoauth2_selftest.py"

section "test: cargo test --workspace"
cargo test --workspace

MAILSYNC_SKIP_SETUP=1 bash "$ROOT/scripts/build.sh"

section "test: playwright (Debian chromium)"
# 18080 unless something else (another test run) holds it.
MAILSYNC_E2E_PORT="$(free_port "${MAILSYNC_E2E_PORT:-18080}")"
export MAILSYNC_E2E_PORT
info "serving the console on 127.0.0.1:$MAILSYNC_E2E_PORT"
(cd "$ROOT/e2e" && npx --no-install playwright test)

section "test: all passed"
