#!/usr/bin/env bash
# Whether slow outputs hold up detection: a live demo camera at 30 frames/s
# for SECONDS (default 20), once with JSON only, once adding a segmented
# recording and snapshots, then (as root) with the recorder's encoder
# stopped (SIGSTOP) for the whole run, and with snapshots onto a 1 MiB tmpfs
# that is full; prints for each the frames written, the frames
# the pipeline dropped, and the median and p99 capture-to-output latency
# (from the JSON lines' latency_ms.total).
#   benches/output-stall.sh [SECONDS] [SSD_CAM_BINARY]
# The binary defaults to target/debug/ssd-cam (what the tests build; deps at
# -O3): use a release build for absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
bin="${2:-target/debug/ssd-cam}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {
    local name=$1
    shift
    timeout -s INT "$seconds" "$bin" --source demo:fps=30,size=640x480 --model ssd300-shapes --headless \
        "$@" > "$work/$name.jsonl" 2> "$work/$name.log" || true
    python3 - "$name" "$work/$name.jsonl" <<'PY'
import json, sys
name, path = sys.argv[1:3]
frames = [l for l in (json.loads(x) for x in open(path) if x.strip()) if "latency_ms" in l]
lat = sorted(f["latency_ms"]["total"] for f in frames)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
dropped = frames[-1]["dropped"] if frames else 0
print(f"{name:>24}: {len(frames)} frames written, {dropped} dropped, latency p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms")
PY
}
run "json only"
run "+ record + snapshots" --record "$work/rec.mp4" --record-segment 2 --snapshots "$work/snaps"
# The recorder's ffmpeg frozen from its start: a stuck disk or driver.
(
    for _ in $(seq 50); do
        pid=$(pgrep -n -f "ffmpeg.*$work/stuck" || true)
        if [ -n "$pid" ]; then kill -STOP "$pid"; break; fi
        sleep 0.1
    done
) &
run "+ record, encoder stopped" --record "$work/stuck.mkv"
pkill -CONT -f "ffmpeg.*$work/stuck" || true
if [ "$(id -u)" -eq 0 ]; then
    mkdir -p "$work/full"
    mount -t tmpfs -o size=1m tmpfs "$work/full"
    mkdir "$work/full/snaps"
    head -c 1048576 /dev/zero > "$work/full/filler" 2>/dev/null || true
    run "+ snapshots, disk full" --snapshots "$work/full/snaps"
    umount -l "$work/full"
fi
grep -h "cannot keep up\|dropped .* in all\|No space left\|snapshot(s) written" "$work"/*.log || true
