#!/usr/bin/env bash
# Builds the console (Trunk, release, wasm-opt 132) into dist/ and the mailsync
# server binary into target/release/mailsync, then writes the .br and .gz variants of
# dist/'s files that `mailsync serve` sends (`mailsync compress-assets`: brotli 11,
# gzip 9, pure Rust, so no brotli or zopfli tool is needed).
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
# `--cfg erase_components` (Leptos 0.8): every component returns a type-erased view,
# so the views are not monomorphized into one giant type per page: about 110 KB less
# gzip of wasm (issue 12 §5). Only for the wasm target; a RUSTFLAGS in the environment
# would override it (Cargo's precedence), so it is added to RUSTFLAGS when one is set.
if [ -n "${RUSTFLAGS:-}" ]; then
  RUSTFLAGS="$RUSTFLAGS --cfg erase_components" trunk build --release --offline=true
else
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} --cfg erase_components" \
    trunk build --release --offline=true
fi
[ -f dist/index.html ] || die "trunk did not produce dist/index.html"
for f in dist/*.wasm; do
  info "$f: $(du -h "$f" | cut -f1)"
done

section "build: mailsync server (cargo build --release -p mailsync)"
cargo build --release -p mailsync
info "built target/release/mailsync"

section "build: precompressed console (mailsync compress-assets dist)"
"$ROOT/target/release/mailsync" compress-assets dist
