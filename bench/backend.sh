#!/usr/bin/env bash
# A vendor's backend with one credential for many doctors (issue #16): one node, embedded
# SQLite, `tsgate sim` upstream.
#
# For each N (default 10, 10000, 100000): a fresh data folder; N doctors of the practice
# `bench` created with the bulk import (`tsgate import FILE --practice bench`, a generated
# CSV), timed (the command's own "took X s" and from outside); ONE backend workstation
# (`workstation add --role backend --practice bench`), acting for every doctor of the
# practice; `tsgate serve` with the per-workstation API rate lifted (`api_rate_per_second =
# 0`); then `wrk -t2 -c$CONNS` GETting /api/v1/users/<random doctor>/session with that token
# (bench/backend.lua, which counts the non-2xx answers: they must be 0); req/s, p50, p99,
# server RSS after the run.
#
# After each wrk run: the server's idle CPU over IDLE_SECONDS (utime+stime from
# /proc/<pid>/stat, % of one core, and per thread) and RSS, sampled every 50 ms so that the
# bursts of the periodic passes (the session tick and the automatic-request pass, every
# 15 s) show with their wall time and CPU. No session is active: the simulator knows only
# its own test users, so no code can be obtained for the imported doctors (the output says
# so). The start-up time to the first 200 from /readyz is printed too: `serve` runs one
# automatic-request pass over every doctor before it serves. At the largest N: whether
# /metrics or a debug log (RUST_LOG=debug,sqlx=warn, for DEBUG_SECONDS) names a tick.
#
# PostgreSQL, several nodes (issue #10): DB=postgres NODES=2 bench/backend.sh 15 100000
#   A throwaway PostgreSQL cluster (initdb in a temporary folder owned by `postgres`, the
#   server on 127.0.0.1:$PG_PORT only, trust authentication), stopped and removed at exit;
#   for each N a fresh database `tsgate`. Every node's configuration has the same
#   database_url and master_key_file, and its own listen (127.0.0.1:$NODE_PORT+i), data_dir
#   and node_name. The N doctors are imported and the backend workstation created once
#   (through node 1's configuration); the NODES `tsgate serve` start together; then one
#   `wrk -t1 -c$((CONNS / NODES))` per node, all at the same time: req/s, p50, p99, non-2xx
#   and RSS per node, and the total; then every node's idle CPU over IDLE_SECONDS, sampled
#   at the same time. No debug-log restart in this mode.
#   PG_PORT=18494 NODE_PORT=18500; TSGATE_PG_BINDIR=<folder of initdb/pg_ctl> (default the
#   newest /usr/lib/postgresql/<version>/bin, then PATH).
#
# Usage: [DB=sqlite|postgres] [NODES=1] bench/backend.sh [seconds per wrk run] [N …]
#   CONNS=32 THREADS=2 IDLE_SECONDS=60 DEBUG_SECONDS=35
#   BIN_DIR=<folder with a prebuilt tsgate> skips the build; otherwise the release build
#   goes to $CARGO_TARGET_DIR (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_RUN=${1:-15}
shift || true
COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(10 10000 100000)
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
IDLE_SECONDS=${IDLE_SECONDS:-60}
DEBUG_SECONDS=${DEBUG_SECONDS:-35}
GW_PORT=${GW_PORT:-18492}
SIM_PORT=${SIM_PORT:-18493}
DB=${DB:-sqlite}
NODES=${NODES:-1}
PG_PORT=${PG_PORT:-18494}
NODE_PORT=${NODE_PORT:-18500}
case "$DB" in
  sqlite) [ "$NODES" = 1 ] || { echo "NODES=$NODES needs DB=postgres (SQLite: one node)" >&2; exit 2; } ;;
  postgres) [ "$NODES" -ge 1 ] 2>/dev/null || { echo "NODES must be a number >= 1" >&2; exit 2; } ;;
  *) echo "DB must be sqlite or postgres, not $DB" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
command -v python3 >/dev/null || { echo "python3 is needed (idle CPU sampling)" >&2; exit 2; }

if [ -n "${BIN_DIR:-}" ]; then
  BIN=$BIN_DIR/tsgate
else
  cargo build --release -q -p tsgate --bin tsgate
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tsgate
fi
work=$(mktemp -d)
pids=()
GW_PID=
PG_ROOT=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$PG_ROOT" ]; then
    pg_cmd pg_ctl -D "$PG_ROOT/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_ROOT"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
# PostgreSQL's programs (initdb, pg_ctl, createdb, …), as the postgres user when root.
pg_bindir() {
  if [ -n "${TSGATE_PG_BINDIR:-}" ]; then echo "$TSGATE_PG_BINDIR"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; else dirname "$(command -v pg_ctl)"; fi
}
# CPU seconds used so far by the PostgreSQL server's processes (postmaster and backends:
# every process of the cluster's owner), to see the cost moved from tsgate to the database.
pg_cpu() {
  python3 - "$(stat -c %u "$PG_ROOT/data")" <<'PY'
import os, sys
uid, hz, total = int(sys.argv[1]), os.sysconf("SC_CLK_TCK"), 0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        if os.stat(f"/proc/{p}").st_uid != uid:
            continue
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
print(f"{total / hz:.2f}")
PY
}
cpu_diff() { awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN {printf "%.2f s CPU = %.1f %% of one core", b - a, (b - a) / s * 100}'; }
AS_POSTGRES=0
[ "$(id -u)" = 0 ] && AS_POSTGRES=1
pg_cmd() {
  local prog=$1; shift
  if [ "$AS_POSTGRES" = 1 ]; then runuser -u postgres -- "$(pg_bindir)/$prog" "$@"; else "$(pg_bindir)/$prog" "$@"; fi
}
wait_url() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "$1 not up" >&2; return 1; }
load() { echo "(load: $(cut -d' ' -f1-3 /proc/loadavg))"; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
stop_server() {
  if [ -n "$GW_PID" ]; then kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; GW_PID=; fi
}
READY_S=
start_server() {  # config log [RUST_LOG]; sets GW_PID and READY_S (process start to 200 from /readyz)
  local start end
  start=$(date +%s%N)
  RUST_LOG=${3:-warn} "$BIN" serve -c "$1" >"$2" 2>&1 &
  GW_PID=$!; pids+=($GW_PID)
  # The listening socket is open before the server answers (it runs a first pass over every
  # doctor before serving): a connection may wait, hence the long -m.
  until curl -sf -m 600 -o /dev/null http://127.0.0.1:$GW_PORT/readyz; do
    kill -0 "$GW_PID" 2>/dev/null || { echo "tsgate serve exited:" >&2; cat "$2" >&2; exit 1; }
    sleep 0.05
  done
  end=$(date +%s%N)
  READY_S=$(awk -v ns=$((end - start)) 'BEGIN {printf "%.2f", ns / 1e9}')
}

# The idle sampler: python3 idle.py PID SECONDS prints the CPU used over SECONDS, per thread
# name, and its bursts (a line starting PASS sums them up).
cat >"$work/idle.py" <<'PY'
import os, sys, time
from collections import defaultdict
pid, seconds = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")
def cpu_of(path):
    with open(path) as f:
        text = f.read()
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
def ticks():
    return cpu_of(f"/proc/{pid}/stat")[1]
def per_thread():
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[tid] = cpu_of(f"/proc/{pid}/task/{tid}/stat")
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return out
step = 0.05
threads0 = per_thread()
t0 = time.monotonic(); c0 = ticks()
samples = []  # (seconds since start, ticks used in the step before)
prev = c0
while time.monotonic() - t0 < seconds:
    time.sleep(step)
    c = ticks()
    samples.append((time.monotonic() - t0, c - prev))
    prev = c
t1 = time.monotonic(); c1 = ticks()
threads1 = per_thread()
wall = t1 - t0
cpu = (c1 - c0) / hz
print(f"CPU {cpu:.2f} s in {wall:.1f} s = {cpu / wall * 100:.2f} % of one core")
by_name = defaultdict(lambda: [0, 0])
for tid, (name, t) in threads1.items():
    by_name[name][0] += t - threads0.get(tid, (name, 0))[1]
    by_name[name][1] += 1
busy = sorted(((v[0], k, v[1]) for k, v in by_name.items() if v[0] > 0), reverse=True)
print("per thread name: " + (", ".join(f"{k} x{n} {d / hz:.2f} s" for d, k, n in busy) or "none busy"))
# Bursts: busy steps, joined across a gap of at most 2 idle steps (100 ms).
bursts, cur, gap = [], None, 0
for t, d in samples:
    if d > 0:
        if cur is None:
            cur = [t - step, t, d]
        else:
            cur[1] = t; cur[2] += d
        gap = 0
    elif cur is not None:
        gap += 1
        if gap > 2:
            bursts.append(cur); cur, gap = None, 0
if cur is not None:
    bursts.append(cur)
big = [b for b in bursts if b[2] / hz >= 0.05]
print(f"bursts of CPU >= 50 ms: {len(big)} (of {len(bursts)} busy stretches)")
for start, end, d in big:
    print(f"  at {start:5.1f} s: {end - start:5.2f} s wall, {d / hz:5.2f} s CPU")
if any(b[1] - b[0] >= 0.9 * wall for b in big):
    print("PASS never idle for 100 ms in the whole window: the passes run back to back (one takes "
          "longer than their 15 s period), so one pass's duration cannot be read from the CPU")
elif big:
    walls = sorted(b[1] - b[0] for b in big)
    cpus = sorted(b[2] / hz for b in big)
    print(f"PASS {len(big)} bursts in {wall:.0f} s, median {walls[len(walls) // 2]:.2f} s wall, "
          f"{cpus[len(cpus) // 2]:.2f} s CPU each")
else:
    print("PASS no burst of CPU >= 50 ms")
PY

RUST_LOG=warn "$BIN" sim --mode test --listen 127.0.0.1:$SIM_PORT >"$work/sim.log" 2>&1 &
pids+=($!)
wait_url http://127.0.0.1:$SIM_PORT/sim/users
export RUST_LOG=warn

if [ "$DB" = postgres ]; then
  # -- PostgreSQL, NODES nodes on one database ----------------------------------------------
  echo "tsgate: $BIN"
  echo "database: PostgreSQL (throwaway cluster on 127.0.0.1:$PG_PORT), $NODES nodes"
  PG_ROOT=$(mktemp -d /tmp/tsgate-bench-pg.XXXXXX)
  [ "$AS_POSTGRES" = 1 ] && chown postgres:postgres "$PG_ROOT"
  pg_cmd initdb -D "$PG_ROOT/data" -U postgres -A trust -E UTF8 --locale=C >"$PG_ROOT/initdb.log" 2>&1 \
    || { echo "initdb FAILED:"; cat "$PG_ROOT/initdb.log"; exit 1; }
  # Durability settings left at their defaults (fsync, synchronous_commit on), as docs/VENDORS.md asks.
  pg_cmd pg_ctl -D "$PG_ROOT/data" -l "$PG_ROOT/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_ROOT -c max_connections=300" start \
    >/dev/null 2>&1 || { echo "pg_ctl start FAILED:"; cat "$PG_ROOT/server.log"; exit 1; }
  echo "PostgreSQL $(pg_cmd postgres --version | awk '{print $3}') up in $PG_ROOT"
  DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/tsgate"
  per_node=$((CONNS / NODES))
  [ "$per_node" -ge 1 ] || per_node=1
  echo "wrk -t1 -c$per_node -d${SECONDS_RUN}s per node, all $NODES at once; doctors: ${COUNTS[*]}"
  rows=()
  idle_lines=()
  import_lines=()
  for N in "${COUNTS[@]}"; do
    dir=$work/n$N
    mkdir -p "$dir"
    PGOPTIONS="-c client_min_messages=warning" pg_cmd dropdb --if-exists -h 127.0.0.1 -p "$PG_PORT" -U postgres tsgate
    pg_cmd createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres tsgate
    for i in $(seq "$NODES"); do
      cat >"$dir/node$i.toml" <<TOML
listen = "127.0.0.1:$((NODE_PORT + i))"
data_dir = "$dir/node$i"
database_url = "$DB_URL"
master_key_file = "$dir/master.key"
node_name = "bench-node-$i"
environment = "custom"
a2f_base = "http://127.0.0.1:$SIM_PORT"
dem_base = "http://127.0.0.1:$SIM_PORT"
sanitel_certificate_url = "http://127.0.0.1:$SIM_PORT/sim/certificate"

[limits]
api_rate_per_second = 0
TOML
    done
    awk -v n="$N" 'BEGIN {
      print "practice;user_id;cf;region;asl;display_name;password;pin"
      for (i = 1; i <= n; i++)
        printf "bench;B%07d;PRVBN%07dH50X;130;201;Dott. Bench %d;pw-%d;%04d\n", i, i, i, i, i % 10000
    }' >"$dir/doctors.csv"

    echo
    echo "== N = $N doctors, postgres, $NODES nodes: import (through node 1) $(load)"
    start=$(date +%s%N)
    if ! "$BIN" import "$dir/doctors.csv" --practice bench -c "$dir/node1.toml" >"$dir/import.out" 2>&1; then
      echo "import FAILED:"; cat "$dir/import.out"; exit 1
    fi
    end=$(date +%s%N)
    import_wall=$(awk -v ns=$((end - start)) 'BEGIN {printf "%.2f", ns / 1e9}')
    grep -E '^(doctors|workstations|refused|took)' "$dir/import.out"
    grep -E '^  line ' "$dir/import.out" | head -5 || true
    took=$(sed -n 's/^took \([0-9.]*\) s$/\1/p' "$dir/import.out")
    refused=$(sed -n 's/^refused: \([0-9]*\) lines$/\1/p' "$dir/import.out")
    echo "import: ${took:-?} s by its own clock, ${import_wall} s from outside $(load)"
    [ "${refused:-0}" = 0 ] || echo "WARNING: the import refused $refused lines"
    import_lines+=("- import of $N doctors into PostgreSQL: ${took:-?} s by its own clock, ${import_wall} s from outside, refused ${refused:-?}")

    out=$("$BIN" workstation add --name Gestionale --role backend --practice bench -c "$dir/node1.toml" 2>&1) \
      || { echo "workstation add FAILED:"; echo "$out"; exit 1; }
    TOKEN=$(sed -n 's/.*: \(tsg_.*\)$/\1/p' <<<"$out")
    [ -n "$TOKEN" ] || { echo "no token in the output of workstation add:"; echo "$out"; exit 1; }
    grep -v token <<<"$out"

    # All nodes start together (migrations already applied by the import).
    node_pids=()
    start=$(date +%s%N)
    for i in $(seq "$NODES"); do
      RUST_LOG=warn "$BIN" serve -c "$dir/node$i.toml" >"$dir/serve$i.log" 2>&1 &
      node_pids+=($!); pids+=($!)
    done
    ready=()
    for i in $(seq "$NODES"); do
      pid=${node_pids[$((i - 1))]}
      until curl -sf -m 600 -o /dev/null http://127.0.0.1:$((NODE_PORT + i))/readyz; do
        kill -0 "$pid" 2>/dev/null || { echo "tsgate serve (node $i) exited:" >&2; cat "$dir/serve$i.log" >&2; exit 1; }
        sleep 0.05
      done
      end=$(date +%s%N)
      ready+=("$(awk -v ns=$((end - start)) 'BEGIN {printf "%.2f", ns / 1e9}')")
      echo "node $i ready in ${ready[$((i - 1))]} s (start of all nodes to 200 from its /readyz), RSS $(rss_mib "$pid") MiB"
    done
    echo "$(load)"
    probe=B$(printf '%07d' "$N")
    for i in $(seq "$NODES"); do
      code=$(curl -s -o "$dir/probe$i.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        http://127.0.0.1:$((NODE_PORT + i))/api/v1/users/$probe/session)
      echo "node $i: GET /api/v1/users/$probe/session: HTTP $code $(head -c 300 "$dir/probe$i.json")"
      [ "$code" = 200 ] || { echo "session status FAILED on node $i (HTTP $code)"; tail -20 "$dir/serve$i.log"; exit 1; }
    done

    echo "-- $NODES x wrk -t1 -c$per_node -d${SECONDS_RUN}s --latency, at the same time $(load)"
    wrk_pids=()
    pg0=$(pg_cpu); t0=$(date +%s%N)
    for i in $(seq "$NODES"); do
      DOCTORS=$N TOKEN=$TOKEN wrk -t1 -c"$per_node" -d"${SECONDS_RUN}s" --latency \
        -s bench/backend.lua "http://127.0.0.1:$((NODE_PORT + i))" >"$dir/wrk$i.out" 2>&1 &
      wrk_pids+=($!); pids+=($!)
    done
    for p in "${wrk_pids[@]}"; do wait "$p" || { echo "a wrk failed"; cat "$dir"/wrk*.out; exit 1; }; done
    pg1=$(pg_cpu); t1=$(date +%s%N)
    pg_load="PostgreSQL server during the wrk runs: $(cpu_diff "$pg0" "$pg1" "$(awk -v ns=$((t1 - t0)) 'BEGIN {print ns / 1e9}')")"
    echo "$pg_load"
    total_rps=0
    total_bad=0
    total_rss=0
    node_rows=()
    for i in $(seq "$NODES"); do
      pid=${node_pids[$((i - 1))]}
      o=$dir/wrk$i.out
      echo "node $i:"
      grep -E 'Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors|statuses|non-2xx' "$o" | sed 's/^/  /'
      rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$o")
      p50=$(awk '$1 == "50%" {print $2}' "$o")
      p99=$(awk '$1 == "99%" {print $2}' "$o")
      bad=$(sed -n 's/^non-2xx: //p' "$o")
      rss=$(rss_mib "$pid")
      echo "  RSS after the run: $rss MiB"
      [ "${bad:-1}" = 0 ] || echo "  WARNING: ${bad:-?} non-2xx answers on node $i"
      total_rps=$((total_rps + ${rps:-0}))
      total_bad=$((total_bad + ${bad:-0}))
      total_rss=$(awk -v a="$total_rss" -v b="$rss" 'BEGIN {printf "%.1f", a + b}')
      node_rows+=("| $N | node $i | $rps | $p50 | $p99 | $rss | ${bad:-?} | ${ready[$((i - 1))]} |")
    done
    echo "total: $total_rps req/s, non-2xx $total_bad $(load)"
    import_lines+=("- $N doctors: $pg_load")
    rows+=("${node_rows[@]}")
    rows+=("| $N | **total** | **$total_rps** | – | – | $total_rss | **$total_bad** | – |")

    echo
    echo "== idle at N = $N: ${IDLE_SECONDS} s, every node sampled at the same time, no request $(load)"
    sleep 3
    idle_pids=()
    pg0=$(pg_cpu)
    for i in $(seq "$NODES"); do
      python3 "$work/idle.py" "${node_pids[$((i - 1))]}" "$IDLE_SECONDS" >"$dir/idle$i.out" &
      idle_pids+=($!); pids+=($!)
    done
    for p in "${idle_pids[@]}"; do wait "$p"; done
    pg1=$(pg_cpu)
    pg_idle="PostgreSQL server over the same idle window: $(cpu_diff "$pg0" "$pg1" "$IDLE_SECONDS")"
    echo "   $pg_idle"
    idle_lines+=("- idle, $N doctors: $pg_idle")
    for i in $(seq "$NODES"); do
      pid=${node_pids[$((i - 1))]}
      idle_rss=$(rss_mib "$pid")
      echo "   node $i (bench-node-$i):"
      grep -v '^PASS' "$dir/idle$i.out" | sed 's/^/     /'
      echo "     RSS after the idle period: $idle_rss MiB"
      idle_lines+=("- idle, $N doctors, node $i: $(head -1 "$dir/idle$i.out"), RSS $idle_rss MiB")
      idle_lines+=("  - periodic passes seen in its idle CPU (an estimate): $(sed -n 's/^PASS //p' "$dir/idle$i.out")")
      idle_lines+=("  - $(grep '^per thread name' "$dir/idle$i.out")")
    done
    idle_lines+=("  - load after the idle period at N = $N $(load)")
    for i in $(seq "$NODES"); do
      warn=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/serve$i.log" | grep -cE 'WARN|ERROR' || true)
      if [ "${warn:-0}" != 0 ]; then
        echo "   node $i log: $warn WARN/ERROR lines; first 5:"
        sed 's/\x1b\[[0-9;]*m//g' "$dir/serve$i.log" | grep -E 'WARN|ERROR' | head -5 | cut -c1-300 | sed 's/^/     /'
        idle_lines+=("- node $i log: $warn WARN/ERROR lines (first: $(sed 's/\x1b\[[0-9;]*m//g' "$dir/serve$i.log" | grep -E 'WARN|ERROR' | head -1 | cut -c1-200))")
      fi
    done
    for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$dir"/node*/
  done

  echo
  echo "## Summary (postgres, $NODES nodes): one backend token for a practice of N doctors ($NODES x wrk -t1 -c$per_node -d${SECONDS_RUN}s at the same time, GET …/session of a random doctor)"
  echo
  echo "| doctors the token acts for | node | status req/s | p50 | p99 | RSS MiB | non-2xx | start-up to /readyz, s |"
  echo "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo
  printf '%s\n' "${import_lines[@]}"
  echo "- PostgreSQL $(pg_cmd postgres --version | awk '{print $3}') on the same machine (default durability settings), the nodes and wrk on the same 2 cores"
  echo "- 10 % of sessions active: not measured (the simulator issues codes only to its own test users); every idle figure is with 0 % active"
  printf '%s\n' "${idle_lines[@]}"
  echo "- load at the end $(load)"
  exit 0
fi

largest=$(printf '%s\n' "${COUNTS[@]}" | sort -n | tail -1)
rows=()
idle_lines=()
echo "tsgate: $BIN"
echo "wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s per N; doctors: ${COUNTS[*]}"

for N in "${COUNTS[@]}"; do
  dir=$work/n$N
  mkdir -p "$dir"
  cat >"$dir/tsgate.toml" <<TOML
listen = "127.0.0.1:$GW_PORT"
data_dir = "$dir/data"
environment = "custom"
a2f_base = "http://127.0.0.1:$SIM_PORT"
dem_base = "http://127.0.0.1:$SIM_PORT"
sanitel_certificate_url = "http://127.0.0.1:$SIM_PORT/sim/certificate"

[limits]
api_rate_per_second = 0
TOML
  # user_id B + 7 digits; cf 16 upper-case letters and digits, one per doctor.
  awk -v n="$N" 'BEGIN {
    print "practice;user_id;cf;region;asl;display_name;password;pin"
    for (i = 1; i <= n; i++)
      printf "bench;B%07d;PRVBN%07dH50X;130;201;Dott. Bench %d;pw-%d;%04d\n", i, i, i, i, i % 10000
  }' >"$dir/doctors.csv"

  echo
  echo "== N = $N doctors: import $(load)"
  start=$(date +%s%N)
  if ! "$BIN" import "$dir/doctors.csv" --practice bench -c "$dir/tsgate.toml" >"$dir/import.out" 2>&1; then
    echo "import FAILED:"; cat "$dir/import.out"; exit 1
  fi
  end=$(date +%s%N)
  import_wall=$(awk -v ns=$((end - start)) 'BEGIN {printf "%.2f", ns / 1e9}')
  # The summary lines, and the first refused lines if any.
  grep -E '^(doctors|workstations|refused|took)' "$dir/import.out"
  grep -E '^  line ' "$dir/import.out" | head -5 || true
  took=$(sed -n 's/^took \([0-9.]*\) s$/\1/p' "$dir/import.out")
  refused=$(sed -n 's/^refused: \([0-9]*\) lines$/\1/p' "$dir/import.out")
  echo "import: ${took:-?} s by its own clock, ${import_wall} s from outside (process start to exit) $(load)"
  [ "${refused:-0}" = 0 ] || echo "WARNING: the import refused $refused lines"

  out=$("$BIN" workstation add --name Gestionale --role backend --practice bench -c "$dir/tsgate.toml" 2>&1) \
    || { echo "workstation add FAILED:"; echo "$out"; exit 1; }
  TOKEN=$(sed -n 's/.*: \(tsg_.*\)$/\1/p' <<<"$out")
  [ -n "$TOKEN" ] || { echo "no token in the output of workstation add:"; echo "$out"; exit 1; }
  grep -v token <<<"$out"

  start_server "$dir/tsgate.toml" "$dir/serve.log"
  echo "server ready in $READY_S s (process start to 200 from /readyz), RSS $(rss_mib $GW_PID) MiB $(load)"
  ready_s=$READY_S
  # One request by hand: the run counts only if the session of a doctor comes back.
  probe=B$(printf '%07d' "$N")
  code=$(curl -s -o "$dir/probe.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    http://127.0.0.1:$GW_PORT/api/v1/users/$probe/session)
  echo "GET /api/v1/users/$probe/session: HTTP $code $(head -c 400 "$dir/probe.json")"
  [ "$code" = 200 ] || { echo "session status FAILED (HTTP $code)"; tail -20 "$dir/serve.log"; exit 1; }

  echo "-- wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s --latency $(load)"
  out=$(DOCTORS=$N TOKEN=$TOKEN wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_RUN}s" --latency \
    -s bench/backend.lua "http://127.0.0.1:$GW_PORT")
  grep -E 'Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors|statuses|non-2xx' <<<"$out"
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(sed -n 's/^non-2xx: //p' <<<"$out")
  rss=$(rss_mib $GW_PID)
  echo "server RSS after the run: $rss MiB $(load)"
  [ "${bad:-1}" = 0 ] || echo "WARNING: ${bad:-?} non-2xx answers"
  rows+=("| $N | $rps | $p50 | $p99 | ${took:-?} (${import_wall} outside) | $rss | ${bad:-?} | $ready_s |")

  echo
  echo "== idle at N = $N: ${IDLE_SECONDS} s, no request, 0 % of sessions active $(load)"
  echo "   (10 % active is not reachable here: \`tsgate sim\` knows only its own test users, so"
  echo "   no code can be issued or verified for the imported doctors; measured with 0 % active)"
  sleep 3  # let the last requests' work settle
  idle=$(python3 "$work/idle.py" "$GW_PID" "$IDLE_SECONDS")
  grep -v '^PASS' <<<"$idle" | sed 's/^/   /'
  idle_rss=$(rss_mib $GW_PID)
  echo "   server RSS after the idle period: $idle_rss MiB $(load)"
  idle_lines+=("- idle, $N doctors, 0 % of sessions active: $(head -1 <<<"$idle"), RSS $idle_rss MiB $(load)")
  idle_lines+=("  - periodic passes seen in the idle CPU (an estimate, not a metric): $(sed -n 's/^PASS //p' <<<"$idle")")
  idle_lines+=("  - $(grep '^per thread name' <<<"$idle")")

  if [ "$N" = "$largest" ]; then
    echo
    echo "== tick duration at N = $N"
    curl -s http://127.0.0.1:$GW_PORT/metrics >"$dir/metrics.txt"
    found=$(grep -iE 'tick|pass|autopilot|automatic' "$dir/metrics.txt" | grep -v '^#' || true)
    if [ -n "$found" ]; then
      echo "   /metrics lines about ticks or passes:"
      head -20 <<<"$found" | sed 's/^/     /'
      idle_lines+=("- /metrics names a tick or pass (see above)")
    else
      echo "   /metrics: no tick or pass metric (metric families: $(grep -c '^# TYPE' "$dir/metrics.txt"))"
      idle_lines+=("- tick duration: no metric in /metrics")
    fi
    idle_lines+=("- nearest thing to one pass at $N doctors: start-up to /readyz $ready_s s (serve runs one automatic-request pass over every doctor before it serves; the first pass also announces every doctor, so it may cost more than the later ones)")
    stop_server
    echo "   restarting with RUST_LOG=debug,sqlx=warn for ${DEBUG_SECONDS} s (idle) to look for a tick line in the log"
    start_server "$dir/tsgate.toml" "$dir/serve-debug.log" "debug,sqlx=warn"
    echo "   (ready again in $READY_S s)"
    sleep "$DEBUG_SECONDS"
    stop_server
    lines=$(wc -l <"$dir/serve-debug.log")
    found=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/serve-debug.log" | grep -iE '\btick|\bpass(es)?\b' || true)
    if [ -n "$found" ]; then
      echo "   debug log ($lines lines), lines naming a tick or pass (first 10 of $(wc -l <<<"$found")):"
      head -10 <<<"$found" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-300 | sed 's/^/     /'
      idle_lines+=("- debug log: $(wc -l <<<"$found") lines name a tick or pass (see above)")
    else
      echo "   debug log ($lines lines in ${DEBUG_SECONDS} s): no line names a tick or pass; last lines:"
      tail -5 "$dir/serve-debug.log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-300 | sed 's/^/     /'
      idle_lines+=("- tick duration: no line of the debug log (RUST_LOG=debug,sqlx=warn, ${DEBUG_SECONDS} s idle) names it")
    fi
  fi
  stop_server
  rm -rf "$dir/data"
done

echo
echo "## Summary (sqlite, 1 node): one backend token for a practice of N doctors (wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s, GET …/session of a random doctor)"
echo
echo "| doctors the token acts for | status req/s | p50 | p99 | import s | RSS MiB | non-2xx | start-up to /readyz, s |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "- 10 % of sessions active: not measured (the simulator issues codes only to its own test users); every idle figure is with 0 % active"
printf '%s\n' "${idle_lines[@]}"
echo "- load at the end $(load)"
