# Shared by the bench scripts (sourced, not run): the bench's key and secret, wrk, starting a
# server as the README starts it, warming it up, minting oneTimeTokens for redemption runs,
# and CPU readings from /proc.

# Where `cargo build --release --examples` puts the servers (under CARGO_TARGET_DIR when set).
EXAMPLES=${CARGO_TARGET_DIR:-target}/release/examples

KEY=bench-key-0123456789abcdef0123456789abcdef
SECRET=bench-secret-0123456789abcdef0123456789abcdef

# need_wrk: installs wrk from Debian's packages if it is missing.
need_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)..." >&2
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
  fi
}

# serve BINARY DIR [VAR=VALUE...]: starts a server on a free loopback port as the README
# starts it (RUST_LOG unset, so the default level, unless given), with the bench's key and
# secret and the settings given; its output goes to files in DIR. Sets PID and URL; stops
# the script if the server does not start.
serve() {
  local bin=$1 dir=$2; shift 2
  local out
  out="$dir/$(basename "$bin").$RANDOM"
  env -u RUST_LOG TCX_LISTEN=127.0.0.1:0 TCX_API_KEYS="bench:$KEY" TCX_JWT_SECRET="$SECRET" \
    "$@" "$bin" >"$out.out" 2>"$out.err" &
  PID=$!
  for _ in $(seq 1 100); do
    grep -q '^listening on' "$out.out" 2>/dev/null && break
    sleep 0.1
  done
  URL=$(sed -n 's/^listening on //p' "$out.out")
  [ -n "$URL" ] || { echo "$(basename "$bin") did not start: $(cat "$out.err")" >&2; exit 1; }
}

# cpu_ticks PID: the user and system CPU ticks of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# db_ticks: "pid ticks" lines, one for each local postgres and redis-server process (read in
# Python: awk would stop at the first process that exits while it reads).
db_ticks() {
  python3 -c '
import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    name, fields = stat[stat.find("(") + 1:stat.rfind(")")], stat[stat.rfind(")") + 2:].split()
    if name in ("postgres", "redis-server"):
        print(pid, int(fields[11]) + int(fields[12]))'
}

# warm_up URL: a second of the repeated user (which signs it up).
warm_up() {
  env BENCH_KEY="$KEY" USERS=repeat wrk -t1 -c4 -d1s -s bench/external.lua \
    "$1/user/api/auth/external" >/dev/null
}

# mint_tokens URL COUNT FILE: COUNT oneTimeTokens for the server at URL, as complete
# redemption requests in FILE (bench/mint_tokens.py), from the claims of a token it issued.
mint_tokens() {
  local url=$1 count=$2 file=$3 template
  template=$(curl -s -X POST "$url/user/api/auth/external" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"id":"user1-external","email":"user1@techcentrix.com","firstName":"User1Name"}')
  python3 bench/mint_tokens.py "$SECRET" "$template" "$count" "$file" "${url#http://}" bench
}
