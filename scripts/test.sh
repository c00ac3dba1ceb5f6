#!/usr/bin/env bash
# Every test of the workspace: unit, property, doc and integration tests (the real binary on oracle
# models, the full SSD300-VGG16 layout), and each benchmark run once as a test.
# With cargo-nextest (installed on the CI machines), every test runs in its own
# process and the test binaries run side by side (.config/nextest.toml);
# without it, cargo test runs them one after another. Either way every test
# runs even when one fails, and the run ends with one
# "tests: N passed, N failed" line summing all of them; a test binary that
# crashed before printing its result counts as one failed test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "${CARGO_TEST_ARGS[@]}" "$@" 2>&1 | tee "$log" || status=$?
else
    cargo test --no-fail-fast "${CARGO_TEST_ARGS[@]}" "$@" 2>&1 | tee "$log" || status=$?
fi
# The documentation examples (doctests build apart from the rest; the same
# packages and features as above, so no dependency builds again).
cargo test --no-fail-fast --workspace --all-features --doc "$@" 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^test result: FAILED/ { reported++ }
     /^error: test failed, to rerun pass/ { binaries++ }
     # nextest: "Summary [ 1.2s] 380 tests run: 379 passed, 1 failed, 0 skipped"
     /^ *Summary \[/ { for (i = 1; i <= NF; i++) { w = $i; sub(/[,;]$/, "", w)
                           if (w == "passed") p += $(i-1); if (w == "failed" || w == "timed") f += $(i-1) } }
     END { crashed = binaries - reported; if (crashed < 0) crashed = 0
           printf "tests: %d passed, %d failed\n", p, f + crashed }' "$log"
exit "$status"
