#!/usr/bin/env bash
# Prints what a first load of the console fetches, file by file, with its raw,
# gzip -9 and brotli (quality 11) sizes, and the totals; issue 12 §5 counts the
# gzip -9 total (budget 450 KB, goal 300 KB).
#
# The files are the ones dist/index.html references (the JS loader, the .wasm, the
# stylesheet, the icon) plus index.html itself; anything else in dist/ (.br/.gz
# variants, snippets nobody links) is not a first-load file.
#
# Usage: bash scripts/size-report.sh [DIST]   (default: dist/, after scripts/build.sh)
# Brotli comes from the `brotli` CLI when installed, else from
# `target/release/mailsync compress-assets` (the encoder `mailsync serve` uses) on a
# temporary copy, so dist/ is never touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DIST="${1:-dist}"
[ -f "$DIST/index.html" ] || die "$DIST/index.html not found: build first (bash scripts/build.sh)"

# index.html first, then every local href/src it references (deduplicated, in order).
files=(index.html)
while IFS= read -r ref; do
  ref="${ref#/}"
  ref="${ref%%[?#]*}"
  [ -n "$ref" ] && [ -f "$DIST/$ref" ] || continue
  case " ${files[*]} " in *" $ref "*) ;; *) files+=("$ref") ;; esac
done < <(grep -oE '(href|src)="[^"]+"' "$DIST/index.html" | sed -E 's/^[a-z]+="(.*)"$/\1/' | grep -vE '^(https?:|data:|//)')

# The inline loader imports the JS, which fetches the .wasm: both are listed in
# index.html's preloads by Trunk, but make sure the .wasm counts even without them.
for f in "$DIST"/*_bg.wasm; do
  [ -f "$f" ] || continue
  b="$(basename "$f")"
  case " ${files[*]} " in *" $b "*) ;; *) files+=("$b") ;; esac
done

# Brotli sizes: the CLI, or the server's own encoder on a temporary copy.
declare -A BR=()
if command -v brotli >/dev/null; then
  for f in "${files[@]}"; do
    BR[$f]="$(brotli -q 11 -w 24 -c "$DIST/$f" | wc -c)"
  done
elif [ -x "$ROOT/target/release/mailsync" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  for f in "${files[@]}"; do
    mkdir -p "$tmp/$(dirname "$f")"
    cp "$DIST/$f" "$tmp/$f"
  done
  "$ROOT/target/release/mailsync" compress-assets "$tmp" >/dev/null
  for f in "${files[@]}"; do
    if [ -f "$tmp/$f.br" ]; then BR[$f]="$(stat -c%s "$tmp/$f.br")"; else BR[$f]="$(stat -c%s "$tmp/$f")"; fi
  done
else
  for f in "${files[@]}"; do BR[$f]="-"; done
fi

kb() { awk -v b="$1" 'BEGIN { if (b == "-") print "-"; else printf "%.1f", b / 1000 }'; }

printf '%-52s %10s %10s %10s\n' "first-load file ($DIST)" "raw" "gzip -9" "brotli"
raw_total=0 gz_total=0 br_total=0
for f in "${files[@]}"; do
  raw="$(stat -c%s "$DIST/$f")"
  gz="$(gzip -9 -c "$DIST/$f" | wc -c)"
  br="${BR[$f]}"
  raw_total=$((raw_total + raw))
  gz_total=$((gz_total + gz))
  [ "$br" = "-" ] || br_total=$((br_total + br))
  printf '%-52s %10s %10s %10s\n' "$f" "$raw" "$gz" "$br"
done
printf '%-52s %10s %10s %10s\n' "total (bytes)" "$raw_total" "$gz_total" "$br_total"
printf '%-52s %10s %10s %10s\n' "total (KB, 1000 bytes)" "$(kb "$raw_total")" "$(kb "$gz_total")" "$(kb "$br_total")"
budget=450000 goal=300000
if [ "$gz_total" -le "$goal" ]; then verdict="within the goal (300 KB)"
elif [ "$gz_total" -le "$budget" ]; then verdict="within the budget (450 KB), above the goal (300 KB)"
else verdict="OVER the budget (450 KB) by $(kb $((gz_total - budget))) KB"; fi
echo "gzip -9 first load: $(kb "$gz_total") KB: $verdict"
