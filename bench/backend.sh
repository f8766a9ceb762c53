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
# Many practices: PRACTICES=10000 bench/backend.sh 15 100000
#   The N doctors spread over PRACTICES practices (N / PRACTICES each, in order: practice
#   p00001 has B0000001…), one CSV with a `practice` and a `practice_name` column, one
#   import; the token is ONE backend workstation of every practice (`workstation add --role
#   backend --all-practices`), the doctor of each request still random among the N.
#
# PostgreSQL, several nodes (issue #10): DB=postgres NODES=2 bench/backend.sh 15 100000
#   A throwaway PostgreSQL cluster (bench/lib.sh: initdb in a temporary folder owned by
#   `postgres`, the server on 127.0.0.1:$PG_PORT only, trust authentication), stopped and
#   removed at exit; for each N a fresh database `tsgate`. Every node's configuration has the
#   same database_url and master_key_file, and its own listen (127.0.0.1:$NODE_PORT+i),
#   data_dir and node_name. The N doctors are imported and the backend workstation created
#   once (through node 1's configuration); the NODES `tsgate serve` start together; then one
#   `wrk -t1 -c$((CONNS / NODES))` per node, all at the same time: req/s, p50, p99, non-2xx
#   and RSS per node, and the total; then every node's idle CPU over IDLE_SECONDS, sampled
#   at the same time, with the database's work over the same window: transactions
#   (xact_commit + xact_rollback) and rows read (tup_returned, tup_fetched) of the database
#   in pg_stat_database before and after, per minute, and the PostgreSQL server's CPU; with
#   PG_STATEMENTS=1 (the default) the cluster loads pg_stat_statements and the statements
#   run in that window are listed, most called first. The window starts SETTLE seconds (15)
#   after the wrk runs: a PostgreSQL 15 backend may hold its counters up to 10 s before it
#   reports them. No debug-log restart in this mode.
#   PG_PORT=18494 NODE_PORT=18500; TSGATE_PG_BINDIR=<folder of initdb/pg_ctl> (default the
#   newest /usr/lib/postgresql/<version>/bin, then PATH).
#
# Usage: [DB=sqlite|postgres] [NODES=1] [PRACTICES=1] bench/backend.sh [seconds per wrk run] [N …]
#   CONNS=32 THREADS=2 IDLE_SECONDS=60 DEBUG_SECONDS=35
#   BIN_DIR=<folder with a prebuilt tsgate> skips the build; otherwise the release build
#   goes to $CARGO_TARGET_DIR (default target/).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECONDS_RUN=${1:-15}
shift || true
COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(10 10000 100000)
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
IDLE_SECONDS=${IDLE_SECONDS:-60}
DEBUG_SECONDS=${DEBUG_SECONDS:-35}
SETTLE=${SETTLE:-15}
SIM_PORT=${SIM_PORT:-18493}
DB=${DB:-sqlite}
NODES=${NODES:-1}
PRACTICES=${PRACTICES:-1}
PG_STATEMENTS=${PG_STATEMENTS:-1}
PG_PORT=${PG_PORT:-18494}
NODE_PORT=${NODE_PORT:-18500}
check_db_nodes
[ "$PRACTICES" -ge 1 ] 2>/dev/null || { echo "PRACTICES must be a number >= 1" >&2; exit 2; }
for N in "${COUNTS[@]}"; do
  [ $((N % PRACTICES)) = 0 ] || { echo "N = $N is not a multiple of PRACTICES = $PRACTICES" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
command -v python3 >/dev/null || { echo "python3 is needed (idle CPU sampling)" >&2; exit 2; }

tsgate_binaries
bench_start
GW_PID=
stop_server() {
  if [ -n "$GW_PID" ]; then kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; GW_PID=; fi
}
READY_S=
start_server() {  # config log [RUST_LOG]; sets GW_PID and READY_S (process start to 200 from /readyz)
  local start
  start=$(date +%s%N)
  RUST_LOG=${3:-warn} "$BIN" serve -c "$1" >"$2" 2>&1 &
  GW_PID=$!; pids+=($GW_PID)
  # The listening socket is open before the server answers (it runs a first pass over every
  # doctor before serving): a connection may wait, hence the long -m.
  until curl -sf -m 600 -o /dev/null "http://127.0.0.1:$(node_port 1)/readyz"; do
    kill -0 "$GW_PID" 2>/dev/null || { echo "tsgate serve exited:" >&2; cat "$2" >&2; exit 1; }
    sleep 0.05
  done
  READY_S=$(secs_since "$start")
}

# The N doctors in one CSV: practice `bench`, or PRACTICES practices p00001… with a name.
doctors_csv() {  # N file
  awk -v n="$1" -v p="$PRACTICES" 'BEGIN {
    print "practice;practice_name;user_id;cf;region;asl;display_name;password;pin"
    per = n / p
    for (i = 1; i <= n; i++) {
      k = int((i - 1) / per) + 1
      if (p == 1) { pr = "bench"; pn = "Bench" } else { pr = sprintf("p%05d", k); pn = "Studio " k }
      printf "%s;%s;B%07d;PRVBN%07dH50X;130;201;Dott. Bench %d;pw-%d;%04d\n", pr, pn, i, i, i, i, i % 10000
    }
  }' >"$2"
}
# Imports the CSV through CONFIG, prints and times it; sets IMPORT_TOOK (its own clock),
# IMPORT_WALL (from outside) and IMPORT_REFUSED; then creates the backend token (TOKEN).
import_and_token() {  # N dir config
  local start out
  doctors_csv "$1" "$2/doctors.csv"
  start=$(date +%s%N)
  if ! "$BIN" import "$2/doctors.csv" --practice bench -c "$3" >"$2/import.out" 2>&1; then
    echo "import FAILED:"; cat "$2/import.out"; exit 1
  fi
  IMPORT_WALL=$(secs_since "$start")
  # The summary lines, and the first refused lines if any.
  grep -E '^(practices|doctors|workstations|refused|took)' "$2/import.out"
  grep -E '^  line ' "$2/import.out" | head -5 || true
  IMPORT_TOOK=$(sed -n 's/^took \([0-9.]*\) s$/\1/p' "$2/import.out")
  IMPORT_REFUSED=$(sed -n 's/^refused: \([0-9]*\) lines$/\1/p' "$2/import.out")
  echo "import of $1 doctors in $PRACTICES practice(s): ${IMPORT_TOOK:-?} s by its own clock, ${IMPORT_WALL} s from outside (process start to exit) $(load)"
  [ "${IMPORT_REFUSED:-0}" = 0 ] || echo "WARNING: the import refused $IMPORT_REFUSED lines"
  local scope=(--practice bench)
  [ "$PRACTICES" = 1 ] || scope=(--all-practices)
  out=$("$BIN" workstation add --name Gestionale --role backend "${scope[@]}" -c "$3" 2>&1) \
    || { echo "workstation add FAILED:"; echo "$out"; exit 1; }
  TOKEN=$(sed -n 's/.*: \(tsg_.*\)$/\1/p' <<<"$out")
  [ -n "$TOKEN" ] || { echo "no token in the output of workstation add:"; echo "$out"; exit 1; }
  grep -v token <<<"$out"
}
# One request by hand per node: the run counts only if the session of a doctor comes back.
probe() {  # N dir nodes
  local id code i
  id=B$(printf '%07d' "$1")
  for i in $(seq "$3"); do
    code=$(curl -s -o "$2/probe$i.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$(node_port "$i")/api/v1/users/$id/session")
    echo "node $i: GET /api/v1/users/$id/session: HTTP $code $(head -c 300 "$2/probe$i.json")"
    [ "$code" = 200 ] || { echo "session status FAILED on node $i (HTTP $code)"; tail -20 "$2/serve$i.log" 2>/dev/null; exit 1; }
  done
}
scope_text() { if [ "$PRACTICES" = 1 ]; then echo "a practice of N doctors"; else echo "N doctors in $PRACTICES practices (an --all-practices token)"; fi; }

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

# The database's work over a window (PostgreSQL mode): pg_stat_database's transactions
# (xact_commit + xact_rollback) and rows (tup_returned, tup_fetched) of `tsgate`, the server's
# CPU, and with PG_STATEMENTS=1 the statements run, most called first. Printed, and added to
# idle_lines for the summary.
db_window_start() {
  if [ "$PG_STATEMENTS" = 1 ]; then pg_sql "SELECT pg_stat_statements_reset()" >/dev/null; fi
  read -r DBW_X DBW_RET DBW_FET < <(pg_db_stats tsgate)
  DBW_CPU=$(pg_cpu)
  DBW_T0=$(date +%s%N)
}
db_window_end() {  # what statements-file
  local x ret fet cpu secs line calls
  cpu=$(pg_cpu)
  read -r x ret fet < <(pg_db_stats tsgate)
  secs=$(secs_since "$DBW_T0")
  line=$(awk -v x=$((x - DBW_X)) -v r=$((ret - DBW_RET)) -v f=$((fet - DBW_FET)) -v s="$secs" 'BEGIN {
    printf "%d transactions = %.1f per minute; rows returned %d (%.0f per minute), fetched %d (%.0f per minute)",
      x, x / s * 60, r, r / s * 60, f, f / s * 60 }')
  echo "   database tsgate over ${secs} s (pg_stat_database): $line"
  echo "   PostgreSQL server over the same window: $(cpu_diff "$DBW_CPU" "$cpu" "$secs")"
  idle_lines+=("- $1, ${secs} s: database tsgate (pg_stat_database) $line; PostgreSQL server $(cpu_diff "$DBW_CPU" "$cpu" "$secs")")
  if [ "$PG_STATEMENTS" = 1 ]; then
    echo "   statements run on database tsgate in the window (pg_stat_statements; calls|rows|ms in all|statement):"
    pg_sql "SELECT s.calls, s.rows, round(s.total_exec_time::numeric, 1),
                   left(regexp_replace(s.query, '\s+', ' ', 'g'), 160)
              FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
             WHERE d.datname = 'tsgate' ORDER BY s.calls DESC LIMIT 15" >"$2"
    sed 's/^/     /' "$2"
    calls=$(pg_sql "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s
                      JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'tsgate'")
    line="$calls = $(awk -v c="$calls" -v s="$secs" 'BEGIN {printf "%.1f", c / s * 60}') per minute"
    echo "   statements in all: $line"
    idle_lines+=("  - statements on database tsgate (pg_stat_statements): $line; most called: $(head -1 "$2" | cut -c1-160)")
  fi
}

start_sim "$SIM_PORT"
export RUST_LOG=warn

if [ "$DB" = postgres ]; then
  # -- PostgreSQL, NODES nodes on one database ----------------------------------------------
  echo "tsgate: $BIN"
  echo "database: PostgreSQL (throwaway cluster on 127.0.0.1:$PG_PORT), $NODES nodes"
  pg_opts=()
  [ "$PG_STATEMENTS" = 1 ] && pg_opts=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all)
  pg_start "$PG_PORT" "${pg_opts[@]}"
  [ "$PG_STATEMENTS" = 1 ] && pg_sql "CREATE EXTENSION pg_stat_statements"
  DB_URL="$PG_BASE_URL/tsgate"
  per_node=$((CONNS / NODES))
  [ "$per_node" -ge 1 ] || per_node=1
  echo "wrk -t1 -c$per_node -d${SECONDS_RUN}s per node, all $NODES at once; doctors: ${COUNTS[*]} in $PRACTICES practice(s)"
  rows=()
  idle_lines=()
  import_lines=()
  for N in "${COUNTS[@]}"; do
    dir=$work/n$N
    mkdir -p "$dir"
    pg_fresh_db tsgate
    write_node_configs "$dir" "$NODES" "$DB_URL" "http://127.0.0.1:$SIM_PORT" <<TOML
[limits]
api_rate_per_second = 0
TOML

    echo
    echo "== N = $N doctors, postgres, $NODES nodes: import (through node 1) $(load)"
    import_and_token "$N" "$dir" "$dir/node1.toml"
    import_lines+=("- import of $N doctors in $PRACTICES practice(s) into PostgreSQL: ${IMPORT_TOOK:-?} s by its own clock, ${IMPORT_WALL} s from outside, refused ${IMPORT_REFUSED:-?}")

    start_nodes "$dir" "$NODES"
    idle_rss=()
    for pid in "${node_pids[@]}"; do idle_rss+=("$(rss_mib "$pid")"); done
    echo "$(load)"
    probe "$N" "$dir" "$NODES"

    echo "-- $NODES x wrk -t1 -c$per_node -d${SECONDS_RUN}s --latency, at the same time $(load)"
    wrk_pids=()
    pg0=$(pg_cpu); t0=$(date +%s%N)
    for i in $(seq "$NODES"); do
      DOCTORS=$N TOKEN=$TOKEN wrk -t1 -c"$per_node" -d"${SECONDS_RUN}s" --latency \
        -s bench/backend.lua "http://127.0.0.1:$(node_port "$i")" >"$dir/wrk$i.out" 2>&1 &
      wrk_pids+=($!); pids+=($!)
    done
    for p in "${wrk_pids[@]}"; do wait "$p" || { echo "a wrk failed"; cat "$dir"/wrk*.out; exit 1; }; done
    pg1=$(pg_cpu)
    pg_load="PostgreSQL server during the wrk runs: $(cpu_diff "$pg0" "$pg1" "$(secs_since "$t0")")"
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
      echo "  RSS after the run: $rss MiB (ready: ${idle_rss[$((i - 1))]} MiB)"
      [ "${bad:-1}" = 0 ] || echo "  WARNING: ${bad:-?} non-2xx answers on node $i"
      total_rps=$((total_rps + ${rps:-0}))
      total_bad=$((total_bad + ${bad:-0}))
      total_rss=$(awk -v a="$total_rss" -v b="$rss" 'BEGIN {printf "%.1f", a + b}')
      node_rows+=("| $N | node $i | $rps | $p50 | $p99 | ${idle_rss[$((i - 1))]} → $rss | ${bad:-?} | ${node_ready[$((i - 1))]} |")
    done
    echo "total: $total_rps req/s, non-2xx $total_bad $(load)"
    import_lines+=("- $N doctors: $pg_load")
    rows+=("${node_rows[@]}")
    rows+=("| $N | **total** | **$total_rps** | – | – | $total_rss | **$total_bad** | – |")

    echo
    echo "== idle at N = $N: ${IDLE_SECONDS} s, every node sampled at the same time, no request (after ${SETTLE} s) $(load)"
    sleep "$SETTLE"
    idle_pids=()
    db_window_start
    for i in $(seq "$NODES"); do
      python3 "$work/idle.py" "${node_pids[$((i - 1))]}" "$IDLE_SECONDS" >"$dir/idle$i.out" &
      idle_pids+=($!); pids+=($!)
    done
    for p in "${idle_pids[@]}"; do wait "$p"; done
    db_window_end "$N doctors, $NODES nodes idle" "$dir/statements.txt"
    for i in $(seq "$NODES"); do
      pid=${node_pids[$((i - 1))]}
      after_idle=$(rss_mib "$pid")
      echo "   node $i (bench-node-$i):"
      grep -v '^PASS' "$dir/idle$i.out" | sed 's/^/     /'
      echo "     RSS after the idle period: $after_idle MiB"
      idle_lines+=("- idle, $N doctors, node $i: $(head -1 "$dir/idle$i.out"), RSS $after_idle MiB")
      idle_lines+=("  - periodic passes seen in its idle CPU (an estimate): $(sed -n 's/^PASS //p' "$dir/idle$i.out")")
      idle_lines+=("  - $(grep '^per thread name' "$dir/idle$i.out")")
    done
    idle_lines+=("  - load after the idle period at N = $N $(load)")
    for i in $(seq "$NODES"); do
      warn=$(log_warnings "$dir/serve$i.log")
      if [ -n "$warn" ]; then
        echo "   node $i: $warn" | sed '2,$s/^/   /'
        idle_lines+=("- node $i log: $(head -1 <<<"$warn" | sed 's/; first 5:$//'); the first: $(sed -n 2p <<<"$warn" | cut -c1-200)")
      fi
    done
    stop_nodes
    echo
    echo "== baseline at N = $N: the same ${IDLE_SECONDS} s with no node running (PostgreSQL's own work on the database, autovacuum) $(load)"
    sleep "$SETTLE"
    db_window_start
    sleep "$IDLE_SECONDS"
    db_window_end "$N doctors, no node running" "$dir/statements-baseline.txt"
    rm -rf "$dir"/node*/
  done

  echo
  echo "## Summary (postgres, $NODES nodes): one backend token for $(scope_text) ($NODES x wrk -t1 -c$per_node -d${SECONDS_RUN}s at the same time, GET …/session of a random doctor)"
  echo
  echo "| doctors the token acts for | node | status req/s | p50 | p99 | RSS MiB ready → after wrk | non-2xx | start-up to /readyz, s |"
  echo "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}"
  echo
  printf '%s\n' "${import_lines[@]}"
  echo "- PostgreSQL $(pg_cmd postgres --version | awk '{print $3}') on the same machine (default durability settings$([ "$PG_STATEMENTS" = 1 ] && echo ', pg_stat_statements loaded')), the nodes and wrk on the same 2 cores"
  echo "- 10 % of sessions active: not measured (the simulator issues codes only to its own test users); every idle figure is with 0 % active"
  printf '%s\n' "${idle_lines[@]}"
  echo "- load at the end $(load)"
  echo
  pg_log_summary
  exit 0
fi

largest=$(printf '%s\n' "${COUNTS[@]}" | sort -n | tail -1)
rows=()
idle_lines=()
echo "tsgate: $BIN"
echo "wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s per N; doctors: ${COUNTS[*]} in $PRACTICES practice(s)"

for N in "${COUNTS[@]}"; do
  dir=$work/n$N
  mkdir -p "$dir"
  write_node_configs "$dir" 1 "" "http://127.0.0.1:$SIM_PORT" <<TOML
[limits]
api_rate_per_second = 0
TOML

  echo
  echo "== N = $N doctors: import $(load)"
  import_and_token "$N" "$dir" "$dir/node1.toml"

  start_server "$dir/node1.toml" "$dir/serve1.log"
  echo "server ready in $READY_S s (process start to 200 from /readyz), RSS $(rss_mib $GW_PID) MiB $(load)"
  ready_s=$READY_S
  probe "$N" "$dir" 1

  echo "-- wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s --latency $(load)"
  out=$(DOCTORS=$N TOKEN=$TOKEN wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_RUN}s" --latency \
    -s bench/backend.lua "http://127.0.0.1:$(node_port 1)")
  grep -E 'Requests/sec|Latency  |^ +(50|90|99)%|Non-2xx|Socket errors|statuses|non-2xx' <<<"$out"
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(sed -n 's/^non-2xx: //p' <<<"$out")
  rss=$(rss_mib $GW_PID)
  echo "server RSS after the run: $rss MiB $(load)"
  [ "${bad:-1}" = 0 ] || echo "WARNING: ${bad:-?} non-2xx answers"
  rows+=("| $N | $rps | $p50 | $p99 | ${IMPORT_TOOK:-?} (${IMPORT_WALL} outside) | $rss | ${bad:-?} | $ready_s |")

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
    curl -s "http://127.0.0.1:$(node_port 1)/metrics" >"$dir/metrics.txt"
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
    start_server "$dir/node1.toml" "$dir/serve-debug.log" "debug,sqlx=warn"
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
  rm -rf "$dir/node1"
done

echo
echo "## Summary (sqlite, 1 node): one backend token for $(scope_text) (wrk -t$THREADS -c$CONNS -d${SECONDS_RUN}s, GET …/session of a random doctor)"
echo
echo "| doctors the token acts for | status req/s | p50 | p99 | import s | RSS MiB | non-2xx | start-up to /readyz, s |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "- 10 % of sessions active: not measured (the simulator issues codes only to its own test users); every idle figure is with 0 % active"
printf '%s\n' "${idle_lines[@]}"
echo "- load at the end $(load)"
