#!/usr/bin/env bash
# The Windows build, cross-compiled with Debian's mingw-w64 and smoke-tested under Wine:
#
#   scripts/windows-test.sh
#
# 1. the Rust target x86_64-pc-windows-gnu (rustup target add; it needs the Rust
#    distribution server, which is not one of the package registries CI is promised) and
#    Debian's gcc-mingw-w64-x86-64 and wine (apt);
# 2. cargo build --release --target x86_64-pc-windows-gnu -p tsgate;
# 3. under Wine (a throwaway prefix of its own): tsgate.exe sim on loopback,
#    tsgate.exe check and serve against it, one request; then the Windows service: install,
#    sc start, one request, sc stop, uninstall.
#
# Not part of scripts/test.sh: the Windows build of the workspace alone takes longer than
# the CI budget leaves (docs/PACKAGING.md, "Windows").
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
fail() {
  echo "windows test: $*" >&2
  exit 1
}
TRIPLE=x86_64-pc-windows-gnu
TARGET="${CARGO_TARGET_DIR:-target}"
started=$SECONDS
while read -r name; do unset "$name"; done < <(compgen -e | grep '^TSGATE_' || true)

log "toolchain: rustup target $TRIPLE, mingw-w64, wine"
rustup target list --installed | grep -qx "$TRIPLE" || rustup target add "$TRIPLE" ||
  fail "rustup target add $TRIPLE failed (the Rust distribution server is out of reach?)"
need=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || need+=(wine wine64)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

log "cargo build --release --target $TRIPLE -p tsgate"
t=$SECONDS
cargo build --release --locked --target "$TRIPLE" -p tsgate
exe="$TARGET/$TRIPLE/release/tsgate.exe"
echo "built in $((SECONDS - t)) s: $exe, $(du -h "$exe" | cut -f1)"

work=$(mktemp -d)
# A prefix of its own, thrown away at the end (about 700 MB).
export WINEPREFIX="$work/wine-prefix"
export WINEDEBUG=-all
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wineserver -k 2>/dev/null || true # this prefix's wineserver only
  rm -rf "$work"
}
trap cleanup EXIT
win() { winepath -w "$1" 2>/dev/null; }

log "wineboot ($WINEPREFIX)"
t=$SECONDS
# One wineserver (and so one service control manager) for the whole test: started first,
# persistent, in the empty prefix that wineboot then fills.
mkdir -p "$WINEPREFIX"
wineserver -p60
wineboot >/dev/null 2>&1 || true
wine cmd /c ver 2>/dev/null | tr -d '\r' | grep -v '^$' || fail "wine does not run"
echo "prefix ready in $((SECONDS - t)) s"
# Wine 8 (Debian 12) has no bcryptprimitives.dll, where Rust's standard library takes its
# random numbers (ProcessPrng; in every Windows 10 and 11, in Wine from 9.x): a test-only
# stand-in in the prefix, never next to tsgate.exe (packaging/windows/bcryptprimitives-shim.c).
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -e "$dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -Wl,--kill-at -o "$dll" \
    packaging/windows/bcryptprimitives-shim.c -ladvapi32
  echo "Wine lacks bcryptprimitives.dll: test stand-in built into the prefix"
fi

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
wait_for() { # URL: up to 60 s (Wine starts slowly)
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

log "tsgate.exe --version"
wine "$exe" --version | tr -d '\r'

log "tsgate.exe sim (loopback)"
wine "$exe" sim --listen 127.0.0.1:0 >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for _ in $(seq 300); do
  sim=$(tr -d '\r' <"$work/sim.out" | sed -n 's/^Sistema TS simulator listening on \(http:[^ ]*\)$/\1/p')
  [ -n "$sim" ] && break
  sleep 0.2
done
[ -n "${sim:-}" ] || { cat "$work/sim.err" >&2; fail "the simulator did not start"; }
echo "simulator at $sim"
curl -fsS "$sim/sim/users" -o "$work/users.json"

mkdir -p "$work/data"
port=$(free_port)
cat >"$work/tsgate.toml" <<EOF
listen = "127.0.0.1:$port"
data_dir = '$(win "$work/data")'
environment = "custom"
a2f_base = "$sim"
dem_base = "$sim"
sanitel_certificate_url = "$sim/sim/certificate"
EOF
config=$(win "$work/tsgate.toml")

log "tsgate.exe check --config $config"
wine "$exe" check --config "$config" | tr -d '\r' | tee "$work/check"
grep -q '^ok    A2F service reachable' "$work/check" || fail "check did not reach the simulator"

log "tsgate.exe serve, one request"
wine "$exe" serve --config "$config" >"$work/serve.out" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
wait_for "http://127.0.0.1:$port/readyz" || { cat "$work/serve.out" >&2; fail "serve did not become ready"; }
curl -fsS "http://127.0.0.1:$port/readyz"
echo
curl -fsS "http://127.0.0.1:$port/api/v1/openapi.json" -o "$work/openapi.json"
grep -q '"openapi"' "$work/openapi.json" || fail "no OpenAPI description"
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true

log "Windows service: install, sc start, one request, sc stop, uninstall"
wine "$exe" service install --config "$config" | tr -d '\r'
if ! WINEDEBUG=err+service,trace+service wine sc start tsgate >"$work/sc-start.out" 2>&1; then
  grep -v -e load_service_config -e 'Loading service' "$work/sc-start.out" | tail -40 >&2
  cat "$work/tsgate.log" >&2 2>/dev/null || true
  fail "sc start tsgate failed"
fi
wait_for "http://127.0.0.1:$port/readyz" || {
  cat "$work/tsgate.log" >&2 2>/dev/null || true
  fail "the service did not become ready"
}
curl -fsS "http://127.0.0.1:$port/readyz"
echo
wine sc query tsgate | tr -d '\r' | grep -q RUNNING || fail "the service is not RUNNING"
wine sc stop tsgate | tr -d '\r' >/dev/null || fail "sc stop tsgate failed"
for _ in $(seq 100); do
  wine sc query tsgate | tr -d '\r' | grep -q STOPPED && break
  sleep 0.3
done
wine sc query tsgate | tr -d '\r' | grep -q STOPPED || fail "the service did not stop"
wine "$exe" service uninstall | tr -d '\r'
grep -q 'tsgate serving' "$work/tsgate.log" || fail "no 'tsgate serving' in the service's log"
echo "service log:"
sed 's/^/  /' "$work/tsgate.log"

echo "windows test passed in $((SECONDS - started)) s"
