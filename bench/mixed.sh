#!/usr/bin/env bash
# Sign-ups and redemptions at once on one SQLite file: the user store's sign-up thread and
# the pool (replay ledger, sessions) both write it, so each may wait for SQLite's write lock
# while the other holds it. Starts the reference server as the README starts it, mints
# oneTimeTokens, then runs wrk with a new user each request (32 connections) and wrk
# redeeming a fresh token each request (8 connections) side by side for DURATION seconds,
# and prints each one's req/s, p50, p99 and errors.
#
# Run with: bash bench/mixed.sh
# Knobs: DURATION (8), SERVER (a server binary to run instead of the reference one: a copy
# of target/release/examples/axum from another commit, say). Loopback only; bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
DURATION=${DURATION:-8}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

need_wrk
cargo build --release --features full --examples >&2
serve "${SERVER:-$EXAMPLES/axum}" "$WORK" TCX_DATABASE_URL="sqlite://$WORK/mixed.db"
warm_up "$URL"
mint_tokens "$URL" $((DURATION * 40000)) "$WORK/tokens" >/dev/null

env BENCH_KEY="$KEY" USERS=distinct wrk -t1 -c32 -d"${DURATION}s" -s bench/external.lua \
  "$URL/user/api/auth/external" >"$WORK/sign-ups" &
SIGN_UPS=$!
env TOKENS="$WORK/tokens" wrk -t1 -c8 -d"${DURATION}s" -s bench/token.lua \
  "$URL/user/api/auth/token" >"$WORK/redemptions"
wait "$SIGN_UPS"

echo "| load (at once, one SQLite file) | req/s | p50 ms | p99 ms | errors |"
echo "|---|---:|---:|---:|---:|"
for run in sign-ups redemptions; do
  sed -n 's/^RESULT //p' "$WORK/$run" | tr ' ' '\n' | awk -F= -v run="$run" '
    { v[$1] = $2 }
    END {
      printf "| %s | %.0f | %.2f | %.2f | %d |\n", run,
        v["requests"] / (v["duration_us"] / 1e6), v["p50_us"] / 1000, v["p99_us"] / 1000,
        v["errors"]
    }'
done
