#!/usr/bin/env bash
# `make fuzz`: property-based fuzzing of the REST API with schemathesis. Starts a whole stack of
# its own (scripts/with-stack.sh: run.sh on free ports, with its own run folder, databases, queues
# and s3s-fs, and a signed-up user), runs `schemathesis run` against the stack's /openapi.json with that
# user's bearer token, a fixed seed and bounds on examples and time, then stops the stack. Fails
# when schemathesis finds a failure of the checks (by default `all` of them: no 5xx, and every
# answer, status, header and content type as the description declares; data the schema allows
# accepted and data it refuses refused). Every operation is fuzzed, the token endpoint too: the
# stack's login throttles and sign-up limit are raised for the run (they would otherwise answer
# most of it with 429). What a schema cannot say (a page token is tamper-proof, a current
# password must be the current one, ...) is in scripts/schemathesis.toml, with the reason.
# Arguments go to schemathesis (`scripts/fuzz.sh --include-path /v1/auth/revoke` fuzzes one
# operation). `make test` runs a short round (SWATTER_FUZZ_MAX_TIME=90). Logs, the JUnit report and the
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
CHECKS="${SWATTER_FUZZ_CHECKS:-all}"
# ensure_resource_availability (a resource just created must be found) cannot hold with
# Idempotency-Key: schemathesis repeats keys, and a repeated create answers its first 201 again,
# also when that resource has since been deleted (docs/api.md), so the "created" one is 404.
EXCLUDE_CHECKS="${SWATTER_FUZZ_EXCLUDE_CHECKS:-ensure_resource_availability}"
WORKERS="${SWATTER_FUZZ_WORKERS:-1}"

export PATH="$HOME/.cargo/bin:$PATH"

log() { echo "[fuzz] $*"; }
die() { echo "[fuzz] ERROR: $*" >&2; exit 1; }

scripts/ensure-venv.sh "$VENV" "$REQUIREMENTS"

if [[ -z ${SWATTER_STACK_URL:-} ]]; then
    # Again, inside a stack of its own (scripts/with-stack.sh signs up and logs in a user), whose
    # access tokens outlive the run.
    export SWATTER_ACCESS_TOKEN_TTL_SECS=86400
    # Thousands of token requests and sign-ups from one address: throttled as in production,
    # they would be 429 after the first few, and the endpoints barely tested.
    export SWATTER_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT=1000000
    export SWATTER_LOGIN_FAILURES_PER_CLIENT=1000000
    export SWATTER_LOGIN_FAILURES_PER_USERNAME=1000000
    export SWATTER_SIGNUP_RATE_PER_CLIENT=0
    exec scripts/with-stack.sh fuzz "$0" "$@"
fi
GATEWAY="$SWATTER_STACK_URL"
RUN_DIR="$SWATTER_STACK_RUN_DIR"
token="$SWATTER_STACK_TOKEN"

log "schemathesis: checks $CHECKS${EXCLUDE_CHECKS:+ but $EXCLUDE_CHECKS}, seed $SEED, at most $MAX_EXAMPLES examples per operation and ${MAX_TIME}s"
status=0
# From the run folder: schemathesis keeps a cache of what it found in .schemathesis/ of the
# current folder, and each run starts from the seed alone.
cd "$RUN_DIR"
"$VENV/bin/schemathesis" --config-file "$REPO/scripts/schemathesis.toml" run "$GATEWAY/openapi.json" \
    --checks "$CHECKS" \
    ${EXCLUDE_CHECKS:+--exclude-checks "$EXCLUDE_CHECKS"} \
    --seed "$SEED" \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --workers "$WORKERS" \
    --request-timeout 30 \
    --header "Authorization: Bearer $token" \
    --generation-database none \
    --report junit --report-dir "$RUN_DIR/report" \
    --no-color "$@" || status=$?
if [[ $status -ne 0 ]]; then
    log "schemathesis found failures (above; JUnit report in $RUN_DIR/report; the 5xx answers are in $RUN_DIR/swatter-gateway.log)"
    exit "$status"
fi
log "no failures"
