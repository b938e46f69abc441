#!/usr/bin/env bash
# `make bench`: a reproducible load benchmark of the REST API. Builds in release, starts identity,
# issues and the gateway on their own ports with their own databases, seeds a project with 100,000
# issues and 50,000 comments, measures `pgbench -S -c 32` in the same run as the yardstick, then
# drives each scenario with wrk (32 connections, 20 s) and records req/s, its ratio to pgbench, p50,
# p99, errors, the target and every process's peak RSS; then the reporting benchmarks (typst render
# times, end-to-end pipeline latency, throughput and worker memory), and the webhooks ones
# (scripts/bench/webhooks.sh: change → webhook received latency, sustained deliveries per second),
# and the attachments one (scripts/bench/attachments.py: presign + confirm latency, 25 MiB end to end),
# and the exports one (scripts/bench/exports.sh: 10,000, 100,000 and 300,000 issues as CSV and
# JSON, time and the worker's peak memory).
# All of it goes to BENCHMARKS.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export PATH="$HOME/.cargo/bin:$PATH"
RUN_DIR="$REPO/.run/bench"
# SWATTER_BENCH_BIN_DIR: benchmark binaries built elsewhere (another commit, to compare) instead of
# building this tree.
BIN_DIR="${SWATTER_BENCH_BIN_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/release}"
DURATION="${SWATTER_BENCH_DURATION:-20s}"
CONNECTIONS="${SWATTER_BENCH_CONNECTIONS:-32}"
ISSUES=100000
COMMENTS=50000
FEED_EVENTS=50000
GATEWAY=127.0.0.1:18080
IDENTITY=127.0.0.1:15051
ISSUES_ADDR=127.0.0.1:15052
PSQL=(psql -qtAX -w -h 127.0.0.1 -U postgres)

log() { echo "[bench] $*"; }
die() { echo "[bench] ERROR: $*" >&2; exit 1; }
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

"$REPO/scripts/ensure-deps.sh"
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
        || { dpkg --configure -a; apt-get install -y -qq wrk >/dev/null; }
fi
command -v pgbench >/dev/null || die "pgbench (postgresql-contrib / postgresql-client) is missing"
command -v jq >/dev/null || apt-get install -y -qq jq >/dev/null 2>&1 || { dpkg --configure -a; apt-get install -y -qq jq >/dev/null; }

for addr in $GATEWAY $IDENTITY $ISSUES_ADDR; do
    port_open "$addr" && die "$addr is in use (a previous bench still running?)"
done

if [[ -z "${SWATTER_BENCH_BIN_DIR:-}" ]]; then
    log "building release binaries"
    cargo build --release --bins -p swatter-identity -p swatter-issues -p swatter-gateway -p swatter-webhooks \
        -p swatter-reporting
fi

mkdir -p "$RUN_DIR"
for db in swatter_bench_identity swatter_bench_issues; do
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db"
done
rm -f "$RUN_DIR/jwt.pem"
"$BIN_DIR/swatter-identity" keygen "$RUN_DIR/jwt.pem" >/dev/null

pids=()
names=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT

start() {
    local name="$1" addr="$2"
    shift 2
    env "$@" RUST_LOG=warn "$BIN_DIR/$name" >"$RUN_DIR/$name.log" 2>&1 &
    pids+=("$!")
    names+=("$name")
    for _ in $(seq 1 100); do port_open "$addr" && return 0; sleep 0.1; done
    tail -20 "$RUN_DIR/$name.log"
    die "$name did not start"
}
common=(SWATTER_JWT_ISSUER=swatter SWATTER_JWT_AUDIENCE=swatter SWATTER_DATABASE_MAX_CONNECTIONS=16)
start swatter-identity "$IDENTITY" "${common[@]}" SWATTER_IDENTITY_ADDR=$IDENTITY \
    SWATTER_IDENTITY_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_bench_identity \
    SWATTER_JWT_PRIVATE_KEY_FILE="$RUN_DIR/jwt.pem" SWATTER_ADMIN_USERNAME=admin SWATTER_ADMIN_PASSWORD=swatter-admin
# Attachments live in the object store ensure-deps.sh started (s3s-fs, `make run`'s defaults).
S3_ENDPOINT="${SWATTER_S3_ENDPOINT:-http://127.0.0.1:${SWATTER_S3_PORT:-9900}}"
start swatter-issues "$ISSUES_ADDR" "${common[@]}" SWATTER_ISSUES_ADDR=$ISSUES_ADDR \
    SWATTER_ISSUES_DATABASE_URL=postgres://postgres@127.0.0.1:5432/swatter_bench_issues \
    SWATTER_IDENTITY_URL=http://$IDENTITY SWATTER_S3_ENDPOINT="$S3_ENDPOINT" \
    SWATTER_S3_ACCESS_KEY="${SWATTER_S3_ACCESS_KEY:-swatter}" SWATTER_S3_SECRET_KEY="${SWATTER_S3_SECRET_KEY:-swatter-secret}" \
    SWATTER_ATTACHMENTS_BUCKET=swatter-bench-attachments
# The login flood below uses the right password: identity throttles failures only, so every
# request really reaches argon2.
start swatter-gateway "$GATEWAY" SWATTER_JWT_ISSUER=swatter SWATTER_JWT_AUDIENCE=swatter \
    SWATTER_GATEWAY_ADDR=$GATEWAY SWATTER_IDENTITY_URL=http://$IDENTITY SWATTER_ISSUES_URL=http://$ISSUES_ADDR
for _ in $(seq 1 50); do curl -sf "http://$GATEWAY/readyz?strict=true" >/dev/null && break; sleep 0.2; done

api() { curl -sf -H "authorization: Bearer ${TOKEN:-}" -H 'content-type: application/json' "$@"; }
log "seeding: users, project BENCH, $ISSUES issues, $COMMENTS comments"
TOKEN=$(curl -sf "http://$GATEWAY/v1/auth/token" -d grant_type=password -d username=admin -d password=swatter-admin | jq -r .access_token)
api "http://$GATEWAY/v1/projects" -d '{"key":"BENCH","name":"Benchmark project"}' >/dev/null
member_ids=()
for n in $(seq 1 8); do
    id=$(api "http://$GATEWAY/v1/users" -d "{\"username\":\"dev$n\",\"email\":\"dev$n@bench.test\",\"password\":\"bench-password\"}" | jq -r .id)
    api -X PUT "http://$GATEWAY/v1/projects/BENCH/members/$id" -d '{"role":"maintainer"}' >/dev/null
    member_ids+=("$id")
done
admin_id=$(api "http://$GATEWAY/v1/users/me" | jq -r .id)
member_uuids="{$(IFS=,; echo "${member_ids[*]}")}"
# Statistics as autovacuum may leave them: taken while the table was empty, then 100,000 rows
# arrive in one statement and nobody analyzes (autovacuum is held off until the stale run is done).
"${PSQL[@]}" -d swatter_bench_issues <<SQL
ANALYZE issues;
ALTER TABLE issues SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
INSERT INTO issues (id, project_id, number, title, description, status, priority, labels, author_id,
                    assignee_id, created_at, updated_at, closed_at)
SELECT gen_random_uuid(), p.id, n, 'Issue ' || n || ': something is wrong with part ' || (n % 97),
       'Steps to reproduce ' || n || E'.\nExpected something else.',
       (ARRAY['open','in_progress','resolved','closed'])[1 + n % 4], 1 + (n / 3) % 4,
       CASE WHEN n % 5 = 0 THEN ARRAY['bug'] ELSE ARRAY['feature','ui'] END, '$admin_id',
       CASE WHEN n % 9 = 0 THEN NULL ELSE ('$member_uuids'::uuid[])[1 + n % 8] END,
       now() - n * interval '5 minutes', now() - n * interval '1 minute',
       CASE WHEN n % 4 >= 2 THEN now() - n * interval '30 seconds' END
FROM projects p, generate_series(1, $ISSUES) n WHERE p.key = 'BENCH';
SELECT setval(issue_number_sequence(id)::regclass, $ISSUES) FROM projects WHERE key = 'BENCH';
INSERT INTO comments (id, issue_id, author_id, body, created_at, updated_at)
SELECT gen_random_uuid(), i.id, '$admin_id', 'Comment ' || c || ' on issue ' || i.number,
       i.created_at + c * interval '1 minute', i.created_at + c * interval '1 minute'
FROM issues i, generate_series(1, 5) c WHERE i.number <= $COMMENTS / 5;
ANALYZE comments;
SQL
# The change feed: $FEED_EVENTS issue events after the project's own (creation, members), as the
# service writes them (the issue's REST JSON as data), so that paging reads realistic rows.
# Reading the feed first numbers the project's own events, so the seeded ones come after them.
api "http://$GATEWAY/v1/projects/BENCH/changes?page_size=1" >/dev/null
"${PSQL[@]}" -d swatter_bench_issues <<SQL
WITH p AS (SELECT id FROM projects WHERE key = 'BENCH'),
     h AS (SELECT last_cursor FROM change_heads WHERE project_id = (SELECT id FROM p))
INSERT INTO changes (project_id, cursor, id, type, data, occurred_at)
SELECT p.id, h.last_cursor + i.number, gen_random_uuid(), 'issue.updated',
       jsonb_build_object('id', i.id, 'key', 'BENCH-' || i.number, 'project_key', 'BENCH',
           'number', i.number, 'title', i.title, 'description', i.description, 'status', i.status,
           'priority', 'medium', 'labels', to_jsonb(i.labels), 'author_id', i.author_id,
           'assignee_id', i.assignee_id, 'created_at', i.created_at, 'updated_at', i.updated_at,
           'closed_at', i.closed_at, 'version', i.version),
       now()
FROM p, h, issues i WHERE i.project_id = p.id AND i.number <= $FEED_EVENTS;
UPDATE change_heads SET last_cursor = last_cursor + $FEED_EVENTS
WHERE project_id = (SELECT id FROM projects WHERE key = 'BENCH');
ANALYZE changes;
SQL
# The 304 scenario sends each issue's current ETag: the first 10,000 issues' tags, one per line.
"${PSQL[@]}" -d swatter_bench_issues -c "SELECT '\"' || replace(id::text, '-', '') || '-' || version || '\"'
    FROM issues WHERE number <= 10000 ORDER BY number" >"$RUN_DIR/etags.txt"
export SWATTER_BENCH_ETAGS="$RUN_DIR/etags.txt"
export SWATTER_BENCH_TOKEN="$TOKEN" SWATTER_BENCH_ISSUES=$ISSUES
# The same GET with a personal access token (read scope) instead of the JWT: identity is asked
# about it every 2 s per service, never per request.
PAT=$(api "http://$GATEWAY/v1/users/me/tokens" -d '{"name":"bench","scopes":["read"]}' | jq -r .secret)
[[ "$PAT" == swt_pat_* ]] || die "could not create a personal access token"
export SWATTER_BENCH_PAT="$PAT"

# The yardstick, measured in this run on this machine: PostgreSQL answering single-row selects by
# primary key (`pgbench -S`, 32 clients). Every scenario is also reported as a ratio to it.
log "pgbench -S -c $CONNECTIONS -T ${DURATION%s} (yardstick)"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS swatter_bench_pgbench WITH (FORCE)"
"${PSQL[@]}" -d postgres -c "CREATE DATABASE swatter_bench_pgbench"
pgbench -h 127.0.0.1 -U postgres -i -q -s 10 swatter_bench_pgbench >"$RUN_DIR/pgbench-init.txt" 2>&1
pgbench_out=$(pgbench -h 127.0.0.1 -U postgres -S -n -c "$CONNECTIONS" -j 2 -T "${DURATION%s}" swatter_bench_pgbench 2>&1)
echo "$pgbench_out" >"$RUN_DIR/pgbench.txt"
PGBENCH_TPS=$(awk '/^tps = / {printf "%.0f", $3; exit}' <<<"$pgbench_out")
[[ -n "$PGBENCH_TPS" && "$PGBENCH_TPS" -gt 0 ]] || die "pgbench gave no tps: $pgbench_out"
echo "    $PGBENCH_TPS tps"

# wrk prints latencies as 950.00us, 6.25ms or 1.07s: in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'; }

# CPU time (ticks) of each process: "pid ticks" lines, utime + stime from /proc.
TICK_MS=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN { print 1000 / hz }')
cpu_snapshot() {
    local pid
    for pid in "$@"; do
        [[ -r /proc/$pid/stat ]] || continue
        awk -v pid="$pid" '{ sub(/^.*\) /, ""); print pid, $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true
    done
}
# CPU (ms) used between two snapshots by the processes alive at the second: a process that started
# in between counts from zero; one that exited in between is not counted (its time is gone).
cpu_delta_ms() {
    awk -v ms="$TICK_MS" 'NR == FNR { before[$1] = $2; next } { total += $2 - before[$1] }
        END { printf "%.0f", total * ms }' <(echo "$1") <(echo "$2")
}
# The processes each scenario is charged: the gateway, issues, identity, PostgreSQL (every
# process of the server).
cpu_groups() { echo "${pids[2]}" "${pids[1]}" "${pids[0]}" "$(pgrep -d, -x postgres)"; }

results=()
cpu_rows=()
declare -A RPS
# run NAME SCRIPT TARGET: TARGET is `ratio:X` (req/s ≥ X × pgbench), `rps:N`, `rps-of:NAME`
# (at least that scenario's rate) or empty; reads (`read` as a 4th argument) must also have
# p99 ≤ 15 ms.
run() {
    local name="$1" script="$2" target="${3:-}" kind="${4:-}"
    # SWATTER_BENCH_ONLY: a pattern (grep -E) of the scenarios to run; the others are skipped.
    if [[ -n "${SWATTER_BENCH_ONLY:-}" ]] && ! grep -qE "$SWATTER_BENCH_ONLY" <<<"$name"; then
        return 0
    fi
    log "$name: wrk -c$CONNECTIONS -d$DURATION"
    local out before=() after=() group groups members
    read -r -a groups <<<"$(cpu_groups)"
    for group in "${groups[@]}"; do
        IFS=, read -r -a members <<<"$group"
        before+=("$(cpu_snapshot "${members[@]}")")
    done
    local perf=""
    # SWATTER_BENCH_PROFILE=1 profiles the GET scenario; another value names the script to profile.
    local profiled="${SWATTER_BENCH_PROFILE:-0}"
    [[ "$profiled" == 1 ]] && profiled=get_issue.lua
    if [[ "$profiled" == "$script" ]]; then
        # The whole machine for 10 s in the middle of the run, with call stacks (DWARF: release
        # builds keep line tables, not frame pointers).
        (sleep 5 && perf record -q -a -F 199 --call-graph dwarf,16384 -o "$RUN_DIR/perf.data" -- sleep 10 \
            >"$RUN_DIR/perf-record.log" 2>&1) &
        perf=$!
    fi
    out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$REPO/scripts/bench/$script" "http://$GATEWAY")
    if [[ -n "$perf" ]]; then
        wait "$perf"
        perf report -i "$RUN_DIR/perf.data" --no-inline --no-children --sort comm,dso,sym --stdio -g none --percent-limit 0.3 2>/dev/null \
            >"$RUN_DIR/perf-report.txt" || true
        perf report -i "$RUN_DIR/perf.data" --no-inline --no-children --sort comm --stdio -g none 2>/dev/null \
            >"$RUN_DIR/perf-by-process.txt" || true
        log "profile of $name: $RUN_DIR/perf-report.txt (by process: perf-by-process.txt)"
    fi
    read -r -a groups <<<"$(cpu_groups)"
    for group in "${groups[@]}"; do
        IFS=, read -r -a members <<<"$group"
        after+=("$(cpu_snapshot "${members[@]}")")
    done
    echo "$out" >"$RUN_DIR/$script.$(tr -c 'a-z0-9' _ <<<"$name").txt"
    local rps p50 p99 errors ratio goal="" met=yes
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    RPS[$name]=$rps
    # CPU per request (µs) of gateway, issues, identity, PostgreSQL.
    local requests cpu_us=()
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    for i in 0 1 2 3; do
        cpu_us+=("$(awk -v ms="$(cpu_delta_ms "${before[i]}" "${after[i]}")" -v n="$requests" 'BEGIN { printf "%.0f", ms * 1000 / n }')")
    done
    cpu_rows+=("| $name | ${cpu_us[0]} | ${cpu_us[1]} | ${cpu_us[2]} | ${cpu_us[3]} | $((cpu_us[0] + cpu_us[1] + cpu_us[2] + cpu_us[3])) |")
    ratio=$(awk -v a="$rps" -v b="$PGBENCH_TPS" 'BEGIN { printf "%.3f", a / b }')
    case "$target" in
        ratio:*) goal="≥ ${target#ratio:} × pgbench"
                 awk -v r="$ratio" -v t="${target#ratio:}" 'BEGIN { exit !(r >= t) }' || met=no ;;
        rps:*) goal="≥ ${target#rps:} req/s"
               [[ "$rps" -ge "${target#rps:}" ]] || met=no ;;
        rps-of:*) goal="≥ ${target#rps-of:} (${RPS[${target#rps-of:}]})"
                  [[ "$rps" -ge "${RPS[${target#rps-of:}]}" ]] || met=no ;;
        # cost-of:X:NAME: each request costs at most X times one of NAME (req/s ≥ NAME's / X).
        cost-of:*) local spec="${target#cost-of:}" base_rps
                   base_rps="${RPS[${spec#*:}]:-0}"
                   goal="≤ ${spec%%:*} × the cost of ${spec#*:}"
                   awk -v a="$rps" -v b="$base_rps" -v x="${spec%%:*}" 'BEGIN { exit !(a > 0 && b > 0 && b / a <= x) }' || met=no ;;
        *) met="" ;;
    esac
    if [[ "$kind" == read ]]; then
        goal="${goal:+$goal, }p99 ≤ 15 ms"
        awk -v p="$(to_ms "$p99")" 'BEGIN { exit !(p <= 15) }' || met=no
        [[ -n "$met" ]] || met=yes
    fi
    [[ "${errors:-0}" == 0 ]] || met=no
    results+=("| $name | $rps | $ratio | $p50 | $p99 | ${errors:-0} | ${goal:-—} | ${met:-—} |")
    echo "    $rps req/s (${ratio} × pgbench), p50 $p50, p99 $p99, non-2xx ${errors:-0}${goal:+, target $goal: $met}"
}
get_name="GET /v1/issues/{key}"
run "$get_name" get_issue.lua ratio:0.15 read
pat_name="GET /v1/issues/{key} with a personal access token"
run "$pat_name" get_issue_pat.lua "cost-of:1.15:$get_name" read
# PAT vs JWT: how much more one GET costs with a personal access token (target ≤ 1.15).
if [[ -n "${RPS[$get_name]:-}" && -n "${RPS[$pat_name]:-}" ]]; then
    PAT_COST=$(awk -v j="${RPS[$get_name]}" -v p="${RPS[$pat_name]}" 'BEGIN { printf "%.3f", j / p }')
    echo "    personal access token vs JWT: $PAT_COST × the cost per GET (target ≤ 1.15)"
fi
etag=$(head -1 "$RUN_DIR/etags.txt")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" -H "if-none-match: $etag" "http://$GATEWAY/v1/issues/BENCH-1")
[[ "$code" == 304 ]] || die "GET with a current If-None-Match answered $code, not 304"
run "GET /v1/issues/{key} with a current If-None-Match (304)" get_issue_304.lua "rps-of:$get_name" read
# Lists: first with the statistics taken while the table was empty (autovacuum held off), then
# after an ANALYZE; the plan, and so the cost of a page, must not depend on which.
run "GET /v1/projects/{key}/issues?status=open,in_progress, stale statistics" list_issues.lua rps:3000 read
"${PSQL[@]}" -d swatter_bench_issues -c "ANALYZE issues" \
    -c "ALTER TABLE issues RESET (autovacuum_enabled, toast.autovacuum_enabled)"
run "GET /v1/projects/{key}/issues?status=open,in_progress, fresh statistics" list_issues.lua rps:3000 read
run "GET /v1/projects/{key}/issues?status=open (one value)" list_open_issues.lua rps:3000 read
# --- issue 14: the notification inbox (begin) ---
# The caller (admin, owner of BENCH) gets $INBOX notifications about the seeded issues, a quarter
# of them read, as the trigger writes them; the inbox's first page is then read (target 3,000/s).
INBOX=${SWATTER_BENCH_INBOX:-5000}
"${PSQL[@]}" -d swatter_bench_issues <<SQL
INSERT INTO notifications (id, user_id, project_id, issue_id, project_key, issue_number, actor_id,
                           reason, change_type, summary, change_xact, created_at, read_at)
SELECT gen_random_uuid(), '$admin_id', i.project_id, i.id, p.key, i.number,
       ('$member_uuids'::uuid[])[1 + i.number % 8],
       (ARRAY['assigned','mentioned','watching','status_changed'])[1 + i.number % 4],
       'issue.updated', 'status: open → in_progress', i.number,
       now() - i.number * interval '1 minute',
       CASE WHEN i.number % 4 = 0 THEN now() END
FROM issues i JOIN projects p ON p.id = i.project_id
WHERE p.key = 'BENCH' AND i.number <= $INBOX;
ANALYZE notifications;
SQL
run "GET /v1/notifications (inbox of $INBOX, first page)" notifications.lua rps:3000 read
# --- issue 14: the notification inbox (end) ---
# --- Issue 14, query language: a page found with a four-predicate query (is:open
# priority:>=high label:bug has:assignee) on the 100,000 issues, fresh statistics.
run "GET /v1/projects/{key}/issues?q=<4 predicates>" list_query.lua rps:1500 read
# --- end of the query language block.
# Change feed read throughput: one client pages through the whole feed, 1,000 events a page.
feed_rows=()
if [[ -z "${SWATTER_BENCH_ONLY:-}" || "feed" =~ ${SWATTER_BENCH_ONLY} ]]; then
    log "change feed: paging through $FEED_EVENTS+ events (page_size=1000)"
    feed_start=$(date +%s%N)
    feed_after=0
    feed_events=0
    while :; do
        read -r count next < <(api "http://$GATEWAY/v1/projects/BENCH/changes?after=$feed_after&page_size=1000" \
            | jq -r '"\(.items | length) \(.next_after)"')
        [[ "$count" -gt 0 ]] || break
        feed_events=$((feed_events + count))
        feed_after=$next
    done
    feed_ms=$(( ($(date +%s%N) - feed_start) / 1000000 ))
    feed_rate=$(( feed_events * 1000 / (feed_ms > 0 ? feed_ms : 1) ))
    feed_met=no
    [[ "$feed_rate" -ge 5000 ]] && feed_met=yes
    feed_rows=("| GET /v1/projects/{key}/changes, one client paging (1,000 a page) | $feed_events | $feed_ms | $feed_rate | ≥ 5,000 | $feed_met |")
    printf '    %s\n' "${feed_rows[@]}"
fi
run "POST /v1/projects/{key}/issues" create_issue.lua rps:2500
run "POST /v1/issues/{key}/comments" create_comment.lua

# --- Issue 14: bulk edits (scripts/bench/bulk_edit.lua) -------------------------------------------
# One client sends 500-issue bulk edits one after another. The issue asks for 500 issues in ≤ 1 s:
# a latency target (p99 ≤ 1 s), not a throughput one, so one connection rather than $CONNECTIONS
# editing overlapping issues (which would measure lock waits).
bulk_rows=()
if [[ -z "${SWATTER_BENCH_ONLY:-}" ]] || grep -qE "$SWATTER_BENCH_ONLY" <<<"bulk"; then
    log "POST /v1/projects/{key}/issues/bulk: 500 issues a request, one client, $DURATION"
    bulk_out=$(wrk -t1 -c1 -d"$DURATION" --latency -s "$REPO/scripts/bench/bulk_edit.lua" "http://$GATEWAY")
    echo "$bulk_out" >"$RUN_DIR/bulk_edit.txt"
    bulk_rps=$(awk '/Requests\/sec/ {printf "%.2f", $2}' <<<"$bulk_out")
    bulk_p50=$(awk '$1 == "50%" {print $2}' <<<"$bulk_out")
    bulk_p99=$(awk '$1 == "99%" {print $2}' <<<"$bulk_out")
    bulk_errors=$(awk '/Non-2xx/ {print $NF}' <<<"$bulk_out")
    bulk_met=yes
    awk -v p="$(to_ms "$bulk_p99")" 'BEGIN { exit !(p <= 1000) }' || bulk_met=no
    [[ "${bulk_errors:-0}" == 0 ]] || bulk_met=no
    bulk_rows=("| POST /v1/projects/{key}/issues/bulk, 500 issues, one client | $bulk_rps | $bulk_p50 | $bulk_p99 | ${bulk_errors:-0} | p99 ≤ 1 s | $bulk_met |")
    printf '    %s\n' "${bulk_rows[@]}"
fi
# --- end of bulk edits -----------------------------------------------------------------------------

# --- issue 15: attachments (begin) ---
# Presign + confirm latency of small files (target p99 ≤ 20 ms) and a 25 MiB upload end to end,
# one client, through the gateway and the object store (scripts/bench/attachments.py).
attach_rows=()
if [[ -z "${SWATTER_BENCH_ONLY:-}" ]] || grep -qE "$SWATTER_BENCH_ONLY" <<<"attachments"; then
    log "attachments: presign + confirm of 4 KiB files, then 25 MiB end to end"
    mapfile -t attach_rows < <(SWATTER_BENCH_GATEWAY="$GATEWAY" SWATTER_BENCH_TOKEN="$TOKEN" \
        SWATTER_BENCH_ISSUE=BENCH-1 python3 "$REPO/scripts/bench/attachments.py")
    [[ ${#attach_rows[@]} -eq 2 ]] || die "the attachments benchmark failed"
    printf '    %s\n' "${attach_rows[@]}"
fi
# --- issue 15: attachments (end) ---

# A login flood must not slow other requests: argon2 runs off the async runtime, at most
# SWATTER_PASSWORD_HASH_CONCURRENCY (half the cores) at a time.
flood_rows=()
if [[ -z "${SWATTER_BENCH_ONLY:-}" ]]; then
    log "GET /v1/users/me alone, then while POST /v1/auth/token is flooded"
    me_alone=$(wrk -t1 -c16 -d10s --latency -s "$REPO/scripts/bench/me.lua" "http://$GATEWAY")
    wrk -t1 -c16 -d14s --latency -s "$REPO/scripts/bench/login.lua" "http://$GATEWAY" >"$RUN_DIR/login.txt" &
    flood=$!
    sleep 2
    me_flood=$(wrk -t1 -c16 -d10s --latency -s "$REPO/scripts/bench/me.lua" "http://$GATEWAY")
    wait $flood
    pct() { awk -v p="$2" '$1 == p {print $2}' <<<"$1"; }
    rate() { awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$1"; }
    login_out=$(cat "$RUN_DIR/login.txt")
    flood_rows=(
        "| GET /v1/users/me, alone (16 conns) | $(rate "$me_alone") | $(pct "$me_alone" 50%) | $(pct "$me_alone" 99%) |"
        "| GET /v1/users/me during the login flood (16 conns) | $(rate "$me_flood") | $(pct "$me_flood" 50%) | $(pct "$me_flood" 99%) |"
        "| POST /v1/auth/token, the flood (16 conns, argon2id) | $(rate "$login_out") | $(pct "$login_out" 50%) | $(pct "$login_out" 99%) |"
    )
    printf '    %s\n' "${flood_rows[@]}"
fi

rss=()
for i in "${!pids[@]}"; do
    peak=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/${pids[i]}/status")
    now=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/${pids[i]}/status")
    rss+=("| ${names[i]} | $now | $peak |")
done

# The REST stack is done: stop it so the reporting benchmarks run on an idle machine.
cleanup
pids=()

if [[ "${SWATTER_BENCH_REPORTING:-1}" == 1 ]]; then
    log "reporting: typst render times (cargo bench --bench render)"
    render_out=$(cargo bench -q -p swatter-reporting --bench render 2>/dev/null)
    echo "$render_out"
    log "reporting: end-to-end pipeline with one worker process (cargo bench --bench pipeline)"
    pipeline_out=$(cargo bench -q -p swatter-reporting --bench pipeline 2>/dev/null | grep '^|')
    echo "$pipeline_out"
fi

if [[ "${SWATTER_BENCH_WEBHOOKS:-1}" == 1 ]] && { [[ -z "${SWATTER_BENCH_ONLY:-}" ]] || grep -qE "$SWATTER_BENCH_ONLY" <<<"webhook"; }; then
    log "webhooks: change → webhook latency, sustained deliveries (scripts/bench/webhooks.sh)"
    webhooks_out=$(BIN_DIR="$BIN_DIR" "$REPO/scripts/bench/webhooks.sh")
    echo "$webhooks_out"
fi

# --- issue 16: exports (begin) ---
if [[ "${SWATTER_BENCH_EXPORTS:-1}" == 1 ]] && { [[ -z "${SWATTER_BENCH_ONLY:-}" ]] || grep -qE "$SWATTER_BENCH_ONLY" <<<"exports"; }; then
    log "exports: 10,000, 100,000 and 300,000 issues as CSV and JSON (scripts/bench/exports.sh)"
    exports_out=$(BIN_DIR="$BIN_DIR" "$REPO/scripts/bench/exports.sh")
    echo "$exports_out"
fi
# --- issue 16: exports (end) ---

# A partial run, or one of binaries built elsewhere, does not replace the committed figures.
OUT="$REPO/BENCHMARKS.md"
[[ -z "${SWATTER_BENCH_ONLY:-}${SWATTER_BENCH_BIN_DIR:-}" ]] || OUT="$RUN_DIR/BENCHMARKS.md"
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1024/1024}' /proc/meminfo)
{
    echo "# Benchmarks"
    echo
    echo "Measured by \`make bench\` ($(date -u +%Y-%m-%dT%H:%MZ), ${SWATTER_BENCH_LABEL:-commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')})."
    echo "Machine: $(nproc) cores ($cpu), $mem. Everything on this one machine: PostgreSQL, wrk"
    echo "(2 threads, $CONNECTIONS connections, $DURATION per scenario), the gateway, identity and issues (release)."
    echo "Data: one project with $ISSUES issues and $COMMENTS comments, 9 members."
    echo
    echo "Yardstick, same run: \`pgbench -S -c $CONNECTIONS -j 2\` (scale 10) = **$PGBENCH_TPS tps**. \"× pgbench\" is"
    echo "req/s divided by that."
    echo
    echo "| scenario | req/s | × pgbench | p50 | p99 | non-2xx | target | met |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${results[@]}"
    if [[ -n "${PAT_COST:-}" ]]; then
        echo
        echo "A GET with a personal access token costs **$PAT_COST ×** the same GET with a JWT (JWT req/s"
        echo "divided by PAT req/s; target ≤ 1.15)."
    fi
    echo
    echo "CPU time per request (µs), from /proc of each process over the scenario (PostgreSQL: all its"
    echo "processes; wrk not counted):"
    echo
    echo "| scenario | gateway | issues | identity | PostgreSQL | total |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${cpu_rows[@]}"
    echo
    if [[ ${#feed_rows[@]} -gt 0 ]]; then
        echo "Change feed read throughput (the whole feed read once, page after page):"
        echo
        echo "| scenario | events | ms | events/s | target | met |"
        echo "|---|---|---|---|---|---|"
        printf '%s\n' "${feed_rows[@]}"
        echo
    fi
    if [[ ${#bulk_rows[@]} -gt 0 ]]; then
        echo "Bulk edits (issue 14): 500 issues a request, one client sending them back to back:"
        echo
        echo "| scenario | edits/s | p50 | p99 | non-2xx | target | met |"
        echo "|---|---|---|---|---|---|---|"
        printf '%s\n' "${bulk_rows[@]}"
        echo
    fi
    if [[ ${#attach_rows[@]} -gt 0 ]]; then
        echo "Attachments (issue 15): one client through the gateway, s3s-fs on this machine as the"
        echo "object store (\`scripts/bench/attachments.py\`):"
        echo
        echo "| scenario | figure | detail | target | met |"
        echo "|---|---|---|---|---|"
        printf '%s\n' "${attach_rows[@]}"
        echo
    fi
    echo "Login flood (correct password, so no throttling):"
    echo
    echo "| scenario | req/s | p50 | p99 |"
    echo "|---|---|---|---|"
    printf '%s\n' "${flood_rows[@]}"
    echo
    echo "| process | RSS after the run (MiB) | peak RSS (MiB) |"
    echo "|---|---|---|"
    printf '%s\n' "${rss[@]}"
    if [[ -n "${pipeline_out:-}" ]]; then
        echo
        echo "## Reporting"
        echo
        echo "Typst render of synthetic project reports (release, one thread; \`cargo bench --bench render\`):"
        echo
        echo '```'
        echo "$render_out"
        echo '```'
        echo
        echo "Pipeline with real PostgreSQL, RabbitMQ, s3s-fs and one worker process (\`cargo bench --bench pipeline\`):"
        echo
        echo "$pipeline_out"
    fi
    if [[ -n "${webhooks_out:-}" ]]; then
        echo
        echo "## Webhooks"
        echo
        echo "Identity, issues (its change events through RabbitMQ), webhooks and the gateway (release), a"
        echo "Python receiver on 127.0.0.1 answering 204 (\`scripts/bench/webhooks.sh\`):"
        echo
        echo "| scenario | figure | detail | target | met |"
        echo "|---|---|---|---|---|"
        echo "$webhooks_out"
    fi
    if [[ -n "${exports_out:-}" ]]; then
        echo
        echo "## Exports"
        echo
        echo "Identity, issues, the reporting API and the gateway (release); each export of a whole project"
        echo "by a fresh \`swatter-reporting worker\` process into s3s-fs, timed from the job's \`started_at\` to"
        echo "its \`finished_at\`; peak RSS is the worker's VmHWM (\`scripts/bench/exports.sh\`):"
        echo
        echo "| export | running → succeeded | file | worker peak RSS | target | met |"
        echo "|---|---|---|---|---|---|"
        echo "$exports_out"
    fi
    if [[ -f "$REPO/docs/benchmark-notes.md" ]]; then echo; cat "$REPO/docs/benchmark-notes.md"; fi
} >"$OUT"
log "wrote $OUT"
cat "$OUT"
