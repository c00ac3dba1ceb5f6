#!/usr/bin/env bash
# Builds Debian packages of ssd-cam with dpkg-deb (no container engine, no
# extra tooling): the binary in /usr/bin, the shipped models in
# /usr/share/ssd-cam/models (found without --model paths), the example
# /etc/ssd-cam/cameras.toml and /etc/default/ssd-cam (SSD_CAM_ARGS) as
# conffiles, the systemd unit, ONNX Runtime's library from PyPI's wheel in
# /usr/lib/ssd-cam (amd64 and arm64, when the binary was built with the
# `onnxruntime` feature: `--backend auto` takes it where it is faster), and maintainer
# scripts that make the ssd-cam system user (video group) and
# /var/lib/ssd-cam. Packages land in target/debian/.
#   scripts/package.sh [--profile P] [--binary FILE] [--version V] [ARCH...]
# ARCH: amd64 (x86 mini PCs), arm64 (Pi OS 64-bit, Jetson), armhf (Pi OS
# 32-bit); default amd64 arm64 armhf. Each is built with cargo in profile P
# (default release; ARM through scripts/cross-check.sh --build-only), unless
# --binary names an already built one (then give one ARCH). --version
# overrides the package version (default: the workspace's).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

profile=release binary="" version=""
arches=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        amd64|arm64|armhf) arches+=("$1"); shift ;;
        *) echo "error: unknown argument '$1' (--profile P, --binary FILE, --version V, amd64, arm64, armhf)" >&2; exit 2 ;;
    esac
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)
if [ -n "$binary" ] && [ ${#arches[@]} -ne 1 ]; then
    echo "error: --binary packages one binary: give its one ARCH" >&2
    exit 2
fi
[ -n "$version" ] || version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)-1
maintainer="${DEBFULLNAME:-ssd-cam developers} <${DEBEMAIL:-ssd-cam@example.org}>"

out=target/debian
mkdir -p "$out"
for arch in "${arches[@]}"; do
    case "$arch" in
        amd64) triple=x86_64-unknown-linux-gnu cross="" ;;
        arm64) triple=aarch64-unknown-linux-gnu cross=aarch64 ;;
        armhf) triple=armv7-unknown-linux-gnueabihf cross=armv7 ;;
    esac
    bin=$binary
    if [ -z "$bin" ]; then
        if [ -z "$cross" ]; then
            cargo build --locked --profile "$profile" --bin ssd-cam --features onnxruntime
            dir=$profile; [ "$profile" = dev ] && dir=debug
            bin=target/$dir/ssd-cam
        else
            SSD_CAM_CROSS_PROFILE=$profile scripts/cross-check.sh --build-only "$cross"
            bin=${SSD_CAM_CROSS_TARGET_DIR:-target}/$triple/$profile/ssd-cam
        fi
    fi
    [ -x "$bin" ] || { echo "error: no binary at $bin" >&2; exit 1; }
    machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
    case "$arch:$machine" in
        amd64:*X86-64*|arm64:AArch64|armhf:ARM) ;;
        *) echo "error: $bin is built for '$machine', not $arch" >&2; exit 1 ;;
    esac

    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    chmod 755 "$root"
    install -D -m 755 "$bin" "$root/usr/bin/ssd-cam"
    # Packages for boards carry no debug symbols (release strips them already).
    case "$arch" in
        amd64) strip --strip-unneeded "$root/usr/bin/ssd-cam" ;;
        arm64) aarch64-linux-gnu-strip --strip-unneeded "$root/usr/bin/ssd-cam" ;;
        armhf) arm-linux-gnueabihf-strip --strip-unneeded "$root/usr/bin/ssd-cam" ;;
    esac
    # ONNX Runtime (MIT), for a binary that can load it (the string is its
    # loader's), where PyPI has a wheel for the machine.
    ort_arch="" ort_lib=""
    case "$arch" in amd64) ort_arch=x86_64 ;; arm64) ort_arch=aarch64 ;; esac
    if [ -n "$ort_arch" ] && grep -q OrtGetApiBase "$bin"; then
        ort_lib=$(ORT_ARCH=$ort_arch scripts/fetch-onnxruntime.sh "target/onnxruntime-$ort_arch")
        install -D -m 644 "$ort_lib" "$root/usr/lib/ssd-cam/$(basename "$ort_lib")"
        case "$arch" in
            amd64) strip --strip-unneeded "$root/usr/lib/ssd-cam/$(basename "$ort_lib")" ;;
            arm64) aarch64-linux-gnu-strip --strip-unneeded "$root/usr/lib/ssd-cam/$(basename "$ort_lib")" ;;
        esac
    elif [ -n "$ort_arch" ]; then
        echo "warning: $bin was built without the onnxruntime feature: the $arch package runs tract only" >&2
    fi
    models="$root/usr/share/ssd-cam/models"
    install -d "$models"
    for onnx in models/*.onnx; do
        stem=${onnx%.onnx}
        install -m 644 "$onnx" "$stem.json" "$models/"
        for extra in "$stem.md" "$stem.LICENSE"; do [ -f "$extra" ] && install -m 644 "$extra" "$models/"; done
    done
    install -D -m 644 deploy/cameras.toml "$root/etc/ssd-cam/cameras.toml"
    install -D -m 644 deploy/default/ssd-cam "$root/etc/default/ssd-cam"
    install -D -m 644 deploy/ssd-cam.service "$root/lib/systemd/system/ssd-cam.service"
    doc="$root/usr/share/doc/ssd-cam"
    install -d "$doc"
    install -m 644 README.md "$doc/"
    if [ -n "$ort_lib" ]; then
        install -m 644 "$(dirname "$ort_lib")/onnxruntime-ThirdPartyNotices.txt" "$doc/"
    fi
    gzip -9n -c CHANGELOG.md > "$doc/changelog.gz"
    # The packaging's own changelog, one entry per build, dated by the
    # last commit (reproducible).
    when=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
    printf '%s\n' "ssd-cam ($version) unstable; urgency=medium" "" \
        "  * Package of ssd-cam ${version%-*}; changes in /usr/share/doc/ssd-cam/changelog.gz." "" \
        " -- $maintainer  $when" | gzip -9n > "$doc/changelog.Debian.gz"
    cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ssd-cam

Files: *
Copyright: the ssd-cam developers
License: MIT or Apache-2.0

Files: usr/share/ssd-cam/models/person-ssdlite.*
Copyright: 2018 cftang
License: MIT
 See /usr/share/ssd-cam/models/person-ssdlite.LICENSE.
$([ -z "$ort_lib" ] || printf '\n%s\n' "Files: usr/lib/ssd-cam/libonnxruntime.so.*" \
    "Copyright: Microsoft Corporation" "License: MIT" \
    " ONNX Runtime, from PyPI's onnxruntime wheel. Its licence follows; the" \
    " notices of the code it includes are in /usr/share/doc/ssd-cam/onnxruntime-ThirdPartyNotices.txt." " ." \
    "$(sed 's/^$/./; s/^/ /' "$(dirname "$ort_lib")/onnxruntime-LICENSE")")

License: MIT or Apache-2.0
 Either license, at your option. On Debian systems the Apache License 2.0
 is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
    chmod 644 "$doc/copyright"

    # The C library the binary was linked against sets the oldest libc6.
    glibc=$(readelf -W --version-info "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
    install -d "$root/DEBIAN"
    cat > "$root/DEBIAN/control" <<CONTROL
Package: ssd-cam
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: libc6 (>= $glibc), libgcc-s1, adduser$([ -z "$ort_lib" ] || echo ", libstdc++6")
Recommends: ffmpeg
Suggests: libx11-6, libxcursor1
Section: video
Priority: optional
Description: real-time SSD object detector for cameras on edge boards
 ssd-cam reads a V4L2 camera, a network camera or a video file, runs an SSD
 network on the CPU and writes what it sees as JSON lines, MQTT events,
 snapshots, recordings and a web viewer. It runs as a systemd service
 (Type=notify, watchdog) configured in /etc/ssd-cam/cameras.toml.
 .
 ffmpeg is needed for network cameras, video files and recordings; a V4L2
 camera alone does without. The window mode loads the X11 libraries.
CONTROL
    printf '%s\n' /etc/ssd-cam/cameras.toml /etc/default/ssd-cam > "$root/DEBIAN/conffiles"
    install -m 755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
    (cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
        > "$root/DEBIAN/md5sums"
    chmod 644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control" "$root/DEBIAN/conffiles"
    deb="$out/ssd-cam_${version}_$arch.deb"
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
    rm -rf "$root"
    trap - EXIT
    echo "$deb ($(stat -c %s "$deb") bytes, binary from $bin)" >&2
done
