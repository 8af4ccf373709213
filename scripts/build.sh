#!/usr/bin/env bash
# Builds the console (Trunk, release, wasm-opt 132) into dist/ and the mailsync
# server binary into target/release/mailsync.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

if [ "${MAILSYNC_SKIP_SETUP:-0}" != 1 ]; then
  bash "$ROOT/scripts/setup.sh"
fi

# Serialize builds from parallel runs in this checkout: concurrent trunk builds
# share dist/.stage and break each other.
mkdir -p "$ROOT/target"
exec 9>"$ROOT/target/.mailsync-build.lock"
if ! flock -n 9; then
  info "another build is running in this checkout; waiting for it"
  flock 9
fi

section "build: console (trunk build --release)"
trunk build --release --offline=true
[ -f dist/index.html ] || die "trunk did not produce dist/index.html"
for f in dist/*.wasm; do
  info "$f: $(du -h "$f" | cut -f1)"
done

section "build: mailsync server (cargo build --release -p mailsync)"
cargo build --release -p mailsync
info "built target/release/mailsync"
