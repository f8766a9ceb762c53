#!/usr/bin/env bash
# SSE fan-out: CONNS connections to GET /api/v1/events on `tsgate serve` (release), then one
# change (a code request for the user every workstation follows) and the time for its event
# to reach every connection; server RSS idle, with the connections open, and after.
#
# The API allows each workstation 10 calls/s with a burst of 50, so the connections are
# spread over WORKSTATIONS workstations (CONNS/WORKSTATIONS each, within the burst), as a
# big practice or a vendor's cloud would have. The client is bench/sse_fanout.py (Python
# asyncio, one process): its own reading time is part of the numbers (an upper bound).
# Usage: bench/sse-fanout.sh [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONNS=${1:-10000}
WORKSTATIONS=${WORKSTATIONS:-250}
GW_PORT=${GW_PORT:-18292}
SIM_PORT=${SIM_PORT:-18293}
ulimit -n "$(ulimit -Hn)"
echo "open files limit: $(ulimit -n)"

cargo build --release -q -p tsgate --bin tsgate
BIN=$ROOT/target/release/tsgate
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
wait_url() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "$1 not up" >&2; exit 1; }
rss() { grep VmRSS "/proc/$1/status" | awk '{printf "%.1f MiB", $2/1024}'; }

RUST_LOG=warn "$BIN" sim --mode test --listen 127.0.0.1:$SIM_PORT >"$work/sim.log" 2>&1 &
pids+=($!)
wait_url http://127.0.0.1:$SIM_PORT/sim/users
users=$(curl -s http://127.0.0.1:$SIM_PORT/sim/users)
field() { python3 -c "import json,sys; u=[u for u in json.load(sys.stdin) if u['role']=='titolare'][0]; print(u['$1'])" <<<"$users"; }
USER_ID=$(field user_id)
cat >"$work/tsgate.toml" <<TOML
listen = "127.0.0.1:$GW_PORT"
data_dir = "$work/data"
environment = "custom"
a2f_base = "http://127.0.0.1:$SIM_PORT"
dem_base = "http://127.0.0.1:$SIM_PORT"
sanitel_certificate_url = "http://127.0.0.1:$SIM_PORT/sim/certificate"
min_create_interval_seconds = 0
TOML
export RUST_LOG=warn
printf '%s\n%s\n' "$(field password)" "$(field pin)" | "$BIN" user add -c "$work/tsgate.toml" \
  --id "$USER_ID" --cf "$(field cf)" --region "$(field region)" --asl "$(field asl)" --specialization F >/dev/null
for i in $(seq "$WORKSTATIONS"); do
  "$BIN" workstation add -c "$work/tsgate.toml" --name "ws $i" --role staff --users "$USER_ID" \
    | sed -n 's/.*: \(tsg_.*\)$/\1/p' >>"$work/tokens.txt"
done
TRIGGER=$("$BIN" workstation add -c "$work/tsgate.toml" --name trigger --role admin --users "$USER_ID" | sed -n 's/.*: \(tsg_.*\)$/\1/p')

"$BIN" serve -c "$work/tsgate.toml" >"$work/serve.log" 2>&1 &
GW_PID=$!; pids+=($GW_PID)
wait_url http://127.0.0.1:$GW_PORT/readyz
sleep 1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server RSS idle: $(rss $GW_PID)"

mkfifo "$work/in"
PORT=$GW_PORT CONNS=$CONNS USER_ID=$USER_ID TOKENS_FILE=$work/tokens.txt TRIGGER_TOKEN=$TRIGGER \
  python3 bench/sse_fanout.py <"$work/in" >"$work/client.log" 2>&1 &
CLIENT=$!; pids+=($CLIENT)
exec 3>"$work/in"
until grep -q READY "$work/client.log"; do
  kill -0 $CLIENT 2>/dev/null || { cat "$work/client.log"; exit 1; }
  sleep 0.2
done
grep connected "$work/client.log"
sleep 1
echo "server RSS with $CONNS streams open: $(rss $GW_PID)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo >&3
until grep -q DONE "$work/client.log"; do
  kill -0 $CLIENT 2>/dev/null || { cat "$work/client.log"; exit 1; }
  sleep 0.2
done
grep -E "trigger|event received" "$work/client.log"
echo "server RSS after the fan-out (streams still open): $(rss $GW_PID)"
echo >&3
exec 3>&-
wait $CLIENT || true
sleep 1
echo "server RSS after the client left: $(rss $GW_PID)"
