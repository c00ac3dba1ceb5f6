#!/usr/bin/env bash
# Every test of the workspace: unit, property, doc and integration tests (the real binary on oracle
# models, the full SSD300-VGG16 layout), and each benchmark run once as a test.
# Runs every test binary even when one fails (--no-fail-fast), and ends with one
# "tests: N passed, N failed" line summing all of them; a test binary that crashed
# before printing its result counts as one failed test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --no-fail-fast "${CARGO_TEST_ARGS[@]}" "$@" 2>&1 | tee "$log" || status=$?
# The library's documentation examples (doctests build apart from the rest).
cargo test --no-fail-fast -p ssd-core --all-features --doc "$@" 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^test result: FAILED/ { reported++ }
     /^error: test failed, to rerun pass/ { binaries++ }
     END { crashed = binaries - reported; if (crashed < 0) crashed = 0
           printf "tests: %d passed, %d failed\n", p, f + crashed }' "$log"
exit "$status"
