#!/usr/bin/env bash
# Held calls (issue #9, point 7): a proxied InvioPrescritto that finds no code is held while
# tsgate requests one by itself (create -> mail -> IMAP IDLE -> checkToken) and then
# forwarded. Printed, never asserted:
#
# 1. Latency, [rounds] rounds (default 20, plus one warm-up round not counted), on
#    `tsgate demo --sim-maildir <Dovecot mail root> --imap <Dovecot> --min-create-interval 0`
#    (as bench/mailbox-latency.sh): each round revokes the code, times the held call, then the
#    same call with the code active. Both must answer 200 with codEsitoInserimento 0000; the
#    gateway's tsgate_proxy_hold_seconds_count{outcome="code"} must grow by exactly one per
#    round, and the audit must show the code requested by `auto` and verified by `mailbox`.
#
# 2. Memory of [held] calls held at once (default 1000, tsgate's max_held_calls), on
#    `tsgate serve` + `tsgate sim --maildir` in two processes, set up with the CLI
#    (`user add`, `user set-mailbox`, `workstation add`) like a practice. Why not the demo:
#    the demo runs the simulator inside the gateway's process (its RSS would include the
#    simulator's stored prescriptions) and takes no configuration, so its default limits
#    (max_connections 768, max_connections_per_ip 128, 200 proxied calls/s per workstation,
#    burst 400) would refuse 1000 concurrent calls of one workstation. The serve
#    configuration raises only those three (max_connections and max_connections_per_ip to
#    held + 256, proxy_rate_per_second = 0); proxy_hold_seconds (20) and max_held_calls
#    (1000) stay at their defaults (they are not keys of the file). One source address is
#    enough once the per-address cap is raised. The simulator's create is slowed to 15 s once
#    (POST /sim/control fault "slow"), so that every call waits on that one create; RSS
#    (VmRSS of the tsgate serve process only) is read idle (after one warm-up held call),
#    with the connections open and no request yet, with every call held
#    (tsgate_proxy_held_calls at N), and after they are answered.
#
# Everything runs on loopback; the client is one current-thread tokio runtime (reqwest for
# the API and the latency calls, plain sockets for the N held calls). Needs dovecot-imapd.
# Usage: bench/held-call.sh [rounds] [held]   (rounds or held 0 skips that part)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
HELD=${2:-1000}
TARGET=${CARGO_TARGET_DIR:-target}
test -x /usr/sbin/dovecot || { echo "needs dovecot-imapd: apt-get install -y dovecot-imapd" >&2; exit 1; }
# Descriptors: N sockets here; N from the clients plus up to N towards the simulator in
# tsgate, N in the simulator. The processes inherit this limit.
NEED=$((3 * HELD + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED" ]; then
    ulimit -n "$NEED" 2>/dev/null || { echo "needs ulimit -n >= $NEED" >&2; exit 1; }
fi
cargo build --release -q -p tsgate --bin tsgate --example held_call
"$TARGET/release/examples/held_call" "$TARGET/release/tsgate" "$ROUNDS" "$HELD"
