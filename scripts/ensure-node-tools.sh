#!/usr/bin/env bash
# scripts/ensure-node-tools.sh DIR PACKAGE: makes DIR/node_modules hold exactly what the npm
# package folder PACKAGE pins (its package.json and package-lock.json, copied into DIR), installed
# from the npm registry with `npm ci`: once, and again whenever either file changes (a hash of
# both is kept in DIR). Installs nodejs and npm (apt, as root) when npm is missing. Used by
# ecosystem.sh for the TypeScript client check and buf curl.
set -euo pipefail

DIR="$1"
PACKAGE="$2"

log() { echo "[tools] $*"; }
die() { echo "[tools] ERROR: $*" >&2; exit 1; }

stamp="$DIR/.package-lock.sha256"
want="$(cat "$PACKAGE/package.json" "$PACKAGE/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "npm is missing; install Node.js 20 or later"
    log "npm is missing; installing nodejs and npm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm >/dev/null
fi
log "installing $PACKAGE/package-lock.json into $DIR"
mkdir -p "$DIR"
cp "$PACKAGE/package.json" "$PACKAGE/package-lock.json" "$DIR/"
(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
