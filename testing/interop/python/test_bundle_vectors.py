"""The committed export bundle vectors (testing/vectors/v1/bundles/
bundles.json, written by `go test ./sdk/export -run TestBundleVectors
-update`): every case gets its verdict from ronaudit_bundle.py, as from the
Go and the Rust verifiers. Each damaged case fails one check only, so the
reason label (and the record's seq and the detail, where the case names
them) is the one FORMAT.md gives it whatever order a verifier checks in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ronaudit_bundle as rb

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "v1" / "bundles" / "bundles.json"
DOC = json.loads(VECTORS.read_text())
CASES = {c["name"]: c for c in DOC["cases"]}


def verdict(case: dict) -> tuple[str, str | None, int | None, str]:
    return rb.vector_verdict(case)


def test_the_file_covers_every_label():
    wants = {c["want"] for c in DOC["cases"]}
    assert wants == {"ok", *rb.REASONS}, wants
    assert {c.get("detail") for c in DOC["cases"]} >= {"retired_key", "unknown_key", "bad_key_transition"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector(name):
    case = CASES[name]
    reason, detail, seq, text = verdict(case)
    assert reason == case["want"], text
    if "detail" in case:
        assert detail == case["detail"], text
    if "seq" in case:
        assert seq == case["seq"], text
