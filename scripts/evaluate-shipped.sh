#!/usr/bin/env bash
# Reproduces the accuracy figures of models/ssd300-shapes.md: a held-out
# synthetic set (seed 9000, never used in training) run through ssd-cam
# itself (headless JSON -> evaluator), and the trainer's own evaluation of the
# same model for comparison; the two must agree.
# PROFILE=debug uses an existing debug build instead of building release.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-ssd300-shapes}
PROFILE=${PROFILE:-release}
OUT=${OUT:-data/eval-$MODEL}
if [ "$PROFILE" = release ]; then
    cargo build --release --workspace --bins
fi
# T (the binaries' folder) may come from scripts/evaluate-run.sh.
T=${T:-target/$PROFILE}
TEST=data/shapes-test
[ -f $TEST/ImageSets/Main/test.txt ] || $T/ssd-train synth --out $TEST --count 500 --seed 9000 --split test
mkdir -p "$OUT"
$T/ssd-cam --model "$MODEL" --source $TEST/JPEGImages --headless --threshold 0.01 > "$OUT/detections.jsonl"
echo "== through ssd-cam (headless JSON -> evaluator)"
$T/ssd-train eval --model "$MODEL" --data $TEST --split test --detections "$OUT/detections.jsonl" \
    --pr-curve "$OUT/pr.png" | tee "$OUT/through-ssd-cam.txt"
echo "== inside the trainer (same model, same images)"
$T/ssd-train eval --model "$MODEL" --data $TEST --split test | tee "$OUT/in-trainer.txt"
