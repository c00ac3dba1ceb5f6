#!/usr/bin/env bash
# Checks that this tree's ssd-cam writes what git revision REV's writes:
# --headless and --events output on the demo scene and on a video file, the
# same line for line once the fields that hold times (latency_ms, fps,
# timestamp_ms, first_ms, last_ms, duration_ms) are left out.
#   scripts/same-output.sh REV
# Both binaries build in this tree's target/ (the dependencies are shared,
# only the workspace's crates build twice); results go to
# target/same-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
rev=${1:?usage: scripts/same-output.sh REV}
work=$PWD/target/same-output
rm -rf "$work"
mkdir -p "$work"
git worktree add --detach "$work/tree" "$rev" >/dev/null
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1 || true' EXIT
echo "== ssd-cam at $rev" >&2
# Built as the tests build it (all features, the test command's feature
# set), so the dependencies are the ones target/ already holds.
(cd "$work/tree" && CARGO_TARGET_DIR="$PWD/../../" cargo test --quiet --workspace --all-features --no-run --test cli)
cp target/debug/ssd-cam "$work/before"
echo "== ssd-cam of this tree" >&2
cargo test --quiet --workspace --all-features --no-run --test cli
cp target/debug/ssd-cam "$work/after"
# A video file: the demo's frames, as they came, through ffmpeg (run with
# the shapes model, which finds the shapes in them).
"$work/before" --source demo:fps=0,frames=60,seed=5 --headless --record "$work/clip.mp4" --record-raw >/dev/null 2>&1
runs=(
    "demo:fps=0,frames=90,seed=3|--headless"
    "demo:fps=0,frames=150,size=320x240,seed=4|--headless --events --zone left=0,0,160,0,160,240,0,240 --line middle=160,0,160,240"
    "$work/clip.mp4|--headless --model ssd300-shapes"
    "$work/clip.mp4|--headless --model ssd300-shapes --events --threshold 0.4"
)
status=0
for i in "${!runs[@]}"; do
    src=${runs[$i]%%|*}
    read -r -a flags <<< "${runs[$i]#*|}"
    for who in before after; do
        "$work/$who" --source "$src" "${flags[@]}" > "$work/$who-$i.jsonl" 2> "$work/$who-$i.log"
    done
    python3 - "$work/before-$i.jsonl" "$work/after-$i.jsonl" "$src ${flags[*]}" <<'PY' || status=1
import json, sys
TIMES = {"latency_ms", "fps", "timestamp_ms", "first_ms", "last_ms", "duration_ms"}
def lines(path):
    out = []
    for line in open(path):
        record = json.loads(line)
        out.append(json.dumps({k: v for k, v in record.items() if k not in TIMES}, sort_keys=True))
    return out
before, after, what = lines(sys.argv[1]), lines(sys.argv[2]), sys.argv[3]
differ = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
same = len(before) == len(after) and not differ
print(f"{what}: {len(before)} lines before, {len(after)} after, "
      + ("identical" if same else f"{len(differ)} differ (first: line {differ[0] if differ else min(len(before), len(after))})"),
      file=sys.stderr)
sys.exit(0 if same and before else 1)
PY
done
exit "$status"
