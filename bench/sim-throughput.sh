#!/usr/bin/env bash
# Throughput of the simulator's InvioPrescritto (goal: >= 2,000 requests/s on 2 cores).
#
# Starts `tsgate sim --mode test` (release build), writes COUNT distinct requests (each with
# its own RSA-encrypted PIN and patient CF, so they are really decrypted: COUNT is larger
# than the simulator's decryption cache), then runs wrk against it twice:
#   1. distinct bodies (cold decryption cache: the honest worst case),
#   2. a second pass over the same bodies (warm cache: a client resending the same ciphertexts).
# Every answer is checked by the simulator's own XSD validation of the request; the script
# prints wrk's summary. Usage: bench/sim-throughput.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-15}
CONNS=${2:-32}
COUNT=${COUNT:-20000}
PORT=${PORT:-18089}
command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }

cargo build --release -q -p tsgate --bin tsgate --example sim_bench_bodies
work=$(mktemp -d)
trap 'kill $SIM_PID 2>/dev/null || true; rm -rf "$work"' EXIT
RUST_LOG=warn target/release/tsgate sim --mode test --listen 127.0.0.1:$PORT &
SIM_PID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$PORT/sim/users >/dev/null && break; sleep 0.1; done
target/release/examples/sim_bench_bodies http://127.0.0.1:$PORT "$work" "$COUNT"
# One request by hand first: the run only counts if the simulator accepts these requests.
hdr=(); while IFS= read -r line; do hdr+=(-H "$line"); done < "$work/headers.txt"
curl -s "${hdr[@]}" -H 'Content-Type: text/xml; charset=UTF-8' \
  -H 'SOAPAction: "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto"' \
  --data-binary @"$work/body-0.xml" \
  http://127.0.0.1:$PORT/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto \
  | grep -q '<codEsitoInserimento>0000</codEsitoInserimento>' \
  || { echo "the simulator did not accept the benchmark request" >&2; exit 1; }

echo "== pass 1: $COUNT distinct requests (cold decryption cache), ${SECONDS_RUN}s, $CONNS connections, wrk 2 threads"
BODY_DIR=$work BODY_COUNT=$COUNT wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s bench/invio.lua http://127.0.0.1:$PORT
echo "== pass 2: same requests again (warm cache)"
BODY_DIR=$work BODY_COUNT=$COUNT wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s bench/invio.lua http://127.0.0.1:$PORT
echo "== simulator counters"
curl -s http://127.0.0.1:$PORT/sim/stats; echo
