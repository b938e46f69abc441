#!/usr/bin/env bash
# scripts/ensure-venv.sh VENV REQUIREMENTS: makes VENV a Python virtualenv holding exactly the
# pinned packages of REQUIREMENTS, installed from PyPI with pip: once, and again whenever
# REQUIREMENTS changes (a hash of it is kept in the venv). Installs python3-venv (apt, as root)
# when python3 cannot make a venv. Used by validate-deploy.sh and fuzz.sh.
set -euo pipefail

VENV="$1"
REQUIREMENTS="$2"

log() { echo "[tools] $*"; }
die() { echo "[tools] ERROR: $*" >&2; exit 1; }

stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    exit 0
fi
log "installing $(basename "$REQUIREMENTS") into $VENV"
mkdir -p "$(dirname "$VENV")"
if ! python3 -m venv --clear "$VENV" >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] || die "python3 -m venv failed; install python3-venv"
    log "python3 -m venv failed; installing python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
    python3 -m venv --clear "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"
echo "$want" >"$stamp"
