#!/usr/bin/env bash
# The load benchmark: the hello-world baseline and the reference server with each store,
# driven by wrk with the guide's request (one existing user, then a new user per request)
# and by redemptions, side by side in one run. Prints one table.
#
# Each scenario's runs are paired with runs of the baseline, alternating which goes first,
# the baseline sent the scenario's own requests where it takes them (a new user id each
# request for the new-user rows: wrk shares the two cores, and such requests cost it more),
# and its ratios are the medians of the pairs' ratios: on a shared machine whose speed drifts
# over minutes, a ratio then compares runs made seconds apart, not minutes. Every scenario's
# server runs from the start, and the pairs are taken in rounds (one of each scenario per
# round), so each scenario's pairs are spread over the whole run.
#
# Run with: bash bench/load.sh
# Knobs: DURATION (seconds per run, 10), RUNS (pairs a scenario, medians of, 5; a median of
# three moved ten points between runs on a shared host), CONNECTIONS (32),
# ONLY (a regex: run the baseline and the scenarios whose label matches, e.g. ONLY=flood;
# ONLY=backends and ONLY='long run' for the two scripts below), CHART (where the SVG chart of
# every ratio against its goal goes, bench/load.svg).
# At the end it runs bench/backends.sh (PostgreSQL and Redis against bare clients) and
# bench/memory.sh (resident memory over a long run, 8 min); about 30 minutes in all.
# The flood scenarios (requests without valid credentials beside legitimate ones, on SQLite
# and, when it runs on 127.0.0.1:5432, PostgreSQL) print a second table.
# Every server starts as the README starts it (RUST_LOG unset: info); two rows at RUST_LOG=warn
# sit beside the default ones for comparison.
# Installs wrk from Debian's packages if it is missing. Loopback only; every run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

DURATION=${DURATION:-10}
RUNS=${RUNS:-5}
CONNECTIONS=${CONNECTIONS:-32}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

need_wrk
cargo build --release --features full --examples >&2
BIN=$EXAMPLES
CLK_TCK=$(getconf CLK_TCK)

# start NAME [VAR=VALUE...]: starts an example on a free port; sets PID and URL. The server
# runs as the README starts it: RUST_LOG unset (the default level, info) unless a scenario
# sets it.
start() {
  local name=$1; shift
  serve "$BIN/$name" "$WORK" TCX_ONE_TIME_TOKEN_TTL=3600 "$@"
}

peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# run PID URL SCRIPT [VAR=VALUE...]: one wrk run against the server PID at URL; prints
# "req_per_s p50_ms p99_ms errors server_cpu_us_per_req client_cpu_us_per_req".
# The client's (wrk's) CPU is shown because on 2 cores it competes with the server's.
run() {
  local pid=$1 url=$2 script=$3; shift 3
  local before after
  before=$(cpu_ticks "$pid")
  { TIMEFORMAT='%U %S'; time env BENCH_KEY="$KEY" "$@" wrk -t1 -c"$CONNECTIONS" \
    -d"${DURATION}s" --latency -s "$script" "$url/user/api/auth/external" >"$WORK/wrk.out"; } \
    2>"$WORK/wrk.time"
  after=$(cpu_ticks "$pid")
  python3 - "$(grep '^RESULT' "$WORK/wrk.out")" "$before" "$after" "$CLK_TCK" \
    "$(tail -1 "$WORK/wrk.time")" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
requests, duration = int(fields["requests"]), int(fields["duration_us"]) / 1e6
cpu_s = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
client_s = sum(float(t) for t in sys.argv[5].split())
per_request = lambda seconds: seconds / max(requests, 1) * 1e6
print(f"{requests / duration:.0f} {int(fields['p50_us']) / 1000:.3f} {int(fields['p99_us']) / 1000:.3f} "
      f"{fields['errors']} {per_request(cpu_s):.2f} {per_request(client_s):.2f}")
PY
}

PAIRS="$WORK/pairs"
: >"$PAIRS"
# Every ratio with a goal, as "label|ratio|goal|min or max" (backends.sh and memory.sh add
# theirs); drawn at the end as an SVG chart (bench/chart.py) at $CHART.
export GOALS_FILE="$WORK/goals"
: >"$GOALS_FILE"
CHART=${CHART:-bench/load.svg}

# The baseline runs throughout; each scenario's runs are paired with runs of it.
start baseline
BASE_PID=$PID BASE_URL=$URL
warm_up "$BASE_URL"

# scenario LABEL SERVER SCRIPT WRK_ENV SERVER_ENV...: starts the scenario's server and warms
# it up; its runs are taken in the rounds below.
LABELS=() SERVER_PIDS=() SERVER_URLS=() SCRIPTS=() WRK_ENVS=()
scenario() {
  local label=$1 server=$2 script=$3 wrk_env=$4; shift 4
  if [ -n "${ONLY:-}" ] && ! [[ $label =~ $ONLY ]]; then
    return
  fi
  start "$server" "$@"
  warm_up "$URL"
  LABELS+=("$label") SERVER_PIDS+=("$PID") SERVER_URLS+=("$URL") SCRIPTS+=("$script")
  WRK_ENVS+=("$wrk_env")
}

# pair INDEX ROUND: one run of scenario INDEX beside one run of the baseline, the baseline
# first in odd rounds and second in even ones, so that a drift favours neither.
pair() {
  local s=$1 round=$2
  local label=${LABELS[$s]} pid=${SERVER_PIDS[$s]} url=${SERVER_URLS[$s]} script=${SCRIPTS[$s]}
  local run_ours run_base ours base
  if [ "$script" = token ]; then
    mint "$url"
    run_ours=(run "$pid" "$url" bench/token.lua TOKENS="$WORK/tokens")
  elif [ "$script" = refresh ]; then
    python3 bench/mint_refresh_tokens.py "${url#http://}" "$KEY" $((CONNECTIONS * 2)) "$WORK/refresh"
    run_ours=(run "$pid" "$url" bench/refresh.lua REFRESH_TOKENS="$WORK/refresh")
  else
    # shellcheck disable=SC2206 # the scenario's wrk variables, one word each
    run_ours=(run "$pid" "$url" "$script" ${WRK_ENVS[$s]})
  fi
  # The baseline gets the scenario's own requests where it can take them: a new user id each
  # request costs wrk more than one repeated body, and wrk shares the two cores.
  local base_users=repeat
  [[ $script = bench/external.lua && ${WRK_ENVS[$s]} = *USERS=distinct* ]] && base_users=distinct
  run_base=(run "$BASE_PID" "$BASE_URL" bench/external.lua USERS=$base_users)
  if [ $((round % 2)) = 1 ]; then
    base=$("${run_base[@]}"); ours=$("${run_ours[@]}")
  else
    ours=$("${run_ours[@]}"); base=$("${run_base[@]}")
  fi
  echo "  round $round, $label: $ours | baseline ($base_users): $base" >&2
  echo "$label|$ours|$base|$(peak_rss_mb "$pid")|$base_users" >>"$PAIRS"
}

# Tokens for one redemption run at URL (default: the current server's): more than the
# server can redeem in DURATION seconds.
mint() {
  mint_tokens "${1:-$URL}" $((DURATION * 120000)) "$WORK/tokens"
}

scenario "memory, existing user" axum bench/external.lua USERS=repeat TCX_DATABASE_URL=memory:
scenario "memory, new user each request" axum bench/external.lua USERS=distinct TCX_DATABASE_URL=memory:
scenario "sqlite (WAL), existing user" axum bench/external.lua USERS=repeat TCX_DATABASE_URL="sqlite://$WORK/bench.db"
scenario "sqlite (WAL), new user each request" axum bench/external.lua USERS=distinct TCX_DATABASE_URL="sqlite://$WORK/bench2.db"
scenario "redeem /token (memory ledger)" axum token - TCX_DATABASE_URL=memory:
scenario "redeem /token (sqlite)" axum token - TCX_DATABASE_URL="sqlite://$WORK/bench3.db"
scenario "refresh /refresh (memory)" axum refresh - TCX_DATABASE_URL=memory:
scenario "refresh /refresh (sqlite)" axum refresh - TCX_DATABASE_URL="sqlite://$WORK/bench4.db"
# Beside the default: the same two in-memory scenarios at RUST_LOG=warn, for comparison.
scenario "memory, existing user (RUST_LOG=warn)" axum bench/external.lua USERS=repeat TCX_DATABASE_URL=memory: RUST_LOG=warn
scenario "memory, new user each request (RUST_LOG=warn)" axum bench/external.lua USERS=distinct TCX_DATABASE_URL=memory: RUST_LOG=warn

# The runs, in rounds: each round takes one pair of every scenario, so a scenario's pairs are
# spread over the whole run rather than taken in one minute, and a slow spell of the shared
# machine weighs on one pair of each scenario, not on all of one scenario's.
for round in $(seq 1 "$RUNS"); do
  for s in "${!LABELS[@]}"; do
    pair "$s" "$round"
  done
done
for pid in "${SERVER_PIDS[@]}"; do
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

# flood LABEL SERVER_ENV...: requests without valid credentials (random refresh tokens at
# /refresh and /sign-out, random API keys at /external). First each kind alone, for the
# server's CPU per request (goal: a flood request costs no more than a wrong-key one); then
# legitimate sign-ups and redemptions (8 connections each) while 16 connections flood (goal:
# no error, i.e. no 503, for the legitimate requests).
flood() {
  local label=$1; shift
  if [ -n "${ONLY:-}" ] && ! [[ $label =~ $ONLY ]]; then
    return
  fi
  start axum "$@"
  warm_up "$URL"
  local mode badkey refresh signout
  for i in $(seq 1 "$RUNS"); do
    for mode in badkey refresh signout; do
      local r
      r=$(run "$PID" "$URL" bench/flood.lua FLOOD=$mode)
      echo "  $label, $mode alone: $r" >&2
      echo "$label|$mode|$r" >>"$WORK/flood"
    done
  done
  mint
  local legit_up="$WORK/legit-up.out" legit_token="$WORK/legit-token.out" flooding="$WORK/flooding.out"
  env BENCH_KEY="$KEY" USERS=distinct wrk -t1 -c8 -d"${DURATION}s" --latency -s bench/external.lua \
    "$URL/user/api/auth/external" >"$legit_up" &
  local up=$!
  env TOKENS="$WORK/tokens" wrk -t1 -c8 -d"${DURATION}s" --latency -s bench/token.lua \
    "$URL/user/api/auth/token" >"$legit_token" &
  local token=$!
  env FLOOD=mix wrk -t1 -c16 -d"${DURATION}s" -s bench/flood.lua "$URL/" >"$flooding" &
  local flooder=$!
  wait $up $token $flooder
  echo "$label|during|$(grep '^RESULT' "$legit_up")|$(grep '^RESULT' "$legit_token")|$(grep '^RESULT' "$flooding")" >>"$WORK/flood"
  kill "$PID"; wait "$PID" 2>/dev/null || true
  echo "done: $label" >&2
}

: >"$WORK/flood"
# As the README starts the server: the default log level (info), not the other rows' warn.
flood "flood, sqlite" TCX_DATABASE_URL="sqlite://$WORK/flood.db"
PG_URL=${TCX_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
PG_SCHEMA=tcx_bench_$RANDOM$RANDOM
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  flood "flood, postgres" TCX_DATABASE_URL="$PG_URL" TCX_DATABASE_SCHEMA="$PG_SCHEMA"
  psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true
fi

BASE_RSS=$(peak_rss_mb "$BASE_PID")
echo
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s, $RUNS runs of each scenario, each paired with a baseline run; medians; $(nproc) cores; $(uname -m); $(date -u +%Y-%m-%d)"
python3 - "$PAIRS" "$BASE_RSS" "$GOALS_FILE" <<'PY'
import statistics, sys
goals_file = open(sys.argv[3], "a", encoding="utf-8")
FIELDS = ("rps", "p50", "p99", "errors", "cpu", "client")
def parse(text):
    return dict(zip(FIELDS, map(float, text.split())))
scenarios, baseline = {}, {"repeat": [], "distinct": []}
for line in open(sys.argv[1]):
    label, ours, base, rss, base_users = line.rstrip("\n").split("|")
    pair = (parse(ours), parse(base))
    scenarios.setdefault(label, []).append((pair, rss))
    baseline[base_users].append(pair[1])
med = lambda xs: statistics.median(xs)
# Issue 17's goals against the baseline: (req/s at least, p99 at most, server CPU at most).
GOALS = {
    "memory, existing user": (0.80, 1.5, 1.25),
    "memory, new user each request": (0.75, None, None),
    "redeem /token (memory ledger)": (0.70, None, None),
}
def verdict(label, goals, ratios):
    said = []
    for name, goal, ratio, at_least in zip(("req/s", "p99", "CPU"), goals, ratios, (True, False, False)):
        if goal is not None:
            goals_file.write(f"{label}: {name}|{ratio:.3f}|{goal}|{'min' if at_least else 'max'}\n")
            met = ratio >= goal if at_least else ratio <= goal
            said.append(f"{name} {'≥' if at_least else '≤'} {goal:.2f}× {'met' if met else 'NOT met'}")
    return "; ".join(said) or "-"
def row(label, runs, ratios, rss):
    rps, p50, p99, cpu, client = (med([r[k] for r in runs]) for k in ("rps", "p50", "p99", "cpu", "client"))
    errors = int(sum(r["errors"] for r in runs))
    rr, pr, cr = ratios
    goals = verdict(label, GOALS[label], ratios) if label in GOALS else "-"
    print(f"| {label} | {rps:,.0f} | {rr:.2f} | {p50:.3f} | {p99:.3f} | {pr:.2f} | {errors} | {cpu:.1f} | {cr:.2f} | {client:.1f} | {rss} | {goals} |")
    return rps
print("| scenario | req/s | × baseline | p50 ms | p99 ms | p99 × baseline | errors | server CPU µs/req | × baseline | wrk CPU µs/req | peak RSS MB | goals |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
BASELINES = {
    "repeat": "baseline (axum, same JSON, constant answer)",
    "distinct": "baseline, a new user id each request (the new-user rows' pairs)",
}
for users, runs in baseline.items():
    if runs:
        row(BASELINES[users], runs, (1.0, 1.0, 1.0), sys.argv[2])
rates = {}
for label, pairs in scenarios.items():
    ours = [p[0] for p, _ in pairs]
    ratio = lambda k: med([p[0][k] / p[1][k] for p, _ in pairs])
    rates[label] = row(label, ours, (ratio("rps"), ratio("p99"), ratio("cpu")), pairs[-1][1])
# The new-user rows are paired with baseline runs of the same requests (since session 8); for
# comparison with earlier runs, their rate against the baseline's one-user runs too.
if baseline["repeat"] and baseline["distinct"]:
    print()
    one_user = med([r["rps"] for r in baseline["repeat"]])
    for label, pairs in scenarios.items():
        if "new user" in label:
            print(f"{label}: {med([p[0]['rps'] for p, _ in pairs]) / one_user:.2f}× the baseline's "
                  f"one-user runs (median over median; the pairing before session 8)")
# SQLite's sign-ups against the in-memory ones of the same run (goal: at least 0.5×).
sqlite, memory = rates.get("sqlite (WAL), new user each request"), rates.get("memory, new user each request")
if sqlite and memory:
    ratio = sqlite / memory
    goals_file.write(f"sqlite sign-ups ÷ memory sign-ups|{ratio:.3f}|0.5|min\n")
    print(f"\nSQLite sign-ups ÷ in-memory sign-ups: {ratio:.2f} (goal ≥ 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
PY
python3 - "$WORK/flood" <<'PY'
import statistics, sys
alone, during = {}, {}
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("|")
    if parts[1] == "during":
        during[parts[0]] = [dict(kv.split("=") for kv in p.split()[1:]) for p in parts[2:]]
    else:
        alone.setdefault(parts[0], {}).setdefault(parts[1], []).append(parts[2].split())
if not alone:
    sys.exit()
print()
print("| flood scenario | wrong API key: server CPU µs/req | random refresh token: µs/req (× wrong key) | random sign-out token: µs/req (× wrong key) | legit sign-ups during the flood: req/s, errors | legit redemptions during the flood: req/s, errors | flood req/s |")
print("|---|---|---|---|---|---|---|")
for label, modes in alone.items():
    cpu = {m: statistics.median(float(r[4]) for r in runs) for m, runs in modes.items()}
    up, token, flood = during[label]
    rate = lambda d: int(d["requests"]) / (int(d["duration_us"]) / 1e6)
    print(f"| {label} | {cpu['badkey']:.1f} | {cpu['refresh']:.1f} ({cpu['refresh'] / cpu['badkey']:.2f}) | "
          f"{cpu['signout']:.1f} ({cpu['signout'] / cpu['badkey']:.2f}) | {rate(up):,.0f}, {up['errors']} | "
          f"{rate(token):,.0f}, {token['errors']} | {rate(flood):,.0f} |")
PY

# PostgreSQL (+ the Redis ledger) against bare clients sending the same statements
# (bench/backends.sh), then the resident memory over a long run with short lifetimes
# (bench/memory.sh); each prints its own table. ONLY=backends or ONLY=long runs one of them.
if [ -z "${ONLY:-}" ] || [[ backends =~ $ONLY ]]; then
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo
    bash bench/backends.sh
  else
    echo "PostgreSQL is not answering on 127.0.0.1:5432: the backend scenarios did not run" >&2
  fi
fi
if [ -z "${ONLY:-}" ] || [[ "long run" =~ $ONLY ]]; then
  echo
  bash bench/memory.sh
fi

python3 bench/chart.py "$GOALS_FILE" "$CHART"
