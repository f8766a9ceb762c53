#!/usr/bin/env bash
# Real-browser tests of the tsgate web UI.
#
#   bash tests/browser/run.sh target/debug/tsgate
#
# Builds nothing: takes the tsgate binary, starts `tsgate demo` on a free loopback port with
# a temporary data folder, drives Debian's chromium through playwright-core, and stops the
# demo on exit. Screenshots land in target/browser-screenshots/. The last line is
# "browser: N passed, M failed" (every suite summed); the exit status is non-zero on any
# failure.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash tests/browser/run.sh path/to/tsgate" >&2
  exit 2
fi
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "chromium not found at $CHROMIUM (Debian: apt-get install -y chromium)" >&2
  exit 2
fi
command -v node >/dev/null || { echo "node not found (Debian: apt-get install -y nodejs npm)" >&2; exit 2; }

cd "$HERE"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# A free port P with P+1 also free (the demo puts the simulator on P+1).
free_port() {
  node -e '
    const net = require("net");
    const tryPort = (p) => new Promise((ok) => { const s = net.createServer(); s.once("error", () => ok(false)); s.listen(p, "127.0.0.1", () => s.close(() => ok(true))); });
    (async () => { for (let i = 0; i < 50; i++) { const p = 20000 + Math.floor(Math.random() * 30000);
      if (await tryPort(p) && await tryPort(p + 1)) { console.log(p); return; } } process.exit(1); })();'
}
PORT=$(free_port)
DATA=$(mktemp -d /tmp/tsgate-browser.XXXXXX)
DEMO_PID=""
cleanup() {
  if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT

"$BIN" demo --no-browser --port "$PORT" --data-dir "$DATA/demo" >"$DATA/demo.log" 2>&1 &
DEMO_PID=$!
for _ in $(seq 1 300); do
  [ -s "$DATA/demo/demo.json" ] && break
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "tsgate demo exited early:" >&2
    cat "$DATA/demo.log" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  sleep 0.2
done
if [ ! -s "$DATA/demo/demo.json" ]; then
  echo "tsgate demo did not write demo.json" >&2
  cat "$DATA/demo.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

SHOTS="$ROOT/target/browser-screenshots"
mkdir -p "$SHOTS"
status=0
passed=0
failed=0
# Each suite prints "N passed, M failed" last; the total is this script's closing line.
# The counters suite first: it needs a simulator no other suite has slowed down (faults,
# a moved clock) and leaves nothing the others read.
for suite in counters.test.mjs ui.test.mjs admin-hours.test.mjs; do
  CHROMIUM="$CHROMIUM" node "$HERE/$suite" "$DATA/demo/demo.json" "$SHOTS" 2>&1 | tee "$DATA/$suite.log" || true
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$DATA/$suite.log" | tail -n 1 || true)
  if [ -z "$line" ]; then
    echo "$suite ended without its result line" >&2
    failed=$((failed + 1))
    status=1
    continue
  fi
  p=${line%% passed*}
  f=${line#*passed, }
  f=${f%% failed*}
  passed=$((passed + p))
  failed=$((failed + f))
  [ "$f" -eq 0 ] || status=1
done
echo "browser: $passed passed, $failed failed"
if [ "$status" -ne 0 ]; then
  echo "--- tsgate demo log (last 40 lines) ---" >&2
  tail -n 40 "$DATA/demo.log" >&2
fi
exit "$status"
