#!/usr/bin/env bash
# The exports part of `make bench` (scripts/bench.sh runs it; alone, after a release build:
# scripts/bench/exports.sh, or `SWATTER_BENCH_ONLY=exports make bench`). Starts identity, issues,
# the reporting API and the gateway from BIN_DIR on ports of their own with fresh databases,
# seeds three projects in bulk (10,000, 100,000 and 300,000 issues, as scripts/bench.sh seeds its
# project), then for each project and each export kind starts a fresh `swatter-reporting worker` process,
# asks for the export of the whole project, and reports the time from `started_at` to
# `finished_at` of the job (running → succeeded, as the service recorded them), the file's size,
# and the worker's peak RSS (VmHWM): the same for 100,000 and 300,000 issues if memory is flat.
# Prints Markdown table rows.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${BIN_DIR:-${SWATTER_BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/release}}"
RUN_DIR="$REPO/.run/bench-exports"
GATEWAY=127.0.0.1:18280
IDENTITY=127.0.0.1:15251
ISSUES=127.0.0.1:15252
REPORTING=127.0.0.1:15253
PREFIX=swatter.benchexp
DBS=(swatter_benchexp_identity swatter_benchexp_issues swatter_benchexp_reporting)
PSQL=(env PGOPTIONS=--client-min-messages=warning psql -qtAX -w -h 127.0.0.1 -U postgres)
read -r -a SIZES <<<"${SWATTER_BENCH_EXPORT_SIZES:-10000 100000 300000}"
TARGET_SECONDS=5

log() { echo "[bench:exports] $*" >&2; }
die() { echo "[bench:exports] ERROR: $*" >&2; exit 1; }
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

for addr in $GATEWAY $IDENTITY $ISSUES $REPORTING; do
    port_open "$addr" && die "$addr is in use (a previous bench still running?)"
done
mkdir -p "$RUN_DIR"
for db in "${DBS[@]}"; do
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done
rm -f "$RUN_DIR/jwt.pem"
"$BIN_DIR/swatter-identity" keygen "$RUN_DIR/jwt.pem" >/dev/null
random() { od -An -vtx1 -N16 /dev/urandom | tr -d ' \n'; }
admin_password="bench-$(random)"
service_secret="bench-$(random)"

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    for db in "${DBS[@]}"; do "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
    rabbitmqctl -q list_queues name 2>/dev/null | grep -F "$PREFIX." |
        xargs -r -n1 rabbitmqctl -q delete_queue >/dev/null 2>&1 || true
}
trap cleanup EXIT

common=(RUST_LOG=warn SWATTER_METRICS_ADDR=off SWATTER_JWT_ISSUER=swatter SWATTER_JWT_AUDIENCE=swatter
    SWATTER_EVENTS_EXCHANGE="$PREFIX.events" SWATTER_QUEUE_PREFIX="$PREFIX"
    SWATTER_IDENTITY_URL="http://$IDENTITY" SWATTER_ISSUES_URL="http://$ISSUES"
    SWATTER_REPORTING_URL="http://$REPORTING"
    SWATTER_SERVICE_CLIENT_ID=reporting SWATTER_SERVICE_CLIENT_SECRET="$service_secret"
    SWATTER_S3_ACCESS_KEY="${SWATTER_S3_ACCESS_KEY:-swatter}" SWATTER_S3_SECRET_KEY="${SWATTER_S3_SECRET_KEY:-swatter-secret}"
    SWATTER_S3_BUCKET=swatter-bench-exports
    SWATTER_REPORTING_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_benchexp_reporting)
# start NAME ADDR [ENV…] [-- ARGS…]: the process in the background, once its port answers (ADDR
# "-" waits for nothing); its pid is $started.
start() {
    local name="$1" addr="$2" args=()
    shift 2
    local envs=()
    while [[ $# -gt 0 && "$1" != -- ]]; do envs+=("$1"); shift; done
    [[ $# -gt 0 ]] && { shift; args=("$@"); }
    env "${common[@]}" "${envs[@]}" "$BIN_DIR/$name" "${args[@]}" >>"$RUN_DIR/$name.log" 2>&1 &
    started=$!
    pids+=("$started")
    [[ "$addr" == - ]] && return 0
    for _ in $(seq 1 100); do port_open "$addr" && return 0; sleep 0.1; done
    tail -20 "$RUN_DIR/$name.log" >&2
    die "$name did not start"
}
start swatter-identity "$IDENTITY" SWATTER_IDENTITY_ADDR=$IDENTITY \
    SWATTER_IDENTITY_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_benchexp_identity \
    SWATTER_JWT_PRIVATE_KEY_FILE="$RUN_DIR/jwt.pem" SWATTER_ADMIN_USERNAME=admin \
    SWATTER_ADMIN_PASSWORD="$admin_password" SWATTER_SERVICE_CLIENTS="reporting=$service_secret"
start swatter-issues "$ISSUES" SWATTER_ISSUES_ADDR=$ISSUES \
    SWATTER_ISSUES_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_benchexp_issues
start swatter-reporting "$REPORTING" SWATTER_REPORTING_ADDR=$REPORTING -- api
start swatter-gateway "$GATEWAY" SWATTER_GATEWAY_ADDR=$GATEWAY
for _ in $(seq 1 50); do curl -sf "http://$GATEWAY/readyz?strict=true" >/dev/null && break; sleep 0.2; done

TOKEN=$(curl -sf "http://$GATEWAY/v1/auth/token" -d grant_type=password -d username=admin \
    -d "password=$admin_password" | jq -r .access_token)
api() { curl -sf -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
admin_id=$(api "http://$GATEWAY/v1/users/me" | jq -r .id)
for size in "${SIZES[@]}"; do
    key="EXP$((size / 1000))K"
    log "seeding project $key with $size issues"
    api "http://$GATEWAY/v1/projects" -d "{\"key\":\"$key\",\"name\":\"Export $size\"}" >/dev/null
    "${PSQL[@]}" -d swatter_benchexp_issues <<SQL
INSERT INTO issues (id, project_id, number, title, description, status, priority, labels, author_id,
                    assignee_id, created_at, updated_at, closed_at, due_on, estimate)
SELECT gen_random_uuid(), p.id, n, 'Issue ' || n || ': something is wrong with part ' || (n % 97),
       'Steps to reproduce ' || n || E'.\nExpected something else, "quoted", with, commas.',
       (ARRAY['open','in_progress','resolved','closed'])[1 + n % 4], 1 + (n / 3) % 4,
       CASE WHEN n % 5 = 0 THEN ARRAY['bug'] ELSE ARRAY['feature','ui'] END, '$admin_id',
       CASE WHEN n % 9 = 0 THEN NULL ELSE '$admin_id'::uuid END,
       now() - n * interval '5 minutes', now() - n * interval '1 minute',
       CASE WHEN n % 4 >= 2 THEN now() - n * interval '30 seconds' END,
       CASE WHEN n % 3 = 0 THEN current_date + (n % 60) END, NULLIF(n % 8, 0)
FROM projects p, generate_series(1, $size) n WHERE p.key = '$key';
SELECT setval(issue_number_sequence(id)::regclass, $size) FROM projects WHERE key = '$key';
ANALYZE issues;
SQL
done

# One export with a worker process of its own: "seconds bytes peak_mib".
measure() {
    local kind="$1" key="$2" job state worker peak
    start swatter-reporting - -- worker
    worker=$started
    sleep 1
    job=$(api "http://$GATEWAY/v1/reports" -d "{\"kind\":\"$kind\",\"project_key\":\"$key\"}" | jq -r .id)
    for _ in $(seq 1 1200); do
        state=$(api "http://$GATEWAY/v1/jobs/$job" | jq -r .state)
        [[ "$state" == succeeded || "$state" == failed || "$state" == cancelled ]] && break
        sleep 0.1
    done
    [[ "$state" == succeeded ]] || die "the $kind export of $key ended $state"
    peak=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$worker/status")
    kill -TERM "$worker"
    wait "$worker" 2>/dev/null || true
    api "http://$GATEWAY/v1/jobs/$job" | jq -r --arg peak "$peak" '
        def secs: sub("\\.[0-9]+Z$"; "Z") as $whole
            | ($whole | fromdateiso8601) + ((capture("\\.(?<f>[0-9]+)Z$").f // "0") | "0." + . | tonumber);
        "\((.finished_at | secs) - (.started_at | secs)) \(.artifact.size_bytes) \($peak)"'
}

for size in "${SIZES[@]}"; do
    key="EXP$((size / 1000))K"
    for kind in issues_csv issues_json; do
        log "$kind of $key ($size issues), a fresh worker process"
        read -r seconds bytes peak < <(measure "$kind" "$key")
        met=—
        if [[ "$size" -eq 100000 ]]; then
            met=no
            awk -v s="$seconds" -v t=$TARGET_SECONDS 'BEGIN { exit !(s <= t) }' && met=yes
        fi
        printf '| %s, %s issues | %.2f s | %.1f MiB | %s MiB | ≤ %s s for 100,000 | %s |\n' \
            "$kind" "$size" "$seconds" "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" \
            "$peak" "$TARGET_SECONDS" "$met"
    done
done
