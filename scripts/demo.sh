#!/usr/bin/env bash
# `make demo`: seeds a realistic data set through the REST API (6 users, 3 projects with members,
# ~200 issues with status changes, assignments, labels and comments), asks for a project report
# and a monthly report, waits for them, saves the PDFs under .run/demo/ and prints their URLs.
# A screenshot is attached to an issue with the presigned two-step upload, and shown with its
# thumbnail.
# Along the way a webhook of project WEB delivers its changes to a small local receiver
# (scripts/webhook-receiver.py, which checks each signature); the end shows what the receiver
# got and the webhook's delivery log from the API.
# Uses the stack of `make run` if it is up; otherwise starts one and stops it at the end.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
G="${SWATTER_GATEWAY_URL:-http://127.0.0.1:8080}"
OUT="$REPO/.run/demo"
ISSUES="${SWATTER_DEMO_ISSUES:-200}"
# The password of every demo user: the one `make run`'s banner suggests for alice, so the demo
# also works after following the banner.
PASSWORD="${SWATTER_DEMO_PASSWORD:-correct-horse}"
log() { echo "[demo] $*"; }
die() { echo "[demo] ERROR: $*" >&2; exit 1; }
command -v jq >/dev/null || { apt-get install -y -qq jq >/dev/null 2>&1 || { dpkg --configure -a; apt-get install -y -qq jq >/dev/null; }; }

started=""
if ! curl -sf "$G/readyz?strict=true" >/dev/null 2>&1; then
    log "no stack at $G; starting one (make run) for the demo"
    mkdir -p "$REPO/.run"
    setsid "$REPO/scripts/run.sh" >"$REPO/.run/demo-stack.log" 2>&1 &
    started=$!
    trap '[[ -n $started ]] && kill -INT -- -"$started" 2>/dev/null; wait 2>/dev/null || true' EXIT
    for _ in $(seq 1 600); do curl -sf "$G/readyz?strict=true" >/dev/null 2>&1 && break; sleep 1; done
    curl -sf "$G/readyz?strict=true" >/dev/null || { tail -30 "$REPO/.run/demo-stack.log"; die "the stack did not come up"; }
fi

# request ARGS...: runs curl with ARGS against the gateway, appending the status on a last line;
# stops the demo with a clear message when the gateway cannot be reached at all.
request() {
    local out
    if ! out=$(curl -sS --max-time 60 -w '\n%{http_code}' "$@"); then
        die "cannot reach the gateway at $G (curl failed; is the stack up? make run)"
    fi
    printf '%s' "$out"
}

# explain WHAT STATUS BODY: stops the demo, saying which call failed, its status and the
# problem body the gateway sent (title, detail and field errors, or the raw body).
explain() {
    local what="$1" code="$2" body="$3" detail
    detail=$(jq -r '[.title, .detail] + [(.errors // [])[] | "\(.field): \(.message)"]
        | map(select(. != null and . != "")) | join("; ")' <<<"$body" 2>/dev/null || true)
    die "$what answered HTTP $code: ${detail:-$body}"
}

# call METHOD PATH TOKEN [JSON]: the response body; stops the demo on an unexpected status
# (409, "already there", is expected when the demo runs again on the same data).
call() {
    local method="$1" path="$2" token="$3" body="${4:-}"
    local args=(-X "$method" "$G$path" -H "authorization: Bearer $token")
    [[ -n $body ]] && args+=(-H 'content-type: application/json' -d "$body")
    local out code
    out=$(request "${args[@]}")
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    [[ $code == 2* || $code == 409 ]] || explain "$method $path" "$code" "$out"
    printf '%s' "$out"
}

# sign_up USER FULL_NAME: creates the user, or finds it already there (409).
sign_up() {
    local out code
    out=$(request "$G/v1/users" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"email\":\"$1@demo.swatter.dev\",\"password\":\"$PASSWORD\",\"full_name\":\"$2\"}")
    code="${out##*$'\n'}"
    [[ $code == 201 || $code == 409 ]] || explain "POST /v1/users (sign up $1)" "$code" "${out%$'\n'*}"
}

# login USER: an access token for USER with the demo's password.
login() {
    local out code body
    out=$(request "$G/v1/auth/token" -d grant_type=password --data-urlencode "username=$1" \
        --data-urlencode "password=$PASSWORD")
    code="${out##*$'\n'}"
    body="${out%$'\n'*}"
    if [[ $code == 401 ]]; then
        die "cannot log in as $1 with the demo's password '$PASSWORD' (HTTP 401): the user existed before with another password. Set SWATTER_DEMO_PASSWORD to its password, or use fresh databases"
    fi
    [[ $code == 200 ]] || explain "POST /v1/auth/token (log in as $1)" "$code" "$body"
    jq -r .access_token <<<"$body"
}

# download PATH TOKEN FILE: saves a binary answer (a PDF) to FILE.
download() {
    local code
    code=$(curl -sS --max-time 60 -o "$3" -w '%{http_code}' "$G$1" -H "authorization: Bearer $2") ||
        die "cannot reach the gateway at $G"
    [[ $code == 200 ]] || explain "GET $1" "$code" "$(cat "$3")"
}

users=(alice bob carol dave erin frank)
names=("Alice Archer" "Bob Baker" "Carol Cooper" "Dave Dyer" "Erin Evans" "Frank Fisher")
declare -A token id
log "users: ${users[*]} (password: $PASSWORD)"
for i in "${!users[@]}"; do
    u="${users[i]}"
    sign_up "$u" "${names[i]}"
    token[$u]=$(login "$u")
    id[$u]=$(call GET /v1/users/me "${token[$u]}" | jq -r .id)
done

projects=(WEB API MOB)
owners=(alice bob carol)
project_names=("Web storefront" "Public API" "Mobile app")
declare -A members
log "projects: ${projects[*]}"
for i in "${!projects[@]}"; do
    key="${projects[i]}" owner="${owners[i]}"
    call POST /v1/projects "${token[$owner]}" "{\"key\":\"$key\",\"name\":\"${project_names[i]}\",\"description\":\"Demo project\"}" >/dev/null
    members[$key]="$owner"
    for u in "${users[@]}"; do
        [[ $u == "$owner" ]] && continue
        role=$((RANDOM % 3))
        case $role in 0) r=maintainer ;; 1) r=reporter ;; *) r=reporter ;; esac
        call PUT "/v1/projects/$key/members/${id[$u]}" "${token[$owner]}" "{\"role\":\"$r\"}" >/dev/null
        members[$key]+=" $u"
    done
done

# A webhook for WEB's changes, delivered to a receiver on 127.0.0.1 (which `make run` lets webhooks
# reach). Endpoints that earlier demos registered are removed first: their receivers are gone.
log "webhook: WEB's events to a local receiver (scripts/webhook-receiver.py)"
mkdir -p "$OUT"
WEBHOOK_DESCRIPTION="make demo receiver"
for old in $(call GET "/v1/projects/WEB/webhooks?page_size=100" "${token[alice]}" |
    jq -r --arg d "$WEBHOOK_DESCRIPTION" '.items[] | select(.description == $d) | .id'); do
    call DELETE "/v1/webhooks/$old" "${token[alice]}" >/dev/null
done
receiver_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
webhook=$(call POST /v1/projects/WEB/webhooks "${token[alice]}" \
    "{\"url\":\"http://127.0.0.1:$receiver_port/swatter\",\"description\":\"$WEBHOOK_DESCRIPTION\"}")
webhook_id=$(jq -r .id <<<"$webhook")
webhook_secret=$(jq -r .secret <<<"$webhook")
: >"$OUT/webhook-receiver.log"
python3 "$REPO/scripts/webhook-receiver.py" --port "$receiver_port" --secret "$webhook_secret" \
    >>"$OUT/webhook-receiver.log" 2>&1 &
receiver=$!
trap 'kill "$receiver" 2>/dev/null; [[ -n $started ]] && kill -INT -- -"$started" 2>/dev/null; wait 2>/dev/null || true' EXIT
log "  endpoint $webhook_id -> http://127.0.0.1:$receiver_port/swatter (every event type)"

subjects=("Login button" "Checkout page" "Search results" "Password reset" "Invoice PDF" "Dark mode" "Profile page" "Notifications" "Export to CSV" "Image upload" "Rate limiter" "Session timeout")
problems=("does nothing on Safari" "is slow with many items" "shows the wrong currency" "crashes after an update" "loses data on refresh" "has a typo" "misaligns on small screens" "times out under load" "ignores the user's locale" "returns 500 for empty input")
priorities=(low medium medium high urgent)
labels=('["bug"]' '["bug","ui"]' '["feature"]' '["performance"]' '["bug","backend"]' '[]')
statuses=(in_progress resolved closed)
log "filing $ISSUES issues with assignments, status changes and comments"
for n in $(seq 1 "$ISSUES"); do
    p=$((RANDOM % 3)); key="${projects[p]}"; owner="${owners[p]}"
    read -r -a m <<<"${members[$key]}"
    author="${m[RANDOM % ${#m[@]}]}"
    title="${subjects[RANDOM % ${#subjects[@]}]} ${problems[RANDOM % ${#problems[@]}]}"
    body="{\"title\":\"$title\",\"description\":\"Reported during the demo (#$n).\",\"priority\":\"${priorities[RANDOM % 5]}\",\"labels\":${labels[RANDOM % 6]}}"
    issue=$(call POST "/v1/projects/$key/issues" "${token[$author]}" "$body" | jq -r .key)
    if ((RANDOM % 4 != 0)); then
        assignee="${m[RANDOM % ${#m[@]}]}"
        call PATCH "/v1/issues/$issue" "${token[$owner]}" "{\"assignee_id\":\"${id[$assignee]}\"}" >/dev/null
    fi
    if ((RANDOM % 2 == 0)); then
        call PATCH "/v1/issues/$issue" "${token[$owner]}" "{\"status\":\"${statuses[RANDOM % 3]}\"}" >/dev/null
    fi
    if ((RANDOM % 3 == 0)); then
        commenter="${m[RANDOM % ${#m[@]}]}"
        call POST "/v1/issues/$issue/comments" "${token[$commenter]}" "{\"body\":\"Looking into $issue; it reproduces on my machine.\"}" >/dev/null
    fi
    ((n % 50 == 0)) && log "  $n issues"
done

# An attachment: a screenshot (a PNG made here with python3's zlib) attached to a WEB issue in two
# steps: ask for an upload, PUT the bytes straight to the presigned URL of the object store with
# the headers it was signed with, then confirm (the service verifies it and makes a thumbnail).
log "attaching a screenshot to an issue of WEB (presigned upload, then confirm)"
screenshot="$OUT/screenshot.png"
python3 - "$screenshot" <<'PY'
import struct, sys, zlib
width, height = 480, 300
rows = b"".join(
    b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 160))
    for y in range(height)
)
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
with open(sys.argv[1], "wb") as out:
    out.write(png)
PY
attached_issue=$(call GET "/v1/projects/WEB/issues?page_size=1" "${token[alice]}" | jq -r '.items[0].key')
upload=$(call POST "/v1/issues/$attached_issue/attachments/uploads" "${token[alice]}" \
    "{\"file_name\":\"screenshot.png\",\"size\":$(stat -c %s "$screenshot"),\"content_type\":\"image/png\",\"sha256\":\"$(sha256sum "$screenshot" | cut -d' ' -f1)\"}")
signed_headers=()
while IFS= read -r header; do signed_headers+=(-H "$header"); done \
    < <(jq -r '.headers | to_entries[] | "\(.key): \(.value)"' <<<"$upload")
put_code=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -X PUT "$(jq -r .url <<<"$upload")" \
    "${signed_headers[@]}" --data-binary @"$screenshot") ||
    die "cannot reach the object store at the presigned upload URL $(jq -r .url <<<"$upload")"
[[ $put_code == 2* ]] || die "the PUT to the presigned upload URL answered HTTP $put_code"
attachment=$(call POST "/v1/attachments/$(jq -r .attachment.id <<<"$upload")/confirm" "${token[alice]}")

wait_job() {
    local job="$1" tok="$2" state
    for _ in $(seq 1 300); do
        state=$(call GET "/v1/jobs/$job" "$tok" | jq -r .state)
        case $state in
            succeeded) return 0 ;;
            failed | cancelled) die "report job $job ended $state: $(call GET "/v1/jobs/$job" "$tok" | jq -c '.error // .')" ;;
        esac
        sleep 0.5
    done
    die "job $job did not finish"
}
log "requesting reports"
project_job=$(call POST /v1/reports "${token[alice]}" '{"kind":"project","project_key":"WEB"}' | jq -r .id)
monthly_job=$(call POST /v1/reports "${token[alice]}" '{"kind":"user_monthly"}' | jq -r .id)
for job in "$project_job" "$monthly_job"; do wait_job "$job" "${token[alice]}"; done
download "/v1/jobs/$project_job/artifact/content" "${token[alice]}" "$OUT/project-WEB.pdf"
download "/v1/jobs/$monthly_job/artifact/content" "${token[alice]}" "$OUT/monthly-alice.pdf"
echo
echo " Reports (saved, and presigned URLs valid for 15 minutes):"
for pair in "project-WEB.pdf:$project_job" "monthly-alice.pdf:$monthly_job"; do
    file="${pair%%:*}" job="${pair##*:}"
    url=$(call GET "/v1/jobs/$job/artifact" "${token[alice]}" | jq -r .url)
    echo "   $OUT/$file"
    echo "     $url"
done

echo
echo " Attachment of $attached_issue (POST …/attachments/uploads, PUT to the store, POST …/confirm):"
jq -r '"   \(.file_name)  \(.size) bytes  \(.content_type)  \(.state)  sha256 \(.sha256[0:16])…",
    "   thumbnail: \(.thumbnail.state)\(if .thumbnail.width then " \(.thumbnail.width)x\(.thumbnail.height)" else "" end)",
    "   download: GET '"$G"'/v1/attachments/\(.id)/download (303 to a presigned URL)"' <<<"$attachment"

# The webhook: a test ping, then what the receiver printed and the delivery log.
call POST "/v1/webhooks/$webhook_id/ping" "${token[alice]}" >/dev/null
for _ in $(seq 1 100); do
    grep -q ' webhook.ping ' "$OUT/webhook-receiver.log" && break
    sleep 0.2
done
received=$(grep -c ' evt_' "$OUT/webhook-receiver.log" || true)
echo
echo " Webhook $webhook_id of WEB -> http://127.0.0.1:$receiver_port/swatter"
echo " The receiver got $received requests (log: $OUT/webhook-receiver.log); the last ones:"
tail -n 8 "$OUT/webhook-receiver.log" | sed 's/^/   /'
echo " The delivery log (GET /v1/webhooks/$webhook_id/deliveries), newest first:"
call GET "/v1/webhooks/$webhook_id/deliveries?page_size=8" "${token[alice]}" |
    jq -r '.items[] | "   \(.created_at)  \(.event_type | .+ " " * (16 - length))  \(.state)  attempts \(.attempts)  HTTP \(.last_response_status // "-")  \(.last_duration_ms // "-") ms  \(.event_id)"'
echo
echo " Log in as any of ${users[*]} with password $PASSWORD; alice owns WEB."
