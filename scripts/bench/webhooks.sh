#!/usr/bin/env bash
# The webhooks part of `make bench` (scripts/bench.sh runs it; alone, after a release build:
# scripts/bench/webhooks.sh). Starts identity, issues (publishing its change events to an
# exchange of this run), webhooks (allowed to call 127.0.0.1) and the gateway from BIN_DIR on ports
# of their own with fresh databases, runs scripts/bench/webhooks.py (change → webhook latency on
# the idle stack, then sustained deliveries per second to a local receiver) and prints its
# Markdown table rows. SWATTER_BENCH_WEBHOOK_SAMPLES, _ENDPOINTS and _EVENTS size the run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${BIN_DIR:-${SWATTER_BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/release}}"
RUN_DIR="$REPO/.run/bench-webhooks"
GATEWAY=127.0.0.1:18180
IDENTITY=127.0.0.1:15151
ISSUES=127.0.0.1:15152
WEBHOOKS=127.0.0.1:15154
PREFIX=swatter.benchwh
DBS=(swatter_benchwh_identity swatter_benchwh_issues swatter_benchwh_webhooks)
PSQL=(env PGOPTIONS=--client-min-messages=warning psql -qtAX -w -h 127.0.0.1 -U postgres -d postgres)

log() { echo "[bench:webhooks] $*" >&2; }
die() { echo "[bench:webhooks] ERROR: $*" >&2; exit 1; }
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

for addr in $GATEWAY $IDENTITY $ISSUES $WEBHOOKS; do
    port_open "$addr" && die "$addr is in use (a previous bench still running?)"
done
mkdir -p "$RUN_DIR"
for db in "${DBS[@]}"; do
    "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done
rm -f "$RUN_DIR/jwt.pem"
"$BIN_DIR/swatter-identity" keygen "$RUN_DIR/jwt.pem" >/dev/null
admin_password="bench-$(od -An -vtx1 -N8 /dev/urandom | tr -d ' \n')"

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    for db in "${DBS[@]}"; do "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
    rabbitmqctl -q list_queues name 2>/dev/null | grep -F "$PREFIX." |
        xargs -r -n1 rabbitmqctl -q delete_queue >/dev/null 2>&1 || true
}
trap cleanup EXIT

start() {
    local name="$1" addr="$2"
    shift 2
    env "$@" RUST_LOG=warn SWATTER_METRICS_ADDR=off SWATTER_JWT_ISSUER=swatter SWATTER_JWT_AUDIENCE=swatter \
        SWATTER_EVENTS_EXCHANGE="$PREFIX.events" SWATTER_QUEUE_PREFIX="$PREFIX" \
        SWATTER_IDENTITY_URL="http://$IDENTITY" SWATTER_ISSUES_URL="http://$ISSUES" \
        "$BIN_DIR/$name" >"$RUN_DIR/$name.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 1 100); do port_open "$addr" && return 0; sleep 0.1; done
    tail -20 "$RUN_DIR/$name.log" >&2
    die "$name did not start"
}
start swatter-identity "$IDENTITY" SWATTER_IDENTITY_ADDR=$IDENTITY \
    SWATTER_IDENTITY_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_benchwh_identity \
    SWATTER_JWT_PRIVATE_KEY_FILE="$RUN_DIR/jwt.pem" SWATTER_ADMIN_USERNAME=admin SWATTER_ADMIN_PASSWORD="$admin_password"
# Issues needs its object store's keys to start (attachments; none are made here).
start swatter-issues "$ISSUES" SWATTER_ISSUES_ADDR=$ISSUES \
    SWATTER_ISSUES_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_benchwh_issues \
    SWATTER_S3_ACCESS_KEY="${SWATTER_S3_ACCESS_KEY:-swatter}" SWATTER_S3_SECRET_KEY="${SWATTER_S3_SECRET_KEY:-swatter-secret}"
start swatter-webhooks "$WEBHOOKS" SWATTER_WEBHOOKS_ADDR=$WEBHOOKS \
    SWATTER_WEBHOOKS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_benchwh_webhooks \
    SWATTER_WEBHOOK_ALLOW_NETWORKS=127.0.0.1/32
start swatter-gateway "$GATEWAY" SWATTER_GATEWAY_ADDR=$GATEWAY SWATTER_WEBHOOKS_URL="http://$WEBHOOKS" \
    SWATTER_REPORTING_URL="http://$ISSUES"
for _ in $(seq 1 50); do curl -sf "http://$GATEWAY/readyz?strict=true" >/dev/null && break; sleep 0.2; done

log "change → webhook latency and sustained deliveries (scripts/bench/webhooks.py)"
python3 "$REPO/scripts/bench/webhooks.py" "http://$GATEWAY" "$admin_password" \
    --samples "${SWATTER_BENCH_WEBHOOK_SAMPLES:-200}" --endpoints "${SWATTER_BENCH_WEBHOOK_ENDPOINTS:-16}" \
    --events "${SWATTER_BENCH_WEBHOOK_EVENTS:-250}"
