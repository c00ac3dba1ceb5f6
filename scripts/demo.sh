#!/usr/bin/env bash
# The main job on the built-in default: the demo scene through the shipped
# model, in a window when there is a display (close it with q or Esc),
# otherwise one JSON object per frame on stdout; a summary on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
SSD_CAM_SETUP=demo source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
if [ -n "${DISPLAY:-}" ]; then
  exec cargo run --profile quick-release --quiet -- --source demo "$@"
fi
exec cargo run --profile quick-release --quiet -- --source demo --headless --max-frames "${FRAMES:-100}" "$@"
