#!/usr/bin/env bash
# Makes sure a headless browser is installed for the ecosystem checks' browser tests: Debian's
# chromium and its WebDriver, chromium-driver (as root, with apt; retried once after
# `dpkg --configure -a`, a known flake). Nothing is downloaded at test time: playwright-core
# (tests/ecosystem/browser) drives this chromium for Swagger UI, and selenium drives it through
# /usr/bin/chromedriver for the operator dashboard.
set -euo pipefail

log() { echo "[browser] $*"; }
die() { echo "[browser] ERROR: $*" >&2; exit 1; }

command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && exit 0
[[ $(id -u) -eq 0 ]] || die "chromium or chromedriver is missing and installing them needs root (apt-get install chromium chromium-driver)"
export DEBIAN_FRONTEND=noninteractive
log "installing chromium and chromium-driver (apt)"
install() { apt-get update -qq && apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null; }
if ! install; then
    log "apt-get failed; running dpkg --configure -a and retrying once"
    dpkg --configure -a || true
    install
fi
command -v chromium >/dev/null 2>&1 || die "chromium did not install"
command -v chromedriver >/dev/null 2>&1 || die "chromium-driver did not install"
