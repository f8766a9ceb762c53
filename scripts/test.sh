#!/usr/bin/env bash
# The whole test suite of tsgate, as run by CI (.ci/run) and by developers.
#
# Installs what the tests need when it is missing (Debian packages; root or sudo needed
# only the first time), then checks formatting and lints and runs every test of the workspace.
# Real services the tests need are started by the tests themselves on loopback and stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests use:
# - xmllint validates every message against the official XSDs; libxml2-dev + pkg-config
#   build the simulator's in-process validator;
# - Dovecot is the real IMAP server of the mailbox tests (each test starts a private one);
# - PostgreSQL is the server of the PostgreSQL store's tests (each test binary starts a
#   throwaway cluster, as the postgres user when run as root);
# - tesseract reads codes drawn as images; DejaVu is the font the simulator draws them with;
# - Chromium (driven by npm playwright-core) runs the web UI tests; nginx and wrk are used
#   only by the benchmarks under bench/, which install them themselves;
# - the Debian package test (scripts/package-test.sh): systemd-analyze checks the unit,
#   dpkg-shlibdeps (dpkg-dev) computes the package's Depends, deb-systemd-helper
#   (init-system-helpers) enables the unit at install, curl talks to the installed binary.
need_pkgs=()
command -v xmllint >/dev/null 2>&1 || need_pkgs+=(libxml2-utils)
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
dpkg -s libxml2-dev >/dev/null 2>&1 || need_pkgs+=(libxml2-dev)
dpkg -s libssl-dev >/dev/null 2>&1 || need_pkgs+=(libssl-dev)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need_pkgs+=(fonts-dejavu-core)
command -v dovecot >/dev/null 2>&1 || need_pkgs+=(dovecot-imapd)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_pkgs+=(postgresql)
command -v tesseract >/dev/null 2>&1 || need_pkgs+=(tesseract-ocr)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
command -v systemd-analyze >/dev/null 2>&1 || need_pkgs+=(systemd)
command -v dpkg-shlibdeps >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
command -v deb-systemd-helper >/dev/null 2>&1 || need_pkgs+=(init-system-helpers)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

# A one-shot test run gains nothing from incremental artifacts, which roughly double the
# size of target/ (CI machines have a few GB of disk to spare, not tens).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (workspace)"
TARGET="${CARGO_TARGET_DIR:-target}"
mkdir -p "$TARGET"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$TARGET/test-output.log"
cargo_status=${PIPESTATUS[0]}
set -e

browser_status=0
if [ -f tests/browser/run.sh ]; then
  log "web UI in a real browser (Chromium + playwright-core)"
  # The binary is the one `cargo test` built for the tsgate integration tests; building
  # `-p tsgate` alone would resolve features differently and compile everything again.
  if [ -x "$TARGET/debug/tsgate" ]; then
    bash tests/browser/run.sh "$TARGET/debug/tsgate" || browser_status=$?
  else
    echo "$TARGET/debug/tsgate was not built (see the cargo test output above)" >&2
    browser_status=1
  fi
fi

log "Debian package: cargo deb, systemd-analyze, install, tsgate check and serve, purge"
# Packages the debug binary of the test build (no release build in the test run); installs
# into the system only on CI (see the script's header).
package_status=0
if [ -x "$TARGET/debug/tsgate" ]; then
  bash scripts/package-test.sh dev || package_status=$?
else
  echo "$TARGET/debug/tsgate was not built (see the cargo test output above)" >&2
  package_status=1
fi

# The Windows build and its smoke test under Wine only when asked (WINDOWS_TEST=1): the
# cross build of the workspace alone would take CI past its time (docs/PACKAGING.md).
windows_status=0
if [ "${WINDOWS_TEST:-}" = "1" ]; then
  log "Windows: cross build with mingw-w64, sim, serve and the service under Wine"
  bash scripts/windows-test.sh || windows_status=$?
fi

echo "disk: $(du -sh "$TARGET" 2>/dev/null | cut -f1) in $TARGET, $(df -h --output=avail . | tail -1 | tr -d ' ') left"
if [ "$cargo_status" -ne 0 ] || [ "$browser_status" -ne 0 ] || [ "$package_status" -ne 0 ] ||
  [ "$windows_status" -ne 0 ]; then
  echo "tests failed (cargo: $cargo_status, browser: $browser_status, package: $package_status, windows: $windows_status)" >&2
  exit 1
fi
echo "all tests passed"
