#!/usr/bin/env bash
# Installs everything the console build and the tests need. Idempotent: each step
# is skipped when already satisfied. Needs only package registries (apt, crates.io,
# npm); never downloads prebuilt binaries or browsers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

section "setup: prerequisites"
for tool in rustup cargo node npm; do
  command -v "$tool" >/dev/null || die "$tool not found; install rustup (https://rustup.rs) and Node.js 20+ with npm"
done
info "$(cargo --version); node $(node --version); npm $(npm --version 2>/dev/null)"

section "setup: chromium (Debian package)"
if [ -x /usr/bin/chromium ]; then
  info "found /usr/bin/chromium"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
fi

section "setup: rust target and components"
if rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null; then
  info "wasm32-unknown-unknown already installed"
else
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if rustup component list --installed | grep "^$component" >/dev/null; then
    info "$component already installed"
  else
    rustup component add "$component"
  fi
done

section "setup: wasm-bindgen-cli"
WB_VERSION="$(wasm_bindgen_version)"
[ -n "$WB_VERSION" ] || die "cannot find the wasm-bindgen version in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null || true)" = "wasm-bindgen $WB_VERSION" ]; then
  info "wasm-bindgen $WB_VERSION already installed"
else
  info "installing wasm-bindgen-cli $WB_VERSION (takes several minutes)"
  # Not --locked: the CLI's own lockfile does not build with this toolchain.
  cargo install "wasm-bindgen-cli@$WB_VERSION" --force
fi

section "setup: trunk"
if [ "$(trunk --version 2>/dev/null || true)" = "trunk $TRUNK_VERSION" ]; then
  info "trunk $TRUNK_VERSION already installed"
else
  info "installing trunk $TRUNK_VERSION (takes several minutes)"
  cargo install "trunk@$TRUNK_VERSION" --locked --force
fi

section "setup: npm packages (Playwright, binaryen, oauth2-mock-server) in e2e/"
STAMP="$ROOT/e2e/node_modules/.mailsync-lock-stamp"
LOCK_SUM="$(sha256sum "$ROOT/e2e/package-lock.json" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$LOCK_SUM" ]; then
  info "e2e/node_modules matches package-lock.json"
else
  e2e_npm_ci
fi
WASM_OPT_OUT="$(wasm-opt --version 2>/dev/null || true)"
case "$WASM_OPT_OUT" in
  *"version $WASM_OPT_VERSION "*) info "$(command -v wasm-opt): $WASM_OPT_OUT" ;;
  *) die "wasm-opt on PATH is not version $WASM_OPT_VERSION (got: ${WASM_OPT_OUT:-nothing})" ;;
esac

section "setup: cargo fetch"
cargo fetch
info "setup complete"
