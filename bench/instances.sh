#!/usr/bin/env bash
# Past one process (issue 17, goal 4): 1, 2 and 3 reference servers (axum, started as the
# README starts them) on one PostgreSQL and one Redis, under the whole flow (bench/flow.lua: a
# sign-in of an existing user, then the redemption of its oneTimeToken, which starts a
# session). The same total number of connections (CONNECTIONS, 32) is spread over the
# instances, one wrk each. Prints, per instance count: requests/s in all, p99 (the worst
# instance's), and CPU per request of the servers, of PostgreSQL + Redis and of wrk, the
# figures BENCHMARKS.md's sizing model starts from.
#
# Run with: bash bench/instances.sh
# Knobs: DURATION (seconds per run, 10), CONNECTIONS (32), INSTANCES ("1 2 3"),
# TCX_TEST_POSTGRES_URL, TCX_TEST_REDIS_URL (default the local services).
# Installs wrk from Debian's packages if it is missing. Loopback only; every run is bounded.
# The schemas and Redis keys it makes are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
INSTANCES=${INSTANCES:-1 2 3}
PG_URL=${TCX_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS_URL=${TCX_TEST_REDIS_URL:-redis://127.0.0.1:6379}
TAG=$RANDOM$RANDOM
WORK=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  for n in $INSTANCES; do
    psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS tcx_inst_${TAG}_$n CASCADE" >/dev/null 2>&1 || true
  done
  redis-cli -u "$REDIS_URL" --scan --pattern "tcx_inst_$TAG:*" 2>/dev/null \
    | xargs -r -n 1000 redis-cli -u "$REDIS_URL" unlink >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

pg_isready -d "$PG_URL" -q || { echo "PostgreSQL is not answering at $PG_URL" >&2; exit 1; }
need_wrk
cargo build --release --features full --example axum >&2

db_total() { db_ticks | awk '{ total += $2 } END { print total + 0 }'; }

: >"$WORK/rows"
for n in $INSTANCES; do
  schema="tcx_inst_${TAG}_$n"
  pids=() urls=()
  for i in $(seq 1 "$n"); do
    serve "$EXAMPLES/axum" "$WORK" TCX_DATABASE_URL="$PG_URL" \
      TCX_DATABASE_SCHEMA="$schema" TCX_REDIS_URL="$REDIS_URL" TCX_REDIS_PREFIX="tcx_inst_$TAG:"
    pids+=("$PID")
    url=$URL
    urls+=("$url")
    # A second of the flow: the user is signed up, every pooled connection warmed.
    env BENCH_KEY="$KEY" wrk -t1 -c8 -d1s -s bench/flow.lua "$url/user/api/auth/external" >/dev/null
  done
  per=$((CONNECTIONS / n))
  before_db=$(db_total)
  before=0
  for pid in "${pids[@]}"; do before=$((before + $(cpu_ticks "$pid"))); done
  wrks=()
  for i in $(seq 1 "$n"); do
    { TIMEFORMAT='%U %S'; time env BENCH_KEY="$KEY" wrk -t1 -c"$per" -d"${DURATION}s" --latency \
      -s bench/flow.lua "${urls[$((i - 1))]}/user/api/auth/external" >"$WORK/wrk.$n.$i"; } \
      2>"$WORK/wrk.$n.$i.time" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  after=0
  for pid in "${pids[@]}"; do after=$((after + $(cpu_ticks "$pid"))); done
  after_db=$(db_total)
  results=""
  for i in $(seq 1 "$n"); do
    results="$results;$(grep '^RESULT' "$WORK/wrk.$n.$i")|$(tail -1 "$WORK/wrk.$n.$i.time")"
  done
  echo "$n|$per|$((after - before))|$((after_db - before_db))$results" >>"$WORK/rows"
  echo "  $n instance(s) done" >&2
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
done

echo
echo "bench/flow.lua (a sign-in, then its redemption), ${DURATION}s, $CONNECTIONS connections in all, on one PostgreSQL and one Redis; $(nproc) cores; $(uname -m); $(date -u +%Y-%m-%d)"
python3 - "$WORK/rows" "$(getconf CLK_TCK)" <<'PY'
import sys
tck = int(sys.argv[2])
print("| instances | connections each | requests/s in all | p99 ms (worst instance) | errors | servers' CPU µs/req | PostgreSQL + Redis CPU µs/req | wrk CPU µs/req |")
print("|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    head, *runs = line.rstrip("\n").split(";")
    n, per, server, db = head.split("|")
    requests = rate = errors = 0
    p99 = 0.0
    client = 0.0
    for run in runs:
        result, time = run.split("|")
        f = dict(kv.split("=") for kv in result.split()[1:])
        requests += int(f["requests"])
        rate += int(f["requests"]) / (int(f["duration_us"]) / 1e6)
        errors += int(f["errors"])
        p99 = max(p99, int(f["p99_us"]) / 1000)
        client += sum(float(t) for t in time.split())
    per_req = lambda seconds: seconds / max(requests, 1) * 1e6
    print(f"| {n} | {per} | {rate:,.0f} | {p99:.2f} | {errors} | {per_req(int(server) / tck):.1f} | "
          f"{per_req(int(db) / tck):.1f} | {per_req(client):.1f} |")
PY
