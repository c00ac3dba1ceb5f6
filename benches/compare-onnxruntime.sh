#!/usr/bin/env bash
# Side-by-side inference time, onnxruntime vs ssd-cam (tract), on the same
# ONNX files: the shipped models plus any given as arguments (an SSD300-VGG16
# layout, for instance: python tools/export_torchvision.py --arch
# ssd300_vgg16 --weights random --out /tmp/ssd300_vgg16.onnx).
#   benches/compare-onnxruntime.sh [MODEL.onnx ...]
# Sets up a Python venv with onnxruntime and numpy (target/tmp/ort-venv),
# builds ssd-cam in release with its ONNX Runtime backend (which then loads
# the venv's own libonnxruntime.so: one library, two front ends), and appends
# results to target/compare-onnxruntime.jsonl. PROFILE=quick-release builds
# faster (no LTO).
# Run it on an idle machine: both engines use the threads they are given.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
venv=target/tmp/ort-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime==1.28.0 numpy onnx
fi
profile=${PROFILE:-release}
cargo build --profile "$profile" --features onnxruntime --bin ssd-cam
"$venv/bin/python" benches/compare_onnxruntime.py --ssd-cam "target/$profile/ssd-cam" --rust-ort \
    --threads ${THREADS:-1 2} --runs "${RUNS:-30}" --out target/compare-onnxruntime.jsonl \
    models/ssd300-shapes.onnx models/person-ssdlite.onnx "$@"
