#!/usr/bin/env bash
# Proxy throughput and added latency: tsgate's SOAP proxy vs nginx doing the same header
# injection, to the same static upstream, in the same run.
#
#   upstream  nginx on $UP_PORT answering every POST with a real InvioPrescritto receipt
#             (spec/real-responses/invio_ok.xml): fast and constant, so the proxies are measured
#   direct    wrk -> upstream (baseline)
#   nginx     wrk -> nginx on $NGX_PORT: proxy_set_header Authorization2F "Bearer <code>",
#             keep-alive pool to the upstream
#   tsgate    wrk -> tsgate serve (release) /ts/<workstation token>/<DEM path> -> upstream;
#             the user comes from the Basic header, the code from the session (A2F on a
#             `tsgate sim --mode test`, which issues and verifies the code)
#
# Each target gets a throughput run (wrk -t2 -c$CONNS) and a latency run (wrk -t1 -c$LAT_CONNS,
# far from saturation, so that the percentiles are service time rather than queueing).
# Usage: bench/proxy.sh [seconds] [connections]
#
# Memory soak: `TARGETS=soak ROUNDS=10 bench/proxy.sh 60 32` runs ROUNDS throughput runs of
# `seconds` against tsgate alone and prints, after each, the calls so far, tsgate's RSS and
# its growth per million calls (a leak shows as a steady positive slope).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_RUN=${1:-10}
CONNS=${2:-32}
LAT_CONNS=${LAT_CONNS:-2}
UP_PORT=${UP_PORT:-18190}
NGX_PORT=${NGX_PORT:-18191}
GW_PORT=${GW_PORT:-18192}
SIM_PORT=${SIM_PORT:-18193}
WORKSTATIONS=${WORKSTATIONS:-128}
command -v nginx >/dev/null && command -v wrk >/dev/null \
  || { echo "installing nginx-light and wrk"; apt-get install -y -qq nginx-light wrk >/dev/null; }

# BIN_DIR: a folder with prebuilt `tsgate` and `sim_bench_bodies` (e.g. to compare builds).
if [ -n "${BIN_DIR:-}" ]; then
  BIN=$BIN_DIR/tsgate; BODIES=$BIN_DIR/sim_bench_bodies
else
  cargo build --release -q -p tsgate --bin tsgate --example sim_bench_bodies
  BIN=$ROOT/target/release/tsgate; BODIES=$ROOT/target/release/examples/sim_bench_bodies
fi
work=$(mktemp -d); chmod 755 "$work"  # nginx workers (www-data) read the receipt
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
wait_url() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "$1 not up" >&2; exit 1; }

# --- simulator (A2F only) and tsgate
RUST_LOG=warn "$BIN" sim --mode test --listen 127.0.0.1:$SIM_PORT >"$work/sim.log" 2>&1 &
pids+=($!)
wait_url http://127.0.0.1:$SIM_PORT/sim/users
users=$(curl -s http://127.0.0.1:$SIM_PORT/sim/users)
field() { python3 -c "import json,sys; u=[u for u in json.load(sys.stdin) if u['role']=='titolare'][0]; print(u['$1'])" <<<"$users"; }
USER_ID=$(field user_id); PASSWORD=$(field password); PIN=$(field pin); REGION=$(field region); ASL=$(field asl); CF=$(field cf)
cat >"$work/tsgate.toml" <<TOML
listen = "127.0.0.1:$GW_PORT"
data_dir = "$work/data"
environment = "custom"
a2f_base = "http://127.0.0.1:$SIM_PORT"
dem_base = "http://127.0.0.1:$UP_PORT"
sanitel_certificate_url = "http://127.0.0.1:$SIM_PORT/sim/certificate"
TOML
export RUST_LOG=warn
printf '%s\n%s\n' "$PASSWORD" "$PIN" | "$BIN" user add -c "$work/tsgate.toml" --id "$USER_ID" --cf "$CF" --region "$REGION" --asl "$ASL" --specialization F >/dev/null
# tsgate limits each workstation to 200 proxied calls/s (burst 400): the load is spread
# over $WORKSTATIONS workstations of the same practice, as wrk rotates their tokens.
for i in $(seq "$WORKSTATIONS"); do
  "$BIN" workstation add -c "$work/tsgate.toml" --name "bench $i" --role doctor --users "$USER_ID" \
    | sed -n 's/.*: \(tsg_.*\)$/\1/p' >>"$work/tokens.txt"
done
TOKEN=$(head -1 "$work/tokens.txt")
"$BIN" serve -c "$work/tsgate.toml" >"$work/serve.log" 2>&1 &
GW_PID=$!; pids+=($GW_PID)
wait_url http://127.0.0.1:$GW_PORT/readyz
curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"replace":false}' \
  http://127.0.0.1:$GW_PORT/api/v1/users/$USER_ID/session/request >/dev/null
CODE=$(curl -sf -H "Authorization: Bearer $TOKEN" http://127.0.0.1:$GW_PORT/api/v1/users/$USER_ID/session/code \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')

# --- request body (a real InvioPrescritto with encrypted PIN and patient CF)
"$BODIES" http://127.0.0.1:$SIM_PORT "$work/bodies" 1 >/dev/null
BASIC=$(sed -n 's/^Authorization: //p' "$work/bodies/headers.txt")

# --- nginx: static upstream and header-injecting proxy
mkdir -p "$work/nginx"
cp spec/real-responses/invio_ok.xml "$work/nginx/receipt.xml"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_buffer_size 64k;
  upstream dem { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$UP_PORT;
    # A static answer to any POST: a real receipt, served from memory-cached file
    # (error_page turns the POST into an internal GET of the file).
    location / {
      error_page 405 =200 /receipt.xml;
      return 405;
    }
    location = /receipt.xml {
      root $work/nginx;
      default_type "text/xml; charset=UTF-8";
      open_file_cache max=10;
    }
  }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      proxy_pass http://dem;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization2F "Bearer $CODE";
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log"
sleep 0.3

check() {  # one request by hand: the run counts only if the receipt comes back
  curl -s -X POST -H "Authorization: $BASIC" -H 'Content-Type: text/xml; charset=UTF-8' \
    -H 'SOAPAction: "http://invioprescritto.wsdl.dem.sanita.finanze.it/InvioPrescritto"' \
    --data-binary @"$work/bodies/body-0.xml" "$1/DemRicettaPrescrittoServicesWeb/services/demInvioPrescritto" \
    | grep -q '<codEsitoInserimento>0000</codEsitoInserimento>' || { echo "no receipt from $1" >&2; exit 1; }
}
check http://127.0.0.1:$UP_PORT
check http://127.0.0.1:$NGX_PORT
check http://127.0.0.1:$GW_PORT/ts/$TOKEN

cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
run() {  # name tokens-file threads conns port
  echo "== $1: wrk -t$3 -c$4 -d${SECONDS_RUN}s   (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  local before out
  before=$(cpu_ticks)
  out=$(BODY_FILE=$work/bodies/body-0.xml BASIC=$BASIC TOKENS_FILE=$2 \
    wrk -t"$3" -c"$4" -d"${SECONDS_RUN}s" --latency -s bench/proxy.lua "http://127.0.0.1:${5}")
  grep -E 'Requests/sec|Latency  |^ +(50|90|99)%|non-2xx|Socket errors' <<<"$out"
  # CPU time of the tsgate process per request: steadier than throughput on a busy machine.
  if [ "$5" = "$GW_PORT" ]; then
    awk -v ticks=$(( $(cpu_ticks) - before )) -v hz="$(getconf CLK_TCK)" \
      '/requests in/ { printf "tsgate CPU per request: %.1f us\n", ticks / hz / $1 * 1e6 }' <<<"$out"
  fi
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$GW_PID/status"; }
soak() {  # ROUNDS runs against tsgate, RSS after each
  local total=0 first_total=0 first_rss=0 start_rss out n rss
  start_rss=$(rss_kb)
  echo "== soak: ${ROUNDS:-10} rounds of wrk -t2 -c$CONNS -d${SECONDS_RUN}s; RSS at start $((start_rss / 1024)) MiB"
  for round in $(seq "${ROUNDS:-10}"); do
    out=$(BODY_FILE=$work/bodies/body-0.xml BASIC=$BASIC TOKENS_FILE=$work/tokens.txt \
      wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" -s bench/proxy.lua "http://127.0.0.1:$GW_PORT")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    total=$((total + n)); rss=$(rss_kb)
    [ "$round" -eq 1 ] && { first_total=$total; first_rss=$rss; }
    awk -v r="$round" -v t="$total" -v rss="$rss" -v ft="$first_total" -v fr="$first_rss" \
      -v errs="$(grep -c 'Non-2xx' <<<"$out")" 'BEGIN {
        slope = (t > ft) ? (rss - fr) / 1024 / ((t - ft) / 1e6) : 0
        printf "round %2d: %9d calls, RSS %6.1f MiB, since round 1: %+6.2f MiB per million calls%s\n",
          r, t, rss / 1024, slope, errs ? "  (non-2xx answers!)" : "" }'
  done
}
for target in ${TARGETS:-direct nginx tsgate}; do
  if [ "$target" = soak ]; then soak; continue; fi
  case $target in
    direct) prefix=""; port=$UP_PORT ;;
    nginx) prefix=""; port=$NGX_PORT ;;
    tsgate) prefix="$work/tokens.txt"; port=$GW_PORT ;;
  esac
  run "$target throughput" "$prefix" 2 "$CONNS" "$port"
  run "$target latency" "$prefix" 1 "$LAT_CONNS" "$port"
done
echo "== tsgate RSS after the runs: $(grep VmRSS /proc/$GW_PID/status)"
