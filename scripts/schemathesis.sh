#!/usr/bin/env bash
# Fuzzes the axum reference server against its OpenAPI document with schemathesis, every
# check on (`--checks all`): status codes, content types, headers, bodies against their
# schemas, positive data accepted, negative data rejected, missing headers, unsupported
# methods, ignored auth, …
#
#   bash scripts/schemathesis.sh            # a few minutes on 2 cores
#
# It makes a Python venv under target/schemathesis (pinned schemathesis from PyPI), builds and
# starts the server as the README does (`cargo run --release --example axum`, in memory, one
# random API key, a random secret), signs a user in with curl to get an access token, and runs
# schemathesis with the API key for the partner's operation and the access token for the
# guarded ones. A fixed seed and a bounded number of examples make runs reproducible.
# Prints the number of generated cases; exits non-zero on any failure.
#
# Variables: ST_FEATURES (cargo feature flags of the server's build, default none),
# ST_PROFILE (cargo profile of the server's build: release, the default, or dev),
# ST_MAX_EXAMPLES (per operation, default 200), ST_SEED (default 20240616),
# ST_WORKERS (default 1: with more, the order of requests, and so the cases, vary).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/schemathesis
VENV=$WORK/venv
SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-200}
SEED=${ST_SEED:-20240616}
WORKERS=${ST_WORKERS:-1}
mkdir -p "$WORK"

# --- schemathesis, pinned ------------------------------------------------------------------
# (and openapi-spec-validator: schemathesis loads a document without checking it against the
# OpenAPI 3.1 meta-schema, so that is done first, on its own.)
if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != *"$SCHEMATHESIS_VERSION"* ]] ||
    [[ ! -x "$VENV/bin/openapi-spec-validator" ]]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
fi

# --- the reference server, started as the README starts it ----------------------------------
# ST_FEATURES (e.g. --all-features) and ST_PROFILE=dev reuse the debug build that .ci/run's
# test step made; the server's settings are the defaults either way.
read -r -a FEATURES <<<"${ST_FEATURES:-}"
FEATURES+=(--profile "${ST_PROFILE:-release}")
cargo build "${FEATURES[@]}" --example axum
KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
SERVER_OUT=$WORK/server.out
SERVER_LOG=$WORK/server.log
TCX_LISTEN=127.0.0.1:0 TCX_DATABASE_URL=memory: TCX_API_KEYS="acme:$KEY" TCX_JWT_SECRET="$SECRET" \
    RUST_LOG=${RUST_LOG:-warn} cargo run "${FEATURES[@]}" --example axum >"$SERVER_OUT" 2>"$SERVER_LOG" &
SERVER_PID=$!
stop_server() {
    # SIGTERM: the server shuts down gracefully (cargo run replaced itself with the server).
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
trap stop_server EXIT

BASE=
for _ in $(seq 1 600); do
    if line=$(grep -m1 '^listening on http://' "$SERVER_OUT" 2>/dev/null); then
        BASE=${line#listening on }
        break
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z $BASE ]]; then
    echo "the server printed no 'listening on' line in 60 s" >&2
    exit 1
fi
echo "server: $BASE" >&2

# --- the document ---------------------------------------------------------------------------
# The one the server serves: built by the library from its code and configuration.
DOCUMENT=$WORK/openapi.json
curl -fsS "$BASE/openapi.json" -o "$DOCUMENT"
"$VENV/bin/openapi-spec-validator" "$DOCUMENT"

# --- an access token, through the guide's flow ----------------------------------------------
OTT=$(curl -fsS -X POST "$BASE/user/api/auth/external" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"id":"schemathesis","email":"schemathesis@example.com","firstName":"Fuzz"}')
SESSION=$(curl -fsS -X POST "$BASE/user/api/auth/token" -H 'X-TechCentrix-App-Id: acme' \
    -H 'Content-Type: application/json' -d "{\"oneTimeToken\":\"$OTT\"}")
ACCESS=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["accessToken"])' "$SESSION")

# Each security scheme gets its own credential: the API key on the partner's operation, the
# access token on sign-out and /me (both are `Authorization: Bearer`, so `-H` cannot do it).
CONFIG=$WORK/schemathesis.toml
cat >"$CONFIG" <<'TOML'
[auth.openapi.partnerApiKey]
bearer = "${TCX_ST_API_KEY}"

[auth.openapi.accessToken]
bearer = "${TCX_ST_ACCESS_TOKEN}"

# !!! KNOWN GAP, NOT A SERVER BUG (reported with issue 16 §1): the SPEC limits `id`,
# `firstName`, `email` and its local part in BYTES of UTF-8; JSON Schema's `maxLength` counts
# characters and nothing else can state a byte limit. So a string of, say, 50 "€" (150 bytes)
# is schema-valid but refused with 400/1, and positive_data_acceptance fails on it (seen with
# --seed 11: an `email` local part of <= 64 characters but > 64 bytes). For this one
# operation strings are generated as ASCII, where characters are bytes and the schema is
# exact; tests/openapi.rs checks non-ASCII profiles against the schema and the service.
# Remove this block if the SPEC's limits become character counts.
[[operations]]
include-operation-id = "signUpOrIn"
generation.codec = "ascii"
TOML

# --- the run --------------------------------------------------------------------------------
LOG=$WORK/schemathesis.log
set +e
# From inside target/ (schemathesis keeps its replay cache in `.schemathesis/` of the working
# directory), without Hypothesis' example database (a run depends on the seed alone).
(cd "$WORK" && TCX_ST_API_KEY=$KEY TCX_ST_ACCESS_TOKEN=$ACCESS \
    "$VENV/bin/schemathesis" --config-file "$CONFIG" run "$DOCUMENT" \
    --url "$BASE" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers "$WORKERS" \
    --request-timeout 10 \
    --report junit --report-junit-path "$WORK/junit.xml" \
    --generation-database none \
    --output-truncate false) 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e

# The summary's count, e.g. "1001 generated, 1001 passed, 246 skipped".
CASES=$(grep -A1 '^Test cases:' "$LOG" | tail -n1 | sed 's/^ *//')
echo "schemathesis: test cases: ${CASES:-none reported} (seed $SEED, $MAX_EXAMPLES examples per operation)"
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" && SERVER_STATUS=0 || SERVER_STATUS=$?
    echo "the server died during the run (exit status $SERVER_STATUS); its log: $SERVER_LOG" >&2
    STATUS=1
fi
if [[ $STATUS -ne 0 ]]; then
    echo "schemathesis failed (exit $STATUS); its output: $LOG; the server's log: $SERVER_LOG" >&2
fi
exit "$STATUS"
