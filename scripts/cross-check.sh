#!/usr/bin/env bash
# Builds ssd-cam for ARM boards without containers and checks the ARM binary
# under qemu against the host build, on the demo source and on images, with
# the shipped model: the same detections, boxes within 0.5 px, scores within
# 1e-3.
#   scripts/cross-check.sh [--build-only] [aarch64] [armv7]   (default: aarch64)
# --build-only installs what is missing and builds the ARM binaries, no
# more (CI builds them beside the tests, at the lowest priority).
# Installs Debian's cross compilers and C libraries, qemu-user-static and the
# Rust targets when missing; linkers and runners are in .cargo/config.toml.
# Results (JSON of both builds, binary size, start-up time) go to
# target/cross-check/ARCH/. SSD_CAM_CROSS_TARGET_DIR puts the ARM build in
# its own target folder (CI: beside the tests' build, sharing no lock);
# SSD_CAM_CROSS_PROFILE picks the cargo profile (default quick-release;
# scripts/package.sh builds release).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
build_only=false
if [ "${1:-}" = --build-only ]; then build_only=true; shift; fi
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(aarch64)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# The host side: exactly the build scripts/test.sh makes (CARGO_TEST_ARGS,
# from setup.sh). `cargo build --bin` would leave out the dev-dependencies,
# which changes the features Cargo unifies for tract and burn and rebuilt them
# (6m49s in CI); `cargo test --no-run` is a no-op after the tests and puts the
# same ssd-cam binary in target/debug.
host=target/debug/ssd-cam
if ! $build_only; then
    cargo test "${CARGO_TEST_ARGS[@]}" --no-run --quiet
fi

work=target/cross-check
mkdir -p "$work"
# Images for the image-source path: raw demo frames of another size and seed.
images="$work/images"
if ! $build_only && [ ! -f "$images/frame_00000007.png" ]; then
    rm -rf "$images"
    "$host" --source demo:size=480x360,fps=0,frames=8,seed=21 --headless --save "$images" --save-raw --save-png >/dev/null
fi
# The image source runs its default model, person-ssdlite (the demo source
# runs ssd300-shapes); a photo with a person gives it something to find on
# both builds (the check requires at least one matched detection).
$build_only || cp models/person-ssdlite-demo-input.jpg "$images/"
sources=("demo:fps=0,frames=12,seed=3" "$images")

status=0
for arch in "${arches[@]}"; do
    case "$arch" in
        aarch64)
            triple=aarch64-unknown-linux-gnu packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
            runner=qemu-aarch64-static sysroot=/usr/aarch64-linux-gnu ;;
        armv7)
            triple=armv7-unknown-linux-gnueabihf packages="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
            runner=qemu-arm-static sysroot=/usr/arm-linux-gnueabihf ;;
        *) echo "error: unknown target '$arch' (aarch64 or armv7)" >&2; exit 2 ;;
    esac
    missing=()
    for p in $packages qemu-user-static; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "cross-check: installing ${missing[*]}" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"

    # The release profile without its link-time optimisation (profile
    # quick-release in Cargo.toml): the same code generation at -O3, minutes
    # shorter to build on 2 cores; the packages keep LTO.
    profile="${SSD_CAM_CROSS_PROFILE:-quick-release}"
    echo "== $arch: cargo build --profile $profile --target $triple --features onnxruntime" >&2
    cross_dir="${SSD_CAM_CROSS_TARGET_DIR:-target}"
    # With ONNX Runtime's loader (no library linked: `ort`'s load-dynamic),
    # so that the packages can ship its library for `--backend onnxruntime`.
    cargo build --profile "$profile" --target "$triple" --target-dir "$cross_dir" --bin ssd-cam --features onnxruntime
    if $build_only; then continue; fi
    bin="$cross_dir/$triple/$profile/ssd-cam"
    out="$work/$arch"
    mkdir -p "$out"
    size=$(stat -c %s "$bin")
    echo "$arch binary (profile $profile): $size bytes" | tee "$out/size.txt" >&2
    for i in "${!sources[@]}"; do
        src=${sources[$i]}
        "$host" --source "$src" --headless --threads 2 > "$out/host-$i.jsonl" 2>/dev/null
        "$runner" -L "$sysroot" "$bin" --source "$src" --headless --threads 2 \
            > "$out/$arch-$i.jsonl" 2> "$out/$arch-$i.log"
        python3 - "$out/host-$i.jsonl" "$out/$arch-$i.jsonl" "$src" <<'PY' || status=1
import json, sys
host, arm, src = sys.argv[1:4]
read = lambda p: [json.loads(l) for l in open(p) if l.strip()]
a, b = read(host), read(arm)
THRESHOLD, BOX, SCORE = 0.3, 0.5, 1e-3
bad, worst_box, worst_score, n = [], 0.0, 0.0, 0
if len(a) != len(b):
    bad.append(f"{len(a)} frames on the host, {len(b)} on ARM")
for fa, fb in zip(a, b):
    left = list(fb["detections"])
    for d in fa["detections"]:
        box = [d["bbox"][k] for k in ("x1", "y1", "x2", "y2")]
        hit = None
        for j, e in enumerate(left):
            eb = [e["bbox"][k] for k in ("x1", "y1", "x2", "y2")]
            db = max(abs(p - q) for p, q in zip(box, eb))
            if e["class_id"] == d["class_id"] and db <= BOX and abs(e["score"] - d["score"]) <= SCORE:
                hit = (j, db, abs(e["score"] - d["score"]))
                break
        if hit:
            left.pop(hit[0]); n += 1
            worst_box, worst_score = max(worst_box, hit[1]), max(worst_score, hit[2])
        elif d["score"] > THRESHOLD + SCORE:  # at the threshold either side may drop it
            bad.append(f"frame {fa['frame']}: host {d['label']} {d['score']:.4f} {box} not on ARM")
    bad += [f"frame {fb['frame']}: ARM {e['label']} {e['score']:.4f} not on the host" for e in left if e["score"] > THRESHOLD + SCORE]
print(f"{src}: {len(a)} frames, {n} detections matched, largest box difference {worst_box:.4f} px, "
      f"largest score difference {worst_score:.2e}" + ("" if not bad else f"; {len(bad)} DIFFER"), file=sys.stderr)
for line in bad[:10]:
    print("  " + line, file=sys.stderr)
sys.exit(1 if bad or n == 0 else 0)
PY
    done
    grep -h "loaded and optimised" "$out/$arch-0.log" | sed 's/.*loaded and optimised in/start-up (model load + optimise under qemu):/' | tee "$out/startup.txt" >&2 || true
done
exit "$status"
