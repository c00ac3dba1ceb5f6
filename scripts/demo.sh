#!/usr/bin/env bash
# The main job on the built-in default: the demo scene through the shipped
# model, one JSON object per frame on stdout, a summary on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
exec cargo run --release --quiet -- --source demo --headless --max-frames "${FRAMES:-100}" "$@"
