# Shared helpers for scripts/*.sh. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# cargo-installed tools (trunk, wasm-bindgen) and the pinned npm wasm-opt.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$ROOT/e2e/node_modules/.bin:$CARGO_BIN:$PATH"

# Tool versions. wasm-bindgen's comes from Cargo.lock (see wasm_bindgen_version).
TRUNK_VERSION="0.21.14"
WASM_OPT_VERSION="132"

# Section headers show the time since the outermost script started ("+42s").
MAILSYNC_T0="${MAILSYNC_T0:-$(date +%s)}"
export MAILSYNC_T0
section() {
  printf '\n\033[1;34m==> %s\033[0m  [+%ss]\n' "$*" "$(($(date +%s) - MAILSYNC_T0))"
}

info() { printf '    %s\n' "$*"; }

die() {
  printf '\033[1;31merror:\033[0m %s\n' "$*" >&2
  exit 1
}

# The exact wasm-bindgen version locked in Cargo.lock (the CLI must match it).
wasm_bindgen_version() {
  awk '
    $0 == "name = \"wasm-bindgen\"" { want = 1; next }
    want && /^version = / { gsub(/"/, "", $3); print $3; exit }
    /^\[\[package\]\]/ { want = 0 }
  ' "$ROOT/Cargo.lock"
}

# npm ci in e2e/ (Playwright without its browser download: the tests drive Debian's
# chromium), stamped with package-lock.json's hash. setup.sh runs it when the stamp differs,
# mailservers.sh when oauth2-mock-server is missing.
e2e_npm_ci() {
  (cd "$ROOT/e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  sha256sum "$ROOT/e2e/package-lock.json" | cut -d' ' -f1 >"$ROOT/e2e/node_modules/.mailsync-lock-stamp"
}

# Prints $1 if that TCP port is free on 127.0.0.1, else some other free port.
free_port() {
  node -e '
    const net = require("net");
    const tryListen = (port, onFail) => {
      const s = net.createServer();
      s.once("error", onFail);
      s.listen(port, "127.0.0.1", () => {
        const p = s.address().port;
        s.close(() => console.log(p));
      });
    };
    tryListen(Number(process.argv[1]), () => tryListen(0, (e) => { throw e; }));
  ' "$1"
}
