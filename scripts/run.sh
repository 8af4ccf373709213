#!/usr/bin/env bash
# Builds everything, then serves the console: bash scripts/run.sh [--port N] [--bind ADDR]
# Extra arguments go to `mailsync serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash "$ROOT/scripts/build.sh"

section "run: mailsync serve $*"
# Serves ./dist (or $MAILSYNC_DIST, or --dist DIR) until Ctrl-C.
exec "$ROOT/target/release/mailsync" serve "$@"
