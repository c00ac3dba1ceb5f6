#!/usr/bin/env bash
# Every test: unit, property and integration tests, including the real binary
# on oracle models and the full SSD300-VGG16 layout.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --all-targets "$@"
