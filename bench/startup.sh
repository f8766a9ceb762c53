#!/usr/bin/env bash
# Start-up time (process start to the first successful GET /readyz) and idle RSS of
# `tsgate serve` (release), median of RUNS (default 10). The data folder (one user, one
# workstation) is made once; the SanitelCF certificate comes from a `tsgate sim` started
# once beforehand, so every run includes that fetch, as a custom environment does.
# Usage: bench/startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${1:-10}
GW_PORT=${GW_PORT:-18392}
SIM_PORT=${SIM_PORT:-18393}
cargo build --release -q -p tsgate --bin tsgate
BIN=$ROOT/target/release/tsgate
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
RUST_LOG=warn "$BIN" sim --listen 127.0.0.1:$SIM_PORT >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:$SIM_PORT/sim/users >/dev/null && break; sleep 0.1; done
cat >"$work/tsgate.toml" <<TOML
listen = "127.0.0.1:$GW_PORT"
data_dir = "$work/data"
environment = "custom"
a2f_base = "http://127.0.0.1:$SIM_PORT"
dem_base = "http://127.0.0.1:$SIM_PORT"
sanitel_certificate_url = "http://127.0.0.1:$SIM_PORT/sim/certificate"
TOML
export RUST_LOG=warn
printf 'pw\n1234\n' | "$BIN" user add -c "$work/tsgate.toml" --id PROVAX00X00X000Y --cf PROVAX00X00X000Y \
  --region 130 --asl 202 >/dev/null
"$BIN" workstation add -c "$work/tsgate.toml" --name ws --users PROVAX00X00X000Y >/dev/null

times=(); rsss=()
for i in $(seq "$RUNS"); do
  start=$(date +%s%N)
  "$BIN" serve -c "$work/tsgate.toml" >"$work/serve-$i.log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null http://127.0.0.1:$GW_PORT/readyz; do
    kill -0 $pid 2>/dev/null || { cat "$work/serve-$i.log"; exit 1; }
    sleep 0.002
  done
  end=$(date +%s%N)
  sleep 1
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  times+=($(( (end - start) / 1000000 ))); rsss+=("$rss")
  echo "run $i: ready in $(( (end - start) / 1000000 )) ms, idle RSS $rss KiB (load $(cut -d' ' -f1 /proc/loadavg))"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median start-up to /readyz: $(median "${times[@]}") ms; median idle RSS: $(median "${rsss[@]}" | awk '{printf "%.1f", $1/1024}') MiB"
