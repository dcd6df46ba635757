"""Fixtures shared by test_wal.py and test_bundle.py: the Go CLI
(`ronaudit`, built once per session from this repository), a helper to run
it, and two key pairs made by `ronaudit keygen`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cli(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bin") / "ronaudit"
    subprocess.run(["go", "build", "-o", str(out), "./tools/cmd/ronaudit"], cwd=REPO, check=True)
    return out


def run(cli: Path, *args: str, stdin: str | None = None, check: bool = True, cwd=None):
    p = subprocess.run([str(cli), *map(str, args)], input=stdin, capture_output=True, text=True,
                       cwd=cwd)
    if check and p.returncode != 0:
        raise AssertionError(f"ronaudit {' '.join(map(str, args))}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


@pytest.fixture(scope="session")
def keys(cli, tmp_path_factory) -> Path:
    """ops and ops2: NAME.key, NAME.pub, and NAME.keyid (the key id keygen prints)."""
    d = tmp_path_factory.mktemp("keys")
    d.chmod(0o700)
    for name in ("ops", "ops2"):
        out = run(cli, "keygen", "-dir", d, "-name", name).stdout
        (d / f"{name}.keyid").write_text(re.search(r"key id\s+([0-9a-f]{16})", out).group(1))
    return d
