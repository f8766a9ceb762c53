#!/usr/bin/env bash
# Copies the pictures the browser tests take for the IT person's guide
# (target/browser-screenshots/doc/*.jpg, see docShot in ui.test.mjs) into docs/img/.
# Run after `bash tests/browser/run.sh target/debug/tsgate`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC="$ROOT/target/browser-screenshots/doc"
[ -d "$SRC" ] || { echo "no $SRC: run bash tests/browser/run.sh target/debug/tsgate first" >&2; exit 2; }
mkdir -p "$ROOT/docs/img"
cp "$SRC"/*.jpg "$ROOT/docs/img/"
ls -l "$ROOT/docs/img"
