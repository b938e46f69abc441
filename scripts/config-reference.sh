#!/usr/bin/env bash
# Rewrites the README's configuration tables from the binaries' settings declarations
# (`swatter-BINARY config-reference`); each crate's unit tests check that they are current.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
cargo build -q --bins
BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/debug"
table="$(mktemp)"
trap 'rm -f "$table" README.md.new' EXIT
for bin in swatter-identity swatter-issues swatter-reporting swatter-webhooks swatter-gateway; do
    # Not the caller's environment: the table shows the declared defaults only.
    env -i "$BIN_DIR/$bin" config-reference >"$table"
    awk -v begin="<!-- config-reference $bin -->" -v end="<!-- end config-reference $bin -->" \
        -v table="$table" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skipping = 1; next }
        $0 == end { skipping = 0 }
        !skipping { print }' README.md >README.md.new
    mv README.md.new README.md
done
echo "README.md: configuration tables regenerated"
