#!/usr/bin/env bash
# Builds and runs the Rust foreign reader of the ron-audit test vectors: its
# unit tests (all vectors pass, tampered copies fail), then the reader over
# testing/vectors/v1 (schema v1, schema/audit.capnp; with its invalid/, its
# checkpoints/, the signed checkpoints and proofs, and its bundles/, the
# export bundles, each with its verdict), over testing/vectors/drill
# (the schema evolution drill's v1 -> v2 chain, read with the schema its
# "schema" field names, gen/testdata/audit_v2.capnp), and over
# testing/vectors/v1 again with v2 decoding (--schema v2; RONAUDIT_SCHEMA=v2
# does the same). Needs cargo and the Cap'n Proto compiler `capnp`.
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
# The schema evolution drill: the v1 -> v2 chain, then the v1 vectors read
# with the drill's v2 schema.
cargo run --release --locked -- ../../vectors/drill
cargo run --release --locked -- --schema v2 ../../vectors/v1
