#!/usr/bin/env bash
# Makes sure a headless browser is installed for the ecosystem checks' Swagger UI test: Debian's
# chromium (as root, with apt; retried once after `dpkg --configure -a`, a known flake). Nothing
# is downloaded at test time: playwright-core (tests/ecosystem/browser) drives this chromium.
set -euo pipefail

log() { echo "[browser] $*"; }
die() { echo "[browser] ERROR: $*" >&2; exit 1; }

command -v chromium >/dev/null 2>&1 && exit 0
[[ $(id -u) -eq 0 ]] || die "chromium is missing and installing it needs root (apt-get install chromium)"
export DEBIAN_FRONTEND=noninteractive
log "installing chromium (apt)"
install() { apt-get update -qq && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
if ! install; then
    log "apt-get failed; running dpkg --configure -a and retrying once"
    dpkg --configure -a || true
    install
fi
command -v chromium >/dev/null 2>&1 || die "chromium did not install"
