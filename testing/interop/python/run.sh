#!/usr/bin/env bash
# Python foreign reader: install pinned deps into .venv, run the tests, then
# check every vector file in testing/vectors/v1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -r requirements.txt

.venv/bin/python -m pytest -q test_reader.py test_checkpoint.py
.venv/bin/python ronaudit_reader.py ../../vectors/v1
