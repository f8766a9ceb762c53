#!/usr/bin/env bash
# Memory of the simulator under a long InvioPrescritto load: does its RSS stay flat?
#
# Starts the simulator in test mode with max_prescriptions MAX (release build of the
# sim_soak example of tsgate-sim: the same simulator as `tsgate sim --max-prescriptions`,
# without building the whole gateway), which writes COUNT distinct InvioPrescritto requests,
# then runs wrk for SECONDS and prints, every INTERVAL seconds, the simulator's RSS
# (/proc/<pid>/status VmRSS), the InvioPrescritto calls answered so far and the
# prescriptions it holds (`prescriptions_stored` in /sim/stats). Each request leaves the NRE
# empty, so every call stores a new prescription: without a limit the store grows with
# every call; with one it stops at MAX and the RSS levels off. Nothing is asserted: the
# figures are printed (bench/README.md records them).
# Usage: bench/sim-soak.sh [seconds] [connections] [interval]
#   MAX_PRESCRIPTIONS=100000 (the simulator's default), COUNT=2000, PORT=18194.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-60}
CONNS=${2:-32}
INTERVAL=${3:-5}
MAX=${MAX_PRESCRIPTIONS:-100000}
COUNT=${COUNT:-2000}
PORT=${PORT:-18194}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q -p tsgate-sim --example sim_soak
work=$(mktemp -d)
SIM_PID=
WRK_PID=
cleanup() {
  [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
RUST_LOG=warn target/release/examples/sim_soak 127.0.0.1:$PORT "$MAX" "$work" "$COUNT" >"$work/sim.out" &
SIM_PID=$!
for _ in $(seq 600); do grep -q '^ready' "$work/sim.out" && break; sleep 0.1; done
grep -q '^ready' "$work/sim.out" || { echo "the simulator did not start" >&2; exit 1; }
# One request by hand first: the run only counts if the simulator accepts these requests.
hdr=(); while IFS= read -r line; do hdr+=(-H "$line"); done < "$work/headers.txt"
curl -s "${hdr[@]}" -H 'Content-Type: text/xml; charset=UTF-8' \
  -H 'SOAPAction: "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto"' \
  --data-binary @"$work/body-0.xml" \
  http://127.0.0.1:$PORT/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto \
  | grep -q '<codEsitoInserimento>0000</codEsitoInserimento>' \
  || { echo "the simulator did not accept the benchmark request" >&2; exit 1; }

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SIM_PID/status"; }
sim_stat() { curl -s http://127.0.0.1:$PORT/sim/stats | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

echo "== ${SECONDS_RUN}s of InvioPrescritto, $CONNS connections, wrk 2 threads, max_prescriptions $MAX"
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
BODY_DIR=$work BODY_COUNT=$COUNT wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" --latency \
  -s bench/invio.lua http://127.0.0.1:$PORT >"$work/wrk.txt" 2>&1 &
WRK_PID=$!
start=$(date +%s)
printf '%8s %10s %14s %14s\n' "seconds" "RSS MiB" "Invio calls" "prescriptions"
printf '%8s %10s %14s %14s\n' 0 "$(rss_mib)" "$(sim_stat InvioPrescritto)" "$(sim_stat prescriptions_stored)"
while kill -0 "$WRK_PID" 2>/dev/null; do
  sleep "$INTERVAL"
  kill -0 "$WRK_PID" 2>/dev/null || break
  printf '%8s %10s %14s %14s\n' "$(( $(date +%s) - start ))" "$(rss_mib)" \
    "$(sim_stat InvioPrescritto)" "$(sim_stat prescriptions_stored)"
done
wait "$WRK_PID" || true
WRK_PID=
printf '%8s %10s %14s %14s\n' "end" "$(rss_mib)" "$(sim_stat InvioPrescritto)" "$(sim_stat prescriptions_stored)"
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== wrk"
cat "$work/wrk.txt"
