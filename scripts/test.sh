#!/usr/bin/env bash
# The whole test suite of tsgate, as run by CI (.ci/run) and by developers.
#
# Installs what the tests need when it is missing (Debian packages; root or sudo needed
# only the first time), then checks formatting and lints and runs every test of the workspace.
# Real services the tests need are started by the tests themselves on loopback and stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Debian packages the tests use: xmllint validates every message against the official XSDs.
need_pkgs=()
command -v xmllint >/dev/null 2>&1 || need_pkgs+=(libxml2-utils)
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
dpkg -s libxml2-dev >/dev/null 2>&1 || need_pkgs+=(libxml2-dev)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || need_pkgs+=(fonts-dejavu-core)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test (workspace)"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.log
