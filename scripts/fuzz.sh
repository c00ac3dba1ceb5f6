#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 30) with the seeds in
# fuzz/corpus/<target> (read only; new inputs go to target/fuzz-corpus/).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# FUZZ_PROFILE=dev builds without optimisation (CI: the build takes a third
# of the release build's time, the runs are slower).
# Usage: scripts/fuzz.sh [--build-only] [SECONDS] [TARGET...]
# (--build-only: build the targets and stop; CI builds them beside the tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=false
if [ "${1:-}" = --build-only ]; then build_only=true; shift; fi
seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(y4m manifest voc_xml coco_json image_decode model_load arguments http_auth pretrained mqtt_incoming review_request)
fi
# The parsers are safe Rust: what fuzzing hunts here is panics, hangs and
# unbounded allocations, which libFuzzer sees without a sanitizer (and the
# build and the runs are several times faster without one).
flags=(--sanitizer none --fuzz-dir fuzz)
if [ "${FUZZ_PROFILE:-release}" = dev ]; then flags+=(--dev); fi
cargo +nightly fuzz build "${flags[@]}" >&2
if $build_only; then exit 0; fi
for t in "${targets[@]}"; do
    work="target/fuzz-corpus/$t"
    mkdir -p "$work"
    rm -f target/fuzz-artifacts-"$t"-*
    echo "== fuzz $t for ${seconds}s" >&2
    # 512 MB: a parser that trusts a size field trips this long before the
    # machine runs out; any input over it is reported as a crash.
    cargo +nightly fuzz run "${flags[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=10 \
        -artifact_prefix="target/fuzz-artifacts-$t-" -print_final_stats=1 2>&1 |
        grep -E "^(#[0-9]+ *DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|.*panicked)" >&2 || true
    if ls target/fuzz-artifacts-"$t"-* >/dev/null 2>&1; then
        echo "fuzz: $t found inputs that fail: $(ls target/fuzz-artifacts-"$t"-*)" >&2
        exit 1
    fi
done
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no failures" >&2
