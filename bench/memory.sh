#!/usr/bin/env bash
# Memory over a long run (issue 17, goal 5): the reference server (axum, in-memory stores) as
# the README starts it, but with short lifetimes (sessions TCX_SESSION_TTL=30 s, oneTimeTokens
# TCX_ONE_TIME_TOKEN_TTL=10 s), under the whole flow (bench/flow.lua: a sign-in, then the
# redemption of its token; every redemption starts a session and uses a jti) at a steady
# RATE for DURATION seconds. Steady, because the live sessions are the rate times their
# lifetime: at full speed on a shared host whose speed drifts by a quarter from one minute
# to the next, a faster last minute holds more live sessions and reads as growth. The
# resident memory is read every 10 s. Housekeeping runs every 60 s: once the first sessions
# have expired and a pass has forgotten them, the resident memory should stop growing: it
# rises and falls between passes, around a level that stays. Prints the samples and the
# verdict below.
#
# Run with: bash bench/memory.sh
# Knobs: DURATION (seconds, 480: the verdict compares the last two housekeeping intervals,
# which must come after the ramp of the first ~180 s), CONNECTIONS (32), SESSION_TTL (30),
# RATE (requests a second, 20000, half of them redemptions: below what this machine class
# serves at full speed, 25,000-47,000 in past runs; 0 for full speed).
# The verdict: the peak of the last 60 s (one housekeeping interval) against the peak of the
# 60 s before; goal at most 1.10x (flat: memory freed by a pass is reused, not added to).
# Installs wrk from Debian's packages if it is missing. Loopback only; the run is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh

DURATION=${DURATION:-480}
CONNECTIONS=${CONNECTIONS:-32}
SESSION_TTL=${SESSION_TTL:-30}
RATE=${RATE:-20000}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

need_wrk
cargo build --release --features full --example axum >&2

serve "$EXAMPLES/axum" "$WORK" TCX_DATABASE_URL=memory: \
  TCX_SESSION_TTL="$SESSION_TTL" TCX_ONE_TIME_TOKEN_TTL=10

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }

echo "start: $(rss_mb) MB resident" >&2
env BENCH_KEY="$KEY" RATE="$RATE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/flow.lua \
  "$URL/user/api/auth/external" >"$WORK/wrk" &
WRK=$!
: >"$WORK/samples"
for t in $(seq 10 10 "$DURATION"); do
  sleep 10
  echo "$t $(rss_mb)" | tee -a "$WORK/samples" >&2
done
wait $WRK
kill "$PID"; wait "$PID" 2>/dev/null || true

echo
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s bench/flow.lua (a sign-in, then its redemption) paced at RATE=$RATE requests/s (0: full speed), in-memory stores, sessions live ${SESSION_TTL} s, housekeeping every 60 s; $(nproc) cores; $(date -u +%Y-%m-%d)"
python3 - "$WORK/samples" "$(grep '^RESULT' "$WORK/wrk")" "$SESSION_TTL" "${GOALS_FILE:-}" <<'PY'
import sys
samples = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
fields = dict(kv.split("=") for kv in sys.argv[2].split()[1:])
requests, seconds = int(fields["requests"]), int(fields["duration_us"]) / 1e6
print(f"{requests / seconds:,.0f} requests/s (half of them redemptions: {requests / seconds / 2:,.0f} sessions/s), "
      f"{fields['errors']} errors ({fields.get('error_kinds', 'kinds not reported')}), p99 {int(fields['p99_us']) / 1000:.1f} ms")
print("| seconds | " + " | ".join(f"{t:.0f}" for t, _ in samples) + " |")
print("|---" * (len(samples) + 1) + "|")
print("| RSS MB | " + " | ".join(f"{m:.1f}" for _, m in samples) + " |")
end = samples[-1][0]
last = max(m for t, m in samples if t > end - 60)
before = max((m for t, m in samples if end - 120 < t <= end - 60), default=None)
if before is None:
    print("too short a run for a verdict (it needs two housekeeping intervals of samples)")
else:
    verdict = "flat" if last <= before * 1.10 else "still growing"
    if sys.argv[4]:  # bench/load.sh collects every goal's ratio for its chart.
        with open(sys.argv[4], "a", encoding="utf-8") as goals:
            goals.write(f"memory: peak RSS, last 60 s ÷ the 60 s before|{last / before:.3f}|1.1|max\n")
    print(f"peak RSS, the 60 s before the last: {before:.1f} MB; the last 60 s: {last:.1f} MB: "
          f"{last / before:.2f}x ({verdict}; goal: at most 1.10x)")
PY
