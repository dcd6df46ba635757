#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine may lack: the Cap'n
# Proto compiler (capnp), b3sum, promtool (Debian prometheus), strace (the
# fsync-order checks skip without it), a Rust
# toolchain on PATH, Python venv.
# Go itself must be there already (go.mod names the version).
set -euo pipefail

need_apt=()
command -v capnp >/dev/null 2>&1 || need_apt+=(capnproto)
command -v b3sum >/dev/null 2>&1 || need_apt+=(b3sum)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)   # promtool checks the alert rules
command -v strace >/dev/null 2>&1 || need_apt+=(strace)         # internal/synctrace: fsync order under power loss
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: missing ${need_apt[*]}; install them (Debian: apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
    echo "setup: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    echo "setup: cargo not found: install Rust (rustup) for the Rust interop reader" >&2
    exit 1
fi
capnp --version
