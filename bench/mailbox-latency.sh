#!/usr/bin/env bash
# Mailbox latency: seconds from "request a code" to "code active" with nobody typing
# (goal: median under 1 s). A private Dovecot serves the Maildir the simulator delivers
# into; `tsgate demo --imap` watches it over IMAP IDLE and verifies the code with checkToken.
# Prints every round, then median and maximum. Needs dovecot-imapd (Debian).
# Usage: bench/mailbox-latency.sh [rounds]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-20}
test -x /usr/sbin/dovecot || { echo "needs dovecot-imapd: apt-get install -y dovecot-imapd" >&2; exit 1; }
cargo build --release -q -p tsgate --bin tsgate --example mailbox_latency
target/release/examples/mailbox_latency target/release/tsgate "$ROUNDS"
