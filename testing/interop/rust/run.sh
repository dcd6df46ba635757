#!/usr/bin/env bash
# Builds and runs the Rust foreign reader of the ron-audit v1 test vectors:
# its unit tests (all vectors pass, tampered copies fail), then the reader
# over testing/vectors/v1. Needs cargo and the Cap'n Proto compiler `capnp`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v cargo >/dev/null 2>&1; then
    echo "run.sh: cargo not found: install a Rust toolchain (rustup, https://rustup.rs) first" >&2
    exit 1
fi

if ! command -v capnp >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "run.sh: capnp not found, installing the Debian package capnproto" >&2
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y capnproto
    else
        echo "run.sh: the Cap'n Proto compiler 'capnp' is not installed (Debian/Ubuntu: apt-get install capnproto; needs root)" >&2
        exit 1
    fi
fi

cargo test --release --locked
cargo run --release --locked -- ../../vectors/v1
