#!/usr/bin/env bash
# Exports the last checkpoint of a training run and measures it on the
# held-out shapes set (seed 9000) through ssd-cam, like the shipped model:
# VOC mAP@0.5, COCO AP@[.5:.95], per class and per size (data/eval-NAME/).
#   scripts/evaluate-run.sh data/run-lite-ft [NAME]
# PROFILE=debug uses an existing debug build instead of building release.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: scripts/evaluate-run.sh RUN_DIR [NAME]}
NAME=${2:-$(basename "$RUN")}
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
    cargo build --release --workspace --bins
fi
OUT=data/eval-$NAME
mkdir -p "$OUT"
done_iters=$(sed -n 's/.*"completed": \([0-9]*\).*/\1/p' "$RUN/state.json")
target/$PROFILE/ssd-train export --run "$RUN" --out "$OUT/$NAME.onnx" \
    --description "$NAME: $(basename "$RUN") after $done_iters iterations, trained by ssd-train"
BIN="target/$PROFILE"
MODEL="$OUT/$NAME.onnx" T="$BIN" PROFILE=skip-build OUT="$OUT" scripts/evaluate-shipped.sh
