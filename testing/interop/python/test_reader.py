"""Tests of the Python foreign reader against the shared test vectors.

The vectors directory defaults to testing/vectors/v1; set RONAUDIT_VECTORS to
use another one.
"""

import copy
import json
import os
from pathlib import Path

import pytest

import ronaudit_reader as rr

VECTORS_DIR = Path(os.environ.get("RONAUDIT_VECTORS", rr.DEFAULT_VECTORS_DIR)).resolve()


def _files():
    return rr.vector_files(VECTORS_DIR)


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _chain_file(min_records=1):
    for p in _files():
        doc = _load(p)
        if doc.get("chain") is True and len(doc.get("records", [])) >= min_records:
            return p, doc
    pytest.fail(
        f"no chain vector file with >= {min_records} records in {VECTORS_DIR}", pytrace=False
    )


def _any_file():
    files = _files()
    if not files:
        pytest.fail(f"no *.json vector files in {VECTORS_DIR}", pytrace=False)
    return files[0], _load(files[0])


def _write(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return p


def _flip_hex_byte(hexstr, index):
    b = bytearray(bytes.fromhex(hexstr))
    b[index] ^= 0x01
    return b.hex()


def _errors(tmp_path, name, doc):
    res = rr.check_file(_write(tmp_path, name, doc))
    assert not res.ok, f"tampered vector {name} was accepted"
    return "\n".join(res.errors)


# ---------------------------------------------------------------- real files


def test_vectors_present():
    files = _files()
    assert files, f"no *.json vector files in {VECTORS_DIR}"
    docs = [_load(p) for p in files]
    assert any(d.get("chain") is True for d in docs), "no chain vector file"


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_vector_file_passes(path):
    res = rr.check_file(path)
    assert res.ok, "\n".join(res.errors)
    assert res.records >= 1


def test_cli_passes(capsys):
    assert rr.main([str(VECTORS_DIR)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    n = (len(_files()) + len(rr.ronaudit_checkpoint.checkpoint_vector_files(VECTORS_DIR))
         + len(rr.invalid_vector_files(VECTORS_DIR)) + len(rr.bundle_vector_files(VECTORS_DIR))
         + 1)  # the layout line
    assert out[-1] == f"python-reader: {n} passed, 0 failed"


def test_cli_fails_on_empty_dir(tmp_path):
    assert rr.main([str(tmp_path)]) != 0


def test_schema_path_is_relative_to_script():
    assert rr.SCHEMA_PATH.resolve() == (
        Path(__file__).resolve().parents[3] / "schema" / "audit.capnp"
    )


# ------------------------------------------------------------ tampered copies


def test_flipped_canonical_byte_fails(tmp_path):
    path, doc = _any_file()
    n = len(bytes.fromhex(doc["records"][0]["canonical"]))
    for idx in sorted({0, 8, n // 2, n - 1}):
        bad = copy.deepcopy(doc)
        bad["records"][0]["canonical"] = _flip_hex_byte(bad["records"][0]["canonical"], idx)
        errs = _errors(tmp_path, f"canon-{idx}-{path.name}", bad)
        assert "record 0" in errs and "hash mismatch" in errs, errs


def test_flipped_signature_byte_fails(tmp_path):
    path, doc = _any_file()
    for idx in (0, 31, 63):
        bad = copy.deepcopy(doc)
        last = len(bad["records"]) - 1
        bad["records"][last]["signature"] = _flip_hex_byte(bad["records"][last]["signature"], idx)
        errs = _errors(tmp_path, f"sig-{idx}-{path.name}", bad)
        assert f"record {last}" in errs and "signature does not verify" in errs, errs
        assert "hash mismatch" not in errs


def test_flipped_hash_fails(tmp_path):
    path, doc = _any_file()
    bad = copy.deepcopy(doc)
    bad["records"][0]["hash"] = _flip_hex_byte(bad["records"][0]["hash"], 5)
    errs = _errors(tmp_path, path.name, bad)
    assert "hash mismatch" in errs, errs


def _dedupe_records():
    out = [(p, i, r) for p in _files() for i, r in enumerate(_load(p)["records"]) if "dedupeKey" in r]
    assert out, f"no record with a dedupeKey in {VECTORS_DIR}"
    return out


def test_dedupe_keys_are_recomputed():
    # Every dedupeKey of the vectors is this reader's own derivation, and
    # differs from the record hash (the derivation drops seq and prev and
    # uses its own context).
    for p, i, r in _dedupe_records():
        data = bytes.fromhex(r["canonical"])
        assert rr.dedupe_key(data).hex() == r["dedupeKey"], (p.name, i)
        assert rr.dedupe_key(data) != rr.record_hash(data), (p.name, i)


def test_wrong_dedupe_key_fails(tmp_path):
    files = {p for p, _, _ in _dedupe_records()}
    for path in sorted(files):
        doc = _load(path)
        for idx in (0, 31):
            bad = copy.deepcopy(doc)
            i = len(bad["records"]) - 1
            bad["records"][i]["dedupeKey"] = _flip_hex_byte(bad["records"][i]["dedupeKey"], idx)
            errs = _errors(tmp_path, f"dedupe-{idx}-{path.name}", bad)
            assert f"record {i}: dedupeKey mismatch" in errs, errs
            assert "hash mismatch" not in errs and "signature" not in errs, errs
    # Another record's key (a valid key, of the wrong record).
    path, doc = _chain_file(min_records=2)
    bad = copy.deepcopy(doc)
    bad["records"][0]["dedupeKey"] = bad["records"][1]["dedupeKey"]
    assert "record 0: dedupeKey mismatch" in _errors(tmp_path, "swapped-" + path.name, bad)
    # Not 32 bytes of hex.
    for v, want in (("00" * 31, "'dedupeKey' is 31 bytes"), ("zz", "'dedupeKey' is not valid hex"),
                    (None, "'dedupeKey' missing or not a string")):
        bad = copy.deepcopy(doc)
        bad["records"][0]["dedupeKey"] = v
        assert want in _errors(tmp_path, "short-" + path.name, bad)


def test_dedupe_key_is_optional(tmp_path):
    # README check 5 lets a vector leave it out (the drill's evolution vectors do).
    path, doc = _chain_file(min_records=2)
    for r in doc["records"]:
        del r["dedupeKey"]
    res = rr.check_file(_write(tmp_path, path.name, doc))
    assert res.ok, res.errors


def test_wrong_public_key_fails(tmp_path):
    path, doc = _any_file()
    bad = copy.deepcopy(doc)
    # The public key of the all-zero seed, which no vector uses as its key.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert other.hex() != doc["publicKey"]
    bad["publicKey"] = other.hex()
    errs = _errors(tmp_path, path.name, bad)
    assert "signature does not verify" in errs, errs


def test_swapped_chain_records_fail(tmp_path):
    path, doc = _chain_file(min_records=2)
    bad = copy.deepcopy(doc)
    recs = bad["records"]
    recs[0], recs[1] = recs[1], recs[0]
    errs = _errors(tmp_path, path.name, bad)
    assert "chain:" in errs, errs
    # Each record on its own is still intact: only the links fail.
    assert "hash mismatch" not in errs and "signature" not in errs and "field mismatch" not in errs


def test_dropped_chain_record_fails(tmp_path):
    path, doc = _chain_file(min_records=2)
    for drop in (0, len(doc["records"]) - 2):
        bad = copy.deepcopy(doc)
        del bad["records"][drop]
        errs = _errors(tmp_path, f"drop-{drop}-{path.name}", bad)
        assert "chain:" in errs, errs


def test_changed_prev_fails(tmp_path):
    # Change prev inside the canonical bytes (and the rendering to match) of
    # the last record: its hash and signature then fail too, and so must the
    # chain link.
    path, doc = _chain_file(min_records=2)
    bad = copy.deepcopy(doc)
    last = len(bad["records"]) - 1
    rec = bad["records"][last]
    canon = bytes.fromhex(rec["canonical"])
    prev = bytes.fromhex(rec["record"]["prev"])
    assert len(prev) == 32 and canon.count(prev) == 1
    new_prev = bytes([prev[0] ^ 0x01]) + prev[1:]
    rec["canonical"] = canon.replace(prev, new_prev).hex()
    rec["record"]["prev"] = new_prev.hex()
    errs = _errors(tmp_path, path.name, bad)
    assert f"record {last}: chain: " in errs and "prev" in errs, errs


def test_reversed_chain_fails(tmp_path):
    path, doc = _chain_file(min_records=2)
    bad = copy.deepcopy(doc)
    bad["records"].reverse()
    errs = _errors(tmp_path, path.name, bad)
    assert "chain:" in errs, errs


def test_reason_mismatch_fails(tmp_path):
    path, doc = _any_file()
    bad = copy.deepcopy(doc)
    bad["records"][0]["record"]["reason"] += " (tampered)"
    errs = _errors(tmp_path, path.name, bad)
    assert "record 0: field mismatch: record.reason" in errs, errs


def _set(key, fn):
    return lambda r: r.__setitem__(key, fn(r[key]))


def _set_in(outer, key, fn):
    return lambda r: r[outer].__setitem__(key, fn(r[outer][key]))


FIELD_MUTATIONS = [
    ("record.v", _set("v", lambda v: v + 1)),
    ("record.kind", _set("kind", lambda k: "unknown" if k != "unknown" else "capIssued")),
    ("record.seq", _set("seq", lambda v: v + 1)),
    ("record.tsMs", _set("tsMs", lambda v: v + 1)),
    ("record.writerId", _set("writerId", lambda v: v + "x")),
    ("record.stream", _set("stream", lambda v: v + "x")),
    ("record.actor.capId", _set_in("actor", "capId", lambda v: v + "x")),
    ("record.actor.keyFpr", _set_in("actor", "keyFpr", lambda v: v + "x")),
    ("record.actor.passportId", _set_in("actor", "passportId", lambda v: v + "x")),
    ("record.actor.anon", _set_in("actor", "anon", lambda v: not v)),
    ("record.actor.anon", _set_in("actor", "anon", lambda v: int(v))),  # 0/1 is not a bool
    ("record.subject.contentId", _set_in("subject", "contentId", lambda v: v + "x")),
    ("record.subject.ledgerTxid", _set_in("subject", "ledgerTxid", lambda v: v + "x")),
    ("record.subject.name", _set_in("subject", "name", lambda v: v + "x")),
    ("record.reason", _set("reason", lambda v: v + "x")),
    ("record.reason", lambda r: r.__delitem__("reason")),
    ("record.attrs", _set("attrs", lambda a: a + [{"key": "zz-extra", "value": ""}])),
    ("record.prev", _set("prev", lambda p: "ff" * 32 if p != "ff" * 32 else "00" * 32)),
    ("record.extra", lambda r: r.__setitem__("extra", 1)),
]
FIELD_MUTATION_IDS = [
    "v", "kind", "seq", "tsMs", "writerId", "stream", "actor.capId", "actor.keyFpr",
    "actor.passportId", "actor.anon", "actor.anon-as-int", "subject.contentId",
    "subject.ledgerTxid", "subject.name", "reason", "reason-missing", "attrs-extra",
    "prev", "unknown-field",
]


@pytest.mark.parametrize("what, mutate", FIELD_MUTATIONS, ids=FIELD_MUTATION_IDS)
def test_any_field_mismatch_fails(tmp_path, what, mutate):
    path, doc = _any_file()
    bad = copy.deepcopy(doc)
    mutate(bad["records"][0]["record"])
    errs = _errors(tmp_path, path.name, bad)
    assert f"record 0: field mismatch: {what}" in errs, errs


def test_attrs_order_matters(tmp_path):
    for p in _files():
        doc = _load(p)
        for i, rec in enumerate(doc["records"]):
            attrs = rec["record"]["attrs"]
            if len(attrs) >= 2 and attrs[0] != attrs[1]:
                bad = copy.deepcopy(doc)
                a = bad["records"][i]["record"]["attrs"]
                a[0], a[1] = a[1], a[0]
                errs = _errors(tmp_path, p.name, bad)
                assert f"record {i}: field mismatch: record.attrs[0]" in errs, errs
                return
    pytest.skip("no vector record with two different attrs")


def test_truncated_canonical_fails_without_crashing(tmp_path):
    path, doc = _any_file()
    canon = doc["records"][0]["canonical"]
    for cut in (1, 8, 16, len(canon) // 4):
        bad = copy.deepcopy(doc)
        bad["records"][0]["canonical"] = canon[: len(canon) - 2 * cut]
        errs = _errors(tmp_path, f"cut-{cut}-{path.name}", bad)
        assert "hash mismatch" in errs, errs


def test_cli_reports_failure(tmp_path, capsys):
    path, doc = _any_file()
    bad = copy.deepcopy(doc)
    bad["records"][0]["record"]["reason"] += "!"
    _write(tmp_path, path.name, bad)
    assert rr.main([str(tmp_path)]) != 0
    out = capsys.readouterr().out
    assert f"FAIL {path.name}" in out
    # The one passing line is the layout's (a lone vector file, no subdirectories).
    assert "PASS layout" in out
    assert out.strip().splitlines()[-1] == "python-reader: 1 passed, 1 failed"


def test_rendering_of_an_older_schema_may_omit_added_default_fields():
    # A v1 rendering read with a newer schema: fields added since decode as
    # defaults and may be missing; a non-default one, or a missing field the
    # rendering's schema has, may not.
    added = frozenset({"record.region", "record.traceId", "record.origin"})
    decoded = {"seq": 1, "reason": "", "region": 0, "traceId": "", "origin": {"host": "", "port": 0}}
    assert rr.compare_rendering(decoded, {"seq": 1, "reason": ""}, may_lack=added) == []
    errs = rr.compare_rendering(decoded, {"seq": 1}, may_lack=added)
    assert len(errs) == 1 and "record.reason: missing from rendering" in errs[0]
    decoded["region"] = 7
    errs = rr.compare_rendering(decoded, {"seq": 1, "reason": ""}, may_lack=added)
    assert len(errs) == 1 and "record.region: missing from rendering" in errs[0]
    assert rr.compare_rendering(decoded, {"seq": 1, "reason": ""}) != []


def test_added_paths_of_the_drill_schema():
    old = rr.SCHEMA_PATH
    try:
        rr.SCHEMA_PATH = rr.REPO / "gen" / "testdata" / "audit_v2.capnp"
        rr._schema = None
        assert rr.added_paths(rr.V1_SCHEMA) == {"record.region", "record.traceId", "record.origin"}
        assert rr.added_paths(rr.SCHEMA_PATH) == set()
    finally:
        rr.SCHEMA_PATH = old
        rr._schema = None


def test_cli_reads_v1_vectors_with_the_drill_schema():
    # What run.sh does: every file of the v1 vectors (record files, the
    # checkpoint file, both negative files, the bundle file: those two are
    # read with schema v1 whatever it says) read with the v2 schema. Each
    # negative chain asks added_paths for the v1 schema again, whose parser
    # must stay alive while its schema is walked.
    import subprocess
    import sys

    env = dict(os.environ, RONAUDIT_SCHEMA=str(rr.REPO / "gen" / "testdata" / "audit_v2.capnp"))
    p = subprocess.run([sys.executable, str(Path(rr.__file__)), str(VECTORS_DIR)],
                       env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.rstrip().endswith(" passed, 0 failed"), p.stdout


# ------------------------------------------------------------ negative vectors


def _invalid(name):
    p = VECTORS_DIR / "invalid" / name
    return p, _load(p)


def test_invalid_vectors_are_refused():
    files = rr.invalid_vector_files(VECTORS_DIR)
    assert [p.name for p in files] == list(rr.INVALID_FILES)
    for p in files:
        res = rr.check_invalid_file(p)
        assert res.ok, "\n".join(res.errors)
        assert res.records > 0, p.name
    # The field-rule vectors are canonical Cap'n Proto and the encoder's own
    # bytes of what they hold: only the rules refuse them.
    _, doc = _invalid("records.json")
    rules = [r for r in doc["records"] if r["refusal"] == "invalid"]
    assert rules
    for r in rules:
        with pytest.raises(rr.DecodeError, match="^rule: "):
            rr.open_strict(bytes.fromhex(r["canonical"]))


def test_check_vector_reads_strictly(tmp_path):
    # An invalid record in an ordinary vector file, with the rendering of
    # what pycapnp decodes, its right hash and a valid signature: refused
    # by the strict reading alone.
    _, doc = _invalid("records.json")
    checked = 0
    for r in doc["records"]:
        data = bytes.fromhex(r["canonical"])
        try:
            rendering = rr.decode_record(data)
        except rr.DecodeError:
            continue  # not UTF-8: pycapnp does not decode it at all
        vec = {"name": r["name"], "chain": False, "publicKey": doc["publicKey"], "records": [
            {"record": rendering, "canonical": r["canonical"], "hash": r["hash"],
             "signature": r["signature"]}]}
        errs = rr.check_vector(vec, r["name"]).errors
        assert len(errs) == 1 and "record 0: canonical bytes refused: " in errs[0], (r["name"], errs)
        checked += 1
    assert checked >= len(doc["records"]) - 3


def test_invalid_vector_checks_bite():
    path, doc = _invalid("records.json")
    label = "invalid/records.json"
    worked = _load(VECTORS_DIR / "worked-example.json")["records"][0]

    def errs(d, check=rr.check_invalid_records):
        res = check(d, label)
        assert not res.ok
        return "\n".join(res.errors)

    bad = copy.deepcopy(doc)
    bad["records"][0]["hash"] = _flip_hex_byte(bad["records"][0]["hash"], 0)
    assert "record 0 v-0: vector: hash" in errs(bad)
    bad = copy.deepcopy(doc)
    bad["records"][0]["signature"] = _flip_hex_byte(bad["records"][0]["signature"], 0)
    assert "record 0 v-0: vector: signature" in errs(bad)
    bad = copy.deepcopy(doc)
    for k in ("canonical", "hash", "signature"):
        bad["records"][0][k] = worked[k]
    e = errs(bad)
    assert "record 0 v-0: accepted" in e and e.count("\n") == 0, e
    bad = copy.deepcopy(doc)
    bad["records"] = []
    assert "'records' missing" in errs(bad)

    _, doc = _invalid("chains.json")
    basic = _load(VECTORS_DIR / "chain-basic.json")["records"]
    bad = copy.deepcopy(doc)
    bad["chains"][0]["records"] = basic[:2]
    assert "accepted, but it breaks" in errs(bad, rr.check_invalid_chains)
    bad = copy.deepcopy(doc)
    bad["chains"][0]["failsAt"] += 1
    assert "want only chain failures at record" in errs(bad, rr.check_invalid_chains)
    bad = copy.deepcopy(doc)
    rec = bad["chains"][0]["records"][0]
    rec["signature"] = _flip_hex_byte(rec["signature"], 0)
    assert "signature does not verify" in errs(bad, rr.check_invalid_chains)
    bad = copy.deepcopy(doc)
    bad["chains"] = []
    assert "'chains' missing" in errs(bad, rr.check_invalid_chains)


def test_cli_fails_on_a_negative_vector_accepted(tmp_path, capsys):
    # The CLI reads invalid/: a valid record there is a failure.
    path, doc = _invalid("records.json")
    worked = _load(VECTORS_DIR / "worked-example.json")
    for k in ("canonical", "hash", "signature"):
        doc["records"][0][k] = worked["records"][0][k]
    _write(tmp_path, "worked-example.json", worked)
    (tmp_path / "invalid").mkdir()
    _write(tmp_path / "invalid", "records.json", doc)
    _write(tmp_path / "invalid", "chains.json", _invalid("chains.json")[1])
    assert rr.main([str(tmp_path)]) != 0
    out = capsys.readouterr().out
    assert "FAIL invalid/records.json" in out and "PASS invalid/chains.json" in out, out


def test_signatures_verify_as_go_does():
    """canonical/SPEC.md section 5: cofactorless, as Go's crypto/ed25519,
    small-order points not refused: the identity as public key with R =
    the identity and S = 0 verifies any message (the Rust reader and Go's
    canonical.VerifySignature agree); S at the group order does not."""
    identity = bytes([1]) + bytes(31)
    sig = bytes([1]) + bytes(63)
    h = bytes(range(32))
    assert rr.verify_signature(identity, sig, h)
    order = bytes.fromhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
    assert not rr.verify_signature(identity, sig[:32] + order, h)


# ------------------------------------------------- the layout: nothing skipped


def _copy_vectors(tmp_path):
    import shutil

    d = tmp_path / "v1"
    shutil.copytree(VECTORS_DIR, d)
    return d


def _damage_a_bundle_case(d):
    p = d / "bundles" / "bundles.json"
    doc = _load(p)
    case = next(c for c in doc["cases"] if c["want"] == "ok")
    case["want"] = "fork"
    p.write_text(json.dumps(doc), encoding="utf-8")


# Before check_layout and the bundle files in main, the reader passed each of
# these copies: the vectors below a new subdirectory, a third file of
# invalid/, any bundles/ file, and a missing or emptied checkpoints/,
# bundles/ or invalid/ were not read, and nothing said so.
LAYOUT_GAPS = {
    "new subdirectory": (lambda d: ((d / "newkind").mkdir(), (d / "newkind" / "x.json").write_text("{}")),
                         "newkind/: a subdirectory this reader does not check"),
    "third invalid file": (lambda d: (d / "invalid" / "extra.json").write_text("{}"),
                           "invalid/extra.json: not a negative vector file"),
    "checkpoints emptied": (lambda d: (d / "checkpoints" / "chain-basic.json").unlink(),
                            "checkpoints/ holds no *.json vector file"),
    "checkpoints gone": (lambda d: __import__("shutil").rmtree(d / "checkpoints"), "checkpoints/ missing"),
    "bundles gone": (lambda d: __import__("shutil").rmtree(d / "bundles"), "bundles/ missing"),
    "invalid gone": (lambda d: __import__("shutil").rmtree(d / "invalid"), "invalid/ missing"),
    "second bundle file": (lambda d: (d / "bundles" / "other.json").write_text("{}"),
                           "bundles/other.json"),
    "bundle case verdict": (_damage_a_bundle_case, "want fork"),
}


@pytest.mark.parametrize("what", sorted(LAYOUT_GAPS))
def test_cli_fails_on_layout_gap(tmp_path, capsys, what):
    change, needle = LAYOUT_GAPS[what]
    d = _copy_vectors(tmp_path)
    assert rr.main([str(d)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    change(d)
    assert rr.main([str(d)]) != 0, f"{what}: accepted"
    out = capsys.readouterr().out
    assert needle in out, out


def test_layout_of_the_vectors_is_known():
    assert rr.check_layout(VECTORS_DIR) == []
    assert rr.check_layout(rr.REPO / "testing" / "vectors" / "drill") == []


@pytest.mark.parametrize("name", [None, 5], ids=["absent", "number"])
def test_vector_name_is_required(tmp_path, name):
    # The README's layout has a "name" (the Rust reader requires it); the
    # Python reader passed a file without one.
    path, doc = _any_file()
    bad = copy.deepcopy(doc)
    if name is None:
        del bad["name"]
    else:
        bad["name"] = name
    assert "'name' missing or not a string" in _errors(tmp_path, path.name, bad)
