#!/usr/bin/env bash
# scripts/with-stack.sh NAME COMMAND [ARGS...]: runs COMMAND against a whole swatter stack of its
# own, then stops the stack. The stack is scripts/run.sh on free ports, with its own run folder
# (.run/NAME), databases (swatter_NAME_<port>_<service>), queues (swatter.NAME.<port>.*), events
# exchange (swatter.NAME.<port>.events) and s3s-fs, so it never meets `make run` or another check.
# Its webhooks may call receivers on 127.0.0.1 (as `make run`'s). Before COMMAND starts, a user is signed
# up and logged in. COMMAND sees:
#   SWATTER_STACK_URL                    the gateway, http://127.0.0.1:<port>
#   SWATTER_STACK_IDENTITY_ADDR, _ISSUES_ADDR, _REPORTING_ADDR, _WEBHOOKS_ADDR   the gRPC servers (host:port)
#   SWATTER_STACK_USERNAME, _PASSWORD, _TOKEN   the signed-up user and an access token
#   SWATTER_STACK_ADMIN_USERNAME, _ADMIN_PASSWORD   the stack's first admin
#   SWATTER_STACK_RUN_DIR                its run folder (service logs: <binary>.log)
# Settings already in the environment (rate limits, token lifetimes, RUST_LOG, ...) reach the
# services; the addresses, databases, queues and object store are this script's. Metrics
# endpoints are off (their default ports may be taken). Exits with COMMAND's status.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: $0 NAME COMMAND [ARGS...]" >&2; exit 2; }
NAME="$1"
shift
[[ $NAME =~ ^[a-z][a-z0-9]*$ ]] || { echo "with-stack: NAME must be [a-z][a-z0-9]*" >&2; exit 2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PSQL=(env PGOPTIONS=--client-min-messages=warning psql -w -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)

export PATH="$HOME/.cargo/bin:$PATH"

log() { echo "[stack:$NAME] $*"; }
die() { echo "[stack:$NAME] ERROR: $*" >&2; exit 1; }

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

read -r GATEWAY_PORT IDENTITY_PORT ISSUES_PORT REPORTING_PORT WEBHOOKS_PORT S3_PORT <<<"$(free_ports 6)"
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
DB_PREFIX="swatter_${NAME}_$GATEWAY_PORT"
QUEUE_PREFIX="swatter.$NAME.$GATEWAY_PORT"
RUN_DIR="$REPO/.run/$NAME"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"

# The stack's settings (scripts/run.sh and ensure-deps.sh read them; they win over the defaults
# and over what the Makefile exports).
export SWATTER_RUN_DIR="$RUN_DIR"
export SWATTER_GATEWAY_ADDR="127.0.0.1:$GATEWAY_PORT"
export SWATTER_IDENTITY_ADDR="127.0.0.1:$IDENTITY_PORT"
export SWATTER_ISSUES_ADDR="127.0.0.1:$ISSUES_PORT"
export SWATTER_REPORTING_ADDR="127.0.0.1:$REPORTING_PORT"
export SWATTER_WEBHOOKS_ADDR="127.0.0.1:$WEBHOOKS_PORT"
unset SWATTER_IDENTITY_URL SWATTER_ISSUES_URL SWATTER_REPORTING_URL SWATTER_WEBHOOKS_URL SWATTER_S3_PUBLIC_ENDPOINT
unset SWATTER_JWT_PRIVATE_KEY_FILE SWATTER_JWT_VERIFY_KEY_PATHS SWATTER_ADMIN_PASSWORD SWATTER_SERVICE_CLIENT_SECRET SWATTER_SERVICE_CLIENTS
export SWATTER_S3_PORT="$S3_PORT"
export SWATTER_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export SWATTER_METRICS_ADDR=off
export SWATTER_IDENTITY_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_identity"
export SWATTER_ISSUES_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_issues"
export SWATTER_REPORTING_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_reporting"
export SWATTER_WEBHOOKS_DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB_PREFIX}_webhooks"
export SWATTER_QUEUE_PREFIX="$QUEUE_PREFIX"
export SWATTER_EVENTS_EXCHANGE="$QUEUE_PREFIX.events"
export SWATTER_WEBHOOK_ALLOW_NETWORKS="${SWATTER_WEBHOOK_ALLOW_NETWORKS:-127.0.0.1/32}"
# The checks sign up more users from one address than a public stack lets through in an hour.
export SWATTER_SIGNUP_RATE_PER_CLIENT="${SWATTER_SIGNUP_RATE_PER_CLIENT:-0}"
# Request lines are logged at info, 5xx at warn: the gateway's log then lists only the 5xx.
export RUST_LOG="${RUST_LOG:-warn}"

stack_pid=""
# shellcheck disable=SC2329 # called by the EXIT trap below
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $stack_pid ]] && kill -0 "$stack_pid" 2>/dev/null; then
        log "stopping the stack"
        # run.sh stops the services and the gateway on SIGTERM.
        kill -TERM "$stack_pid" 2>/dev/null || true
        wait "$stack_pid" 2>/dev/null || true
    fi
    # ensure-deps.sh started this stack's s3s-fs (so run.sh does not stop it).
    local pid
    pid="$(cat "$RUN_DIR/s3s-fs.pid" 2>/dev/null || true)"
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    local db
    for db in identity issues reporting webhooks; do
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

# PostgreSQL, RabbitMQ, this stack's s3s-fs; then the stack's own databases.
"$REPO/scripts/ensure-deps.sh" >"$RUN_DIR/deps.log" 2>&1 || { cat "$RUN_DIR/deps.log" >&2; die "ensure-deps.sh failed"; }
for db in identity issues reporting webhooks; do
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS ${DB_PREFIX}_$db WITH (FORCE)" -c "CREATE DATABASE ${DB_PREFIX}_$db" >/dev/null
done

# Built here, in sight, so that the wait for /readyz?strict=true below only waits for the programs to start.
# With --all-targets, as `cargo test --workspace --all-targets` builds them: the same features
# (dev-dependencies turn some on), so after make test's cargo test this build has nothing to do.
log "building the workspace (cargo build --workspace --all-targets)"
(cd "$REPO" && cargo build --workspace --all-targets)
export SWATTER_SKIP_BUILD=1

log "starting a stack on $GATEWAY (scripts/run.sh; logs in $RUN_DIR)"
"$REPO/scripts/run.sh" >"$RUN_DIR/stack.log" 2>&1 </dev/null &
stack_pid=$!

ready=0
for ((i = 0; i < 180; i++)); do
    if curl -sf --max-time 2 "$GATEWAY/readyz?strict=true" >/dev/null 2>&1; then
        ready=1
        break
    fi
    kill -0 "$stack_pid" 2>/dev/null || break
    sleep 1
done
if [[ $ready -eq 0 ]]; then
    tail -n 40 "$RUN_DIR/stack.log" >&2
    die "the stack did not become ready at $GATEWAY/readyz?strict=true (log above, in $RUN_DIR/stack.log)"
fi
log "the stack is ready at $GATEWAY"

password="$(od -An -vtx1 -N16 /dev/urandom | tr -d ' \n')"
username="$NAME-user"
code=$(curl -sS -o "$RUN_DIR/sign-up.json" -w '%{http_code}' "$GATEWAY/v1/users" \
    -H 'content-type: application/json' \
    -d "{\"username\":\"$username\",\"email\":\"$username@example.com\",\"password\":\"$password\"}")
[[ $code == 201 ]] || die "signing up $username answered $code: $(cat "$RUN_DIR/sign-up.json")"
code=$(curl -sS -o "$RUN_DIR/token.json" -w '%{http_code}' "$GATEWAY/v1/auth/token" \
    -d grant_type=password -d "username=$username" --data-urlencode "password=$password")
[[ $code == 200 ]] || die "logging in as $username answered $code: $(cat "$RUN_DIR/token.json")"

export SWATTER_STACK_URL="$GATEWAY"
export SWATTER_STACK_IDENTITY_ADDR="$SWATTER_IDENTITY_ADDR"
export SWATTER_STACK_ISSUES_ADDR="$SWATTER_ISSUES_ADDR"
export SWATTER_STACK_REPORTING_ADDR="$SWATTER_REPORTING_ADDR"
export SWATTER_STACK_WEBHOOKS_ADDR="$SWATTER_WEBHOOKS_ADDR"
export SWATTER_STACK_USERNAME="$username"
export SWATTER_STACK_PASSWORD="$password"
SWATTER_STACK_TOKEN="$(jq -r .access_token "$RUN_DIR/token.json")"
export SWATTER_STACK_TOKEN
export SWATTER_STACK_ADMIN_USERNAME="${SWATTER_ADMIN_USERNAME:-admin}"
SWATTER_STACK_ADMIN_PASSWORD="$(cat "$RUN_DIR/admin-password")"
export SWATTER_STACK_ADMIN_PASSWORD
export SWATTER_STACK_RUN_DIR="$RUN_DIR"

status=0
"$@" || status=$?
exit "$status"
