#!/usr/bin/env bash
# SSE fan-out: CONNS connections to GET /api/v1/events on `tsgate serve` (release), then one
# change (a code request for the user every workstation follows) and the time for its event
# to reach every connection; server RSS idle, with the connections open, and after.
#
# The API allows each workstation 10 calls/s with a burst of 50, so the connections are
# spread over WORKSTATIONS workstations (CONNS/WORKSTATIONS each, within the burst), as a
# big practice or a vendor's cloud would have. The connection caps (`max_connections`,
# `max_connections_per_ip`, 768 and 128 by default) are raised to CONNS + 256: every stream
# comes from 127.0.0.1. The client is bench/sse_fanout.py (Python asyncio, one process): its
# own reading time is part of the numbers (an upper bound). A second process holds one more
# stream per node (the probe) and prints when the event reached it: the arrival on each node
# without the main client's backlog.
#
# Several nodes: DB=postgres NODES=2 bench/sse-fanout.sh 10000
#   A throwaway PostgreSQL (bench/lib.sh) and NODES `tsgate serve` on it, set up through node
#   1's configuration; stream i goes to node (i mod NODES) + 1, the change is made through
#   node 1, and reaches the other nodes' streams through PostgreSQL LISTEN/NOTIFY. Arrival
#   times in all and per node; RSS and CPU per node, and the PostgreSQL server's CPU.
# Usage: [DB=sqlite|postgres] [NODES=1] bench/sse-fanout.sh [connections]
#   WORKSTATIONS=250; NODE_PORT=18280 (node i on NODE_PORT+i), SIM_PORT=18293, PG_PORT=18294;
#   BIN_DIR=<folder with a prebuilt tsgate> skips the build (otherwise a release build into
#   $CARGO_TARGET_DIR, default target/)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
CONNS=${1:-10000}
WORKSTATIONS=${WORKSTATIONS:-250}
NODE_PORT=${NODE_PORT:-18280}
SIM_PORT=${SIM_PORT:-18293}
PG_PORT=${PG_PORT:-18294}
DB=${DB:-sqlite}
NODES=${NODES:-1}
check_db_nodes
ulimit -n "$(ulimit -Hn)"
echo "open files limit: $(ulimit -n)"

tsgate_binaries
bench_start
echo "tsgate: $BIN"
start_sim "$SIM_PORT"
users=$(curl -s http://127.0.0.1:$SIM_PORT/sim/users)
field() { python3 -c "import json,sys; u=[u for u in json.load(sys.stdin) if u['role']=='titolare'][0]; print(u['$1'])" <<<"$users"; }
USER_ID=$(field user_id)
DB_URL=
if [ "$DB" = postgres ]; then
  pg_start "$PG_PORT"
  pg_fresh_db tsgate
  DB_URL=$PG_BASE_URL/tsgate
fi
write_node_configs "$work" "$NODES" "$DB_URL" "http://127.0.0.1:$SIM_PORT" <<TOML
min_create_interval_seconds = 0

[limits]
max_connections = $((CONNS + 256))
max_connections_per_ip = $((CONNS + 256))
TOML
export RUST_LOG=warn
printf '%s\n%s\n' "$(field password)" "$(field pin)" | "$BIN" user add -c "$work/node1.toml" \
  --id "$USER_ID" --cf "$(field cf)" --region "$(field region)" --asl "$(field asl)" --specialization F >/dev/null
for i in $(seq "$WORKSTATIONS"); do
  "$BIN" workstation add -c "$work/node1.toml" --name "ws $i" --role staff --users "$USER_ID" \
    | sed -n 's/.*: \(tsg_.*\)$/\1/p' >>"$work/tokens.txt"
done
TRIGGER=$("$BIN" workstation add -c "$work/node1.toml" --name trigger --role admin --users "$USER_ID" | sed -n 's/.*: \(tsg_.*\)$/\1/p')

start_nodes "$work" "$NODES"
sleep 1
ports=()
for i in $(seq "$NODES"); do ports+=("$(node_port "$i")"); done
rss_line() {  # what
  local line="server RSS $1:" i
  for i in $(seq "$NODES"); do line+=" node $i $(rss_mib "${node_pids[$((i - 1))]}") MiB"; [ "$i" = "$NODES" ] || line+=","; done
  echo "$line"
}
cpu_now() { local p; for p in "${node_pids[@]}"; do printf '%s ' "$(proc_cpu "$p")"; done; [ -n "$PG_ROOT" ] && pg_cpu || echo; }
cpu_line() {  # what before after seconds
  local -a a b; read -r -a a <<<"$2"; read -r -a b <<<"$3"
  local parts=() i
  for i in $(seq "$NODES"); do parts+=("node $i $(cpu_diff "${a[$((i - 1))]}" "${b[$((i - 1))]}" "$4")"); done
  [ -n "$PG_ROOT" ] && parts+=("PostgreSQL $(cpu_diff "${a[$NODES]}" "${b[$NODES]}" "$4")")
  echo "CPU $1: $(printf '%s; ' "${parts[@]}" | sed 's/; $//')"
}
echo "$(load)"
rss_line idle

mkfifo "$work/in"
cpu0=$(cpu_now); t0=$(date +%s%N)
PORTS=$(IFS=,; echo "${ports[*]}") CONNS=$CONNS USER_ID=$USER_ID TOKENS_FILE=$work/tokens.txt TRIGGER_TOKEN=$TRIGGER \
  python3 bench/sse_fanout.py <"$work/in" >"$work/client.log" 2>&1 &
CLIENT=$!; pids+=($CLIENT)
exec 3>"$work/in"
until grep -qs READY "$work/client.log"; do
  kill -0 $CLIENT 2>/dev/null || { cat "$work/client.log"; exit 1; }
  sleep 0.2
done
cpu_line "connecting the streams" "$cpu0" "$(cpu_now)" "$(secs_since "$t0")"
grep connected "$work/client.log"
# The probe: one more stream per node in a process of its own (see bench/sse_fanout.py).
PROBE=1 PORTS=$(IFS=,; echo "${ports[*]}") USER_ID=$USER_ID TOKENS_FILE=$work/tokens.txt TRIGGER_TOKEN=$TRIGGER \
  python3 bench/sse_fanout.py >"$work/probe.log" 2>&1 &
PROBE_PID=$!; pids+=($PROBE_PID)
until grep -qs READY "$work/probe.log"; do
  kill -0 $PROBE_PID 2>/dev/null || { cat "$work/probe.log"; exit 1; }
  sleep 0.1
done
sleep 1
rss_line "with $CONNS streams open"
echo "$(load)"
cpu0=$(cpu_now); t0=$(date +%s%N)
echo >&3
until grep -qs DONE "$work/client.log"; do
  kill -0 $CLIENT 2>/dev/null || { cat "$work/client.log"; exit 1; }
  sleep 0.2
done
cpu_line "from the trigger to the last event received (sampled every 0.2 s)" "$cpu0" "$(cpu_now)" "$(secs_since "$t0")"
grep -E "trigger answered|event received" "$work/client.log"
wait $PROBE_PID || { cat "$work/probe.log"; exit 1; }
sent=$(sed -n 's/^trigger sent at //p' "$work/client.log")
for i in $(seq "$NODES"); do
  at=$(sed -n "s/^probe port $(node_port "$i"): event at //p" "$work/probe.log")
  echo "probe stream on node $i (a process of its own): event $(awk -v a="$at" -v s="$sent" 'BEGIN {printf "%.1f", (a - s) * 1000}') ms after the trigger was sent"
done
rss_line "after the fan-out (streams still open)"
echo >&3
exec 3>&-
wait $CLIENT || true
sleep 1
rss_line "after the client left"
for i in $(seq "$NODES"); do log_warnings "$work/serve$i.log" | sed "s/^/node $i: /"; done
pg_log_summary
echo "$(load)"
