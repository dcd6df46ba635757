#!/usr/bin/env bash
# Python foreign reader: install pinned deps into .venv, run the tests, then
# check every vector file in testing/vectors/v1. test_wal.py and test_bundle.py
# build the Go CLI (go on PATH, once: conftest.py) and check ronaudit_wal.py on
# logs it writes and ronaudit_bundle.py on export bundles it writes, against
# `ronaudit verify-bundle`; test_bundle_vectors.py checks ronaudit_bundle.py on
# the committed bundle vectors (testing/vectors/v1/bundles), which
# ronaudit_reader.py checks too, with the rest of the directory (and fails
# one holding vectors it would not read).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -r requirements.txt

.venv/bin/python -m pytest -q test_reader.py test_checkpoint.py test_wal.py test_bundle.py test_bundle_vectors.py
.venv/bin/python ronaudit_reader.py ../../vectors/v1
# The schema evolution drill: v1 vectors and the v1 -> v2 chain, read with
# the drill's v2 schema (gen/testdata/audit_v2.capnp).
RONAUDIT_SCHEMA=../../../gen/testdata/audit_v2.capnp .venv/bin/python ronaudit_reader.py ../../vectors/v1
RONAUDIT_SCHEMA=../../../gen/testdata/audit_v2.capnp .venv/bin/python ronaudit_reader.py ../../vectors/drill
