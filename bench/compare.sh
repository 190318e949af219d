#!/usr/bin/env bash
# A/B of server builds: starts each given binary (a copy of target/release/examples/axum
# from one commit, say) on the in-memory store as the README starts it, and the baseline
# beside them, then runs ROUNDS rounds of one 8 s wrk run against each (the baseline is sent
# the same requests: one user, or a new user id each), the order rotating from round to
# round. Prints each run's req/s and server CPU per request, then each build's median and its
# median ratio to the baseline run of the same round.
#
# Run with: bash bench/compare.sh ROUNDS USERS BINARY...
#   USERS: repeat (the sign-in of one existing user) or distinct (a sign-up each request).
# Knob: STORE (memory, the default, or sqlite: each binary on a SQLite file of its own).
# For example, to measure a change:
#   cargo build --release --features full --examples && cp target/release/examples/axum /tmp/a
#   (change, build again) && cp target/release/examples/axum /tmp/b
#   bash bench/compare.sh 5 repeat /tmp/a /tmp/b
# Runs on one machine drift by ±10 % over minutes; a difference counts when it holds round
# after round. Loopback only; every run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

ROUNDS=${1:?rounds}
USERS=${2:?repeat or distinct}
shift 2
[ $# -ge 1 ] || { echo "give at least one server binary" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

need_wrk
cargo build --release --features full --example baseline >&2
PIDS=() URLS=() NAMES=()
serve "$EXAMPLES/baseline" "$WORK"
PIDS+=("$PID") URLS+=("$URL") NAMES+=(baseline)
STORE=${STORE:-memory}
for binary in "$@"; do
  case $STORE in
    memory) database=memory: ;;
    sqlite) database="sqlite://$WORK/${#PIDS[@]}.db" ;;
    *) echo "STORE is memory or sqlite, not $STORE" >&2; exit 2 ;;
  esac
  serve "$binary" "$WORK" TCX_DATABASE_URL="$database" TCX_ONE_TIME_TOKEN_TTL=3600
  PIDS+=("$PID") URLS+=("$URL") NAMES+=("$binary")
done
for url in "${URLS[@]}"; do
  warm_up "$url"
done

count=${#PIDS[@]}
: >"$WORK/runs"
for round in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((count - 1))); do
    i=$(((k + round) % count))
    before=$(cpu_ticks "${PIDS[$i]}")
    env BENCH_KEY="$KEY" USERS="$USERS" wrk -t1 -c32 -d8s -s bench/external.lua \
      "${URLS[$i]}/user/api/auth/external" >"$WORK/wrk.out" &
    wait $!
    after=$(cpu_ticks "${PIDS[$i]}")
    requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' "$WORK/wrk.out")
    echo "$round ${NAMES[$i]} $requests $((after - before))" | tee -a "$WORK/runs" >&2
  done
done
python3 - "$WORK/runs" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
runs, ticks = {}, int(sys.argv[2])
for line in open(sys.argv[1]):
    round_, name, requests, cpu = line.split()
    runs.setdefault(name, {})[round_] = (int(requests) / 8, int(cpu) / ticks / int(requests) * 1e6)
base = runs.pop("baseline")
print("| build | req/s (median) | server CPU µs/req (median) | × baseline req/s | × baseline CPU |")
print("|---|---:|---:|---:|---:|")
b = list(base.values())
print(f"| baseline | {statistics.median(r for r, _ in b):,.0f} | {statistics.median(c for _, c in b):.2f} | 1.00 | 1.00 |")
for name, by_round in runs.items():
    rates = [r for r, _ in by_round.values()]
    cpus = [c for _, c in by_round.values()]
    rate_ratio = statistics.median(by_round[k][0] / base[k][0] for k in by_round)
    cpu_ratio = statistics.median(by_round[k][1] / base[k][1] for k in by_round)
    print(f"| {name} | {statistics.median(rates):,.0f} | {statistics.median(cpus):.2f} | {rate_ratio:.2f} | {cpu_ratio:.2f} |")
PY
