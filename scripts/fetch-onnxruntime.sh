#!/usr/bin/env bash
# Fetches ONNX Runtime's library (libonnxruntime.so) from PyPI's onnxruntime
# wheel into DIR (default target/onnxruntime), with the wheel's LICENSE and
# ThirdPartyNotices.txt beside it (onnxruntime-LICENSE,
# onnxruntime-ThirdPartyNotices.txt), and prints its path: what
# `--backend onnxruntime` loads (ORT_DYLIB_PATH=that path, or put it beside
# the binary). The wheel's version and platform are pinned and, on x86_64,
# the library's SHA-256 too, so a changed upstream fails loudly. Never
# committed. On a board: the same wheel exists for aarch64 (Pi, Jetson CPU);
# for a Jetson's GPU use NVIDIA's onnxruntime-gpu build (README).
# ORT_ARCH picks the wheel's machine (x86_64, aarch64; default this one's),
# for the Debian packages of another architecture.
#   scripts/fetch-onnxruntime.sh [DIR]
set -euo pipefail
version=${ORT_VERSION:-1.28.0}
dir=${1:-target/onnxruntime}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
lib="$dir/libonnxruntime.so.$version"
arch=${ORT_ARCH:-$(uname -m)}
if [ ! -f "$lib" ] || [ ! -f "$dir/onnxruntime-LICENSE" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "fetching onnxruntime $version ($arch wheel from PyPI)" >&2
    python3 -m pip download --quiet "onnxruntime==$version" --no-deps --only-binary=:all: \
        --python-version 3.11 --platform "manylinux_2_27_$arch" -d "$tmp" >&2
    python3 - "$tmp" "$lib" "$version" <<'PY'
import glob, os, sys, zipfile
tmp, out, version = sys.argv[1:]
with zipfile.ZipFile(glob.glob(tmp + "/onnxruntime-*.whl")[0]) as z:
    part = f"{out}.{os.getpid()}"
    with open(part, "wb") as f:
        f.write(z.read(f"onnxruntime/capi/libonnxruntime.so.{version}"))
    os.replace(part, out)
    for name in ("LICENSE", "ThirdPartyNotices.txt"):
        with open(os.path.join(os.path.dirname(out), "onnxruntime-" + name), "wb") as f:
            f.write(z.read("onnxruntime/" + name))
PY
fi
if [ "$arch" = x86_64 ] && [ "$version" = 1.28.0 ]; then
    echo "aa4079d18f4ea7a5f3a94d80cd4bbe0f2740436626622d64d793803a20381083  $lib" | sha256sum --check --status || {
        echo "error: $lib does not have the pinned SHA-256" >&2
        rm -f "$lib"
        exit 1
    }
fi
echo "$lib"
