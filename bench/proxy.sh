#!/usr/bin/env bash
# Proxy throughput and added latency: tsgate's SOAP proxy vs nginx doing the same header
# injection, to the same static upstream, in the same run.
#
#   upstream  nginx on $UP_PORT answering every POST with a real InvioPrescritto receipt
#             (spec/real-responses/invio_ok.xml): fast and constant, so the proxies are measured
#   direct    wrk -> upstream (baseline)
#   nginx     wrk -> nginx on $NGX_PORT: proxy_set_header Authorization2F "Bearer <code>",
#             keep-alive pool to the upstream
#   tsgate    wrk -> tsgate serve (release, one node, embedded SQLite) on $GW_PORT
#             /ts/<workstation token>/<DEM path> -> upstream; the user comes from the Basic
#             header, the code from the session (A2F on a `tsgate sim --mode test`, which
#             issues and verifies the code)
#   cloud     (DB=postgres) NODES `tsgate serve` on one throwaway PostgreSQL (bench/lib.sh),
#             set up the same way through node 1's configuration (the same doctor, the same
#             number of workstations, the code requested through node 1); one wrk -t1
#             -c$((CONNS / NODES)) per node, all at once, to the same upstream with the same
#             request: req/s, p50, p99, tsgate CPU per request and RSS per node, the total,
#             and the PostgreSQL server's CPU per request; then the latency run on node 1 alone
#
# Each target gets a throughput run (wrk -t2 -c$CONNS; for `cloud`, the per-node runs above)
# and a latency run (wrk -t1 -c$LAT_CONNS, far from saturation, so that the percentiles are
# service time rather than queueing). RSS of every tsgate process idle (before any run) and
# after its runs. A summary table comes last.
# Usage: [DB=sqlite|postgres] [NODES=2] bench/proxy.sh [seconds] [connections]
#   TARGETS (default "direct nginx tsgate", with DB=postgres "direct nginx tsgate cloud");
#   WORKSTATIONS=128; LAT_CONNS=2; PG_PORT=18198 NODE_PORT=18180 (node i on NODE_PORT+i);
#   BIN_DIR=<dir with tsgate + sim_bench_bodies> to compare builds (otherwise a release
#   build into $CARGO_TARGET_DIR, default target/); TSGATE_HTTP_WORKERS=1 to try one worker
#
# Memory soak: `TARGETS=soak ROUNDS=10 bench/proxy.sh 60 32` runs ROUNDS throughput runs of
# `seconds` against tsgate alone and prints, after each, the calls so far, tsgate's RSS and
# its growth per million calls (a leak shows as a steady positive slope).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECONDS_RUN=${1:-10}
CONNS=${2:-32}
LAT_CONNS=${LAT_CONNS:-2}
UP_PORT=${UP_PORT:-18190}
NGX_PORT=${NGX_PORT:-18191}
GW_PORT=${GW_PORT:-18192}
SIM_PORT=${SIM_PORT:-18193}
PG_PORT=${PG_PORT:-18198}
NODE_PORT=${NODE_PORT:-18180}
WORKSTATIONS=${WORKSTATIONS:-128}
DB=${DB:-sqlite}
NODES=${NODES:-2}
case "$DB" in
  sqlite) DEFAULT_TARGETS="direct nginx tsgate" ;;
  postgres) DEFAULT_TARGETS="direct nginx tsgate cloud" ;;
  *) echo "DB must be sqlite or postgres, not $DB" >&2; exit 2 ;;
esac
TARGETS=${TARGETS:-$DEFAULT_TARGETS}
command -v nginx >/dev/null && command -v wrk >/dev/null \
  || { echo "installing nginx-light and wrk"; apt-get install -y -qq nginx-light wrk >/dev/null; }

tsgate_binaries sim_bench_bodies
BODIES=$EXAMPLES/sim_bench_bodies
bench_start
chmod 755 "$work"  # nginx workers (www-data) read the receipt
bench_extra_cleanup() { if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi; }
echo "tsgate: $BIN $(load)"

# --- simulator (A2F only) and tsgate
start_sim "$SIM_PORT"
users=$(curl -s http://127.0.0.1:$SIM_PORT/sim/users)
field() { python3 -c "import json,sys; u=[u for u in json.load(sys.stdin) if u['role']=='titolare'][0]; print(u['$1'])" <<<"$users"; }
USER_ID=$(field user_id); PASSWORD=$(field password); PIN=$(field pin); REGION=$(field region); ASL=$(field asl); CF=$(field cf)
export RUST_LOG=warn
# A site: the doctor, WORKSTATIONS workstations of the practice (tokens in DIR/tokens.txt;
# tsgate limits each workstation to 200 proxied calls/s, burst 400, so wrk rotates them), N
# nodes started, and the code requested through node 1 (CODE). Configurations written first.
setup_site() {  # dir nodes
  local dir=$1 token
  printf '%s\n%s\n' "$PASSWORD" "$PIN" | "$BIN" user add -c "$dir/node1.toml" --id "$USER_ID" --cf "$CF" \
    --region "$REGION" --asl "$ASL" --specialization F >/dev/null
  for i in $(seq "$WORKSTATIONS"); do
    "$BIN" workstation add -c "$dir/node1.toml" --name "bench $i" --role doctor --users "$USER_ID" \
      | sed -n 's/.*: \(tsg_.*\)$/\1/p' >>"$dir/tokens.txt"
  done
  start_nodes "$dir" "$2"
  token=$(head -1 "$dir/tokens.txt")
  curl -sf -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"replace":false}' \
    "http://127.0.0.1:$(node_port 1)/api/v1/users/$USER_ID/session/request" >/dev/null
  CODE=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$(node_port 1)/api/v1/users/$USER_ID/session/code" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
}

# The single node on SQLite (port GW_PORT: node 1 of NODE_PORT = GW_PORT - 1).
mkdir -p "$work/sqlite"
NODE_PORT=$((GW_PORT - 1)) write_node_configs "$work/sqlite" 1 "" "http://127.0.0.1:$UP_PORT" </dev/null
NODE_PORT=$((GW_PORT - 1)) setup_site "$work/sqlite" 1
GW_PID=${node_pids[0]}
GW_RSS_IDLE=$(rss_mib "$GW_PID")
cp "$work/sqlite/tokens.txt" "$work/tokens.txt"

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
check "http://127.0.0.1:$GW_PORT/ts/$(head -1 "$work/tokens.txt")"

# --- the nodes on PostgreSQL
if [[ " $TARGETS " == *" cloud "* ]]; then
  [ "$DB" = postgres ] || { echo "TARGETS=cloud needs DB=postgres" >&2; exit 2; }
  pg_start "$PG_PORT"
  pg_fresh_db tsgate
  mkdir -p "$work/cloud"
  write_node_configs "$work/cloud" "$NODES" "$PG_BASE_URL/tsgate" "http://127.0.0.1:$UP_PORT" </dev/null
  echo "== $NODES nodes on PostgreSQL: set-up through node 1 $(load)"
  setup_site "$work/cloud" "$NODES"
  CLOUD_RSS_IDLE=()
  for i in $(seq "$NODES"); do
    check "http://127.0.0.1:$(node_port "$i")/ts/$(head -1 "$work/cloud/tokens.txt")"
    CLOUD_RSS_IDLE+=("$(rss_mib "${node_pids[$((i - 1))]}")")
  done
fi

summary=()
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_request() {  # cpu-seconds-before cpu-seconds-after requests
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.1f", (b - a) / n * 1e6}'
}
wrk_figures() {  # wrk output file: "req/s p50 p99 requests non2xx"
  awk '/Requests\/sec/ {r = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
       /requests in/ {n = $1} /non-2xx status/ {bad = $NF}
       END {printf "%.0f %s %s %d %d\n", r, p50, p99, n, bad}' "$1"
}
show() { grep -E 'Requests/sec|Latency  |^ +(50|90|99)%|non-2xx|Socket errors' "$1"; }
run() {  # name tokens-file threads conns port [pid of the tsgate measured]
  echo "== $1: wrk -t$3 -c$4 -d${SECONDS_RUN}s $(load)"
  local before=0 out=$work/wrk.out rps p50 p99 n bad cpu=""
  [ -n "${6:-}" ] && before=$(proc_cpu "$6")
  BODY_FILE=$work/bodies/body-0.xml BASIC=$BASIC TOKENS_FILE=$2 \
    wrk -t"$3" -c"$4" -d"${SECONDS_RUN}s" --latency -s bench/proxy.lua "http://127.0.0.1:${5}" >"$out"
  show "$out"
  read -r rps p50 p99 n bad < <(wrk_figures "$out")
  # CPU time of the tsgate process per request: steadier than throughput on a busy machine.
  if [ -n "${6:-}" ]; then
    cpu=$(per_request "$before" "$(proc_cpu "$6")" "$n")
    echo "tsgate CPU per request: $cpu us"
  fi
  summary+=("| $1 | wrk -t$3 -c$4 | $rps | $p50 | $p99 | ${cpu:-} | | $bad |")
}
run_cloud() {  # one wrk per node at once, then the latency run on node 1
  local per=$((CONNS / NODES)) i pid rps p50 p99 n bad total=0 total_n=0 total_bad=0 pg0 pg1 t0
  [ "$per" -ge 1 ] || per=1
  echo "== cloud throughput: $NODES x wrk -t1 -c$per -d${SECONDS_RUN}s at once $(load)"
  local before=() wrk_pids=()
  for pid in "${node_pids[@]}"; do before+=("$(proc_cpu "$pid")"); done
  pg0=$(pg_cpu); t0=$(date +%s%N)
  for i in $(seq "$NODES"); do
    BODY_FILE=$work/bodies/body-0.xml BASIC=$BASIC TOKENS_FILE=$work/cloud/tokens.txt \
      wrk -t1 -c"$per" -d"${SECONDS_RUN}s" --latency -s bench/proxy.lua \
      "http://127.0.0.1:$(node_port "$i")" >"$work/cloud/wrk$i.out" &
    wrk_pids+=($!); pids+=($!)
  done
  for pid in "${wrk_pids[@]}"; do wait "$pid"; done
  pg1=$(pg_cpu)
  local secs; secs=$(secs_since "$t0")
  for i in $(seq "$NODES"); do
    pid=${node_pids[$((i - 1))]}
    echo "node $i:"
    show "$work/cloud/wrk$i.out" | sed 's/^/  /'
    read -r rps p50 p99 n bad < <(wrk_figures "$work/cloud/wrk$i.out")
    local cpu; cpu=$(per_request "${before[$((i - 1))]}" "$(proc_cpu "$pid")" "$n")
    echo "  tsgate CPU per request: $cpu us; RSS $(rss_mib "$pid") MiB"
    total=$((total + rps)); total_n=$((total_n + n)); total_bad=$((total_bad + bad))
    summary+=("| cloud node $i | wrk -t1 -c$per | $rps | $p50 | $p99 | $cpu | | $bad |")
  done
  local pgreq; pgreq=$(per_request "$pg0" "$pg1" "$total_n")
  echo "total: $total req/s; PostgreSQL server: $(cpu_diff "$pg0" "$pg1" "$secs"), $pgreq us per request $(load)"
  summary+=("| **cloud, $NODES nodes in all** | $NODES x wrk -t1 -c$per | **$total** | – | – | | $pgreq | $total_bad |")
  run "cloud node 1 latency" "$work/cloud/tokens.txt" 1 "$LAT_CONNS" "$(node_port 1)" "${node_pids[0]}"
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
for target in $TARGETS; do
  case $target in
    soak) soak ;;
    direct | nginx)
      port=$UP_PORT; [ "$target" = nginx ] && port=$NGX_PORT
      run "$target throughput" "" 2 "$CONNS" "$port"
      run "$target latency" "" 1 "$LAT_CONNS" "$port" ;;
    tsgate)
      run "tsgate (SQLite) throughput" "$work/tokens.txt" 2 "$CONNS" "$GW_PORT" "$GW_PID"
      run "tsgate (SQLite) latency" "$work/tokens.txt" 1 "$LAT_CONNS" "$GW_PORT" "$GW_PID" ;;
    cloud) run_cloud ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
echo
echo "== RSS of each tsgate, idle (set up, before any run) → after the runs $(load)"
echo "tsgate (SQLite): $GW_RSS_IDLE → $(rss_mib "$GW_PID") MiB"
if [[ " $TARGETS " == *" cloud "* ]]; then
  for i in $(seq "$NODES"); do
    echo "cloud node $i: ${CLOUD_RSS_IDLE[$((i - 1))]} → $(rss_mib "${node_pids[$((i - 1))]}") MiB"
  done
  for i in $(seq "$NODES"); do log_warnings "$work/cloud/serve$i.log" | sed "s/^/cloud node $i: /"; done
  pg_log_summary
fi
echo
echo "## Summary (${SECONDS_RUN} s runs, InvioPrescritto through each target to the same upstream)"
echo
echo "| target | wrk | req/s | p50 | p99 | tsgate CPU/request, µs | PostgreSQL CPU/request, µs | non-2xx |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${summary[@]}"
echo
echo "load at the end $(load)"
