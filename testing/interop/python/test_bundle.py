"""Tests of the Python export bundle verifier (ronaudit_bundle.py) on real
bundles.

The bundles are written by the Go CLI (`ronaudit export`, and `append
--export` for a checkpoint-sealed log); the CLI, `run` and the key pairs
are the session fixtures of conftest.py. Every bundle as made, damaged
copies (single-byte flips, with and without the record CRC fixed up),
missing, overlapping and forked bundles, and trusted checkpoints the
sequence does not reach or that a retired key signed, are given to both
this verifier and `ronaudit verify-bundle`: the accept/reject verdicts must
be the same. Reason labels are compared where FORMAT.md pins them (one
failure only); which failure a verifier reports first is not part of the
format, so for flips the labels are only counted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import ronaudit_bundle as rb
import ronaudit_checkpoint as cpk
import ronaudit_reader as rr
import ronaudit_wal as rw
from conftest import REPO, run

WRITER = "svc@inst-1"
FLUX = "flux/é ü"  # escaped in the origin and the directory name
# The summary line of a chain, in both verifiers (Go shows 16 hex digits of
# the head hash, ours 64).
OK_LINE = re.compile(r"^ok: (.+): (.+): (\d+) bundles?, records (\d+)\.\.(\d+), head ([0-9a-f]{16,64})$")
# The same line when the directory ends in the chain's name and says it.
OK_LINE_DIR = re.compile(r"^ok: (.+): (\d+) bundles?, records (\d+)\.\.(\d+), head ([0-9a-f]{16,64})$")
GO_LABEL = re.compile(r"\bexport: ([a-z_]+)")
FLIP_STRIDE = 7


# --------------------------------------------------------------------------
# Bundles made by the Go CLI (once per session)


def _lines(lines) -> str:
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)


def append(cli, keys, wal: Path, lines, *extra, key="ops"):
    return run(cli, "append", "--wal", wal, "--key", keys / f"{key}.key", "--writer", WRITER,
               "--stream", "caps", *extra, stdin=_lines(lines))


def export(cli, keys, wal: Path, out: Path, stream="caps", key="ops", *extra):
    p = run(cli, "export", "--wal", wal, "--key", keys / f"{key}.key", "--writer", WRITER,
            "--stream", stream, "--out", out, *extra)
    assert "exported" in p.stdout, p.stdout
    return p


def checkpoint(cli, keys, wal: Path, out: Path, stream="caps", key="ops") -> Path:
    run(cli, "checkpoint", "--wal", wal, "--key", keys / f"{key}.key", "--writer", WRITER,
        "--stream", stream, "--out", out)
    return out


def _workdir(tmp_path_factory, name) -> Path:
    d = tmp_path_factory.mktemp(name)
    d.chmod(0o700)
    return d


@dataclass
class Export:
    name: str
    wal: Path
    out: Path  # the export directory (FileSink layout)
    pubs: tuple[str, ...]  # key names a verifier is given

    def chains(self) -> list[Path]:
        return [d for d, _ in rb.chain_dirs(self.out)]

    def bundles(self) -> list[Path]:
        return [f for _, fs in rb.chain_dirs(self.out) for f in fs]


@pytest.fixture(scope="session")
def multi(cli, keys, tmp_path_factory) -> Export:
    """Two chains (caps: 3 bundles; flux/é ü: 2 bundles), signed records."""
    d = _workdir(tmp_path_factory, "multi")
    wal, out = d / "log", d / "export"
    append(cli, keys, wal, [
        {"kind": "capIssued", "reason": "héllo — ✓", "actor": {"capId": "cap-1"},
         "attrs": [{"key": "z", "value": "last"}, {"key": "é", "value": "ü"},
                   {"key": "a", "value": ""}]},
        {"kind": "getServed", "stream": FLUX},
        {"kind": "indexWrite", "subject": {"name": "名前"}},
    ])
    export(cli, keys, wal, out)
    export(cli, keys, wal, out, FLUX)
    append(cli, keys, wal, [{"kind": "capRevoked", "actor": {"anon": True}},
                            {"kind": "getServed", "stream": FLUX, "reason": "emoji 🙂"},
                            {"kind": "quotaReject", "reason": "q"}])
    export(cli, keys, wal, out)
    export(cli, keys, wal, out, FLUX)
    append(cli, keys, wal, [{"kind": "unknown", "reason": f"u{i}"} for i in range(3)])
    export(cli, keys, wal, out)
    return Export("multi", wal, out, ("ops",))


@pytest.fixture(scope="session")
def rotated(cli, keys, tmp_path_factory) -> Export:
    """caps: 1..3 signed by ops; 4..6 (6 = the transition ops -> ops2, the
    checkpoint signed by ops2); 7..8 signed by ops2. Verifies with ops only."""
    d = _workdir(tmp_path_factory, "rotated")
    wal, out = d / "log", d / "export"
    append(cli, keys, wal, [{"kind": "capIssued", "reason": f"before {i}"} for i in range(3)])
    export(cli, keys, wal, out)
    append(cli, keys, wal, [{"kind": "getServed", "reason": f"before {i}"} for i in range(3, 5)])
    run(cli, "rotate", "--wal", wal, "--key", keys / "ops.key", "--new-key", keys / "ops2.key")
    export(cli, keys, wal, out, "caps", "ops2", "--pub", keys / "ops.pub")
    append(cli, keys, wal, [{"kind": "capIssued", "reason": f"after {i}"} for i in range(2)],
           "--pub", keys / "ops.pub", key="ops2")
    export(cli, keys, wal, out, "caps", "ops2", "--pub", keys / "ops.pub")
    return Export("rotated", wal, out, ("ops",))


@pytest.fixture(scope="session")
def sealed(cli, keys, tmp_path_factory) -> Export:
    """append --seal-every 3 --export: unsigned records, a bundle after each
    checkpoint (1..3, 4..6, 7..7)."""
    d = _workdir(tmp_path_factory, "sealed")
    wal, out = d / "log", d / "export"
    append(cli, keys, wal, [{"kind": "getServed", "reason": f"s{i}"} for i in range(1, 8)],
           "--seal-every", "3", "--export", out)
    return Export("sealed", wal, out, ("ops",))


@dataclass
class Fork:
    a: Export  # prefix 1..2, then a3 (3..3), a4 (4..4)
    b: Export  # the same prefix, then b3, b4
    a_cp: Path  # a's checkpoint at 4
    b_cp: Path  # b's checkpoint at 4


@pytest.fixture(scope="session")
def fork(cli, keys, tmp_path_factory) -> Fork:
    d = _workdir(tmp_path_factory, "fork")
    wal, out = d / "a-log", d / "a-export"
    append(cli, keys, wal, [{"kind": "capIssued", "reason": "p1"}, {"kind": "capIssued", "reason": "p2"}])
    export(cli, keys, wal, out)
    shutil.copytree(wal, d / "b-log")
    shutil.copytree(out, d / "b-export")
    for name in ("a", "b"):
        w, o = d / f"{name}-log", d / f"{name}-export"
        for i in (3, 4):
            append(cli, keys, w, [{"kind": "indexWrite", "reason": f"{name}{i}"}])
            export(cli, keys, w, o)
    return Fork(Export("a", d / "a-log", d / "a-export", ("ops",)),
                Export("b", d / "b-log", d / "b-export", ("ops",)),
                checkpoint(cli, keys, d / "a-log", d / "a4.note"),
                checkpoint(cli, keys, d / "b-log", d / "b4.note"))


@pytest.fixture(scope="session")
def exports(multi, rotated, sealed) -> dict[str, Export]:
    return {e.name: e for e in (multi, rotated, sealed)}


# --------------------------------------------------------------------------
# Running both verifiers


def pubs(keys: Path, names) -> list[bytes]:
    return [rw.load_public_key(keys / f"{n}.pub") for n in names]


@dataclass
class Verdict:
    ok: bool
    label: str | None  # the reason label of a failure
    retired: bool  # the failure names retired_key
    text: str
    status: int = 0  # the Go CLI's exit status (this reader's verdicts: 0)


# One OS thread is enough for the CLI on these small bundles, and starts
# faster; the flip test runs many of them side by side.
GO_ENV = dict(os.environ, GOMAXPROCS="1")


def go(cli, keys, path: Path, names, cp: Path | None = None) -> Verdict:
    args = [str(cli), "verify-bundle"]
    for n in names:
        args += ["--pub", str(keys / f"{n}.pub")]
    if cp is not None:
        args += ["--checkpoint", str(cp)]
    p = subprocess.run([*args, str(path)], capture_output=True, text=True, env=GO_ENV)
    # 0 ok, 1 FAIL (a verification failure), 3 an operational error: a
    # path that cannot be read (a link to nothing, a loop), on stderr.
    assert p.returncode in (0, 1, 3), p.stdout + p.stderr
    text = p.stdout + p.stderr
    m = GO_LABEL.search(text)
    if p.returncode == 0:
        return Verdict(True, None, False, text)
    if m is None:
        m = re.search(r"^FAIL: ([a-z_]+):", text, re.M)
    return Verdict(False, m.group(1) if m else None, "retired_key" in text, text, p.returncode)


def ours(keys: Path, paths, names, cp: Path | None = None) -> Verdict:
    paths = [paths] if isinstance(paths, (str, Path)) else paths
    try:
        res = rb.verify_path(paths, pubs(keys, names), cp.read_bytes() if cp else None)
    except rb.BundleError as e:
        return Verdict(False, e.reason, e.detail == rb.RETIRED_KEY, str(e))
    return Verdict(True, None, False, "\n".join(line for r in res for line in r.summary()))


def ours_seq(trusted: list[bytes], bundles: list[tuple[str, bytes]]) -> Verdict:
    try:
        rb.verify_sequence(bundles, trusted)
    except rb.BundleError as e:
        return Verdict(False, e.reason, e.detail == rb.RETIRED_KEY, str(e))
    return Verdict(True, None, False, "")


def both(cli, keys, path, names, cp=None) -> tuple[Verdict, Verdict]:
    g, o = go(cli, keys, path, names, cp), ours(keys, path, names, cp)
    assert g.ok == o.ok, f"go: {g.text}\nours: {o.text}"
    return g, o


def heads(text: str) -> dict[str, tuple[int, int, int, str]]:
    """chain -> (bundles, first seq, last seq, head hash prefix) of the
    summary lines of either verifier."""
    out = {}
    for line in text.splitlines():
        m = OK_LINE.match(line)
        if m:
            out[m.group(2)] = (int(m.group(3)), int(m.group(4)), int(m.group(5)), m.group(6)[:16])
        elif m := OK_LINE_DIR.match(line):
            chain = "/".join(m.group(1).replace("\\", "/").split("/")[-2:])
            out[chain] = (int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5)[:16])
    return out


def private_seed(keys: Path, name: str) -> bytes:
    k = serialization.load_pem_private_key((keys / f"{name}.key").read_bytes(), None)
    return k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                           serialization.NoEncryption())


def sign_checkpoint(keys: Path, key: str, origin: str, size: int, root: bytes) -> bytes:
    writer, _ = cpk.parse_origin(origin)
    text = cpk.format_checkpoint_text(cpk.Checkpoint(origin, size, root))
    return cpk.sign_note(text, cpk.ORIGIN_PREFIX + cpk.escape_component(writer),
                         private_seed(keys, key))


def copy_chain(chain: Path, dst: Path, replace: dict[str, bytes] | None = None,
               drop: tuple[str, ...] = ()) -> Path:
    dst.mkdir(parents=True)
    for f in sorted(chain.glob("*.bundle")):
        if f.name in drop:
            continue
        (dst / f.name).write_bytes((replace or {}).get(f.name, f.read_bytes()))
    for name, data in (replace or {}).items():
        (dst / name).write_bytes(data)
    return dst


# --------------------------------------------------------------------------
# Bundles as made


def test_parse_marshal_round_trip(exports):
    n = 0
    for e in exports.values():
        for f in e.bundles():
            data = f.read_bytes()
            b = rb.parse_bundle(data, str(f))
            assert rb.marshal_bundle(b) == data
            m, s = (int(x) for x in rb.BUNDLE_NAME.match(f.name).groups())
            assert (b.first_seq, b.size) == (m, s)  # the FileSink name
            assert f.parent.name == cpk.escape_component(b.stream)
            assert f.parent.parent.name == cpk.escape_component(b.writer)
            n += 1
    assert n == 11


def test_every_bundle_as_made(cli, keys, exports):
    for e in exports.values():
        # the export directory, each chain directory
        g, o = both(cli, keys, e.out, e.pubs)
        assert g.ok, g.text
        assert heads(g.text) == heads(o.text) and len(heads(g.text)) == len(e.chains())
        for c in e.chains():
            g, o = both(cli, keys, c, e.pubs)
            assert g.ok and heads(g.text) == heads(o.text), g.text
        # each bundle alone, with both keys (a later bundle of the rotated
        # chain alone cannot see the rotation the earlier one holds), and
        # with the export's keys (the verdicts must agree)
        for f in e.bundles():
            g, o = both(cli, keys, f, ("ops", "ops2"))
            assert g.ok, g.text
            both(cli, keys, f, e.pubs)
    # The command line of ours.
    assert rb.main([str(exports["multi"].out), "--pub", str(keys / "ops.pub")]) == 0


def test_multi_chains_and_heads(cli, keys, multi):
    res = rb.verify_path([multi.out], pubs(keys, ["ops"]))
    got = {cpk.parse_origin(r.origin): (len(r.bundles), r.size, r.head_hash) for r in res}
    dump = [json.loads(x) for x in run(cli, "dump", multi.wal).stdout.splitlines()]
    heads = {}
    for d in dump:
        rec = d["record"]
        heads[(rec["writerId"], rec["stream"])] = (rec["seq"], bytes.fromhex(d["hash"]))
    assert got == {k: (3 if k[1] == "caps" else 2, s, h) for k, (s, h) in heads.items()}
    assert all(b.signed == b.size - b.prev_size for r in res for b in r.bundles)


def test_rotation_verifies_with_the_old_key_only(cli, keys, rotated):
    (chain,) = rotated.chains()
    res = rb.verify_path([chain], pubs(keys, ["ops"]))[0]
    old, new = pubs(keys, ["ops", "ops2"])
    assert [(t, o, n) for t, o, n in res.chain.transitions] == [(6, old, new)]
    assert [(b.prev_size, b.size) for b in res.bundles] == [(0, 3), (3, 6), (6, 8)]
    g, _ = both(cli, keys, chain, ["ops"])
    assert g.ok, g.text
    # The new key alone does not vouch for the records before the rotation.
    g, o = both(cli, keys, chain, ["ops2"])
    assert not g.ok and o.label == "bad_checkpoint"
    # The bundle after the rotation alone, with the old key only: it cannot
    # see the transition.
    last = sorted(chain.glob("*.bundle"))[-1]
    g, o = both(cli, keys, last, ["ops"])
    assert not g.ok and o.label == g.label == "bad_checkpoint"


def test_sealed_records_are_unsigned(cli, keys, sealed):
    (chain,) = sealed.chains()
    res = rb.verify_path([chain], pubs(keys, ["ops"]))[0]
    assert [(b.prev_size, b.size, b.signed) for b in res.bundles] == [(0, 3, 0), (3, 6, 0), (6, 7, 0)]
    g, _ = both(cli, keys, chain, ["ops"])
    assert heads(g.text)[f"{WRITER}/caps"] == (3, 1, 7, res.head_hash.hex()[:16])


# --------------------------------------------------------------------------
# Single-byte flips


def _flip_cases(data: bytes, phase: int) -> list[tuple[str, bytes]]:
    """Every FLIP_STRIDE-th byte XOR 0x01; and, for a byte inside a record
    payload, the same flip with that frame's CRC fixed up."""
    frames = [(f.offset, len(f.payload)) for f in rb.parse_bundle(data).records]
    out = []
    for i in range(phase % FLIP_STRIDE, len(data), FLIP_STRIDE):
        d = bytearray(data)
        d[i] ^= 0x01
        out.append((f"{i}", bytes(d)))
        for off, n in frames:
            if off + 8 <= i < off + 8 + n:
                d[off + 4 : off + 8] = rw.crc32c(d[off + 8 : off + 8 + n]).to_bytes(4, "little")
                out.append((f"{i}+crc", bytes(d)))
    return out


FLIP_STATS: dict[str, Counter] = {}


@pytest.mark.parametrize("name", ["multi", "rotated", "sealed"])
def test_flips_same_verdict(cli, keys, exports, tmp_path, name):
    e = exports[name]
    jobs = []  # (label, chain files in order as (name, bytes), dir for go)
    n = phase = 0
    for chain in e.chains():
        files = sorted(chain.glob("*.bundle"))
        for f in files:
            phase += 1  # each bundle its own phase: other fields get flipped
            for what, data in _flip_cases(f.read_bytes(), phase):
                n += 1
                seq = [(g.name, data if g == f else g.read_bytes()) for g in files]
                jobs.append((f"{chain.name}/{f.name}@{what}", seq, tmp_path / f"c{n}" / chain.name))

    def run_go(job):
        _, seq, d = job
        d.mkdir(parents=True)
        for fname, data in seq:
            (d / fname).write_bytes(data)
        return go(cli, keys, d, e.pubs)

    # The Go runs in worker threads (subprocesses) while ours runs here.
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) + 1) as pool:
        go_verdicts = [pool.submit(run_go, job) for job in jobs]
        trusted = pubs(keys, e.pubs)
        our_verdicts = [ours_seq(trusted, seq) for _, seq, _ in jobs]
        go_verdicts = [f.result() for f in go_verdicts]
    stats = Counter()
    disagree = []
    for (label, seq, _), g, o in zip(jobs, go_verdicts, our_verdicts):
        stats["cases"] += 1
        stats["crc fixed" if label.endswith("+crc") else "plain"] += 1
        if g.ok != o.ok:
            disagree.append(f"{label}: go {g.text.strip()[:200]} / ours {o.text[:200]}")
            continue
        stats["accepted" if o.ok else "rejected"] += 1
        if not o.ok:
            assert o.label in rb.REASONS, o.text
            # Counted, not compared: which failure comes first is not part
            # of the format (FORMAT.md, end of "Verifying one bundle").
            stats["same label" if g.label == o.label else f"label go={g.label} ours={o.label}"] += 1
    FLIP_STATS[name] = stats
    _write_stats()
    assert not disagree, "\n".join(disagree[:20])
    assert stats["cases"] > 100


def _write_stats():
    """RONAUDIT_FLIP_STATS=FILE writes the flip counts there (for reports)."""
    p = os.environ.get("RONAUDIT_FLIP_STATS")
    if p:
        Path(p).write_text(json.dumps({k: dict(v) for k, v in FLIP_STATS.items()}, indent=1))


def test_readme_counts_the_flips():
    """The README says on how many damaged copies both verifiers agree:
    the cases test_flips_same_verdict made (run before this one), so that
    a change of the bundles or of the flips updates the figure."""
    if set(FLIP_STATS) != {"multi", "rotated", "sealed"}:
        pytest.skip("test_flips_same_verdict did not run for every export in this session")
    readme = " ".join((REPO / "README.md").read_text().split())
    m = re.search(r"agreeing with `ronaudit verify-bundle` on every bundle and on ([0-9,]+) damaged copies", readme)
    assert m, "README.md no longer says on how many damaged copies: update this test"
    total = sum(s["cases"] for s in FLIP_STATS.values())
    assert int(m.group(1).replace(",", "")) == total, f"README.md says {m.group(1)} damaged copies; the flips made {total:,}"


# --------------------------------------------------------------------------
# Sequences: gaps, overlaps, forks, truncation


def test_missing_middle_bundle_is_a_gap(cli, keys, multi, tmp_path):
    chain = [c for c in multi.chains() if c.name == "caps"][0]
    files = sorted(chain.glob("*.bundle"))
    d = copy_chain(chain, tmp_path / "caps", drop=(files[1].name,))
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "gap", (g.text, o.text)
    # Without the first one, the sequence does not start at seq 1.
    d = copy_chain(chain, tmp_path / "caps2", drop=(files[0].name,))
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "gap", (g.text, o.text)


def test_overlapping_bundle_is_a_gap(cli, keys, multi, tmp_path):
    chain = [c for c in multi.chains() if c.name == "caps"][0]
    files = sorted(chain.glob("*.bundle"))
    # A second copy of the middle bundle sorts right after it (under a
    # bundle name: one that is none is refused before any bundle is read).
    first, last = rb.bundle_name_seqs(files[1].name)
    dup = f"{first:020d}-{last + 1:020d}.bundle"
    assert files[1].name < dup < files[2].name
    d = copy_chain(chain, tmp_path / "caps", replace={dup: files[1].read_bytes()})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "gap", (g.text, o.text)


def test_forked_history(cli, keys, fork, tmp_path):
    (a,), (b,) = fork.a.chains(), fork.b.chains()
    for c in (a, b):
        g, _ = both(cli, keys, c, ["ops"])
        assert g.ok, g.text
    af, bf = sorted(a.glob("*.bundle")), sorted(b.glob("*.bundle"))
    assert af[0].read_bytes() == bf[0].read_bytes()  # the shared prefix 1..2
    assert [f.name for f in af] == [f.name for f in bf]
    # a's 3..3 then b's 4..4: b's previous checkpoint (size 3) is b's.
    d = copy_chain(a, tmp_path / "mixed", replace={af[2].name: bf[2].read_bytes()})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "fork", (g.text, o.text)
    # The same as a list of files.
    o = ours(keys, [af[0], af[1], bf[2]], ["ops"])
    assert not o.ok and o.label == "fork"
    # A trusted checkpoint of b against a's bundles: history was rewritten.
    g, o = both(cli, keys, a, ["ops"], fork.b_cp)
    assert not g.ok and g.label == o.label == "fork", (g.text, o.text)
    g, o = both(cli, keys, a, ["ops"], fork.a_cp)
    assert g.ok and "checkpoint ok" in o.text, g.text


def test_two_directories_of_one_chain(cli, keys, fork, tmp_path):
    """Two directories holding bundles of one chain are two signed histories
    of it: they must agree (the longer extends the shorter), else fork."""
    (a,), (b,) = fork.a.chains(), fork.b.chains()
    af = sorted(a.glob("*.bundle"))
    two = tmp_path / "two"
    copy_chain(a, two / "a")
    copy_chain(b, two / "b")
    g, o = both(cli, keys, two, ["ops"])
    assert not g.ok and g.label == o.label == "fork", (g.text, o.text)
    # b whole beside a's first bundles (the shared prefix and a3): a fork
    # at seq 3, whichever directory is the shorter.
    three = tmp_path / "three"
    copy_chain(a, three / "a", drop=(af[-1].name,))
    copy_chain(b, three / "b")
    g, o = both(cli, keys, three, ["ops"])
    assert not g.ok and g.label == o.label == "fork", (g.text, o.text)
    # A copy of a prefix (a backup) beside the whole: one history.
    backup = tmp_path / "backup"
    copy_chain(a, backup / "a")
    copy_chain(a, backup / "b", drop=(af[-1].name,))
    g, o = both(cli, keys, backup, ["ops"])
    assert g.ok, g.text


def test_trusted_checkpoint_not_reached_is_truncated(cli, keys, fork, tmp_path):
    (a,) = fork.a.chains()
    last = sorted(a.glob("*.bundle"))[-1]
    d = copy_chain(a, tmp_path / "cut", drop=(last.name,))
    g, o = both(cli, keys, d, ["ops"])
    assert g.ok
    g, o = both(cli, keys, d, ["ops"], fork.a_cp)
    assert not g.ok and g.label == o.label == "truncated", (g.text, o.text)
    # The export directory holds no bundles of the checkpoint's chain.
    other = tmp_path / "other" / "x" / "y"
    copy_chain(a, other)
    cp = sign_checkpoint(keys, "ops", rb.parse_bundle(last.read_bytes()).origin.replace(
        "/caps", "/zzz"), 1, bytes(32))
    (tmp_path / "zzz.note").write_bytes(cp)
    g, o = both(cli, keys, tmp_path / "other", ["ops"], tmp_path / "zzz.note")
    assert not g.ok and g.label == o.label == "truncated", (g.text, o.text)


# --------------------------------------------------------------------------
# Key rotation: retired keys


def _rotated_bundles(rotated: Export) -> tuple[Path, list[Path]]:
    (chain,) = rotated.chains()
    return chain, sorted(chain.glob("*.bundle"))


def test_trusted_checkpoint_by_the_retired_key(cli, keys, rotated, tmp_path):
    chain, files = _rotated_bundles(rotated)
    res = rb.verify_path([chain], pubs(keys, ["ops"]))[0]
    roots = rw.prefix_roots(res.hashes, {6, 8})
    # Signed by the old key past the rotation (seq 6): retired_key.
    (tmp_path / "old8.note").write_bytes(sign_checkpoint(keys, "ops", res.origin, 8, roots[8]))
    g, o = both(cli, keys, chain, ["ops"], tmp_path / "old8.note")
    assert not g.ok and g.label == o.label == "bad_checkpoint" and g.retired and o.retired, (
        g.text, o.text)
    # At the rotation's seq, the old key still vouches.
    (tmp_path / "old6.note").write_bytes(sign_checkpoint(keys, "ops", res.origin, 6, roots[6]))
    g, o = both(cli, keys, chain, ["ops"], tmp_path / "old6.note")
    assert g.ok, g.text
    # The new key's checkpoint at 8, trusted through the transition.
    (tmp_path / "new8.note").write_bytes(sign_checkpoint(keys, "ops2", res.origin, 8, roots[8]))
    g, o = both(cli, keys, chain, ["ops"], tmp_path / "new8.note")
    assert g.ok, g.text


@pytest.mark.parametrize("given", [["ops"], ["ops", "ops2"]])
def test_trusted_checkpoint_by_the_new_key_below_its_transition(cli, keys, rotated, tmp_path, given):
    """The key the transition at 6 names vouches for sizes 6 and up only,
    learned or given (FORMAT.md step 6): the Go CLI and this reader refuse
    its checkpoint at 5, and take the one at 6."""
    chain, files = _rotated_bundles(rotated)
    res = rb.verify_path([chain], pubs(keys, ["ops"]))[0]
    roots = rw.prefix_roots(res.hashes, {5, 6})
    (tmp_path / "new5.note").write_bytes(sign_checkpoint(keys, "ops2", res.origin, 5, roots[5]))
    g, o = both(cli, keys, chain, given, tmp_path / "new5.note")
    assert not g.ok and g.label == o.label == "bad_checkpoint" and not g.retired and not o.retired, (
        g.text, o.text)
    assert "unknown_key" in g.text and "unknown_key" in o.text, (g.text, o.text)
    (tmp_path / "new6.note").write_bytes(sign_checkpoint(keys, "ops2", res.origin, 6, roots[6]))
    g, o = both(cli, keys, chain, given, tmp_path / "new6.note")
    assert g.ok, g.text


def test_bundle_checkpoint_by_the_retired_key(cli, keys, rotated, tmp_path):
    chain, files = _rotated_bundles(rotated)
    b = rb.parse_bundle(files[-1].read_bytes())
    cp = cpk.parse_checkpoint_text(b.checkpoint[: b.checkpoint.rfind(b"\n\n") + 1])
    b.checkpoint = sign_checkpoint(keys, "ops", b.origin, cp.size, cp.root)
    d = copy_chain(chain, tmp_path / "caps", replace={files[-1].name: rb.marshal_bundle(b)})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "bad_checkpoint" and g.retired and o.retired, (
        g.text, o.text)


def test_record_signed_by_the_retired_key(cli, keys, rotated, tmp_path):
    """A bundle 9..9 whose record the old key signed after the rotation; its
    checkpoint, proof and compact range are right (signed by ops2)."""
    chain, files = _rotated_bundles(rotated)
    res = rb.verify_path([chain], pubs(keys, ["ops"]))[0]
    last = rb.parse_bundle(files[-1].read_bytes())
    # The head record (seq 8) as seq 9, signed by the old key.
    frame = _resigned(keys, last.records[-1], "ops", seq=9, prev=res.head_hash.hex(),
                      reason="forged")
    h = frame.hash
    leaves = [cpk.leaf_hash(x) for x in res.hashes + [h]]
    root9 = cpk.tree_hash(leaves)
    forged = rb.Bundle(
        "forged", last.origin, last.writer, last.stream, 9,
        sign_checkpoint(keys, "ops2", last.origin, 9, root9), 8, last.checkpoint,
        cpk.consistency_proof(8, leaves), [cpk.tree_hash(leaves[:8])],
        [frame])
    name = "00000000000000000009-00000000000000000009.bundle"
    d = copy_chain(chain, tmp_path / "caps", replace={name: rb.marshal_bundle(forged)})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "record" and g.retired and o.retired, (
        g.text, o.text)
    # The same record signed by the new key is fine.
    forged.records = [_resigned(keys, frame, "ops2")]
    (d / name).write_bytes(rb.marshal_bundle(forged))
    g, o = both(cli, keys, d, ["ops"])
    assert g.ok, g.text


def test_unsigned_transition_record(cli, keys, rotated, tmp_path):
    """FORMAT.md "Integrity" says clearing a record's signature leaves a
    valid bundle; canonical/SPEC.md section 5 says a transition record must
    be signed (bad_key_transition). Both verifiers must agree, whichever."""
    chain, files = _rotated_bundles(rotated)
    b = rb.parse_bundle(files[1].read_bytes())
    f = b.records[-1]
    assert rw.transition_key(rw.strict_open(f.canonical)) is not None
    b.records[-1] = rb.RecordFrame(f.seq, 0, b"\x01\x00" + bytes(8 + 64) + f.hash + f.canonical)
    p = tmp_path / files[1].name
    p.write_bytes(rb.marshal_bundle(b))
    g, o = both(cli, keys, p, ["ops", "ops2"])
    assert not o.ok and o.label == "record", o.text


# --------------------------------------------------------------------------
# Parsing and the command line


def test_parse_refuses(multi):
    data = multi.bundles()[1].read_bytes()
    for bad, label in [
        (data + b"\x00", "format"),
        (data[:-1], "record"),  # the last frame is cut short
        (b"X" + data[1:], "format"),
        (data[:15] + b"\x02" + data[16:], "format"),
        (b"", "format"),
    ]:
        with pytest.raises(rb.BundleError) as ei:
            rb.parse_bundle(bad)
        assert ei.value.reason == label, str(ei.value)
    b = rb.parse_bundle(data)
    f = b.records[0]
    # A CRC mismatch is `record` at that seq.
    i = f.offset + 8 + 120
    bad = bytearray(data)
    bad[i] ^= 0x80
    with pytest.raises(rb.BundleError) as ei:
        rb.parse_bundle(bytes(bad))
    assert (ei.value.reason, ei.value.seq) == ("record", f.seq)


def test_cli_usage(keys, multi, tmp_path, capsys):
    with pytest.raises(SystemExit) as ei:
        rb.main([str(multi.out)])  # no --pub
    assert ei.value.code == 2
    assert rb.main([str(tmp_path / "nope"), "--pub", str(keys / "ops.pub")]) == 2
    assert rb.main([str(multi.out), "--pub", str(tmp_path / "nope.pub")]) == 2
    capsys.readouterr()
    assert rb.main([str(multi.out), "--pub", str(keys / "ops2.pub")]) == 1
    assert "FAIL: " in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert rb.main([str(empty), "--pub", str(keys / "ops.pub")]) == 1
    assert rb.main([str(multi.out), "--pub", str(keys / "ops.pub")]) == 0
    out = capsys.readouterr().out
    assert "records 1..7, head" in out and "records 1..2, head" in out


def test_cli_sequence_of_files_and_bad_notes(cli, keys, multi, tmp_path, capsys):
    chain = [c for c in multi.chains() if c.name == "caps"][0]
    files = [str(f) for f in sorted(chain.glob("*.bundle"))]
    pub = ["--pub", str(keys / "ops.pub")]
    assert rb.main(files + pub) == 0
    assert "records 1..7, head" in capsys.readouterr().out
    assert rb.main([files[0], files[2]] + pub) == 1  # the middle one is missing
    assert "gap" in capsys.readouterr().out
    assert rb.main([files[0], str(chain)] + pub) == 2  # a file and a directory
    capsys.readouterr()
    # A trusted checkpoint that is no note: refused by both (the Go CLI
    # reads its origin line first, and names no export label).
    bad = tmp_path / "garbage.note"
    bad.write_bytes(b"garbage\n")
    for path in (multi.out, Path(files[0])):
        g, o = both(cli, keys, path, ["ops"], bad)
        assert not g.ok and o.label == "bad_checkpoint", (g.text, o.text)


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def test_signature_base64_unused_bits(cli, keys, multi, tmp_path):
    """A note signature line is base64 of 68 bytes: its last character
    before '=' has 2 unused bits. The checkpoint SPEC asks for the one
    encoding of the bytes (unused bits zero), so a bundle has one spelling:
    both verifiers refuse the changed note as bad_checkpoint."""
    f = multi.bundles()[0]
    b = rb.parse_bundle(f.read_bytes())
    note = bytearray(b.checkpoint)
    i = len(note) - 3  # ...X=\n
    assert note[i + 1 : i + 3] == b"=\n"
    note[i] = ord(B64[B64.index(chr(note[i])) ^ 1])
    b.checkpoint = bytes(note)
    p = tmp_path / f.name
    p.write_bytes(rb.marshal_bundle(b))
    assert p.read_bytes() != f.read_bytes()
    g, o = both(cli, keys, p, ["ops"])
    assert not g.ok and not o.ok, (g.text, o.text)
    assert g.label == o.label == "bad_checkpoint", (g.text, o.text)


def _resigned(keys: Path, f: rb.RecordFrame, key: str = "ops", **changes) -> rb.RecordFrame:
    """The frame's record with ``changes``, signed by ``key``."""
    r = dict(rw.strict_open(f.canonical), **changes)
    canonical = rw.encode_record(r)
    h = rr.record_hash(canonical)
    sig = Ed25519PrivateKey.from_private_bytes(private_seed(keys, key)).sign(rr.signing_message(h))
    return rb.RecordFrame(r["seq"], 0, b"\x01\x01" + rw.key_id(pubs(keys, [key])[0]) + sig + h
                          + canonical)


def test_root_and_consistency(cli, keys, multi, tmp_path):
    chain = [c for c in multi.chains() if c.name == "caps"][0]
    files = sorted(chain.glob("*.bundle"))
    # The last record of the first bundle replaced by another, validly
    # signed and linked: only the root at S tells.
    b = rb.parse_bundle(files[0].read_bytes())
    b.records[-1] = _resigned(keys, b.records[-1], reason="replaced")
    p = tmp_path / "root" / files[0].name
    p.parent.mkdir()
    p.write_bytes(rb.marshal_bundle(b))
    g, o = both(cli, keys, p, ["ops"])
    assert not g.ok and g.label == o.label == "root", (g.text, o.text)
    # In the sequence, the next bundle's first prev link breaks as well.
    d = copy_chain(chain, tmp_path / "seq", replace={files[0].name: p.read_bytes()})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and o.label == "root", (g.text, o.text)
    # A consistency proof with one hash too many.
    b = rb.parse_bundle(files[1].read_bytes())
    b.proof = b.proof + [b.proof[-1]]
    p = tmp_path / "consistency" / files[1].name
    p.parent.mkdir()
    p.write_bytes(rb.marshal_bundle(b))
    g, o = both(cli, keys, p, ["ops"])
    assert not g.ok and g.label == o.label == "consistency", (g.text, o.text)


def test_bundle_of_another_chain_in_a_chain_directory(cli, keys, multi, tmp_path):
    caps = [c for c in multi.chains() if c.name == "caps"][0]
    flux = [c for c in multi.chains() if c.name != "caps"][0]
    files = sorted(caps.glob("*.bundle"))
    fl = sorted(flux.glob("*.bundle"))
    # flux's second bundle (4..6) named as caps's third (7..9): same place in
    # name order, another chain's contents.
    d = copy_chain(caps, tmp_path / "caps", replace={files[2].name: fl[1].read_bytes()})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label, (g.text, o.text)
    # flux's first bundle where caps's first belongs.
    d = copy_chain(caps, tmp_path / "caps2", replace={files[0].name: fl[0].read_bytes()})
    g, o = both(cli, keys, d, ["ops"])
    assert not g.ok and g.label == o.label == "format", (g.text, o.text)


def test_hidden_files_are_ignored(cli, keys, multi, tmp_path):
    """FORMAT.md "Files": a FileSink's temporary files begin with "."; a
    name beginning with "." is no bundle of the directory, for both
    verifiers, even one ending in .bundle."""
    caps = [c for c in multi.chains() if c.name == "caps"][0]
    d = copy_chain(caps, tmp_path / "x" / "caps")
    (d / ".tmp-123.bundle").write_bytes(b"junk")
    (d / ".00000000000000000001-00000000000000000003.bundle").write_bytes(b"junk")
    g, o = both(cli, keys, tmp_path / "x", ["ops"])
    assert g.ok, (g.text, o.text)
    # A directory holding only such a file is no chain directory.
    (tmp_path / "x" / "empty").mkdir()
    (tmp_path / "x" / "empty" / ".tmp-1.bundle").write_bytes(b"junk")
    g, o = both(cli, keys, tmp_path / "x", ["ops"])
    assert g.ok and heads(g.text) == heads(o.text), (g.text, o.text)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
@pytest.mark.parametrize("kind", ["fifo", "dirlink", "dir"])
def test_bundle_name_not_a_file_is_refused(cli, keys, multi, tmp_path, kind):
    """A *.bundle name (not hidden) that is not a regular file: a named
    pipe, a symbolic link to a directory, or a directory at a bundle
    name. Go lists it as a bundle and refuses to read it (``format``);
    this reader skipped it and verified the rest, so the two verifiers
    disagreed on one directory."""
    caps = [c for c in multi.chains() if c.name == "caps"][0]
    d = copy_chain(caps, tmp_path / "x" / "caps")
    # A bundle name (sorting after the chain's bundles), so it is refused
    # for what it is, not for its name.
    odd = d / "00000000000000999999-00000000000000999999.bundle"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "dir":
        odd.mkdir()
    else:
        (tmp_path / "somewhere").mkdir()
        odd.symlink_to(tmp_path / "somewhere")
    g, o = both(cli, keys, tmp_path / "x", ["ops"])
    assert not g.ok and odd.name in g.text and odd.name in o.text, (g.text, o.text)
    if kind != "dirlink":  # (a link to a directory is refused as one, unlabelled, by verify-bundle DIR)
        assert g.label == o.label == "format", (g.text, o.text)


@pytest.mark.parametrize("kind", ["dirlink", "dangling", "loop"])
def test_linked_chain_directory_is_refused(cli, keys, multi, tmp_path, kind):
    """A symbolic link under the export directory where a chain directory
    would be: to a directory (not walked into), to nothing, or a loop. Go's
    verify-bundle refuses each, naming it; this reader's rglob did not walk
    into it and verified the rest, so one chain went unchecked."""
    caps = [c for c in multi.chains() if c.name == "caps"][0]
    copy_chain(caps, tmp_path / "x" / "caps")
    link = tmp_path / "x" / "other"
    if kind == "dirlink":
        link.symlink_to(copy_chain(caps, tmp_path / "elsewhere" / "caps"))
    elif kind == "dangling":
        link.symlink_to(tmp_path / "gone")
    else:
        link.symlink_to(link)
    g, o = both(cli, keys, tmp_path / "x", ["ops"])
    assert not g.ok and str(link) in g.text and str(link) in o.text, (g.text, o.text)
    # A link to a directory is refused as a verdict (FAIL, exit 1); one
    # that cannot be followed cannot be read: no verdict, exit 3.
    assert g.status == (1 if kind == "dirlink" else 3), (g.status, g.text)


@pytest.mark.parametrize("stray", [
    "zzz.bundle",
    "00000000000000000001-00000000000000000002b.bundle",
    "00000000000000000000-00000000000000000002.bundle",
    "00000000000000000003-00000000000000000002.bundle",
    "0000000000000000001-00000000000000000002.bundle",
    "09223372036854775808-09223372036854775808.bundle",
])
def test_stray_bundle_name_is_refused(cli, keys, multi, tmp_path, stray):
    """FORMAT.md "Files": a *.bundle entry (not hidden, not a directory)
    whose name is not <m+1>-<S>.bundle in 20 digits, 1 <= m+1 <= S < 2^63,
    is ``format`` naming the file for both verifiers, not skipped (Go's
    FileSink.Latest took a stray "zzz.bundle" for the newest bundle)."""
    caps = [c for c in multi.chains() if c.name == "caps"][0]
    files = sorted(caps.glob("*.bundle"))
    d = copy_chain(caps, tmp_path / "x" / "caps", replace={stray: files[-1].read_bytes()})
    g, o = both(cli, keys, tmp_path / "x", ["ops"])
    assert not g.ok and g.label == o.label == "format", (g.text, o.text)
    assert stray in g.text and stray in o.text, (g.text, o.text)
    assert rb.bundle_name_seqs(stray) is None
    (d / stray).unlink()
    g, o = both(cli, keys, tmp_path / "x", ["ops"])
    assert g.ok, (g.text, o.text)


def test_bundle_name_seqs():
    assert rb.bundle_name_seqs("00000000000000000006-00000000000000000013.bundle") == (6, 13)
    assert rb.bundle_name_seqs("00000000000000000001-09223372036854775807.bundle") == (1, 2**63 - 1)
    for bad in ("00000000000000000001-00000000000000000002.bundle\n",
                "00000000000000000001-00000000000000000002.BUNDLE",
                "+0000000000000000001-00000000000000000002.bundle",
                "00000000000000000001_00000000000000000002.bundle"):
        assert rb.bundle_name_seqs(bad) is None, bad
