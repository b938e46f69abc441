#!/usr/bin/env bash
# `make test`'s ecosystem checks: third-party tools and client libraries (generated OpenAPI
# clients, OAuth2 and JWT libraries, ...) driven against a whole stack of its own
# (scripts/with-stack.sh), by the pytest suite in tests/ecosystem. Arguments go to pytest
# (`scripts/ecosystem.sh -k oauth` runs a part). The Python tools are pinned in
# scripts/ecosystem-tools.txt and installed into a virtualenv under $SWATTER_TOOLS_DIR
# (default .run/tools), once; the npm tools are pinned in tests/ecosystem/typescript (the
# TypeScript client check), tests/ecosystem/buf (`buf curl`) and tests/ecosystem/browser
# (playwright-core, driving Debian's chromium, which scripts/ensure-browser.sh installs), each
# package-lock.json installed into $SWATTER_TOOLS_DIR/<folder>. The operator dashboard's test
# drives the same chromium with selenium through Debian's chromium-driver (also installed by
# ensure-browser.sh) and leaves its screenshots in $SWATTER_ARTIFACTS_DIR/admin (default
# target/artifacts/admin).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
TOOLS_DIR="${SWATTER_TOOLS_DIR:-$REPO/.run/tools}"
VENV="$TOOLS_DIR/ecosystem"

if [[ -z ${SWATTER_STACK_URL:-} ]]; then
    scripts/ensure-venv.sh "$VENV" scripts/ecosystem-tools.txt
    scripts/ensure-node-tools.sh "$TOOLS_DIR/typescript" tests/ecosystem/typescript
    scripts/ensure-node-tools.sh "$TOOLS_DIR/buf" tests/ecosystem/buf
    scripts/ensure-node-tools.sh "$TOOLS_DIR/browser" tests/ecosystem/browser
    scripts/ensure-browser.sh
    exec scripts/with-stack.sh ecosystem "$0" "$@"
fi

export SWATTER_TOOLS_DIR="$TOOLS_DIR"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q tests/ecosystem "$@"
