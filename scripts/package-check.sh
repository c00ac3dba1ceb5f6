#!/usr/bin/env bash
# Checks a Debian package of ssd-cam on this machine, as root (CI): its
# contents, lintian, install with dpkg -i, the installed binary running the
# demo with the packaged model from a folder without models, its unit
# verified by systemd-analyze, an upgrade that keeps the user's edited
# configuration and data, removal that keeps them and purge that deletes
# them. Leaves the machine without the package.
#   scripts/package-check.sh target/debian/ssd-cam_VERSION-1_amd64.deb
set -euo pipefail
deb=$(realpath "$1")
fail() { echo "package-check: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
work=$(mktemp -d)
trap 'dpkg -P ssd-cam >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "== contents (dpkg-deb -c)" >&2
dpkg-deb -c "$deb" > "$work/contents"
for path in ./usr/bin/ssd-cam ./usr/share/ssd-cam/models/ssd300-shapes.onnx ./usr/share/ssd-cam/models/ssd300-shapes.json \
    ./usr/share/ssd-cam/models/person-ssdlite.onnx ./etc/ssd-cam/cameras.toml ./lib/systemd/system/ssd-cam.service \
    ./usr/share/doc/ssd-cam/copyright; do
    grep -q " $path\$" "$work/contents" || fail "$path is not in the package"
done
awk '{ print $1, $6 }' "$work/contents" >&2
[ "$(dpkg-deb -f "$deb" Package)" = ssd-cam ] || fail "the package is not named ssd-cam"
for conffile in /etc/ssd-cam/cameras.toml /etc/default/ssd-cam; do
    dpkg-deb -I "$deb" conffiles | grep -qx "$conffile" || fail "$conffile is not a conffile"
done

echo "== lintian" >&2
if ! command -v lintian >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null
fi
# Errors fail the check; warnings are shown. Rust binaries are built without
# the C toolchain's fortify wrappers, and the package has no Debian source.
lintian --fail-on error --suppress-tags hardening-no-fortify-functions,no-manual-page "$deb" >&2

echo "== dpkg -i" >&2
dpkg -i "$deb" >&2
[ -x /usr/bin/ssd-cam ] || fail "no /usr/bin/ssd-cam after install"
getent passwd ssd-cam >/dev/null || fail "no ssd-cam system user"
id -nG ssd-cam | grep -qw video || fail "the ssd-cam user is not in the video group"
[ "$(stat -c %U /var/lib/ssd-cam)" = ssd-cam ] || fail "/var/lib/ssd-cam is not the ssd-cam user's"

echo "== the installed binary runs the demo with the packaged model" >&2
(cd "$work" && RUST_LOG=info /usr/bin/ssd-cam --source demo:frames=4,fps=0 --headless > "$work/demo.jsonl" 2> "$work/demo.log") ||
    { cat "$work/demo.log" >&2; fail "the installed binary failed on the demo"; }
[ "$(wc -l < "$work/demo.jsonl")" -eq 4 ] || fail "4 demo frames gave $(wc -l < "$work/demo.jsonl") JSON lines"
grep -q '"detections":\[{' "$work/demo.jsonl" || fail "the packaged model saw nothing on the demo"
grep -q /usr/share/ssd-cam/models "$work/demo.log" || { cat "$work/demo.log" >&2; fail "the model did not come from /usr/share/ssd-cam/models"; }
echo "demo: $(wc -l < "$work/demo.jsonl") frames with detections; $(grep -o 'model .* loaded' "$work/demo.log")" >&2
# A package that ships ONNX Runtime runs on it by default on x86-64.
if grep -q 'usr/lib/ssd-cam/libonnxruntime' "$work/contents" && [ "$(uname -m)" = x86_64 ]; then
    grep -q ' on onnxruntime .*--backend auto: ONNX Runtime .* from /usr/bin/../lib/ssd-cam/' "$work/demo.log" ||
        { cat "$work/demo.log" >&2; fail "the packaged ONNX Runtime was not the engine --backend auto took"; }
    grep -q 'Files: usr/lib/ssd-cam/libonnxruntime.so' /usr/share/doc/ssd-cam/copyright ||
        fail "the copyright file does not name ONNX Runtime's library"
fi
[ "$(cd "$work" && /usr/bin/ssd-cam --check-config --config /etc/ssd-cam/cameras.toml --headless 2>/dev/null)" = ok ] ||
    fail "the packaged example configuration does not pass --check-config"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify /lib/systemd/system/ssd-cam.service 2>&1 | grep ssd-cam.service >&2 &&
        fail "systemd-analyze verify found problems in the unit"
    echo "systemd-analyze verify: ok" >&2
fi

echo "== upgrade keeps the edited configuration and the data" >&2
echo "# edited by the user" >> /etc/ssd-cam/cameras.toml
echo data > /var/lib/ssd-cam/kept
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -R "$deb" "$work/next"
sed -i "s/^Version: .*/Version: $version+1/" "$work/next/DEBIAN/control"
dpkg-deb --root-owner-group --build "$work/next" "$work/next.deb" >/dev/null
dpkg -i "$work/next.deb" >&2
[ "$(dpkg-query -W -f '${Version}' ssd-cam)" = "$version+1" ] || fail "the upgrade did not install"
grep -q "edited by the user" /etc/ssd-cam/cameras.toml || fail "the upgrade overwrote the user's cameras.toml"
[ -f /var/lib/ssd-cam/kept ] || fail "the upgrade lost /var/lib/ssd-cam"

echo "== remove keeps them, purge deletes them" >&2
dpkg -r ssd-cam >&2
[ ! -e /usr/bin/ssd-cam ] || fail "remove left /usr/bin/ssd-cam"
grep -q "edited by the user" /etc/ssd-cam/cameras.toml || fail "remove deleted the configuration"
[ -f /var/lib/ssd-cam/kept ] || fail "remove deleted the data"
dpkg -P ssd-cam >&2
[ ! -e /etc/ssd-cam ] || fail "purge left /etc/ssd-cam"
[ ! -e /var/lib/ssd-cam ] || fail "purge left /var/lib/ssd-cam"
echo "package-check: ok ($deb)" >&2
