#!/usr/bin/env bash
# Brings up the whole swatter dev stack (what `make run` calls): makes sure PostgreSQL, RabbitMQ and
# s3s-fs are up, builds the workspace, starts every service and the gateway in the background with
# logs in .run/, waits until the gateway is ready and prints how to use it. Ctrl-C stops everything
# this script started (PostgreSQL and RabbitMQ keep running; s3s-fs is stopped if this run started it).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

export PATH="$HOME/.cargo/bin:$PATH"
export SWATTER_RUN_DIR="${SWATTER_RUN_DIR:-$REPO/.run}"
RUN_DIR="$SWATTER_RUN_DIR"
BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/debug"

log() { echo "[run] $*"; }
die() { echo "[run] ERROR: $*" >&2; exit 1; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# addr_host / addr_port split "host:port" ("[::1]:port" too); a wildcard host is probed on 127.0.0.1.
addr_port() { echo "${1##*:}"; }
addr_host() {
    local host="${1%:*}"
    host="${host#[}"
    host="${host%]}"
    case "$host" in "" | 0.0.0.0 | :: | "*") host=127.0.0.1 ;; esac
    echo "$host"
}

# --- configuration shared by every process (values already set by the user win) ----------------
export SWATTER_S3_PORT="${SWATTER_S3_PORT:-9900}"
export SWATTER_S3_ENDPOINT="${SWATTER_S3_ENDPOINT:-http://127.0.0.1:$SWATTER_S3_PORT}"
export SWATTER_S3_ACCESS_KEY="${SWATTER_S3_ACCESS_KEY:-swatter}"
export SWATTER_S3_SECRET_KEY="${SWATTER_S3_SECRET_KEY:-swatter-secret}"
export SWATTER_JWT_PRIVATE_KEY_FILE="${SWATTER_JWT_PRIVATE_KEY_FILE:-$RUN_DIR/jwt-ed25519.pem}"
export SWATTER_ADMIN_USERNAME="${SWATTER_ADMIN_USERNAME:-admin}"
# The first admin's password and the reporting service's secret at identity: random, generated
# once per installation under $RUN_DIR (scripts/dev-secrets.sh run), unless set.
export SWATTER_SERVICE_CLIENT_ID="${SWATTER_SERVICE_CLIENT_ID:-reporting}"
if [[ -z ${SWATTER_SERVICE_CLIENT_SECRET:-} || -z ${SWATTER_ADMIN_PASSWORD:-} ]]; then
    "$REPO/scripts/dev-secrets.sh" run >/dev/null
fi
SWATTER_SERVICE_CLIENT_SECRET="${SWATTER_SERVICE_CLIENT_SECRET:-$(cat "$RUN_DIR/service-client-secret")}"
SWATTER_ADMIN_PASSWORD="${SWATTER_ADMIN_PASSWORD:-$(cat "$RUN_DIR/admin-password")}"
export SWATTER_SERVICE_CLIENT_SECRET SWATTER_ADMIN_PASSWORD
export SWATTER_SERVICE_CLIENTS="${SWATTER_SERVICE_CLIENTS:-$SWATTER_SERVICE_CLIENT_ID=$SWATTER_SERVICE_CLIENT_SECRET}"

IDENTITY_ADDR="${SWATTER_IDENTITY_ADDR:-127.0.0.1:50051}"
ISSUES_ADDR="${SWATTER_ISSUES_ADDR:-127.0.0.1:50052}"
REPORTING_ADDR="${SWATTER_REPORTING_ADDR:-127.0.0.1:50053}"
WEBHOOKS_ADDR="${SWATTER_WEBHOOKS_ADDR:-127.0.0.1:50054}"
GATEWAY_ADDR="${SWATTER_GATEWAY_ADDR:-127.0.0.1:8080}"
GATEWAY_URL="http://$(addr_host "$GATEWAY_ADDR"):$(addr_port "$GATEWAY_ADDR")"
# Each service finds the others at the addresses they listen on (unless told otherwise).
export SWATTER_IDENTITY_URL="${SWATTER_IDENTITY_URL:-http://$(addr_host "$IDENTITY_ADDR"):$(addr_port "$IDENTITY_ADDR")}"
export SWATTER_ISSUES_URL="${SWATTER_ISSUES_URL:-http://$(addr_host "$ISSUES_ADDR"):$(addr_port "$ISSUES_ADDR")}"
export SWATTER_REPORTING_URL="${SWATTER_REPORTING_URL:-http://$(addr_host "$REPORTING_ADDR"):$(addr_port "$REPORTING_ADDR")}"
export SWATTER_WEBHOOKS_URL="${SWATTER_WEBHOOKS_URL:-http://$(addr_host "$WEBHOOKS_ADDR"):$(addr_port "$WEBHOOKS_ADDR")}"
# Webhooks refuse loopback and private destinations; the dev stack lets them reach receivers on
# this machine (127.0.0.1 only), which the demo, the checks and local tinkering use.
export SWATTER_WEBHOOK_ALLOW_NETWORKS="${SWATTER_WEBHOOK_ALLOW_NETWORKS:-127.0.0.1/32}"

# --- process management -------------------------------------------------------------------------
pids=()
names=()
cleaned=0
s3_was_up=0 # set to 1 below when s3s-fs was already running: then it is not ours to stop
cleanup() {
    [[ $cleaned -eq 0 ]] || return 0
    cleaned=1
    trap - INT TERM EXIT
    local i pid
    if [[ ${#pids[@]} -gt 0 ]]; then
        log "stopping ${names[*]}"
        # Reverse order: the gateway first, then the services it calls.
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
            kill -TERM "${pids[i]}" 2>/dev/null || true
        done
        for ((i = 0; i < 100; i++)); do
            local alive=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [[ $alive -eq 1 ]] || break
            sleep 0.1
        done
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                log "pid $pid did not stop within 10s; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
        wait 2>/dev/null || true
    fi
    if [[ $s3_was_up -eq 0 && -f $RUN_DIR/s3s-fs.pid ]]; then
        pid="$(cat "$RUN_DIR/s3s-fs.pid")"
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            log "stopping s3s-fs (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
        fi
        rm -f "$RUN_DIR/s3s-fs.pid"
    fi
    log "stopped"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# --- dependencies and build ---------------------------------------------------------------------
port_open 127.0.0.1 "$SWATTER_S3_PORT" && s3_was_up=1

"$REPO/scripts/ensure-deps.sh"

if [[ ${SWATTER_SKIP_BUILD:-0} == 1 ]]; then
    log "not building (SWATTER_SKIP_BUILD=1): running what $BIN_DIR holds"
else
    log "building the workspace (cargo build --workspace --bins)"
    cargo build --workspace --bins
fi

mkdir -p "$RUN_DIR"

# --- what to start: "name address" in start order; services missing from the build are skipped ---
# (no subcommand: `serve`; for swatter-reporting that is the API, relay, sweeper and worker in one)
procs=()
for entry in "swatter-identity $IDENTITY_ADDR" "swatter-issues $ISSUES_ADDR" "swatter-reporting $REPORTING_ADDR" "swatter-webhooks $WEBHOOKS_ADDR"; do
    name="${entry%% *}"
    if [[ -x $BIN_DIR/$name ]]; then
        procs+=("$entry")
    else
        log "skipping $name: $BIN_DIR/$name was not built"
    fi
done
[[ -x $BIN_DIR/swatter-gateway ]] || die "$BIN_DIR/swatter-gateway was not built"
procs+=("swatter-gateway $GATEWAY_ADDR")

for entry in "${procs[@]}"; do
    name="${entry%% *}"
    addr="${entry#* }"
    if port_open "$(addr_host "$addr")" "$(addr_port "$addr")"; then
        die "port $(addr_port "$addr") ($addr, for $name) is already in use; stop whatever listens there (e.g. a previous 'make run': ss -ltnp 'sport = :$(addr_port "$addr")') or set its SWATTER_*_ADDR"
    fi
done

if [[ ! -f $SWATTER_JWT_PRIVATE_KEY_FILE ]]; then
    [[ -x $BIN_DIR/swatter-identity ]] || die "no signing key at $SWATTER_JWT_PRIVATE_KEY_FILE and no swatter-identity binary to create one"
    log "creating a dev signing key at $SWATTER_JWT_PRIVATE_KEY_FILE"
    mkdir -p "$(dirname "$SWATTER_JWT_PRIVATE_KEY_FILE")"
    "$BIN_DIR/swatter-identity" keygen "$SWATTER_JWT_PRIVATE_KEY_FILE"
fi

show_logs() {
    local name
    for name in "${names[@]}"; do
        echo "----- last lines of $RUN_DIR/$name.log -----" >&2
        tail -n 25 "$RUN_DIR/$name.log" >&2 || true
    done
}

# start NAME ADDRESS: runs the binary in the background and waits until it listens on ADDRESS.
start() {
    local name="$1" addr="$2"
    local host port pid i
    host="$(addr_host "$addr")"
    port="$(addr_port "$addr")"
    log "starting $name on $addr (log: $RUN_DIR/$name.log)"
    "$BIN_DIR/$name" >"$RUN_DIR/$name.log" 2>&1 </dev/null &
    pid=$!
    pids+=("$pid")
    names+=("$name")
    for ((i = 0; i < 120; i++)); do
        port_open "$host" "$port" && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            show_logs
            die "$name exited at start (see $RUN_DIR/$name.log)"
        fi
        sleep 0.5
    done
    show_logs
    die "$name did not listen on $addr within 60s (see $RUN_DIR/$name.log)"
}

for entry in "${procs[@]}"; do
    start "${entry%% *}" "${entry#* }"
done

log "waiting for $GATEWAY_URL/readyz?strict=true (every service serving)"
ready=0
for ((i = 0; i < 60; i++)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$GATEWAY_URL/readyz?strict=true" || true)"
    if [[ $code == 200 ]]; then
        ready=1
        break
    fi
    sleep 1
done
if [[ $ready -eq 0 ]]; then
    show_logs
    die "the gateway did not report ready at $GATEWAY_URL/readyz within 60s (last status: ${code:-none})"
fi

cat <<EOF

================================================================================
 swatter is running
================================================================================
 Gateway (REST)   $GATEWAY_URL
 Swagger UI       $GATEWAY_URL/docs
 Dashboard        $GATEWAY_URL/admin/   (operators: log in as the dev admin below)
 OpenAPI          $GATEWAY_URL/openapi.json
 gRPC             identity $IDENTITY_ADDR, issues $ISSUES_ADDR, reporting $REPORTING_ADDR,
                  webhooks $WEBHOOKS_ADDR
                  (reflection is on: grpcurl -plaintext $IDENTITY_ADDR list)
 Started          ${names[*]}
 Dev admin        username '$SWATTER_ADMIN_USERNAME', password '$SWATTER_ADMIN_PASSWORD'
 Logs             $RUN_DIR/<name>.log   (s3s-fs: $RUN_DIR/s3s-fs.log)
 Object store     $SWATTER_S3_ENDPOINT (s3s-fs, key '$SWATTER_S3_ACCESS_KEY', data in $RUN_DIR/s3)
 Webhooks         may call $SWATTER_WEBHOOK_ALLOW_NETWORKS besides public addresses
                  (SWATTER_WEBHOOK_ALLOW_NETWORKS); a receiver to try: scripts/webhook-receiver.py

 Try it:
   curl -s -X POST $GATEWAY_URL/v1/users -H 'Content-Type: application/json' \\
     -d '{"username":"alice","email":"alice@example.com","password":"correct-horse"}'
   TOKEN=\$(curl -s -X POST $GATEWAY_URL/v1/auth/token \\
     -d grant_type=password -d username=alice -d password=correct-horse \\
     | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
   curl -s $GATEWAY_URL/v1/users/me -H "Authorization: Bearer \$TOKEN"

 Ctrl-C stops everything.
================================================================================

EOF

# Stay in the foreground; if any process dies, say which and stop the rest.
while :; do
    status=0
    wait -n "${pids[@]}" || status=$?
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[i]}" 2>/dev/null; then
            echo "[run] ${names[i]} exited (status $status); last lines of $RUN_DIR/${names[i]}.log:" >&2
            tail -n 25 "$RUN_DIR/${names[i]}.log" >&2 || true
            die "stopping everything because ${names[i]} is gone"
        fi
    done
done
