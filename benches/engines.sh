#!/usr/bin/env bash
# The person detector's whole pipeline on both engines, side by side in one
# run: tract and ONNX Runtime (ssd-cam's backend), 1 and 2 inference
# workers, on the demo source (unpaced, so nothing is dropped) and on a 1280x720 H.264 clip (made here with
# ffmpeg: the shipped demo photo's person walking across a plain scene).
# Builds ssd-cam with the onnxruntime feature (PROFILE, default release) and
# fetches ONNX Runtime's library (scripts/fetch-onnxruntime.sh). Prints a
# table; appends one JSON line per run to target/engines.jsonl.
#   [ROUNDS=3] benches/engines.sh [FRAMES]
# Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
frames=${1:-300}
profile=${PROFILE:-release}
cargo build --profile "$profile" --features onnxruntime --bin ssd-cam
bin="target/$profile/ssd-cam"
export ORT_DYLIB_PATH
ORT_DYLIB_PATH=$(scripts/fetch-onnxruntime.sh)
clip=target/tmp/engines-1280x720.mp4
mkdir -p target/tmp
if [ ! -f "$clip" ]; then
    ffmpeg -y -loglevel error -f lavfi -i color=c=0x707a84:s=1280x720:r=25:d=40 -loop 1 \
        -i models/person-ssdlite-demo-input.jpg \
        -filter_complex "[1]crop=300:512:90:0,scale=200:340[p];[0][p]overlay=x='mod(t*120,1480)-200':y=200:shortest=1" \
        -t 40 -c:v libx264 -g 25 -pix_fmt yuv420p "$clip"
fi
# The VM this was written on drifts by tens of percent between runs: ROUNDS
# (default 3) repeats the whole grid, one cell after another, and the table
# gives each cell's runs and their median.
rounds=${ROUNDS:-3}
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for round in $(seq "$rounds"); do
    for source in demo:fps=0 "$clip"; do
        for backend in tract onnxruntime; do
            for workers in 1 2; do
                json=$("$bin" bench --model person-ssdlite --source "$source" --backend "$backend" \
                    --workers "$workers" --frames "$frames" --json 2>/dev/null)
                echo "$json" >> target/engines.jsonl
                printf '%s\t%s\n' "$(basename "$source")" "$json" >> "$runs"
                echo "round $round/$rounds: $(basename "$source") $backend $workers worker(s) done" >&2
            done
        done
    done
done
python3 - "$runs" <<'PY'
import json, statistics, sys
cells = {}
for line in open(sys.argv[1]):
    source, text = line.rstrip("\n").split("\t", 1)
    r = json.loads(text)
    key = (source[:10], f"{r['engine']['backend']} {r['engine']['version']}", r["workers"], r["threads"])
    cells.setdefault(key, []).append(r["pipeline"])
print(f"{'source':<10} {'backend':<18} {'workers':>7} {'threads':>7} {'frames/s (runs)':>24} {'median':>7} "
      f"{'infer p50':>10} {'preproc p50 (runs)':>20}")
for (source, engine, workers, threads), ps in cells.items():
    fps = [p["fps"] for p in ps]
    infer = statistics.median(p["inference"]["p50"] for p in ps)
    runs = ", ".join(f"{f:.1f}" for f in fps)
    pre = ", ".join(f"{p['preprocess']['p50']:.2f}" for p in ps)
    print(f"{source:<10} {engine:<18} {workers:>7} {threads:>7} {runs:>24} {statistics.median(fps):>7.1f} "
          f"{infer:>10.2f} {pre:>20}")
PY
