#!/usr/bin/env bash
# PostgreSQL (+ the Redis ledger) at the limit of their round trips (issue 17, goal 3): for
# sign-in, sign-up, redemption and refresh, the reference server (axum, started as the README
# starts it, on PostgreSQL with TCX_REDIS_URL) driven by wrk, beside the bare loop of
# benches/bare_clients.rs, which sends the same statements and commands over the same pool at
# the same concurrency and nothing else. Goal: each path at least 0.8x its bare loop.
#
# As in bench/load.sh, each server run is paired with a bare run, alternating which goes first,
# and a ratio is the median of the pairs' ratios. Before the pairs, each path's round trips are
# counted on the wire: the server and the bare loop go through the counting proxy of
# bare_clients (BARE_PATH=proxy) at one connection, and the table shows round trips per
# request to PostgreSQL + Redis.
#
# Run with: bash bench/backends.sh   (from anywhere; about 6 min with the defaults)
# Knobs: DURATION (seconds per run, 10), RUNS (pairs per path, 3), CONNECTIONS (wrk -c and
# bare tasks, 32), PATHS ("signin signup redeem refresh"), LEAN=1 (also run the bare loop on
# connections without sqlx's pool ping on release: the one-round-trip-per-statement limit), COUNT=0
# (skip the round-trip count), COUNT_SECONDS (2), TOKEN_RATE (oneTimeTokens minted per second
# of a redemption run, 16000: more than the server redeems), TCX_TEST_POSTGRES_URL,
# TCX_TEST_REDIS_URL (default the local services), BIN (the examples' directory, default built: ${CARGO_TARGET_DIR:-target}/release/
# examples), BARE_BIN (the bare_clients binary, default built).
# Installs wrk from Debian's packages if it is missing. Loopback only; every run is bounded.
# Every schema and Redis key it makes is removed at the end, also when it is interrupted (after
# the step in progress). It can be sourced (by bench/load.sh) and run as `backends_main`, in
# a subshell of its own.
set -euo pipefail

backends_body() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  . bench/common.sh

  DURATION=${DURATION:-10}
  RUNS=${RUNS:-3}
  CONNECTIONS=${CONNECTIONS:-32}
  PATHS=${PATHS:-signin signup redeem refresh}
  LEAN=${LEAN:-0}
  COUNT=${COUNT:-1}
  COUNT_SECONDS=${COUNT_SECONDS:-2}
  TOKEN_RATE=${TOKEN_RATE:-16000}
  PG_URL=${TCX_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
  REDIS_URL=${TCX_TEST_REDIS_URL:-redis://127.0.0.1:6379}
  # PG_URL and REDIS_URL point at the counting proxy while round trips are counted; psql and
  # redis-cli always go straight to the services.
  ADMIN_PG_URL=$PG_URL ADMIN_REDIS_URL=$REDIS_URL
  TAG=$RANDOM$RANDOM
  PREFIX="tcx_be_$TAG:"
  WORK=$(mktemp -d)
  # The schemas made so far, one a line (servers start in command substitutions too).
  SCHEMAS="$WORK/schemas"
  : >"$SCHEMAS"
  CLK_TCK=$(getconf CLK_TCK)

  be_cleanup() {
    local pids
    pids=$(jobs -p)
    [ -z "$pids" ] || kill $pids 2>/dev/null || true
    wait 2>/dev/null || true
    local schema
    while read -r schema; do
      psql "$ADMIN_PG_URL" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    done <"$SCHEMAS"
    if command -v redis-cli >/dev/null; then
      redis-cli -u "$ADMIN_REDIS_URL" --scan --pattern "$PREFIX*" 2>/dev/null \
        | xargs -r -n 1000 redis-cli -u "$ADMIN_REDIS_URL" unlink >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
  }
  trap be_cleanup EXIT
  trap 'exit 130' INT TERM HUP

  pg_isready -d "$PG_URL" -q || { echo "PostgreSQL is not answering at $PG_URL" >&2; exit 1; }
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" ping >/dev/null || { echo "Redis is not answering at $REDIS_URL" >&2; exit 1; }
  fi
  need_wrk
  if [ -z "${BIN:-}" ]; then
    cargo build --release --features full --examples >&2
    BIN=$EXAMPLES
  fi
  if [ -z "${BARE_BIN:-}" ]; then
    BARE_BIN=$(cargo build --release --features full --bench bare_clients --message-format=json \
      | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "bare_clients" and m.get("executable"):
        print(m["executable"])')
  fi
  [ -x "$BIN/axum" ] && [ -x "$BARE_BIN" ] || { echo "missing $BIN/axum or $BARE_BIN" >&2; exit 1; }

  # be_start [VAR=VALUE...]: starts the axum reference server on a free port, as the README
  # starts it (RUST_LOG unset), on a fresh schema of PG_URL (or of the URLs given); sets PID
  # and URL.
  be_start() {
    local schema
    schema="tcx_be_${TAG}_$(wc -l <"$SCHEMAS")"
    echo "$schema" >>"$SCHEMAS"
    serve "$BIN/axum" "$WORK" TCX_ONE_TIME_TOKEN_TTL=3600 TCX_DATABASE_URL="$PG_URL" \
      TCX_DATABASE_SCHEMA="$schema" TCX_REDIS_URL="$REDIS_URL" TCX_REDIS_PREFIX="$PREFIX" "$@"
  }

  be_stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

  # be_inputs PATH URL N: what a run of PATH needs, in $WORK/input: N oneTimeToken requests
  # (redeem) or refresh tokens minted by N real redemptions (refresh); then the wrk script and
  # its environment in SCRIPT and SCRIPT_ENV.
  be_inputs() {
    local path=$1 url=$2 n=$3
    rm -f "$WORK/input"
    case $path in
      signin) SCRIPT=bench/external.lua SCRIPT_ENV=(USERS=repeat) ;;
      signup) SCRIPT=bench/external.lua SCRIPT_ENV=(USERS=distinct) ;;
      redeem)
        local template
        template=$(curl -sf -X POST "$url/user/api/auth/external" -H "Authorization: Bearer $KEY" \
          -H 'Content-Type: application/json' \
          -d '{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}')
        python3 bench/mint_tokens.py "$SECRET" "$template" "$n" "$WORK/input" "${url#http://}" bench
        SCRIPT=bench/token.lua SCRIPT_ENV=(TOKENS="$WORK/input") ;;
      refresh)
        python3 bench/mint_refresh_tokens.py "${url#http://}" "$KEY" "$n" "$WORK/input"
        SCRIPT=bench/refresh.lua SCRIPT_ENV=(REFRESH_TOKENS="$WORK/input") ;;
    esac
  }

  # How many inputs a run of PATH for SECONDS at C connections needs.
  be_count_for() {
    case $1 in
      redeem) echo $(($2 * TOKEN_RATE + 1000)) ;;
      refresh) echo $(($3 * 2)) ;;
      *) echo 0 ;;
    esac
  }

  # be_wrk URL SECONDS CONNECTIONS: runs wrk with the SCRIPT of be_inputs; prints wrk's
  # RESULT line.
  be_wrk() {
    env BENCH_KEY="$KEY" "${SCRIPT_ENV[@]}" wrk -t1 -c"$3" -d"$2s" --latency \
      -s "$SCRIPT" "$1/user/api/auth/external" | grep '^RESULT'
  }

  # be_warm_up PATH URL: a second of the path at 32 connections (every pooled connection
  # prepares its statements; sign-in's user is signed up). Sign-up warms up with sign-ins,
  # and each sign-up run gets a fresh server and schema: every run then inserts into the
  # same small table (PostgreSQL takes keys it has deleted back about a third slower than
  # new ones, so deleting between runs would not do).
  be_warm_up() {
    local path=$1
    [ "$path" != signup ] || path=signin
    be_inputs "$path" "$2" "$(be_count_for "$path" 1 32)"
    be_wrk "$2" 1 32 >/dev/null
  }

  # be_server_run PATH: one wrk run against the server PID at URL; prints
  # "req_per_s p50_ms p99_ms errors server_cpu_us_per_req wrk_cpu_us_per_req db_cpu_us_per_req".
  be_server_run() {
    local path=$1 before after
    be_inputs "$path" "$URL" "$(be_count_for "$path" "$DURATION" "$CONNECTIONS")"
    db_ticks >"$WORK/db.before"
    before=$(cpu_ticks "$PID")
    { TIMEFORMAT='%U %S'; time env BENCH_KEY="$KEY" "${SCRIPT_ENV[@]}" wrk -t1 -c"$CONNECTIONS" \
      -d"${DURATION}s" --latency -s "$SCRIPT" "$URL/user/api/auth/external" >"$WORK/wrk.out"; } \
      2>"$WORK/wrk.time"
    after=$(cpu_ticks "$PID")
    db_ticks >"$WORK/db.after"
    python3 - "$(grep '^RESULT' "$WORK/wrk.out")" "$before" "$after" "$CLK_TCK" \
      "$(tail -1 "$WORK/wrk.time")" "$WORK/db.before" "$WORK/db.after" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
requests, duration = int(fields["requests"]), int(fields["duration_us"]) / 1e6
tck = int(sys.argv[4])
cpu_s = (int(sys.argv[3]) - int(sys.argv[2])) / tck
client_s = sum(float(t) for t in sys.argv[5].split())
ticks = lambda path: dict(map(int, line.split()) for line in open(path) if line.strip())
before, after = ticks(sys.argv[6]), ticks(sys.argv[7])
db_s = sum(max(0, t - before.get(pid, 0)) for pid, t in after.items()) / tck
per_request = lambda seconds: seconds / max(requests, 1) * 1e6
print(f"{requests / duration:.0f} {int(fields['p50_us']) / 1000:.3f} {int(fields['p99_us']) / 1000:.3f} "
      f"{fields['errors']} {per_request(cpu_s):.2f} {per_request(client_s):.2f} {per_request(db_s):.2f}")
PY
  }

  # be_bare PATH POOL [VAR=VALUE...]: one bare run; prints its RESULT line.
  be_bare() {
    local path=$1 pool=$2; shift 2
    env TCX_TEST_POSTGRES_URL="$PG_URL" TCX_TEST_REDIS_URL="$REDIS_URL" BARE_PATH="$path" \
      BARE_POOL="$pool" BARE_SECONDS="$DURATION" BARE_CONCURRENCY="$CONNECTIONS" \
      BARE_REDIS_PREFIX="${PREFIX}bare:" "$@" "$BARE_BIN" 2>"$WORK/bare.err" | grep '^RESULT' \
      || { echo "bare_clients failed: $(cat "$WORK/bare.err")" >&2; exit 1; }
  }

  # be_bare_run PATH POOL: one bare run at the run's settings; prints the fields of
  # be_server_run (wrk's CPU: -).
  be_bare_run() {
    be_bare "$1" "$2" | python3 -c '
import sys
f = dict(kv.split("=") for kv in sys.stdin.read().split()[1:])
rps = int(f["calls"]) / (int(f["duration_us"]) / 1e6)
print("%.0f %.3f %.3f 0 %s - %s" % (rps, int(f["p50_us"]) / 1000, int(f["p99_us"]) / 1000,
                                    f["cpu_us_per_call"], f["db_cpu_us_per_call"]))'
  }

  be_counts() { cat "$WORK/counts"; }

  # be_count PATH: round trips per request to PostgreSQL and Redis, counted on the wire at one
  # connection, for the server and for the bare loop, then for the server at the run's
  # concurrency: "pg redis pg redis pg redis".
  be_count() {
    local path=$1 before after result
    local saved_pg=$PG_URL saved_redis=$REDIS_URL
    PG_URL=$PROXY_PG_URL REDIS_URL=$PROXY_REDIS_URL
    be_start
    be_warm_up "$path" "$URL"
    # The inputs first: minting refresh tokens makes requests too.
    be_inputs "$path" "$URL" "$(be_count_for "$path" "$COUNT_SECONDS" 1)"
    sleep 0.2
    before=$(be_counts)
    result=$(be_wrk "$URL" "$COUNT_SECONDS" 1)
    sleep 0.2
    after=$(be_counts)
    # Again at the run's concurrency: user reads, sign-ups and session creations are sent in
    # groups, so under load a request makes fewer round trips than alone.
    be_inputs "$path" "$URL" "$(be_count_for "$path" "$COUNT_SECONDS" "$CONNECTIONS")"
    sleep 0.2
    local loaded_before loaded_after loaded
    loaded_before=$(be_counts)
    loaded=$(be_wrk "$URL" "$COUNT_SECONDS" "$CONNECTIONS")
    sleep 0.2
    loaded_after=$(be_counts)
    be_stop
    local bare
    bare=$(DURATION=$COUNT_SECONDS CONNECTIONS=1 be_bare "$path" crate BARE_COUNT_FILE="$WORK/counts")
    PG_URL=$saved_pg REDIS_URL=$saved_redis
    python3 - "$result" "$before" "$after" "$bare" "$loaded" "$loaded_before" "$loaded_after" <<'PY'
import sys
fields = lambda text: dict(kv.split("=") for kv in text.split() if "=" in kv)
wrk, before, after, bare, loaded, loaded_before, loaded_after = map(fields, sys.argv[1:])
for run in (wrk, loaded):
    assert int(run["errors"]) == 0, f"errors while counting: {run}"
rt = lambda k, run, b, a: (int(a[k]) - int(b[k])) / int(run["requests"])
print(f"{rt('pg', wrk, before, after):.2f} {rt('redis', wrk, before, after):.2f} "
      f"{bare['wire_pg_round_trips_per_call']} {bare['wire_redis_round_trips_per_call']} "
      f"{rt('pg', loaded, loaded_before, loaded_after):.2f} {rt('redis', loaded, loaded_before, loaded_after):.2f}")
PY
  }

  PAIRS="$WORK/pairs"
  : >"$PAIRS"
  if [ "$COUNT" = 1 ]; then
    env TCX_TEST_POSTGRES_URL="$PG_URL" TCX_TEST_REDIS_URL="$REDIS_URL" BARE_PATH=proxy \
      BARE_COUNT_FILE="$WORK/counts" "$BARE_BIN" >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
    for _ in $(seq 1 100); do
      grep -q '^proxy' "$WORK/proxy.out" 2>/dev/null && [ -f "$WORK/counts" ] && break
      sleep 0.1
    done
    local proxy_pg proxy_redis
    proxy_pg=$(sed -n 's/^proxy pg=\([^ ]*\) .*/\1/p' "$WORK/proxy.out")
    proxy_redis=$(sed -n 's/.* redis=\([^ ]*\)$/\1/p' "$WORK/proxy.out")
    [ -n "$proxy_pg" ] || { echo "the counting proxy did not start: $(cat "$WORK/proxy.err")" >&2; exit 1; }
    PROXY_PG_URL=$(python3 -c '
import sys, urllib.parse as u
url = u.urlsplit(sys.argv[1])
netloc = (url.netloc.rsplit("@", 1)[0] + "@" if "@" in url.netloc else "") + sys.argv[2]
print(u.urlunsplit(url._replace(netloc=netloc)))' "$PG_URL" "$proxy_pg")
    PROXY_REDIS_URL="redis://$proxy_redis"
  fi

  local path
  for path in $PATHS; do
    local counts="- - - - - -"
    if [ "$COUNT" = 1 ]; then
      counts=$(be_count "$path")
      echo "  $path: round trips per request (PG Redis; server, bare): $counts" >&2
    fi
    local i ours bare lean
    for i in $(seq 1 "$RUNS"); do
      if [ "$i" = 1 ] || [ "$path" = signup ]; then
        [ "$i" = 1 ] || be_stop
        be_start
        be_warm_up "$path" "$URL"
      fi
      lean=-
      # Alternate which goes first, so that a drift favours neither.
      if [ $((i % 2)) = 1 ]; then
        bare=$(be_bare_run "$path" crate)
        [ "$LEAN" != 1 ] || lean=$(be_bare_run "$path" lean)
        ours=$(be_server_run "$path")
      else
        ours=$(be_server_run "$path")
        [ "$LEAN" != 1 ] || lean=$(be_bare_run "$path" lean)
        bare=$(be_bare_run "$path" crate)
      fi
      echo "  $path: server $ours | bare $bare | lean $lean" >&2
      echo "$path|$ours|$bare|$lean|$counts" >>"$PAIRS"
    done
    be_stop
    echo "done: $path" >&2
  done

  echo
  echo "PostgreSQL $(psql "$PG_URL" -Atc 'SHOW server_version' 2>/dev/null || echo '?') + Redis \
$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | sed -n 's/^redis_version:\(.*\)\r$/\1/p'); \
wrk -t1 -c$CONNECTIONS -d${DURATION}s and $CONNECTIONS bare tasks, pool of 16; $RUNS pairs a path, \
alternating; medians; $(nproc) cores; $(uname -m); $(date -u +%Y-%m-%d)"
  python3 - "$PAIRS" "$LEAN" "${GOALS_FILE:-}" <<'PY'
import statistics, sys
# bench/load.sh collects every goal's ratio for its chart.
goals_file = open(sys.argv[3], "a", encoding="utf-8") if sys.argv[3] else None
FIELDS = ("rps", "p50", "p99", "errors", "cpu", "client", "db")
parse = lambda text: dict(zip(FIELDS, (float(x) if x != "-" else None for x in text.split())))
paths = {}
for line in open(sys.argv[1]):
    path, ours, bare, lean, counts = line.rstrip("\n").split("|")
    paths.setdefault(path, []).append((parse(ours), parse(bare), parse(lean) if lean != "-" else None, counts.split()))
lean_on = sys.argv[2] == "1"
med = statistics.median
head = ("| path | server req/s | bare req/s | × bare (median of pairs) | goal | round trips / request, "
        "PG + Redis on the wire: server alone; bare; server at the run's concurrency | server CPU µs/req | bare CPU µs/call | "
        "PG+Redis CPU µs/req: server; bare | p99 ms: server; bare | errors |")
if lean_on:
    head += " lean bare req/s | × lean |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
for path, runs in paths.items():
    m = lambda i, k: med([r[i][k] for r in runs])
    ratio = med([r[0]["rps"] / r[1]["rps"] for r in runs])
    c = runs[0][3]
    trips = ("not counted" if c[0] == "-"
             else f"{c[0]} + {c[1]}; {c[2]} + {c[3]}; under load {c[4]} + {c[5]}")
    errors = int(sum(r[0]["errors"] for r in runs))
    row = (f"| {path} | {m(0, 'rps'):,.0f} | {m(1, 'rps'):,.0f} | {ratio:.2f} | 0.8 "
           f"({'met' if ratio >= 0.8 else 'not met'}) | {trips} | {m(0, 'cpu'):.1f} | {m(1, 'cpu'):.1f} | "
           f"{m(0, 'db'):.1f}; {m(1, 'db'):.1f} | {m(0, 'p99'):.2f}; {m(1, 'p99'):.2f} | {errors} |")
    if lean_on:
        row += f" {m(2, 'rps'):,.0f} | {med([r[0]['rps'] / r[2]['rps'] for r in runs]):.2f} |"
    print(row)
    if goals_file:
        goals_file.write(f"postgres+redis {path}: req/s × bare loop|{ratio:.3f}|0.8|min\n")
PY
}

# For a caller that sources this file: the run in a subshell of its own, whose directory,
# traps and variables stay there.
backends_main() (
  backends_body "$@"
)

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # Signals (Ctrl-C, `timeout`, `kill`) reach this shell: it stops after the step in
  # progress (a run of at most DURATION seconds) and cleans up.
  backends_body "$@"
fi
