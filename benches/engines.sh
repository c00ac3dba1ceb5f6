#!/usr/bin/env bash
# The person detector's whole pipeline on both engines, side by side in one
# run: tract and ONNX Runtime (ssd-cam's backend), 1 and 2 inference
# workers, on the demo source (unpaced, so nothing is dropped) and on a 1280x720 H.264 clip (made here with
# ffmpeg: the shipped demo photo's person walking across a plain scene).
# Builds ssd-cam with the onnxruntime feature (PROFILE, default release) and
# fetches ONNX Runtime's library (scripts/fetch-onnxruntime.sh). Prints a
# table; appends one JSON line per run to target/engines.jsonl.
#   benches/engines.sh [FRAMES]
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
printf '%-10s %-12s %7s %7s %12s %12s %12s\n' source backend workers threads "frames/s" "infer p50" "preproc p50"
for source in demo:fps=0 "$clip"; do
    for backend in tract onnxruntime; do
        for workers in 1 2; do
            json=$("$bin" bench --model person-ssdlite --source "$source" --backend "$backend" --workers "$workers" \
                --frames "$frames" --json 2>/dev/null)
            echo "$json" >> target/engines.jsonl
            python3 - "$json" "$(basename "$source")" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
p = r["pipeline"]
print(f"{sys.argv[2][:10]:<10} {r['engine']['backend'] + ' ' + r['engine']['version']:<12} {r['workers']:>7} "
      f"{r['threads']:>7} {p['fps']:>12.1f} {p['inference']['p50']:>12.2f} {p['preprocess']['p50']:>12.2f}")
PY
        done
    done
done
