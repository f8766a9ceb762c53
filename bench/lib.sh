# Shared shell of the bench scripts: sourced (`. bench/lib.sh`), never run. The script has
# `set -euo pipefail` and is in the repository's root when it sources this file.
#
#   check_db_nodes         DB is sqlite (NODES 1) or postgres (NODES >= 1), or exit 2
#   bench_start            $work (a temporary folder), pids=() and the EXIT trap: it stops
#                          every process in pids, the script's bench_extra_cleanup if it
#                          defines one, the PostgreSQL cluster if one was started, and removes
#                          the temporary folders. KEEP=1 leaves everything as it is.
#   tsgate_binaries [example …]  BIN (and EXAMPLES, their folder): from BIN_DIR when set
#                          (the examples beside tsgate, or in BIN_DIR/examples as cargo puts
#                          them), otherwise a release build into $CARGO_TARGET_DIR (default target/)
#   load, rss_mib PID, proc_cpu PID, cpu_diff A B SECONDS, secs_since NS, wait_url URL
#   start_sim PORT         `tsgate sim --mode test` (A2F, DEM, the SanitelCF certificate)
#   pg_start PORT [-c name=value …]  a throwaway PostgreSQL cluster (initdb as the `postgres`
#                          user when root: PostgreSQL refuses to run as root) on 127.0.0.1:PORT,
#                          trust authentication, default durability; sets PG_ROOT and
#                          PG_BASE_URL; stopped and removed at exit
#   pg_fresh_db NAME, pg_sql SQL (as postgres, on the `postgres` database), pg_cpu,
#   pg_log_summary         what the server logged after start-up (checkpoints, waits, slow work)
#   pg_db_stats NAME       "xacts tup_returned tup_fetched" of pg_stat_database
#   write_node_configs DIR N DB_URL DEM_BASE < extra-TOML   DIR/node<i>.toml, i = 1…N
#   start_nodes DIR N      `tsgate serve` on each, at once; node_pids, node_ready (seconds
#                          from the start of all to each one's first 200 from /readyz)
#   node_port I            NODE_PORT + I
#
# PostgreSQL's programs: TSGATE_PG_BINDIR, else the newest /usr/lib/postgresql/<v>/bin, else PATH.

load() { echo "(load: $(cut -d' ' -f1-3 /proc/loadavg))"; }
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
# CPU seconds (user + system) used so far by one process.
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
cpu_diff() { awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN {printf "%.2f s CPU = %.1f %% of one core", b - a, (b - a) / s * 100}'; }
secs_since() { awk -v ns=$(($(date +%s%N) - $1)) 'BEGIN {printf "%.2f", ns / 1e9}'; }
wait_url() {
  for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "$1 not up" >&2
  return 1
}

# DB (sqlite or postgres) and NODES: SQLite is one node, PostgreSQL one or more.
check_db_nodes() {
  case "$DB" in
    sqlite) [ "$NODES" = 1 ] || { echo "NODES=$NODES needs DB=postgres (SQLite: one node)" >&2; exit 2; } ;;
    postgres) [ "$NODES" -ge 1 ] 2>/dev/null || { echo "NODES must be a number >= 1" >&2; exit 2; } ;;
    *) echo "DB must be sqlite or postgres, not $DB" >&2; exit 2 ;;
  esac
}

bench_start() {
  work=$(mktemp -d)
  pids=()
  PG_ROOT=
  trap bench_cleanup EXIT
  if [ -n "${KEEP:-}" ]; then trap - EXIT; fi
}
bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup || true; fi
  if [ -n "$PG_ROOT" ]; then
    pg_cmd pg_ctl -D "$PG_ROOT/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_ROOT"
  fi
  rm -rf "$work"
}

tsgate_binaries() {
  local examples=() e
  for e in "$@"; do examples+=(--example "$e"); done
  if [ -n "${BIN_DIR:-}" ]; then
    BIN=$BIN_DIR/tsgate
    # A folder of copies (tsgate and the examples side by side), or cargo's release folder.
    EXAMPLES=$BIN_DIR
    if [ $# -gt 0 ] && [ ! -x "$BIN_DIR/$1" ] && [ -d "$BIN_DIR/examples" ]; then EXAMPLES=$BIN_DIR/examples; fi
  else
    cargo build --release -q -p tsgate --bin tsgate "${examples[@]}"
    BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/tsgate
    EXAMPLES=${CARGO_TARGET_DIR:-$PWD/target}/release/examples
  fi
}

start_sim() {
  RUST_LOG=warn "$BIN" sim --mode test --listen "127.0.0.1:$1" >"$work/sim.log" 2>&1 &
  pids+=($!)
  wait_url "http://127.0.0.1:$1/sim/users"
}

# --- PostgreSQL -----------------------------------------------------------------------------
pg_bindir() {
  if [ -n "${TSGATE_PG_BINDIR:-}" ]; then echo "$TSGATE_PG_BINDIR"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; else dirname "$(command -v pg_ctl)"; fi
}
pg_cmd() {
  local prog=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$(pg_bindir)/$prog" "$@"; else "$(pg_bindir)/$prog" "$@"; fi
}
pg_start() {
  local port=$1; shift
  # Logged, for pg_log_summary: checkpoints (the default), lock waits, statements and
  # autovacuum runs that took more than a second.
  local opts="-c listen_addresses=127.0.0.1 -p $port -c max_connections=300 -c log_lock_waits=on"
  opts+=" -c log_min_duration_statement=1000 -c log_autovacuum_min_duration=1000 $*"
  PG_PORT=$port
  PG_ROOT=$(mktemp -d /tmp/tsgate-bench-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_ROOT"
  pg_cmd initdb -D "$PG_ROOT/data" -U postgres -A trust -E UTF8 --locale=C >"$PG_ROOT/initdb.log" 2>&1 \
    || { echo "initdb FAILED:"; cat "$PG_ROOT/initdb.log"; return 1; }
  # Durability settings left at their defaults (fsync, synchronous_commit on), as docs/VENDORS.md asks.
  pg_cmd pg_ctl -D "$PG_ROOT/data" -l "$PG_ROOT/server.log" -w -t 60 -o "$opts -k $PG_ROOT" start \
    >/dev/null 2>&1 || { echo "pg_ctl start FAILED:"; cat "$PG_ROOT/server.log"; return 1; }
  PG_BASE_URL="postgres://postgres@127.0.0.1:$port"
  echo "PostgreSQL $(pg_cmd postgres --version | awk '{print $3}') up on 127.0.0.1:$port in $PG_ROOT${*:+ ($*)}"
}
# The PostgreSQL server's log, what it says after start-up (checkpoints, slow statements, lock
# waits, slow autovacuum runs), at most 20 lines.
pg_log_summary() {
  [ -n "$PG_ROOT" ] || return 0
  local lines
  lines=$(grep -vE 'database system (is ready|was shut down)|starting PostgreSQL|listening on|redo|shutting down' \
    "$PG_ROOT/server.log" | cut -c1-300 || true)
  if [ -z "$lines" ]; then echo "PostgreSQL log: nothing after start-up"; return; fi
  echo "PostgreSQL log after start-up ($(wc -l <<<"$lines") lines, the first 20):"
  head -20 <<<"$lines" | sed 's/^/  /'
}
pg_sql() { pg_cmd psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
pg_fresh_db() {
  PGOPTIONS="-c client_min_messages=warning" pg_cmd dropdb --if-exists -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"
  pg_cmd createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"
}
pg_db_stats() {
  pg_sql "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched FROM pg_stat_database WHERE datname = '$1'" | tr '|' ' '
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

# --- tsgate nodes ---------------------------------------------------------------------------
node_port() { echo $((NODE_PORT + $1)); }
# Every node: the same database_url and master key, its own listen, data_dir and node_name;
# A2F and the certificate from the simulator on SIM_PORT. DB_URL empty: embedded SQLite in
# the data_dir (one node). The extra TOML (standard input) is appended: top-level keys
# first, then tables.
write_node_configs() {
  local dir=$1 n=$2 db_url=$3 dem_base=$4 extra i
  extra=$(cat)
  for i in $(seq "$n"); do
    {
      echo "listen = \"127.0.0.1:$(node_port "$i")\""
      echo "data_dir = \"$dir/node$i\""
      if [ -n "$db_url" ]; then
        echo "database_url = \"$db_url\""
        echo "master_key_file = \"$dir/master.key\""
        echo "node_name = \"bench-node-$i\""
      fi
      echo 'environment = "custom"'
      echo "a2f_base = \"http://127.0.0.1:$SIM_PORT\""
      echo "dem_base = \"$dem_base\""
      echo "sanitel_certificate_url = \"http://127.0.0.1:$SIM_PORT/sim/certificate\""
      echo "$extra"
    } >"$dir/node$i.toml"
  done
}
# All nodes start together (migrations already applied by whatever wrote the data); a node
# may run a first pass over every doctor before it answers, hence the long wait.
start_nodes() {
  local dir=$1 n=$2 start i pid
  node_pids=()
  node_ready=()
  start=$(date +%s%N)
  for i in $(seq "$n"); do
    RUST_LOG=${RUST_LOG:-warn} "$BIN" serve -c "$dir/node$i.toml" >"$dir/serve$i.log" 2>&1 &
    node_pids+=($!); pids+=($!)
  done
  for i in $(seq "$n"); do
    pid=${node_pids[$((i - 1))]}
    until curl -sf -m 600 -o /dev/null "http://127.0.0.1:$(node_port "$i")/readyz"; do
      kill -0 "$pid" 2>/dev/null || { echo "tsgate serve (node $i) exited:" >&2; cat "$dir/serve$i.log" >&2; return 1; }
      sleep 0.05
    done
    node_ready+=("$(secs_since "$start")")
    echo "node $i ready in ${node_ready[$((i - 1))]} s (start of all nodes to 200 from its /readyz), RSS $(rss_mib "$pid") MiB"
  done
}
stop_nodes() {
  local p
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  node_pids=()
}
# WARN/ERROR lines of a node's log, the first few (colour codes removed).
log_warnings() {
  local n
  n=$(sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -cE 'WARN|ERROR' || true)
  if [ "${n:-0}" != 0 ]; then
    echo "$n WARN/ERROR lines in $(basename "$1"); first 5:"
    sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E 'WARN|ERROR' | head -5 | cut -c1-300 | sed 's/^/  /'
  fi
}
