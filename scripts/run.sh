#!/usr/bin/env bash
# Builds everything, then serves the local organization and the console:
#   bash scripts/run.sh [--port N] [--bind ADDR] [--db PATH] [--seed demo|scale:N]
# Extra arguments go to `mailsync serve`. Unless given, the database is
# target/mailsync-demo.sqlite (ignored by git) and a new one is seeded with the demo
# organization; an existing database is kept as it is (never re-seeded). Sign in as
# `admin` with $MAILSYNC_ADMIN_PASSWORD, or with the password printed at first start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

bash "$ROOT/scripts/build.sh"

args=("$@")
has_flag() {
  local a
  for a in "${args[@]}"; do
    [[ "$a" == "$1" || "$a" == "$1="* ]] && return 0
  done
  return 1
}
has_flag --db || args+=(--db "$ROOT/target/mailsync-demo.sqlite")
has_flag --seed || args+=(--seed demo)

section "run: mailsync serve ${args[*]}"
# Serves ./dist (or $MAILSYNC_DIST, or --dist DIR) until Ctrl-C.
exec "$ROOT/target/release/mailsync" serve "${args[@]}"
