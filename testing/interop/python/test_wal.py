"""Tests of the Python WAL verifier (ronaudit_wal.py) on real logs.

The logs are written by the Go CLI (`ronaudit`, built once per session from
this repository), then read by the verifier; what it finds is compared with
what `ronaudit dump` and `ronaudit verify` print. Tampered copies must fail
where the damage is, in both verifiers.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import ronaudit_checkpoint as cpk
import ronaudit_reader as rr
import ronaudit_wal as rw
from conftest import run

SEG1 = "0000000000000001.seg"
HEAD_LINE = re.compile(r"^head (.+) seq (\d+) hash ([0-9a-f]{64}) sealed (\d+)$")

MULTI_LINES = [
    # non-ASCII text, attrs out of order, empty values
    {"kind": "capIssued", "reason": "héllo — ✓ 日本", "actor": {"capId": "cap-1"},
     "attrs": [{"key": "z", "value": "last"}, {"key": "é", "value": "ü"},
               {"key": "B", "value": ""}, {"key": "a", "value": ""}]},
    {"kind": "getServed", "stream": "flux/é ü"},  # every optional field empty
    {"kind": "indexWrite", "writerId": "wrïter@2", "subject": {"name": "名前", "contentId": ""},
     "reason": ""},
    {"kind": "capRevoked", "actor": {"anon": True}, "attrs": [{"key": "k", "value": ""}]},
    {"kind": "quotaReject", "stream": "flux/é ü", "reason": "emoji 🙂",
     "attrs": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]},
    {"kind": "unknown"},
]
FLUX = ("svc@inst-1", "flux/é ü")


# --------------------------------------------------------------------------
# The logs the Go CLI writes (the CLI, `run` and the `keys` fixture are in
# conftest.py, shared with test_bundle.py)


def pub(keys: Path, name: str = "ops") -> bytes:
    return rw.load_public_key(keys / f"{name}.pub")


def append(cli, keys, wal: Path, lines, *extra, key="ops"):
    text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
    return run(cli, "append", "--wal", wal, "--key", keys / f"{key}.key", "--writer", "svc@inst-1",
               "--stream", "caps", *extra, stdin=text)


def _session_dir(tmp_path_factory, name) -> Path:
    d = tmp_path_factory.mktemp(name)
    d.chmod(0o700)
    return d / "log"


@pytest.fixture(scope="session")
def multi_log(cli, keys, tmp_path_factory) -> Path:
    wal = _session_dir(tmp_path_factory, "multi")
    append(cli, keys, wal, MULTI_LINES)
    return wal


@pytest.fixture(scope="session")
def one_log(cli, keys, tmp_path_factory) -> Path:
    """One signed chain of 5 records."""
    wal = _session_dir(tmp_path_factory, "one")
    append(cli, keys, wal, [{"kind": "getServed", "reason": f"r{i}"} for i in range(1, 6)])
    return wal


@pytest.fixture(scope="session")
def rotated_log(cli, keys, tmp_path_factory) -> Path:
    wal = _session_dir(tmp_path_factory, "rotated")
    append(cli, keys, wal, [{"kind": "capIssued", "reason": "before"},
                            {"kind": "getServed", "stream": "other"},
                            {"kind": "capIssued", "reason": "before 2"}])
    run(cli, "rotate", "--wal", wal, "--key", keys / "ops.key", "--new-key", keys / "ops2.key")
    append(cli, keys, wal, [{"kind": "capIssued", "reason": "after"},
                            {"kind": "getServed", "stream": "other", "reason": "after"}],
           "--pub", keys / "ops.pub", key="ops2")
    return wal


@pytest.fixture(scope="session")
def sealed_log(cli, keys, tmp_path_factory) -> Path:
    """--seal-every 3: unsigned records, kept checkpoints are the seals."""
    wal = _session_dir(tmp_path_factory, "sealed")
    append(cli, keys, wal, [{"kind": "getServed", "reason": f"s{i}"} for i in range(1, 8)],
           "--seal-every", "3")
    return wal


def copy_log(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "log"
    shutil.copytree(src, dst)
    return dst


def go_verify(cli, wal: Path, *pubs: Path, allow: bool = False):
    args = ["verify", wal]
    for p in pubs:
        args += ["--pub", p]
    if allow:
        args.append("--allow-unsealed-tail")
    return run(cli, *args, check=False)


def go_heads(out: str) -> dict[str, tuple[int, str]]:
    heads = {}
    for line in out.splitlines():
        m = HEAD_LINE.match(line)
        if m:
            heads[m.group(1)] = (int(m.group(2)), m.group(3))
    return heads


def our_heads(res: rw.Result) -> dict[str, tuple[int, str]]:
    return {rw.chain_name(c.key): (c.head_seq, c.head_hash.hex()) for c in res.chains.values()}


def verify(wal: Path, keys: Path, *names: str, allow: bool = False) -> rw.Result:
    return rw.verify_dir(wal, [pub(keys, n) for n in (names or ("ops",))], allow)


def fails(wal: Path, keys: Path, *names: str, allow: bool = False) -> rw.WalError:
    with pytest.raises(rw.WalError) as ei:
        verify(wal, keys, *names, allow=allow)
    return ei.value


# --------------------------------------------------------------------------
# Byte helpers


def frames(seg: bytes) -> list[tuple[int, int]]:
    """(offset, payload length) of each frame of a segment's bytes."""
    out, p = [], rw.HEADER_LEN
    while p + 8 <= len(seg):
        n = int.from_bytes(seg[p : p + 4], "little")
        out.append((p, n))
        p += 8 + n
    return out


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "little") + rw.crc32c(payload).to_bytes(4, "little") + payload


def private_key(keys: Path, name: str):
    return serialization.load_pem_private_key((keys / f"{name}.key").read_bytes(), None)


# --------------------------------------------------------------------------
# Building blocks


def test_crc32c_check_value():
    assert rw.crc32c(b"123456789") == 0xE3069283  # FORMAT.md section 3
    # RFC 3720 appendix B.4
    assert rw.crc32c(bytes(32)) == 0x8A9136AA
    assert rw.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert rw.crc32c(bytes(range(32))) == 0x46DD794E
    assert rw.crc32c(b"") == 0
    assert rw.crc32c(b"56789", rw.crc32c(b"1234")) == 0xE3069283


def test_key_id_matches_keygen(keys):
    for name in ("ops", "ops2"):
        assert rw.key_id(pub(keys, name)).hex() == (keys / f"{name}.keyid").read_text()


def test_canonical_encoder_reproduces_every_vector():
    n = 0
    for path in rr.vector_files(rr.DEFAULT_VECTORS_DIR):
        for rec in json.loads(path.read_text(encoding="utf-8"))["records"]:
            canonical = bytes.fromhex(rec["canonical"])
            assert rw.strict_open(canonical) is not None, path.name
            n += 1
    assert n > 0
    # A non-zero padding byte still decodes, but is not canonical.
    wx = bytes.fromhex(json.loads((rr.DEFAULT_VECTORS_DIR / "worked-example.json").read_text())
                       ["records"][0]["canonical"])
    bad = bytearray(wx)
    bad[0x6F] = 1  # padding after "svc-gateway@inst-1", NUL
    with pytest.raises(rw.CanonicalError):
        rw.strict_open(bytes(bad))


def test_strict_open_refuses_every_invalid_vector():
    """testing/vectors/v1/invalid/records.json: bytes whose hash and
    signature are right but that break a rule; the WAL and bundle verifiers
    read records with strict_open, which must refuse each."""
    doc = json.loads((rr.DEFAULT_VECTORS_DIR / "invalid" / "records.json").read_text(encoding="utf-8"))
    assert doc["records"]
    for r in doc["records"]:
        with pytest.raises(rw.CanonicalError):
            rw.strict_open(bytes.fromhex(r["canonical"]))
            pytest.fail(f"{r['name']}: accepted, but it breaks: {r['rule']}")


# --------------------------------------------------------------------------
# Logs that verify


def test_signed_multistream_log_matches_go(cli, keys, multi_log, capsys):
    res = verify(multi_log, keys)
    dump = [json.loads(line) for line in run(cli, "dump", multi_log).stdout.splitlines()]
    assert res.records == len(dump) == len(MULTI_LINES)
    for e, d in zip(res.entries, dump):
        assert e.hash.hex() == d["hash"]
        assert f"{Path(e.file).name}:{e.offset}" == Path(d["pos"]).name
        assert rr.compare_rendering(e.record, d["record"]) == []
        assert e.key_id is not None and e.key_id.hex() == d["keyId"]
    gv = go_verify(cli, multi_log, keys / "ops.pub")
    assert gv.returncode == 0, gv.stdout + gv.stderr
    heads = go_heads(gv.stdout)
    assert len(heads) == 3 and our_heads(res) == heads
    assert res.chains[FLUX].head_seq == 2
    assert res.checkpoints >= 3 and not res.torn
    # The command line prints the same heads.
    assert rw.main([str(multi_log), "--pub", str(keys / "ops.pub")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {len(MULTI_LINES)} records in 3 chains")
    assert go_heads(out) == heads


def test_rotated_log_verifies_with_the_old_key_only(cli, keys, rotated_log, capsys):
    res = verify(rotated_log, keys, "ops")
    old, new = pub(keys, "ops"), pub(keys, "ops2")
    for c in res.chains.values():
        assert [(o, n) for _, o, n in c.transitions] == [(old, new)]
        assert c.signed == c.head_seq
    gv = go_verify(cli, rotated_log, keys / "ops.pub")
    assert gv.returncode == 0, gv.stdout + gv.stderr
    assert our_heads(res) == go_heads(gv.stdout)
    assert res.records == len(run(cli, "dump", rotated_log).stdout.splitlines())
    assert rw.main([str(rotated_log), "--pub", str(keys / "ops.pub")]) == 0
    capsys.readouterr()
    # The new key alone does not vouch for the records before the rotation.
    e = fails(rotated_log, keys, "ops2")
    assert e.reason == "unknown_key" and e.seq == 1, str(e)


def test_record_signed_by_a_retired_key_fails(cli, keys, rotated_log, tmp_path):
    wal = copy_log(rotated_log, tmp_path)
    res = verify(wal, keys)
    head = res.entries[-1]  # a record signed by the new key
    r = dict(head.record, seq=head.record["seq"] + 1, prev=head.hash.hex(), reason="forged")
    canonical = rw.encode_record(r)
    h = rr.record_hash(canonical)
    sig = private_key(keys, "ops").sign(rr.signing_message(h))
    payload = b"\x01\x01" + rw.key_id(pub(keys, "ops")) + sig + h + canonical
    seg = wal / SEG1
    end = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(frame(payload))
    e = fails(wal, keys, "ops", "ops2")
    assert e.reason == "retired_key" and e.offset == end and e.seq == r["seq"], str(e)
    assert go_verify(cli, wal, keys / "ops.pub", keys / "ops2.pub").returncode == 1


@pytest.mark.parametrize("given", [("ops",), ("ops", "ops2")])
def test_kept_checkpoint_by_the_new_key_below_its_transition_is_not_used(cli, keys, rotated_log, tmp_path, given):
    """The key a transition at T names vouches for sizes T and up only
    (checkpoint SPEC section 3), learned or given: a kept checkpoint by it
    of a smaller size is no evidence, as Go's verify says (not used)."""
    wal = copy_log(rotated_log, tmp_path)
    before = verify(wal, keys, *given)
    c = before.chains[("svc@inst-1", "caps")]
    t = next(seq for seq, _, _ in c.transitions)
    size = t - 1
    root = rw.prefix_roots(c.hashes, {size})[size]
    seed = private_key(keys, "ops2").private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    cp = cpk.Checkpoint(cpk.origin_of("svc@inst-1", "caps"), size, root)
    note = wal / "checkpoints" / "svc@inst-1" / "caps" / f"{size:020d}.note"
    replaced = note.exists()  # the key in force there, ops, signed one
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_bytes(cpk.sign_note(cpk.format_checkpoint_text(cp), "ron-audit/svc@inst-1", seed))
    after = verify(wal, keys, *given)
    want = before.checkpoints - (1 if replaced else 0)
    assert after.checkpoints == want, (before.checkpoints, after.checkpoints, replaced)
    gv = go_verify(cli, wal, *(keys / f"{n}.pub" for n in given))
    assert gv.returncode == 0, gv.stderr
    assert f"{note} is signed by none of the --pub keys in force at its size; not used" in gv.stdout + gv.stderr, gv.stdout
    # At T itself the new key is in force: the note is used.
    root = rw.prefix_roots(c.hashes, {t})[t]
    cp = cpk.Checkpoint(cpk.origin_of("svc@inst-1", "caps"), t, root)
    at = wal / "checkpoints" / "svc@inst-1" / "caps" / f"{t:020d}.note"
    existed = at.exists()
    at.write_bytes(cpk.sign_note(cpk.format_checkpoint_text(cp), "ron-audit/svc@inst-1", seed))
    assert verify(wal, keys, *given).checkpoints == want + (0 if existed else 1)


def test_seal_every_log_and_its_checkpoints(cli, keys, sealed_log, tmp_path, capsys):
    res = verify(sealed_log, keys)
    c = res.chains[("svc@inst-1", "caps")]
    assert c.head_seq == 7 and c.signed == 0 and c.checkpointed == 7
    assert res.checkpoints >= 2
    assert all(e.key_id is None for e in res.entries)
    gv = go_verify(cli, sealed_log, keys / "ops.pub")
    assert gv.returncode == 0 and our_heads(res) == go_heads(gv.stdout)

    wal = copy_log(sealed_log, tmp_path)
    shutil.rmtree(wal / "checkpoints")
    e = fails(wal, keys)
    assert e.reason == "unsealed_tail" and e.seq == 1 and e.offset == rw.HEADER_LEN, str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1
    assert rw.main([str(wal), "--pub", str(keys / "ops.pub")]) == 1
    assert "unsealed_tail" in capsys.readouterr().out

    res = verify(wal, keys, allow=True)
    assert res.unsealed_allowed == ["svc@inst-1/caps seq 1..7"]
    assert go_verify(cli, wal, keys / "ops.pub", allow=True).returncode == 0
    assert rw.main([str(wal), "--pub", str(keys / "ops.pub"), "--allow-unsealed-tail"]) == 0
    capsys.readouterr()


def _seal_payload(keys, seq, h, writer=b"svc@inst-1", stream=b"caps"):
    sig = private_key(keys, "ops").sign(rr.signing_message(h))
    return (b"\x02" + seq.to_bytes(8, "little") + rw.key_id(pub(keys, "ops")) + sig + h
            + len(writer).to_bytes(2, "little") + writer + len(stream).to_bytes(2, "little") + stream)


def test_seal_frame_covers_the_tail(cli, keys, sealed_log, tmp_path):
    wal = copy_log(sealed_log, tmp_path)
    shutil.rmtree(wal / "checkpoints")
    head = verify(wal, keys, allow=True).chains[("svc@inst-1", "caps")]
    with (wal / SEG1).open("ab") as f:
        f.write(frame(_seal_payload(keys, 7, head.head_hash)))
    res = verify(wal, keys)
    assert res.seals == 1 and res.chains[("svc@inst-1", "caps")].sealed == 7
    gv = go_verify(cli, wal, keys / "ops.pub")  # the Go reader agrees on the layout
    assert gv.returncode == 0, gv.stdout + gv.stderr


@pytest.mark.parametrize("seq, hash_index", [(7, 5), (6, 5)], ids=["wrong-hash", "not-the-head"])
def test_bad_seal_frame_fails(cli, keys, sealed_log, tmp_path, seq, hash_index):
    wal = copy_log(sealed_log, tmp_path)
    res = verify(wal, keys)
    h = res.entries[hash_index].hash  # the hash of seq 6, sealed as seq 7 or 6
    end = (wal / SEG1).stat().st_size
    with (wal / SEG1).open("ab") as f:
        f.write(frame(_seal_payload(keys, seq, h)))
    e = fails(wal, keys)
    assert e.reason == "bad_seal" and e.offset == end and e.seq == seq, str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


# --------------------------------------------------------------------------
# Tampering


def test_flipped_payload_byte_names_the_offset(cli, keys, multi_log, tmp_path):
    wal = copy_log(multi_log, tmp_path)
    seg = bytearray((wal / SEG1).read_bytes())
    off, n = frames(seg)[1]
    seg[off + 8 + n // 2] ^= 0x01
    (wal / SEG1).write_bytes(seg)
    e = fails(wal, keys)
    assert e.reason == "crc_mismatch" and e.offset == off, str(e)
    assert f"{SEG1}:{off}: crc_mismatch" in str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


def test_flip_with_recomputed_crc_is_a_hash_mismatch(cli, keys, multi_log, tmp_path):
    wal = copy_log(multi_log, tmp_path)
    seg = bytearray((wal / SEG1).read_bytes())
    off, n = frames(seg)[4]  # svc@inst-1 / "flux/é ü" seq 2, reason "emoji 🙂"
    payload = bytearray(seg[off + 8 : off + 8 + n])
    i = payload.index(b"emoji")
    assert i > rw.RECORD_HEADER_LEN
    payload[i] ^= 0x01  # "dmoji": still valid UTF-8, seq and chain unchanged
    seg[off : off + 8 + n] = frame(bytes(payload))
    (wal / SEG1).write_bytes(seg)
    e = fails(wal, keys)
    assert e.reason == "hash_mismatch" and e.offset == off, str(e)
    assert e.chain == FLUX and e.seq == 2, str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


def test_swapped_frames_fail(cli, keys, one_log, tmp_path):
    wal = copy_log(one_log, tmp_path)
    seg = (wal / SEG1).read_bytes()
    (a, na), (b, nb) = frames(seg)[1:3]  # seq 2 and seq 3
    fa, fb = seg[a : a + 8 + na], seg[b : b + 8 + nb]
    assert b == a + len(fa)
    (wal / SEG1).write_bytes(seg[:a] + fb + fa + seg[b + len(fb) :])
    e = fails(wal, keys)
    assert e.reason == "chain" and e.offset == a and e.seq == 3, str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


def test_flipped_checkpoint_signature_fails(cli, keys, multi_log, tmp_path):
    wal = copy_log(multi_log, tmp_path)
    note = sorted((wal / "checkpoints").rglob("*.note"))[0]
    text = note.read_text(encoding="utf-8")
    body, _, sigline = text.rstrip("\n").rpartition("\n")
    prefix, _, b64 = sigline.rpartition(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[4 + 10] ^= 0x01  # inside the Ed25519 signature, after the key hash
    note.write_text(f"{body}\n{prefix} {base64.b64encode(raw).decode()}\n", encoding="utf-8")
    e = fails(wal, keys)
    assert e.reason == "bad_signature" and e.file == str(note), str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


@pytest.mark.parametrize("log, damage, signer", [
    ("one", "name", "ops"), ("one", "hash", "ops"), ("one", "name+sig", "ops"),
    # The newest of a chain whose records are unsigned (the kept
    # checkpoints are its seals): Go's verify said unsealed_tail.
    ("sealed", "name", "ops"),
    # Signed by a key not given: no evidence either way, damaged or not.
    ("one", "name", "ops2"), ("one", "name+sig", "ops2")])
def test_damaged_signature_line_of_a_trusted_key_fails(cli, keys, one_log, sealed_log, tmp_path, log, damage, signer):
    """A kept note whose signature line is a given key's with its key name
    or key hash damaged (its signature verifies by the key, or its key hash
    is the key's under the chain's key name) is bad_signature naming the
    file, as Go's `ronaudit verify` and the writer that kept it say; not
    "signed by none of the --pub keys; not used". One signed by a key not
    given stays not used."""
    wal = copy_log(one_log if log == "one" else sealed_log, tmp_path)
    note = sorted((wal / "checkpoints").rglob("*.note"))[-1]
    if signer != "ops":
        seed = private_key(keys, signer).private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        text = note.read_bytes()
        note.write_bytes(cpk.sign_note(text[: text.rfind(b"\n\n") + 1], "ron-audit/svc@inst-1", seed))
    text = note.read_text(encoding="utf-8")
    body, _, sigline = text.rstrip("\n").rpartition("\n")
    prefix, _, b64 = sigline.rpartition(" ")
    raw = bytearray(base64.b64decode(b64))
    if "name" in damage:
        prefix = prefix.replace("ron-audit/", "ron-aFdit/", 1)
    if "hash" in damage:
        raw[1] ^= 0x10
    if "sig" in damage:
        raw[4 + 10] ^= 0x01
    note.write_text(f"{body}\n{prefix} {base64.b64encode(raw).decode()}\n", encoding="utf-8")
    gv = go_verify(cli, wal, keys / "ops.pub")
    out = gv.stdout + gv.stderr
    if signer != "ops":
        res = verify(wal, keys)
        assert res.records == 5
        assert gv.returncode == 0 and "not used" in out and our_heads(res) == go_heads(gv.stdout), out
        return
    e = fails(wal, keys)
    assert e.reason == "bad_signature" and e.file == str(note), str(e)
    assert "damaged or was tampered with, not another key's" in str(e), str(e)
    assert gv.returncode == 1 and "bad_signature" in gv.stdout and str(note) in gv.stdout, out
    assert "not used" not in out and "unsealed_tail" not in out, out


@pytest.mark.parametrize("size, root, reason, stream", [
    (3, bytes(32), "fork", "caps"), (6, bytes(32), "rollback", "caps"),
    # Size 0: the root must be the empty tree's (SHA-256 of nothing), as
    # Go's checkpoint.VerifyDir checks it, of a chain with records or of
    # one the log has none of.
    (0, bytes(32), "fork", "caps"), (0, bytes(32), "fork", "gone")])
def test_signed_checkpoint_the_chain_does_not_reach(cli, keys, one_log, tmp_path, size, root, reason, stream):
    # Notes signed with the trusted key, under the writer's default key name,
    # kept beside the CLI's own (checkpoints/<writer>/<stream>/<size>.note).
    wal = copy_log(one_log, tmp_path)
    seed = private_key(keys, "ops").private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    cp = cpk.Checkpoint(cpk.origin_of("svc@inst-1", stream), size, root)
    note = wal / "checkpoints" / "svc@inst-1" / stream / f"{size:020d}.note"
    note.parent.mkdir(exist_ok=True)
    note.write_bytes(cpk.sign_note(cpk.format_checkpoint_text(cp), "ron-audit/svc@inst-1", seed))
    gv = go_verify(cli, wal, keys / "ops.pub")
    assert gv.returncode == 1, gv.stdout + gv.stderr
    e = fails(wal, keys)
    assert e.reason == reason and e.file == str(note), str(e)


# --------------------------------------------------------------------------
# Torn tails (FORMAT.md section 6) and segments


def _tail_case(seg: bytes, case: str) -> bytes:
    last_off, last_n = frames(seg)[-1]
    if case == "zeros":
        return seg + bytes(100)
    if case == "incomplete-header":
        return seg + b"\x07\x01\x00"
    if case == "header-then-zeros":
        return seg + b"\xfa\x00\x00\x00\x11" + bytes(40)
    if case == "final-frame-cut":
        return seg[:-10]
    if case == "final-frame-zeroed":
        return seg[: last_off + 8 + 20] + bytes(last_n - 20)
    if case == "torn-int-array":
        # A torn 64 KiB record frame whose payload is an array of 32-bit
        # integers (30,000): every aligned word reads as a frame header of
        # a frame inside the file, too many to check each frame's bytes
        # afresh (rule 3 once gave up after 64 MiB of that, as corruption).
        payload = b"\x01" + (30000).to_bytes(4, "little") * 16383 + bytes(3)
        return seg + frame(payload)[:40000]
    if case == "torn-nested-frames":
        # A torn record frame whose payload holds whole frames, cut inside
        # the third: the first two are intact frames inside the torn one
        # that end where a torn frame begins. Rule 3 took them for frames a
        # damaged length hid, and refused the log after an ordinary crash.
        return seg + frame(_nested_frames_payload())[:8 + 7 + 48 + 308 + 5]
    if case == "torn-nested-frames-then-zeros":  # cut after the second, a zeroed page after
        return seg + frame(_nested_frames_payload())[:8 + 7 + 48 + 308] + bytes(4096)
    raise ValueError(case)


def _nested_frames_payload() -> bytes:
    """A record payload holding whole frames, one after another, as a
    record's text can (an export bundle's record frames have this layout)."""
    p = b"\x01note: "
    for k, size in enumerate([40, 300, 7, 1000, 1, 120, 64]):
        p += frame(bytes((k * 37 + i * 11 + 1) & 0xFF for i in range(size)))
    return p


def test_torn_nested_frames_every_cut():
    # FORMAT.md section 6 rule 3: intact frames inside a torn frame's payload
    # count only from where the torn frame's stored CRC says it ends, which
    # is nowhere in its payload: every cut is a torn tail, whatever follows.
    good = rw.expected_header(1, 1) + frame(b"\x01" + bytes(range(1, 60)))
    whole = frame(_nested_frames_payload())
    for zeros in (0, 4096):
        for cut in range(1, len(whole)):
            data = good + whole[:cut] + bytes(zeros)
            torn, why = rw.classify_tail(data, len(good))
            assert torn, (cut, zeros, why)
    # A flipped bit in the length of the frame before the torn one is still
    # damage: its CRC says where it ends, and intact frames follow it.
    data = bytearray(good + frame(b"\x01" + bytes(range(1, 200))) + good[32:] + whole[:100])
    data[len(good) + 2] ^= 0x01
    torn, why = rw.classify_tail(bytes(data), len(good))
    assert not torn and f"ends at offset {len(good) + 8 + 200}" in why, why


@pytest.mark.parametrize(
    "case",
    ["zeros", "incomplete-header", "header-then-zeros", "final-frame-cut", "final-frame-zeroed", "torn-int-array",
     "torn-nested-frames", "torn-nested-frames-then-zeros"],
)
def test_torn_tail_is_reported_not_an_error(cli, keys, one_log, tmp_path, case):
    wal = copy_log(one_log, tmp_path)
    seg = (wal / SEG1).read_bytes()
    cut = case.startswith("final-frame")
    if cut:  # the kept checkpoint of seq 5 would (rightly) refuse the cut
        shutil.rmtree(wal / "checkpoints")
    (wal / SEG1).write_bytes(_tail_case(seg, case))
    res = verify(wal, keys)
    assert len(res.torn) == 1 and SEG1 in res.torn[0], res.torn
    assert res.records == (4 if cut else 5)
    gv = go_verify(cli, wal, keys / "ops.pub")
    assert gv.returncode == 0 and our_heads(res) == go_heads(gv.stdout), gv.stdout


def test_cut_frame_under_a_kept_checkpoint_is_a_rollback(cli, keys, one_log, tmp_path):
    wal = copy_log(one_log, tmp_path)
    seg = bytearray((wal / SEG1).read_bytes())
    seg[-3] ^= 0x40  # damage to the final frame looks like an interrupted append
    (wal / SEG1).write_bytes(seg)
    e = fails(wal, keys)
    assert e.reason == "rollback" and e.chain == ("svc@inst-1", "caps"), str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


@pytest.mark.parametrize(
    "case", ["impossible-length", "data-after-frame", "damaged-length", "damaged-length-torn-after", "intact-among-many"]
)
def test_corrupt_tail_is_an_error(cli, keys, one_log, tmp_path, case):
    wal = copy_log(one_log, tmp_path)
    seg = bytearray((wal / SEG1).read_bytes())
    fr = frames(bytes(seg))
    if case == "impossible-length":
        at = len(seg)
        seg += b"\x00\x00\x00\x7f" + b"\x01" * 30
    elif case == "data-after-frame":
        at = len(seg)
        seg += frame(b"\x01" * 4)[:8] + b"\x02" * 40  # a 4-byte frame, then more data
    elif case == "damaged-length":  # rule 3: the length of the 4th of 5 frames now runs past the end
        at, n = fr[3]
        seg[at : at + 4] = (n + 300).to_bytes(4, "little")
    elif case == "damaged-length-torn-after":  # rule 3, the intact 5th frame then a torn append
        at, n = fr[3]
        seg[at : at + 4] = (n ^ (1 << 16)).to_bytes(4, "little")  # one flipped bit
        seg += (500).to_bytes(4, "little") + b"\x12\x34\x56\x78" + b"\x01" * 100
    else:  # rule 3 decides however many candidates: 1000 frames of ~1 MiB, the last intact
        at = len(seg)
        tail = bytearray((i % 251) | 1 for i in range(8 + rw.MAX_PAYLOAD))  # no zero byte
        tail[0:4] = rw.MAX_PAYLOAD.to_bytes(4, "little")
        for j in range(1, 1001):
            tail[8 * j : 8 * j + 4] = (len(tail) - 8 * j - 8).to_bytes(4, "little")
        tail[8004:8008] = rw.crc32c(tail[8008:]).to_bytes(4, "little")
        # and the tail's frame, its length damaged, ends there: its CRC says so
        tail[4:8] = rw.crc32c(tail[8:8000]).to_bytes(4, "little")
        seg += tail
    (wal / SEG1).write_bytes(seg)
    e = fails(wal, keys)
    assert e.offset == at and "corruption, not a torn tail" in str(e), str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


def _split(wal: Path, k: int) -> None:
    """Rewrite a one-segment log as two: frames [0, k) and [k, ...)."""
    seg = (wal / SEG1).read_bytes()
    second = frames(seg)[k][0]
    (wal / SEG1).write_bytes(seg[:second])
    s2 = wal / "0000000000000002.seg"
    s2.write_bytes(rw.expected_header(2, k + 1) + seg[second:])
    s2.chmod(0o600)


def test_two_segments(cli, keys, one_log, tmp_path):
    wal = copy_log(one_log, tmp_path)
    _split(wal, 2)
    res = verify(wal, keys)
    assert res.segments == 2 and res.records == 5 and not res.torn
    gv = go_verify(cli, wal, keys / "ops.pub")
    assert gv.returncode == 0 and our_heads(res) == go_heads(gv.stdout), gv.stdout + gv.stderr


@pytest.mark.parametrize("case", ["missing", "first-index", "version", "short-version", "damage-in-first", "torn-header"])
def test_segment_problems(cli, keys, one_log, tmp_path, case):
    wal = copy_log(one_log, tmp_path)
    _split(wal, 2)
    s1, s2 = wal / SEG1, wal / "0000000000000002.seg"
    if case == "missing":
        s2.rename(wal / "0000000000000003.seg")
    elif case == "first-index":
        s2.write_bytes(rw.expected_header(2, 4) + s2.read_bytes()[32:])
    elif case == "version":
        b = bytearray(s2.read_bytes())
        b[8] = 2
        s2.write_bytes(b)
    elif case == "short-version":  # another version's header may be shorter than 32 bytes
        s2.write_bytes(rw.MAGIC + (2).to_bytes(4, "little") + (24).to_bytes(4, "little") + (2).to_bytes(8, "little"))
    elif case == "damage-in-first":  # zeros at the end of a segment that is not the last
        s1.write_bytes(s1.read_bytes() + bytes(16))
    else:  # an interrupted creation of segment 3: a prefix of its header, then zeros
        s3 = wal / "0000000000000003.seg"
        s3.write_bytes(rw.expected_header(3, 6)[:13] + bytes(100))
        res = verify(wal, keys)
        assert res.records == 5 and "interrupted segment creation" in res.torn[0]
        assert go_verify(cli, wal, keys / "ops.pub").returncode == 0
        return
    want = {"missing": "missing_segment", "first-index": "first_index", "version": "version",
            "short-version": "version", "damage-in-first": "bad_length"}[case]
    e = fails(wal, keys)
    assert e.reason == want, str(e)
    assert go_verify(cli, wal, keys / "ops.pub").returncode == 1


def test_cli_usage(tmp_path, capsys):
    assert rw.main([str(tmp_path), "--pub", str(tmp_path / "nope.pub")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    pem = tmp_path / "k.pub"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    pem.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert rw.main([str(empty), "--pub", str(pem)]) == 1
    assert "no_segments" in capsys.readouterr().out
    # No log at DIR is no verdict, as for `ronaudit verify` (exit 3), said
    # on stderr, not as a FAIL on stdout.
    assert rw.main([str(tmp_path / "nowhere"), "--pub", str(pem)]) == 3
    out = capsys.readouterr()
    assert "not_a_directory" in out.err and "FAIL" not in out.out, out


def test_transition_key_any_kind_lower_hex_only():
    """canonical/SPEC.md section 5: the attr makes a transition whatever the
    kind; the value is ed25519: and 64 lower-case hex digits."""
    pub = "ab" * 32

    def rec(kind, value):
        return {"kind": kind, "attrs": [{"key": rw.TRANSITION_ATTR, "value": value}]}

    assert rw.transition_key(rec("policyChanged", "ed25519:" + pub)) == bytes.fromhex(pub)
    assert rw.transition_key(rec("capIssued", "ed25519:" + pub)) == bytes.fromhex(pub)
    assert rw.transition_key({"kind": "policyChanged", "attrs": []}) is None
    # A newline after the digits too: Go's sdk.KeyTransition refuses it
    # (a regex "$" would let it through).
    for bad in ("ed25519:" + pub.upper(), pub, "ed25519:" + pub[:62], "ed25519:" + pub + "\n",
                " ed25519:" + pub, "ed25519:" + pub + " "):
        with pytest.raises(rw.BadTransition):
            rw.transition_key(rec("policyChanged", bad))


def test_transition_must_hand_over():
    """A transition names another key, not its signer nor a retired key."""
    o, n = b"o" * 32, b"n" * 32
    c = rw.Chain("w", "s")
    assert c.transition_problem(o, o) is not None
    assert c.transition_problem(o, n) is None
    c.apply_transition(1, o, n)
    assert "retired at seq 1" in c.transition_problem(n, o)


@pytest.mark.parametrize("case", ["newline-name", "17-digits", "upper-case-suffix", "directory", "fifo",
                                  "symlink", "dangling-symlink"])
def test_segment_names_as_go_lists_them(cli, keys, one_log, tmp_path, case):
    """FORMAT.md section 1: segments are the entries named %016d.seg
    exactly (wal.parseSegmentName); other names are ignored. An entry with
    a segment's name that is not a regular file (after symlinks) is
    corruption to Go's reader (fsutil.OpenRegular), not skipped."""
    wal = copy_log(one_log, tmp_path)
    seg2 = "0000000000000002.seg"
    garbage = rw.expected_header(7, 99) + b"not a segment"
    if case == "newline-name":  # "$" of a regex would match before the newline
        (wal / (seg2 + "\n")).write_bytes(garbage)
    elif case == "17-digits":
        (wal / ("0" + seg2)).write_bytes(garbage)
    elif case == "upper-case-suffix":
        (wal / seg2.replace(".seg", ".SEG")).write_bytes(garbage)
    elif case == "directory":
        (wal / seg2).mkdir()
    elif case == "fifo":
        os.mkfifo(wal / seg2)
    elif case == "dangling-symlink":  # Go fails to open it: an error, not a skip or a crash
        (wal / seg2).symlink_to(tmp_path / "nowhere.seg")
    else:  # a symbolic link to a regular file is read as that file
        (wal / SEG1).rename(tmp_path / "elsewhere.seg")
        (wal / SEG1).symlink_to(tmp_path / "elsewhere.seg")
    gv = go_verify(cli, wal, keys / "ops.pub")
    if case in ("directory", "fifo"):
        e = fails(wal, keys)
        assert e.reason == "not_regular" and e.file == str(wal / seg2), str(e)
        assert gv.returncode == 1 and "not a regular file" in gv.stdout + gv.stderr, gv.stdout + gv.stderr
        return
    if case == "dangling-symlink":
        e = fails(wal, keys)
        assert e.reason == "unreadable" and e.file == str(wal / seg2), str(e)
        # unreadable, not a verdict: the Go CLI's operational error, exit 3
        # (1 is a log that was read and does not verify)
        assert gv.returncode == 3 and "no such file" in gv.stderr, gv.stdout + gv.stderr
        assert rw.main([str(wal), "--pub", str(keys / "ops.pub")]) == 3
        return
    res = verify(wal, keys)
    assert res.segments == 1 and res.records == 5, res
    assert gv.returncode == 0 and our_heads(res) == go_heads(gv.stdout), gv.stdout + gv.stderr


@pytest.mark.parametrize("case", ["unknown-key", "stray-files", "other-chain-dir", "fifo", "sign-in-name",
                                  "size-out-of-range", "dangling-symlink", "dangling-chain-dir",
                                  "looping-writer-dir", "checkpoints-is-a-file", "file-as-writer-dir",
                                  "file-as-stream-dir", "fifo-as-stream-dir", "renamed"])
def test_kept_checkpoints_as_go_reads_them(cli, keys, one_log, tmp_path, case):
    """The kept checkpoints are the notes at
    checkpoints/<e(writerId)>/<e(stream)>/<size, 20 digits>.note (FORMAT.md
    section 1), read as `ronaudit verify` reads them: other files are not
    checkpoints, a note of another chain in a chain's directory fails, one
    that is not a regular file fails, an entry named as a writer's or a
    stream's directory that is not one fails (its checkpoints are unseen;
    Go's checkpoint.HistoryChains), and one signed by none of the given
    keys is no evidence either way (not used, not a failure)."""
    wal = copy_log(one_log, tmp_path)
    caps = wal / "checkpoints" / "svc@inst-1" / "caps"
    kept = sorted(caps.glob("*.note"))
    assert kept, "the CLI keeps checkpoints"
    ok = True
    if case == "unknown-key":  # signed by ops2, which is not given
        seed = private_key(keys, "ops2").private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        cp = cpk.Checkpoint(cpk.origin_of("svc@inst-1", "caps"), 3, bytes(32))
        (caps / f"{3:020d}.note").write_bytes(
            cpk.sign_note(cpk.format_checkpoint_text(cp), "ron-audit/svc@inst-1", seed))
    elif case == "stray-files":  # not where a checkpoint is kept, or not so named
        for p in (wal / "checkpoints" / "READ ME.note", caps / "notes.note", caps / "3.note",
                  caps / "svc.note" / "x.note", wal / "checkpoints" / "svc%40inst-1" / "caps" / kept[0].name,
                  wal / "checkpoints" / "svc@inst-1" / f"+{3:019d}.note"):
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"not a note\n")
    elif case == "other-chain-dir":  # a valid note of caps, kept as one of stream "other"
        other = caps.parent / "other"
        other.mkdir()
        shutil.copy(kept[0], other / kept[0].name)
        ok = False
    elif case == "fifo":
        os.mkfifo(caps / f"{9:020d}.note")
        ok = False
    elif case == "dangling-symlink":  # Go fails to read it
        (caps / f"{9:020d}.note").symlink_to(tmp_path / "nowhere.note")
        ok = False
    elif case == "dangling-chain-dir":  # the stream's directory moved away: its notes unseen
        caps.rename(tmp_path / "moved")
        caps.symlink_to(tmp_path / "moved-again")
        ok = False
    elif case == "looping-writer-dir":
        w = caps.parent
        w.rename(tmp_path / "moved")
        w.symlink_to(w)
        ok = False
    elif case in ("file-as-writer-dir", "file-as-stream-dir", "fifo-as-stream-dir"):
        # Named as a chain's directory (of no chain of the log), not one.
        where = wal / "checkpoints" / ("README.note" if case == "file-as-writer-dir" else "svc@inst-1/gone")
        if case == "fifo-as-stream-dir":
            os.mkfifo(where)
        else:
            where.write_bytes(b"not a directory\n")
        e = fails(wal, keys)
        assert e.reason == "unreadable" and e.file == str(where) and "not a directory" in str(e), str(e)
        assert e.chain == (None if case == "file-as-writer-dir" else ("svc@inst-1", "gone")), str(e)
        gv = go_verify(cli, wal, keys / "ops.pub")  # Go names it too, as unreadable (exit 3)
        assert gv.returncode == 3 and str(where) in gv.stdout + gv.stderr, gv.stdout + gv.stderr
        ok = False
    elif case == "checkpoints-is-a-file":
        shutil.rmtree(wal / "checkpoints")
        (wal / "checkpoints").write_bytes(b"not a directory\n")
        ok = False
    elif case == "renamed":  # the newest, renamed to a larger size: its name is not signed
        kept[-1].rename(caps / f"{999:020d}.note")
        ok = False
    elif case == "size-out-of-range":  # 20 digits, but no int64 size: Go's ParseInt refuses it
        for n in (2**63, 10**20 - 1):
            (caps / f"{n:020d}.note").write_bytes(b"not a note\n")
    else:  # 20 characters, but not 20 digits: no checkpoint's name
        (caps / ("+" + kept[0].name[1:])).write_bytes(b"not a note\n")
    gv = go_verify(cli, wal, keys / "ops.pub")
    if ok:
        res = verify(wal, keys)
        assert res.records == 5
        assert gv.returncode == 0 and our_heads(res) == go_heads(gv.stdout), gv.stdout + gv.stderr
    else:
        e = fails(wal, keys)
        # What cannot be read (a link to nothing, a loop of links, a
        # checkpoints path that is not a directory: this reader's
        # ``unreadable``) is no verdict for the Go CLI: an operational
        # error, exit 3, on stderr. A note that is read and does not hold
        # (or is not a regular file) is a verification failure, exit 1.
        unreadable = case in ("dangling-symlink", "dangling-chain-dir", "looping-writer-dir", "checkpoints-is-a-file",
                              "file-as-writer-dir", "file-as-stream-dir", "fifo-as-stream-dir")
        assert (e.reason == rw.UNREADABLE) == unreadable, (case, str(e))
        assert gv.returncode == (3 if unreadable else 1), (gv.returncode, gv.stdout + gv.stderr)
        assert rw.main([str(wal), "--pub", str(keys / "ops.pub")]) == gv.returncode, case


def test_chain_name_as_go_spells_it():
    # The cases of Go's internal/names TestChain: a plain name as itself,
    # any other quoted as strconv.Quote does, so that Go's and this
    # reader's reports name a chain alike.
    cases = [
        (("svc-gateway@inst-1", "caps"), "svc-gateway@inst-1/caps"),
        (("écriture", "flux·1"), "écriture/flux·1"),
        (("a\nok: 3 records", "s"), '"a\\nok: 3 records"/"s"'),
        (("a/b", "c"), '"a/b"/"c"'),
        (("a", ""), '"a"/""'),
        (("a b", "s"), '"a b"/"s"'),
        (("a\u202eb", "s"), '"a\\u202eb"/"s"'),
        (("a\x1b[2Jb", "s"), '"a\\x1b[2Jb"/"s"'),
        (("a\u2028b", "s"), '"a\\u2028b"/"s"'),
        (('a"b', "s"), '"a\\"b"/"s"'),
        (("a\\b", "\U0001F600"), "a\\b/\U0001F600"),
        (("a\\b", "s/\U0001F600"), '"a\\\\b"/"s/\U0001F600"'),
    ]
    for chain, want in cases:
        assert rw.chain_name(chain) == want, (chain, rw.chain_name(chain), want)


def _append_legacy_record(wal: Path, keys: Path, template: dict, writer: str, stream: str,
                          signed: bool = True) -> None:
    """Append to the last segment the first record of chain (writer,
    stream), through the frame layout and not the Go SDK, which refuses a
    name over sdk.MaxChainName now: what a build before the limit wrote
    (as Go's legacyrec in tools/cmd/ronaudit's script tests)."""
    r = dict(template, writerId=writer, stream=stream, seq=1, prev=rw.GENESIS.hex())
    canonical = rw.encode_record(r)
    h = rr.record_hash(canonical)
    if signed:
        head = b"\x01\x01" + rw.key_id(pub(keys, "ops")) + private_key(keys, "ops").sign(rr.signing_message(h))
    else:
        head = b"\x01\x00" + bytes(8 + 64)
    seg = sorted(wal.glob("*.seg"))[-1]
    with seg.open("ab") as f:
        f.write(frame(head + h + canonical))


@pytest.mark.parametrize("writer, stream, field, escaped", [
    ("a" * 256, "s", "writerId", 256),
    ("w", "é" * 43, "stream", 258),  # 86 bytes, each escaped as %XX
    ("a" * 255, "%" * 85, None, 0),  # at the limit: 255 bytes escaped each
])
def test_legacy_chain_name_over_the_limit(cli, keys, one_log, tmp_path, writer, stream, field, escaped):
    """A log written before sdk.MaxChainName (255 bytes escaped, as the
    chain's directory name under checkpoints/) may hold a chain whose
    writerId or stream is longer: no checkpoint of it can be kept, so
    where the log keeps checkpoints Go's verify checks every chain, the
    long one by its records, and then names it: exit 3, no verdict
    (sdk/checkpoint.VerifyDir, ErrChainName). This reader passed it
    silently. With no checkpoints/ kept, nothing could be missed: Go
    passes it, and so must this reader."""
    wal = copy_log(one_log, tmp_path)
    template = verify(wal, keys).entries[0].record
    _append_legacy_record(wal, keys, template, writer, stream)
    gv = go_verify(cli, wal, keys / "ops.pub")
    if field is None:
        assert gv.returncode == 0, gv.stdout + gv.stderr
        assert verify(wal, keys).records == 6
    else:
        assert gv.returncode == 3 and "cannot be checkpointed" in gv.stderr, gv.stdout + gv.stderr
        assert f"{field} is {escaped} bytes escaped as a directory name, limit 255" in gv.stderr, gv.stderr
        e = fails(wal, keys)
        assert e.reason == rw.CHAIN_NAME and e.chain == (writer, stream) and e.seq is None, str(e)
        assert f"{field} is {escaped} bytes escaped as a directory name, limit 255" in str(e), str(e)
        assert rw.main([str(wal), "--pub", str(keys / "ops.pub")]) == 3

    # No checkpoints kept: no verdict withheld, in Go and here.
    shutil.rmtree(wal / "checkpoints")
    gv = go_verify(cli, wal, keys / "ops.pub")
    assert gv.returncode == 0, gv.stdout + gv.stderr
    assert verify(wal, keys).records == 6


def test_legacy_chain_name_after_other_failures(cli, keys, one_log, tmp_path):
    """The long name is named only once everything else holds (Go's
    VerifyDir returns it last): its own unsealed tail, or a failure of
    another chain, is the verdict (exit 1)."""
    wal = copy_log(one_log, tmp_path)
    template = verify(wal, keys).entries[0].record
    _append_legacy_record(wal, keys, template, "a" * 256, "s", signed=False)
    gv = go_verify(cli, wal, keys / "ops.pub")
    assert gv.returncode == 1, gv.stdout + gv.stderr
    e = fails(wal, keys)
    assert e.reason == rw.UNSEALED_TAIL and e.chain == ("a" * 256, "s"), str(e)
    # Allowed, the tail is no verdict; the name still is.
    gv = go_verify(cli, wal, keys / "ops.pub", allow=True)
    assert gv.returncode == 3 and "cannot be checkpointed" in gv.stderr, gv.stdout + gv.stderr
    e = fails(wal, keys, allow=True)
    assert e.reason == rw.CHAIN_NAME, str(e)
    assert rw.main([str(wal), "--pub", str(keys / "ops.pub")]) == 1
    assert rw.main([str(wal), "--pub", str(keys / "ops.pub"), "--allow-unsealed-tail"]) == 3


@pytest.mark.parametrize("signer, go_ok", [("ops2", True), ("ops", True)], ids=["new-key", "old-key"])
def test_seal_of_the_transition_record(cli, keys, tmp_path, signer, go_ok):
    """A seal of a chain's head when the head is its key transition (seq
    T): the key the transition names is in force there, as for a kept
    checkpoint of size T (checkpoint SPEC section 3), and Go's replay
    takes its seal (sdk.replayer: a learned key, retired nowhere); the
    retiring key's seal of T is in force too. The seal is redundant (the
    record is signed), and a reader accepts one."""
    wal = tmp_path / "log"
    tmp_path.chmod(0o700)
    append(cli, keys, wal, [{"kind": "getServed", "reason": f"r{i}"} for i in range(1, 4)])
    run(cli, "rotate", "--wal", wal, "--key", keys / "ops.key", "--new-key", keys / "ops2.key")
    c = verify(wal, keys).chains[("svc@inst-1", "caps")]
    t = c.head_seq
    assert [s for s, _, _ in c.transitions] == [t]
    sig = private_key(keys, signer).sign(rr.signing_message(c.head_hash))
    w, s = b"svc@inst-1", b"caps"
    payload = (b"\x02" + t.to_bytes(8, "little") + rw.key_id(pub(keys, signer)) + sig + c.head_hash
               + len(w).to_bytes(2, "little") + w + len(s).to_bytes(2, "little") + s)
    with sorted(wal.glob("*.seg"))[-1].open("ab") as f:
        f.write(frame(payload))
    gv = go_verify(cli, wal, keys / "ops.pub")
    assert (gv.returncode == 0) == go_ok, gv.stdout + gv.stderr
    res = verify(wal, keys)
    assert res.seals == 1 and res.chains[("svc@inst-1", "caps")].sealed == t
