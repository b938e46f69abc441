#!/usr/bin/env bash
# `make fuzz`: property-based fuzzing of the REST API with schemathesis. Starts a whole stack of
# its own (scripts/run.sh on free ports, with its own run folder, databases, queues and s3s-fs),
# signs up a user and logs in, runs `schemathesis run` against the stack's /openapi.json with that
# user's bearer token, a fixed seed and bounds on examples and time, then stops the stack. Fails
# when schemathesis finds a failure of the checks (by default `not_a_server_error`: any 5xx).
# `make test` runs a short round (SWATTER_FUZZ_MAX_TIME=90). Logs, the JUnit report and the
# stack's files are kept in .run/fuzz/ until the next run.
#
# schemathesis comes from PyPI, pinned with its dependencies in scripts/fuzz-tools.txt, into a
# virtualenv under $SWATTER_TOOLS_DIR (default .run/tools), once.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
TOOLS_DIR="${SWATTER_TOOLS_DIR:-$REPO/.run/tools}"
VENV="$TOOLS_DIR/fuzz"
REQUIREMENTS="$REPO/scripts/fuzz-tools.txt"
MAX_EXAMPLES="${SWATTER_FUZZ_MAX_EXAMPLES:-100}"
MAX_TIME="${SWATTER_FUZZ_MAX_TIME:-600}"
SEED="${SWATTER_FUZZ_SEED:-20261130}"
CHECKS="${SWATTER_FUZZ_CHECKS:-not_a_server_error}"
WORKERS="${SWATTER_FUZZ_WORKERS:-1}"
PSQL=(env PGOPTIONS=--client-min-messages=warning psql -w -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)

export PATH="$HOME/.cargo/bin:$PATH"

log() { echo "[fuzz] $*"; }
die() { echo "[fuzz] ERROR: $*" >&2; exit 1; }

# free_ports N: N TCP ports on 127.0.0.1 that nothing listens on (the kernel's choice).
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
EOF
}

scripts/ensure-venv.sh "$VENV" "$REQUIREMENTS"

read -r GATEWAY_PORT IDENTITY_PORT ISSUES_PORT REPORTING_PORT S3_PORT <<<"$(free_ports 5)"
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
DB_PREFIX="swatter_fuzz_$GATEWAY_PORT"
QUEUE_PREFIX="swatter.fuzz.$GATEWAY_PORT"
RUN_DIR="$REPO/.run/fuzz"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"

# The stack's settings (scripts/run.sh and ensure-deps.sh read them; they win over the defaults
# and over what the Makefile exports). Metrics are off: the default ports may be taken.
export SWATTER_RUN_DIR="$RUN_DIR"
export SWATTER_GATEWAY_ADDR="127.0.0.1:$GATEWAY_PORT"
export SWATTER_IDENTITY_ADDR="127.0.0.1:$IDENTITY_PORT"
export SWATTER_ISSUES_ADDR="127.0.0.1:$ISSUES_PORT"
export SWATTER_REPORTING_ADDR="127.0.0.1:$REPORTING_PORT"
unset SWATTER_IDENTITY_URL SWATTER_ISSUES_URL SWATTER_REPORTING_URL SWATTER_S3_PUBLIC_ENDPOINT
export SWATTER_S3_PORT="$S3_PORT"
export SWATTER_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export SWATTER_METRICS_ADDR=off
export SWATTER_IDENTITY_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_identity"
export SWATTER_ISSUES_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_issues"
export SWATTER_REPORTING_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_reporting"
export SWATTER_QUEUE_PREFIX="$QUEUE_PREFIX"
# The token must outlive the run.
export SWATTER_ACCESS_TOKEN_TTL_SECS=86400
# Request lines are logged at info, 5xx at warn: the gateway's log then lists only the 5xx.
export RUST_LOG="${RUST_LOG:-warn}"

stack_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $stack_pid ]] && kill -0 "$stack_pid" 2>/dev/null; then
        log "stopping the stack"
        # run.sh stops the services and the gateway on SIGTERM.
        kill -TERM "$stack_pid" 2>/dev/null || true
        wait "$stack_pid" 2>/dev/null || true
    fi
    # ensure-deps.sh started this run's s3s-fs (so run.sh does not stop it).
    local pid
    pid="$(cat "$RUN_DIR/s3s-fs.pid" 2>/dev/null || true)"
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    local db
    for db in identity issues reporting; do
        "${PSQL[@]}" -c "DROP DATABASE IF EXISTS ${DB_PREFIX}_$db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if command -v rabbitmqctl >/dev/null 2>&1; then
        rabbitmqctl -q list_queues name 2>/dev/null | grep -F "$QUEUE_PREFIX" |
            xargs -r -n1 rabbitmqctl -q delete_queue >/dev/null 2>&1 || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL, RabbitMQ, this run's s3s-fs, the tools; then the run's own databases.
scripts/ensure-deps.sh >"$RUN_DIR/deps.log" 2>&1 || { cat "$RUN_DIR/deps.log" >&2; die "ensure-deps.sh failed"; }
for db in identity issues reporting; do
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS ${DB_PREFIX}_$db WITH (FORCE)" -c "CREATE DATABASE ${DB_PREFIX}_$db" >/dev/null
done

# Built here, in sight, so that the wait for /readyz below only waits for the programs to start.
log "building the workspace (cargo build --workspace --bins)"
cargo build --workspace --bins

log "starting a stack on $GATEWAY (scripts/run.sh; logs in $RUN_DIR)"
scripts/run.sh >"$RUN_DIR/stack.log" 2>&1 </dev/null &
stack_pid=$!

ready=0
for ((i = 0; i < 180; i++)); do
    if curl -sf --max-time 2 "$GATEWAY/readyz" >/dev/null 2>&1; then
        ready=1
        break
    fi
    kill -0 "$stack_pid" 2>/dev/null || break
    sleep 1
done
if [[ $ready -eq 0 ]]; then
    tail -n 40 "$RUN_DIR/stack.log" >&2
    die "the stack did not become ready at $GATEWAY/readyz (log above, in $RUN_DIR/stack.log)"
fi
log "the stack is ready"

password="$(od -An -vtx1 -N16 /dev/urandom | tr -d ' \n')"
code=$(curl -sS -o "$RUN_DIR/sign-up.json" -w '%{http_code}' "$GATEWAY/v1/users" \
    -H 'content-type: application/json' \
    -d "{\"username\":\"fuzzer\",\"email\":\"fuzzer@example.com\",\"password\":\"$password\"}")
[[ $code == 201 ]] || die "signing up the fuzzing user answered $code: $(cat "$RUN_DIR/sign-up.json")"
code=$(curl -sS -o "$RUN_DIR/token.json" -w '%{http_code}' "$GATEWAY/v1/auth/token" \
    -d grant_type=password -d username=fuzzer --data-urlencode "password=$password")
[[ $code == 200 ]] || die "logging in as the fuzzing user answered $code: $(cat "$RUN_DIR/token.json")"
token="$(jq -r .access_token "$RUN_DIR/token.json")"

log "schemathesis: checks $CHECKS, seed $SEED, at most $MAX_EXAMPLES examples per operation and ${MAX_TIME}s"
status=0
# From the run folder: schemathesis keeps a cache of what it found in .schemathesis/ of the
# current folder, and each run starts from the seed alone.
cd "$RUN_DIR"
"$VENV/bin/schemathesis" run "$GATEWAY/openapi.json" \
    --checks "$CHECKS" \
    --seed "$SEED" \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --workers "$WORKERS" \
    --request-timeout 30 \
    --header "Authorization: Bearer $token" \
    --generation-database none \
    --report junit --report-dir "$RUN_DIR/report" \
    --no-color || status=$?
if [[ $status -ne 0 ]]; then
    log "schemathesis found failures (above; JUnit report in $RUN_DIR/report; the 5xx answers are in $RUN_DIR/swatter-gateway.log)"
    exit "$status"
fi
log "no failures"
