#!/usr/bin/env bash
# The Debian package, checked end to end (called by scripts/test.sh; also runs alone).
#
#   scripts/package-test.sh [BINARY_PROFILE]     # dev (default) or release
#
# 1. builds the .deb with cargo-deb (installed with `cargo install` when missing) from the
#    binary already built: by default the debug one that `cargo test` built for the test
#    run, so that packaging costs no second build (`release` packages target/release, as
#    `cargo deb` does for a real release);
# 2. checks the package's control data (conffile, depends, maintainer scripts that enable
#    the unit without starting it) and the unit with `systemd-analyze verify` and
#    `systemd-analyze security` (no systemd needs to be running);
# 3. installs it, runs the installed `tsgate check` and `tsgate serve` as the tsgate user
#    against a loopback simulator (never the real Sistema TS) under an approximation of the
#    unit's sandbox, and purges it.
#
# Installing into the system happens only where that is harmless: as root with CI=true (CI
# machines are thrown away) or with PACKAGE_TEST_INSTALL=1, and never where a tsgate user
# or /usr/bin/tsgate already exists. Otherwise the package is unpacked into a scratch folder
# (dpkg -x) and that copy of the binary runs check and serve as the current user, with no
# sandbox and no user or permission checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() {
  echo "package test: $*" >&2
  exit 1
}

PROFILE="${1:-dev}"
TARGET="${CARGO_TARGET_DIR:-target}"
case "$PROFILE" in
  dev) BIN="$TARGET/debug/tsgate" ;;
  release) BIN="$TARGET/release/tsgate" ;;
  *) fail "profile must be dev or release, not $PROFILE" ;;
esac
[ -x "$BIN" ] || fail "$BIN was not built (cargo test --workspace or cargo build --release -p tsgate first)"
CARGO_DEB_VERSION=3.8.0
started=$SECONDS
# Every TSGATE_* variable is a configuration key to tsgate (or its master key): none of the
# caller's may leak into the installed binary's runs.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^TSGATE_' || true)

# --- 1. the .deb --------------------------------------------------------------------------
if ! cargo deb --version >/dev/null 2>&1; then
  log "cargo install cargo-deb $CARGO_DEB_VERSION"
  t=$SECONDS
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet \
    --target-dir "$TARGET/cargo-deb-build"
  rm -rf "$TARGET/cargo-deb-build"
  echo "cargo-deb built in $((SECONDS - t)) s"
fi

log "cargo deb --no-build ($PROFILE binary $BIN)"
out="$TARGET/debian"
rm -rf "$out"
mkdir -p "$out"
# cargo-deb packages <target dir>/release/tsgate; a staging target dir holding the binary
# already built (a hard link, no copy) lets it take the debug one without a second build.
stage="$TARGET/package-stage"
rm -rf "$stage"
mkdir -p "$stage/release"
ln "$BIN" "$stage/release/tsgate" 2>/dev/null || cp "$BIN" "$stage/release/tsgate"
# The test build's package: stripped, no dbgsym package, quickly compressed (a release
# keeps the metadata's choices: line tables in tsgate-dbgsym, xz at its best).
fast=()
[ "$PROFILE" = release ] || fast=(--strip --no-dbgsym --fast)
t=$SECONDS
CARGO_TARGET_DIR="$(realpath "$stage")" cargo deb -p tsgate --no-build "${fast[@]}" --output "$out/"
rm -rf "$stage"
echo "packaged in $((SECONDS - t)) s"
deb=$(find "$out" -maxdepth 1 -name 'tsgate_*.deb' | head -1)
[ -n "$deb" ] || fail "cargo deb made no package"
echo "$deb: $(du -h "$deb" | cut -f1) ($(stat -c %s "$deb") bytes)"

log "package contents and control data"
work=$(mktemp -d)
pids=()
cleanup() {
  # The processes this script started, and their children (a sandboxed server runs under
  # the background subshell that started it).
  for pid in "${pids[@]}"; do
    for child in $(pgrep -P "$pid" || true); do kill "$child" 2>/dev/null || true; done
    kill "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
dpkg-deb --info "$deb" >"$work/info"
dpkg-deb --contents "$deb" >"$work/contents"
dpkg-deb --control "$deb" "$work/control"
cat "$work/info"
cat "$work/contents"
for path in ./usr/bin/tsgate ./etc/tsgate/tsgate.toml ./usr/lib/systemd/system/tsgate.service \
  ./usr/share/doc/tsgate/copyright ./usr/share/doc/tsgate/examples/tsgate.example.toml; do
  grep -q " $path\$" "$work/contents" || fail "$path is not in the package"
done
grep -q '^/etc/tsgate/tsgate.toml$' "$work/control/conffiles" || fail "the configuration is no conffile"
for dep in adduser libc6 libssl3 libxml2; do
  grep -q "^ Depends:.*\b$dep\b" "$work/info" || fail "Depends lacks $dep"
done
grep -q 'deb-systemd-helper enable tsgate.service' "$work/control/postinst" || fail "postinst does not enable the unit"
grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the tsgate user"
! grep -q 'deb-systemd-invoke start' "$work/control/postinst" || fail "postinst starts the unit before it is configured"

# --- 2. install (or unpack) ---------------------------------------------------------------
system_install=false
if [ "$(id -u)" -eq 0 ] && { [ "${CI:-}" = "true" ] || [ "${PACKAGE_TEST_INSTALL:-}" = "1" ]; }; then
  if getent passwd tsgate >/dev/null || [ -e /usr/bin/tsgate ] || dpkg -s tsgate >/dev/null 2>&1; then
    echo "a tsgate user, binary or package is already here: not installing over it (scratch instead)"
  else
    system_install=true
  fi
fi

if $system_install; then
  log "apt-get install $deb (as root: CI=${CI:-} PACKAGE_TEST_INSTALL=${PACKAGE_TEST_INSTALL:-})"
  purge() {
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq tsgate >/dev/null 2>&1 || true
    rm -f /etc/tsgate/SanitelCF.cer
    rmdir /etc/tsgate 2>/dev/null || true
    rm -rf /var/lib/tsgate
    deluser --system --quiet tsgate >/dev/null 2>&1 || true
    delgroup --system --quiet tsgate >/dev/null 2>&1 || true
  }
  trap 'cleanup; purge' EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$(realpath "$deb")" \
    >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "apt-get install failed"; }
  grep -v 'Reading database' "$work/install.log" || true
  root=""
  run_as=(setpriv --reuid=tsgate --regid=tsgate --init-groups --no-new-privs
    --inh-caps=-all --bounding-set=-all --)

  log "user, directories, permissions, unit"
  entry=$(getent passwd tsgate) || fail "no tsgate user"
  echo "$entry"
  [ "$(echo "$entry" | cut -d: -f6)" = /var/lib/tsgate ] || fail "tsgate's home is not /var/lib/tsgate"
  [ "$(echo "$entry" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "tsgate may log in"
  [ "$(echo "$entry" | cut -d: -f3)" -lt 1000 ] || fail "tsgate is no system user"
  [ "$(stat -c '%U:%G %a' /var/lib/tsgate)" = "tsgate:tsgate 700" ] ||
    fail "/var/lib/tsgate is $(stat -c '%U:%G %a' /var/lib/tsgate), not tsgate:tsgate 700"
  [ "$(stat -c '%U:%G %a' /etc/tsgate/tsgate.toml)" = "root:tsgate 640" ] ||
    fail "/etc/tsgate/tsgate.toml is $(stat -c '%U:%G %a' /etc/tsgate/tsgate.toml), not root:tsgate 640"
  [ -L /etc/systemd/system/multi-user.target.wants/tsgate.service ] || fail "the unit is not enabled"
  echo "systemctl is-enabled: $(systemctl is-enabled tsgate.service 2>&1 || true)"
  unit=/usr/lib/systemd/system/tsgate.service
  config=/etc/tsgate/tsgate.toml
  data=/var/lib/tsgate
else
  log "dpkg -x $deb (no system install: run as root with CI=true or PACKAGE_TEST_INSTALL=1 for one)"
  root="$work/root"
  dpkg -x "$deb" "$root"
  run_as=()
  unit="$root/usr/lib/systemd/system/tsgate.service"
  config="$root/etc/tsgate/tsgate.toml"
  data="$root/var/lib/tsgate"
  mkdir -p "$data"
  chmod 700 "$data"
fi
tsgate="$root/usr/bin/tsgate"
as="as the service's user, sandboxed"
$system_install || as="as $(id -un), unpacked"

# --- 3. the unit --------------------------------------------------------------------------
log "systemd-analyze verify"
if $system_install; then
  systemd-analyze verify "$unit"
else
  # verify needs ExecStart's program where the unit names it: the unpacked one here, in a
  # copy of the unit that differs in that path only.
  sed "s|^ExecStart=/usr/bin/tsgate |ExecStart=$tsgate |" "$unit" >"$work/tsgate.service"
  systemd-analyze verify "$work/tsgate.service"
fi
echo "ok"
log "systemd-analyze security (offline)"
systemd-analyze security --offline=true "$unit" | tee "$work/security" | grep -v '✓'
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security")
[ -n "$exposure" ] || fail "no exposure level in the output of systemd-analyze security"
# 1.2 today; anything above 2 means a hardening line was lost.
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure is above 2.0"

# --- 4. the installed binary against a loopback simulator ---------------------------------
free_port() {
  local port
  for _ in $(seq 50); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  fail "no free port"
}
wait_for() { # URL: up to 20 s
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# The sandbox of the unit, as far as it can be had without systemd: in a mount namespace
# where / is read-only but for the state directory, /tmp is private and /home and /root are
# empty (ProtectSystem=strict, StateDirectory, PrivateTmp, ProtectHome); as tsgate with no
# capability and no new privileges (User=, CapabilityBoundingSet=, NoNewPrivileges=); with
# no writable and executable memory (MemoryDenyWriteExecute=, here the kernel's
# PR_SET_MDWE, x86_64 only). The system-call filter is not reproduced.
sandboxed() {
  if ! $system_install; then
    "$@"
    return
  fi
  local mdwe=()
  if [ "$(uname -m)" = x86_64 ]; then
    # prctl (157) PR_SET_MDWE (65) PR_MDWE_REFUSE_EXEC_GAIN (1); kept across execve.
    mdwe=(perl -e 'syscall(157, 65, 1, 0, 0, 0) == 0 or die "PR_SET_MDWE: $!\n"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"')
  fi
  unshare --mount --propagation private -- sh -c '
    set -e
    mount --bind /var/lib/tsgate /var/lib/tsgate
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mount -t tmpfs -o ro tmpfs /home
    mount -t tmpfs -o ro tmpfs /root
    mount -o remount,bind,ro /
    exec "$@"' sandbox "${mdwe[@]}" "${run_as[@]}" env HOME=/var/lib/tsgate "$@"
}

if $system_install; then
  log "the sandbox approximation holds"
  uid=$(id -u tsgate)
  [ "$(sandboxed id -u)" = "$uid" ] || fail "the sandbox does not run as tsgate"
  sandboxed grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status || fail "capabilities left in the sandbox"
  sandboxed grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status || fail "no NoNewPrivs in the sandbox"
  ! sandboxed touch /etc/tsgate/probe 2>/dev/null || fail "the sandbox may write to /etc"
  ! sandboxed touch /usr/probe 2>/dev/null || fail "the sandbox may write to /usr"
  sandboxed touch /var/lib/tsgate/probe || fail "the sandbox may not write to its state directory"
  rm -f /var/lib/tsgate/probe
  if [ "$(uname -m)" = x86_64 ]; then
    # PR_GET_MDWE (66): 1 = PR_MDWE_REFUSE_EXEC_GAIN.
    [ "$(sandboxed perl -e 'print syscall(157, 66, 0, 0, 0, 0)')" = 1 ] || fail "no MDWE in the sandbox"
  fi
  echo "uid $uid, no capabilities, no new privileges, / read-only, /var/lib/tsgate writable, MDWE on"
fi

log "tsgate sim (installed binary, loopback)"
"$tsgate" sim --listen 127.0.0.1:0 >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for _ in $(seq 100); do
  sim=$(sed -n 's/^Sistema TS simulator listening on \(http:[^ ]*\)$/\1/p' "$work/sim.out")
  [ -n "$sim" ] && break
  sleep 0.2
done
[ -n "${sim:-}" ] || { cat "$work/sim.err" >&2; fail "the simulator did not start"; }
echo "simulator at $sim"
# As the administrator would: the kit's SanitelCF certificate (here the simulator's) copied
# to where the packaged configuration expects it.
curl -fsS "$sim/sim/certificate" -o "$root/etc/tsgate/SanitelCF.cer"
chmod 644 "$root/etc/tsgate/SanitelCF.cer"

# The packaged configuration as installed, its Sistema TS pointed at the simulator (the
# environment overrides the file's keys; production is never reachable from here).
upstream=(TSGATE_ENVIRONMENT=custom "TSGATE_A2F_BASE=$sim" "TSGATE_DEM_BASE=$sim")
if ! $system_install; then
  upstream+=("TSGATE_DATA_DIR=$data" "TSGATE_SANITEL_CERTIFICATE=$root/etc/tsgate/SanitelCF.cer")
fi

log "tsgate check --config $config ($as)"
sandboxed env "${upstream[@]}" "$tsgate" check --config "$config" | tee "$work/check"
grep -q '^ok    A2F service reachable' "$work/check" || fail "check did not reach the simulator"
# check writes nothing: the first run's key and database come with `serve` (below).
grep -q 'no master key yet' "$work/check" || fail "check did not say that there is no master key yet"
[ ! -e "$data/master.key" ] || fail "check created $data/master.key"

log "tsgate serve --config $config ($as), one request"
port=$(free_port)
sandboxed env "${upstream[@]}" "TSGATE_LISTEN=127.0.0.1:$port" \
  "$tsgate" serve --config "$config" >"$work/serve.out" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
wait_for "http://127.0.0.1:$port/readyz" || { cat "$work/serve.out" >&2; fail "serve did not become ready"; }
curl -fsS "http://127.0.0.1:$port/readyz"
echo
curl -fsS "http://127.0.0.1:$port/api/v1/openapi.json" -o "$work/openapi.json"
grep -q '"openapi"' "$work/openapi.json" || fail "no OpenAPI description"
# SIGTERM, as `systemctl stop` sends it, to the server itself: the child of the background
# subshell (unshare, sh, perl, setpriv and env all exec into it), or that subshell if bash
# ran it directly.
server=$(pgrep -P "$serve_pid" || true)
kill -TERM "${server:-$serve_pid}"
status=0
wait "$serve_pid" || status=$?
[ "$status" -eq 0 ] || { cat "$work/serve.out" >&2; fail "serve exited with $status after SIGTERM"; }
echo "serve stopped cleanly on SIGTERM"
[ -f "$data/master.key" ] || fail "serve made no master key in $data"
if $system_install; then
  [ "$(stat -c '%U %a' "$data/master.key")" = "tsgate 600" ] || fail "master.key is not tsgate's, mode 600"
  [ "$(stat -c '%U' "$data/tsgate.db")" = tsgate ] || fail "tsgate.db is not tsgate's"
fi

# --- 5. purge -----------------------------------------------------------------------------
if $system_install; then
  log "apt-get purge tsgate"
  rm -f /etc/tsgate/SanitelCF.cer
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq tsgate >"$work/purge.log" 2>&1 ||
    { cat "$work/purge.log" >&2; fail "apt-get purge failed"; }
  [ ! -e /usr/bin/tsgate ] || fail "/usr/bin/tsgate is still there"
  [ ! -e /etc/tsgate/tsgate.toml ] || fail "the configuration survived the purge"
  [ ! -e /etc/systemd/system/multi-user.target.wants/tsgate.service ] || fail "the unit is still enabled"
  ! dpkg-statoverride --list /etc/tsgate/tsgate.toml >/dev/null || fail "the statoverride survived the purge"
  [ -f /var/lib/tsgate/master.key ] || fail "purge deleted the master key (it must keep the data)"
  echo "purged; /var/lib/tsgate and the tsgate user kept, as documented"
fi
echo "package test passed in $((SECONDS - started)) s"
