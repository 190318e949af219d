#!/usr/bin/env bash
# Where a request's server CPU goes: starts a server as the README starts it (RUST_LOG unset),
# drives it with wrk as bench/load.sh does, records a DWARF call-graph profile with perf for
# part of the run, and prints the share of the samples, and the microseconds per request,
# that each part of a request takes (bench/profile_categories.py sorts the samples).
#
# Run with: bash bench/profile.sh [SCENARIO]
# SCENARIO: sign-in (the guide's request for one existing user; the default), sign-up (a new
# user each request), redeem (POST /token, a fresh oneTimeToken each request, minted as
# bench/load.sh mints them), refresh (POST /refresh, 64 families each rotated in turn, as
# bench/load.sh runs it) or baseline (the hello-world that bench/load.sh compares against).
# Knobs: SERVER (a server binary to profile instead of the scenario's own: a copy of
# target/release/examples/axum from another commit, say), DURATION (seconds of load, 12;
# perf records the middle 6), STORE
# (TCX_DATABASE_URL, memory:; with a postgres:// URL, TCX_DATABASE_SCHEMA too), RUST_LOG (unset unless given), KEEP (a directory to keep
# perf.data and the raw stacks in).
# Needs perf (Debian: linux-perf) and installs wrk if it is missing. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

SCENARIO=${1:-sign-in}
DURATION=${DURATION:-12}
STORE=${STORE:-memory:}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

command -v perf >/dev/null || { echo "perf is needed (Debian: apt-get install linux-perf)" >&2; exit 1; }
need_wrk
cargo build --release --features full --examples >&2
BIN=$EXAMPLES

case $SCENARIO in
  sign-in) server=axum users=repeat ;;
  sign-up) server=axum users=distinct ;;
  redeem) server=axum users=repeat ;;
  refresh) server=axum users=repeat ;;
  baseline) server=baseline users=repeat ;;
  *) echo "unknown scenario $SCENARIO (sign-in, sign-up, redeem, refresh, baseline)" >&2; exit 2 ;;
esac
log_env=()
[ -n "${RUST_LOG:-}" ] && log_env=(RUST_LOG="$RUST_LOG")
serve "${SERVER:-$BIN/$server}" "$WORK" TCX_DATABASE_URL="$STORE" TCX_ONE_TIME_TOKEN_TTL=3600 \
  "${log_env[@]}"
warm_up "$URL"
load=(env BENCH_KEY="$KEY" USERS=$users wrk -t1 -c32 -d"${DURATION}s" -s bench/external.lua)
if [ "$SCENARIO" = redeem ]; then
  mint_tokens "$URL" $((DURATION * 120000)) "$WORK/tokens"
  load=(env TOKENS="$WORK/tokens" wrk -t1 -c32 -d"${DURATION}s" -s bench/token.lua)
elif [ "$SCENARIO" = refresh ]; then
  python3 bench/mint_refresh_tokens.py "${URL#http://}" "$KEY" 64 "$WORK/refresh"
  load=(env REFRESH_TOKENS="$WORK/refresh" wrk -t1 -c32 -d"${DURATION}s" -s bench/refresh.lua)
fi

before=$(cpu_ticks "$PID")
"${load[@]}" "$URL/user/api/auth/external" >"$WORK/wrk.out" &
WRK=$!
sleep $((DURATION / 4))
perf record -q -F 500 --call-graph dwarf,16384 -p "$PID" -o "$WORK/perf.data" \
  -- sleep $((DURATION / 2)) 2>/dev/null
wait $WRK
after=$(cpu_ticks "$PID")
requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' "$WORK/wrk.out")
per_request=$(python3 -c "print(($after - $before) / $(getconf CLK_TCK) / $requests * 1e6)")
perf script -F comm,tid,ip,sym -i "$WORK/perf.data" 2>/dev/null >"$WORK/stacks"
printf '%s, %s, RUST_LOG=%s: %s requests, %.2f µs server CPU per request (the whole run)\n\n' \
  "$SCENARIO" "$STORE" "${RUST_LOG:-unset}" "$requests" "$per_request"
python3 bench/profile_categories.py "$per_request" <"$WORK/stacks"
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP" && cp "$WORK/perf.data" "$WORK/stacks" "$KEEP/"
fi
