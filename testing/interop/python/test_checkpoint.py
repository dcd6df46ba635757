"""Tests of the Python checkpoint/proof reader against the shared vectors.

The vectors directory defaults to testing/vectors/v1; set RONAUDIT_VECTORS to
use another one. Its checkpoints/ subfolder must hold chain-basic.json.
"""

import base64
import copy
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import ronaudit_checkpoint as rc
import ronaudit_reader as rr

VECTORS_DIR = Path(os.environ.get("RONAUDIT_VECTORS", rr.DEFAULT_VECTORS_DIR)).resolve()
CP_DIR = VECTORS_DIR / "checkpoints"
CP_FILE = CP_DIR / "chain-basic.json"
DOC = json.loads(CP_FILE.read_text(encoding="utf-8")) if CP_FILE.is_file() else None

# An independent derivation of the published test key (README: seed =
# SHA-256("ron-audit checkpoint vectors v1")).
SEED = hashlib.sha256(b"ron-audit checkpoint vectors v1").digest()
OTHER_SEED = hashlib.sha256(b"some other key").digest()


@pytest.fixture(scope="module")
def doc():
    if DOC is None:
        pytest.fail(f"no {CP_FILE}", pytrace=False)
    return copy.deepcopy(DOC)


@pytest.fixture(scope="module")
def verifier():
    return rc.parse_verifier_key((CP_DIR / "chain-basic.vkey").read_text().rstrip("\n"))


def _leaves(doc):
    return [rc.leaf_hash(bytes.fromhex(h)) for h in doc["recordHashes"]]


def _root(doc, size):
    return rc.tree_hash(_leaves(doc)[:size])


def _signed(text, seed=SEED, name=None):
    name = name or DOC["keyName"]
    return rc.sign_note(text, name, seed)


def _text(origin=None, size="7", root=None):
    origin = DOC["origin"] if origin is None else origin
    root = base64.b64encode(_root(DOC, 7)).decode() if root is None else root
    return f"{origin}\n{size}\n{root}\n"


def _refused(msg, verifiers, reason, **kw):
    with pytest.raises(rc.CheckpointError) as ei:
        rc.open_checkpoint(msg, verifiers, **kw)
    assert ei.value.reason == reason, str(ei.value)
    return ei.value


# ------------------------------------------------------------ the vector file


def test_vector_file_passes():
    res = rc.check_checkpoint_file(CP_FILE)
    assert res.ok, "\n".join(res.errors)
    assert res.items >= 2 + 7 + 1 + 11


def test_checkpoint_vector_files_listed():
    assert CP_FILE in rc.checkpoint_vector_files(VECTORS_DIR)
    assert rc.checkpoint_vector_files(CP_DIR) == []


def test_record_hashes_are_source_chain(doc):
    src = json.loads((CP_DIR / doc["source"]).read_text(encoding="utf-8"))
    assert [r["hash"] for r in src["records"]] == doc["recordHashes"]
    assert [r["record"]["seq"] for r in src["records"]] == list(range(1, 8))
    # and each source hash is BLAKE3 of the canonical bytes, per the record reader
    for r in src["records"]:
        assert rr.record_hash(bytes.fromhex(r["canonical"])).hex() == r["hash"]


def test_key_and_verifier_key(doc, verifier):
    assert SEED.hex() == doc["keySeed"]
    assert verifier.name == doc["keyName"]
    assert verifier.public_key.hex() == doc["publicKey"]
    assert f"{verifier.key_hash:08x}" == doc["keyHash"]
    assert rc.verifier_key(doc["keyName"], bytes.fromhex(doc["publicKey"])) == doc["verifierKey"]
    assert (CP_DIR / "chain-basic.vkey").read_text() == doc["verifierKey"] + "\n"


@pytest.mark.parametrize("size", [3, 7])
def test_note_files_verify(doc, verifier, size):
    msg = (CP_DIR / f"chain-basic-{size}.note").read_bytes()
    cp = rc.open_checkpoint(msg, [verifier], origin=doc["origin"])
    assert cp == rc.Checkpoint(doc["origin"], size, _root(doc, size))
    (entry,) = [c for c in doc["checkpoints"] if c["size"] == size]
    assert entry["rootHex"] == cp.root.hex()
    assert entry["signedNote"].encode() == msg
    assert rc.format_checkpoint_text(cp) == entry["text"].encode()
    # our own signature over the same text by the same seed is byte-identical
    # (Ed25519 is deterministic)
    assert rc.sign_note(entry["text"], doc["keyName"], SEED) == msg


def test_leaf_hashes(doc):
    assert [h.hex() for h in _leaves(doc)] == doc["leafHashes"]


def test_inclusion_proofs_verify(doc):
    leaves = _leaves(doc)
    assert len(doc["inclusionProofs"]) == len(leaves)
    for p in doc["inclusionProofs"]:
        proof = [bytes.fromhex(h) for h in p["proof"]]
        rc.verify_inclusion(p["index"], p["treeSize"], leaves[p["index"]], proof,
                            _root(doc, p["treeSize"]))
        # our PATH() gives the same audit path as the vector
        assert rc.inclusion_proof(p["index"], leaves[: p["treeSize"]]) == proof


def test_consistency_proof_3_to_7_verifies(doc):
    (p,) = doc["consistencyProofs"]
    assert (p["oldSize"], p["newSize"]) == (3, 7)
    proof = [bytes.fromhex(h) for h in p["proof"]]
    rc.verify_consistency(3, 7, bytes.fromhex(p["oldRoot"]), bytes.fromhex(p["newRoot"]), proof)
    assert rc.consistency_proof(3, _leaves(doc)) == proof


@pytest.mark.parametrize("i", range(len(DOC["invalid"]) if DOC else 0),
                         ids=[v["name"] for v in DOC["invalid"]] if DOC else [])
def test_invalid_notes_refused_with_reason(doc, verifier, i):
    v = doc["invalid"][i]
    _refused(v["signedNote"], [verifier], v["reason"], origin=doc["origin"])


# ---------------------------------------------------- tampering: signed notes


def test_flipped_signature_byte_refused(doc, verifier):
    msg = (CP_DIR / "chain-basic-7.note").read_text()
    head, b64 = msg.rstrip("\n").rsplit(" ", 1)
    raw = base64.b64decode(b64)
    for idx in range(len(raw)):
        bad = bytearray(raw)
        bad[idx] ^= 0x01
        tampered = f"{head} {base64.b64encode(bytes(bad)).decode()}\n"
        # bytes 0-3 are the key hash: then the signature is by no known key
        _refused(tampered, [verifier], rc.UNKNOWN_KEY if idx < 4 else rc.BAD_SIGNATURE)


@pytest.mark.parametrize("new_size", ["8", "6", "0", "70", "3"])
def test_changed_size_line_refused(verifier, new_size):
    msg = (CP_DIR / "chain-basic-7.note").read_text()
    lines = msg.split("\n")
    lines[1] = new_size
    _refused("\n".join(lines), [verifier], rc.BAD_SIGNATURE)


def test_changed_root_and_origin_refused(doc, verifier):
    msg = (CP_DIR / "chain-basic-7.note").read_text()
    lines = msg.split("\n")
    lines[2] = doc["checkpoints"][0]["rootBase64"]
    _refused("\n".join(lines), [verifier], rc.BAD_SIGNATURE)
    lines = msg.split("\n")
    lines[0] = lines[0].replace("index", "indey")
    _refused("\n".join(lines), [verifier], rc.BAD_SIGNATURE)


def test_unknown_key_refused_and_cosigned_accepted(doc, verifier):
    text = _text()
    other = _signed(text, OTHER_SEED)
    _refused(other, [verifier], rc.UNKNOWN_KEY)
    _refused((CP_DIR / "chain-basic-7.note").read_bytes(), [], rc.UNKNOWN_KEY)
    # other key's signature plus ours: one trusted signature suffices
    ours = _signed(text).split(b"\n\n", 1)[1]
    both = other + ours
    cp = rc.open_checkpoint(both, [verifier])
    assert cp.size == 7
    # a witness cosigner with another name is ignored, too
    witness = _signed(text, OTHER_SEED, name="witness.example/w1").split(b"\n\n", 1)[1]
    assert rc.open_checkpoint(_signed(text) + witness, [verifier]).size == 7
    # a second line by the same key name and hash gives the note another
    # spelling: refused, whether it repeats the line or carries another
    # signature (SPEC section 2; Go's note.Open alone would skip it)
    _refused(_signed(text) + ours, [verifier], rc.FORMAT)
    good = _signed(text)
    bad_line = _signed(text.replace("\n7\n", "\n8\n")).split(b"\n\n", 1)[1]
    _refused(good + bad_line, [verifier], rc.FORMAT)
    _refused(bad_line.join([text.encode() + b"\n", b""]), [verifier], rc.BAD_SIGNATURE)


@pytest.mark.parametrize(
    "name, mutate",
    [
        ("crlf", lambda m: m.replace(b"\n", b"\r\n")),
        ("tab", lambda m: m.replace(b"\n7\n", b"\n7\t\n")),
        ("nul", lambda m: m.replace(b"index\n", b"index\x00\n")),
        ("trailing-junk", lambda m: m + b"junk\n"),
        ("trailing-blank", lambda m: m + b"\n"),
        ("no-final-newline", lambda m: m[:-1]),
        ("no-blank-line", lambda m: m.replace(b"\n\n", b"\n")),
        ("no-signature", lambda m: m.split(b"\n\n")[0] + b"\n\n"),
        ("hyphen-not-em-dash", lambda m: m.replace("\u2014".encode(), b"-")),
        ("no-space-after-dash", lambda m: m.replace("\u2014 ".encode(), "\u2014".encode())),
        ("bad-base64", lambda m: m.replace(b"rGcH", b"r*cH")),
        ("unpadded-sig", lambda m: m[:-2] + b"\n" if m.endswith(b"=\n") else m[:-1] + b"=\n"),
        ("short-sig", lambda m: m.rsplit(b" ", 1)[0] + b" AAAA\n"),
        ("invalid-utf8", lambda m: m.replace(b"index\n", b"index\xff\n")),
        ("too-big", lambda m: b"x" * (256 * 1024) + m),
    ],
)
def test_malformed_notes_refused_as_format(verifier, name, mutate):
    msg = (CP_DIR / "chain-basic-7.note").read_bytes()
    bad = mutate(msg)
    assert bad != msg
    _refused(bad, [verifier], rc.FORMAT)


@pytest.mark.parametrize(
    "text",
    [
        _text(size="07"),
        _text(size="-7"),
        _text(size="+7"),
        _text(size=" 7"),
        _text(size=""),
        _text(size="7.0"),
        _text(size="\u0667"),  # ARABIC-INDIC DIGIT SEVEN: not ASCII decimal
        _text(size=str(2**63)),
        _text(root="PVdoAOnfJ9m8qYv8bVGewXEbqlXE2HTmhzMCsKjP2cA"),
        _text(root="PVdoAOnfJ9m8qYv8bVGewXEbqlXE2HTmhzMCsKjP2cB="),  # unused bits set
        _text(root="PVdoAOnfJ9m8qYv8bVGewXEbqlXE2HTmhzMCsKjP2c=="),
        _text(root="PVdoAOnfJ9m8qYv8bVGewXEbqlXE2HTmhzMCsKjP2c-="),
        _text(root=base64.b64encode(bytes(31)).decode()),
        _text() + "ext\n",
        _text() + "\u2014 not an extension either\n",
        _text(origin="ron-audit/svc-index%40inst-2/index"),  # escaped '@'
        _text(origin="ron-audit/svc-index@inst-2/in%2fdex"),  # lower-case hex
        _text(origin="ron-audit/svc-index@inst-2/in/dex"),  # unescaped '/'
        _text(origin="ron-audit/svc-index@inst-2/in%20dex").replace("%20", " "),
        _text(origin="ron-audit/svc-index@inst-2/"),
        _text(origin="ron-audit//index"),
        _text(origin="ron-audit/svc-index@inst-2"),
        _text(origin="other/svc-index@inst-2/index"),
        _text(origin="ron-audit/svc%00/index"),
        _text(origin="ron-audit/svc%FF/index"),  # not UTF-8
        _text(origin="ron-audit/svc%2/index"),
        _text(origin="ron-audit/svc%/index"),
        _text(origin="ron-audit/s\u00fcvc/index"),  # unescaped non-ASCII
    ],
)
def test_malformed_checkpoint_text_with_valid_signature_refused(verifier, text):
    _refused(_signed(text), [verifier], rc.FORMAT)


def test_origin_escaping():
    assert rc.origin_of("svc-index@inst-2", "index") == "ron-audit/svc-index@inst-2/index"
    assert rc.origin_of("a/b c+d%", "s\u00fc") == "ron-audit/a%2Fb%20c%2Bd%25/s%C3%BC"
    for w, s in [("a/b c+d%", "s\u00fc"), ("~._-@", "x"), ("\u2014", "/")]:
        assert rc.parse_origin(rc.origin_of(w, s)) == (w, s)
    assert rc.parse_checkpoint_text(_text(origin="ron-audit/in%2Fdex%20x/s%C3%BC")).size == 7


def test_valid_edge_checkpoint_texts(verifier):
    assert rc.open_checkpoint(_signed(_text(size="0")), [verifier]).size == 0
    assert rc.open_checkpoint(_signed(_text(size=str(2**63 - 1))), [verifier]).size == 2**63 - 1


def test_origin_mismatch(doc, verifier):
    msg = (CP_DIR / "chain-basic-7.note").read_bytes()
    _refused(msg, [verifier], rc.ORIGIN_MISMATCH, origin="ron-audit/svc-index@inst-2/other")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v.replace("+ac6707c0+", "+ac6707c1+"),
        lambda v: v.replace("+ac6707c0+", "+ac6707c+"),
        lambda v: v.replace("+AQ", "+Ag"),  # key type 0x02
        lambda v: v.replace("svc-index", "svc-indey"),  # name no longer matches the hash
        lambda v: v.split("+", 1)[1],
        lambda v: v[:-4],
        lambda v: "bad name" + v[v.index("+"):],
    ],
)
def test_bad_verifier_keys_refused(doc, mutate):
    bad = mutate(doc["verifierKey"])
    assert bad != doc["verifierKey"]
    with pytest.raises(rc.CheckpointError):
        rc.parse_verifier_key(bad)


# ------------------------------------------------------- tampering: proofs


def test_altered_inclusion_proof_hash_fails(doc):
    leaves = _leaves(doc)
    root = _root(doc, 7)
    for p in doc["inclusionProofs"]:
        proof = [bytes.fromhex(h) for h in p["proof"]]
        for k in range(len(proof)):
            bad = list(proof)
            bad[k] = bytes([bad[k][0] ^ 0x01]) + bad[k][1:]
            with pytest.raises(rc.CheckpointError) as ei:
                rc.verify_inclusion(p["index"], 7, leaves[p["index"]], bad, root)
            assert ei.value.reason == rc.NOT_INCLUDED


def test_inclusion_wrong_leaf_index_size_or_length_fails(doc):
    leaves = _leaves(doc)
    root = _root(doc, 7)
    p = doc["inclusionProofs"][2]
    proof = [bytes.fromhex(h) for h in p["proof"]]
    cases = [
        (rc.NOT_INCLUDED, (3, 7, leaves[2], proof, root)),  # wrong index
        (rc.NOT_INCLUDED, (2, 7, leaves[3], proof, root)),  # wrong leaf
        (rc.NOT_INCLUDED, (2, 7, bytes.fromhex(p["recordHash"]), proof, root)),  # unhashed
        (rc.NOT_INCLUDED, (2, 4, leaves[2], proof, root)),  # wrong size (path too long)
        (rc.NOT_INCLUDED, (2, 9, leaves[2], proof, root)),  # wrong size (path too short)
        (rc.NOT_INCLUDED, (2, 7, leaves[2], proof[:-1], root)),  # short
        (rc.NOT_INCLUDED, (2, 7, leaves[2], proof + [root], root)),  # long
        (rc.NOT_INCLUDED, (2, 7, leaves[2], proof, _root(doc, 3))),  # other root
        (rc.OUT_OF_RANGE, (7, 7, leaves[2], proof, root)),
        (rc.OUT_OF_RANGE, (-1, 7, leaves[2], proof, root)),
    ]
    # (Size 6 would pass: leaf 2's path has the same shape in trees of 6 and
    # 7 leaves, so the same hashes give the size-7 root. SPEC section 3: only
    # a signed (size, root) pair is evidence.)
    rc.verify_inclusion(2, 6, leaves[2], proof, root)
    for reason, args in cases:
        with pytest.raises(rc.CheckpointError) as ei:
            rc.verify_inclusion(*args)
        assert ei.value.reason == reason, args


def test_swapped_consistency_fails(doc):
    (p,) = doc["consistencyProofs"]
    proof = [bytes.fromhex(h) for h in p["proof"]]
    old, new = bytes.fromhex(p["oldRoot"]), bytes.fromhex(p["newRoot"])
    with pytest.raises(rc.CheckpointError) as ei:
        rc.verify_consistency(7, 3, new, old, proof)  # sizes and roots swapped
    assert ei.value.reason == rc.ROLLBACK
    with pytest.raises(rc.CheckpointError) as ei:
        rc.verify_consistency(3, 7, new, old, proof)  # roots swapped only
    assert ei.value.reason == rc.FORK


def test_consistency_from_size_0_needs_the_empty_root(doc):
    """As Go's VerifyConsistency: a size-0 checkpoint whose root is not the
    empty tree's (SHA-256 of nothing) is a fork, against any newer size."""
    empty = hashlib.sha256(b"").digest()
    new = _root(doc, 7)
    rc.verify_consistency(0, 7, empty, new, [])
    rc.verify_consistency(0, 0, empty, empty, [])
    for old_root, n, new_root in [(new, 7, new), (new, 0, new), (empty, 0, new)]:
        with pytest.raises(rc.CheckpointError) as ei:
            rc.verify_consistency(0, n, old_root, new_root, [])
        assert ei.value.reason == rc.FORK, (old_root.hex(), n, new_root.hex())


def test_altered_consistency_proof_fails(doc):
    (p,) = doc["consistencyProofs"]
    proof = [bytes.fromhex(h) for h in p["proof"]]
    old, new = bytes.fromhex(p["oldRoot"]), bytes.fromhex(p["newRoot"])
    variants = [proof[:-1], proof + [new], proof[1:], [], list(reversed(proof))]
    for k in range(len(proof)):
        bad = list(proof)
        bad[k] = bytes([bad[k][0] ^ 0x80]) + bad[k][1:]
        variants.append(bad)
    for bad in variants:
        with pytest.raises(rc.CheckpointError) as ei:
            rc.verify_consistency(3, 7, old, new, bad)
        assert ei.value.reason == rc.FORK
    for m, n in [(2, 7), (3, 6), (4, 7)]:
        with pytest.raises(rc.CheckpointError):
            rc.verify_consistency(m, n, _root(doc, m), _root(doc, n), proof)
    with pytest.raises(rc.CheckpointError) as ei:
        rc.verify_consistency(7, 7, new, old, [])
    assert ei.value.reason == rc.FORK


def test_all_generated_proofs_round_trip(doc):
    # Every inclusion and consistency proof our PATH/PROOF give for trees of
    # up to 17 leaves (the 7 vector leaves, then more) verifies, and fails
    # for a neighbouring index or size.
    leaves = _leaves(doc) + [rc.leaf_hash(bytes([i]) * 32) for i in range(10)]
    for n in range(1, len(leaves) + 1):
        root = rc.tree_hash(leaves[:n])
        for i in range(n):
            proof = rc.inclusion_proof(i, leaves[:n])
            rc.verify_inclusion(i, n, leaves[i], proof, root)
            if n > 1:
                with pytest.raises(rc.CheckpointError):
                    rc.verify_inclusion((i + 1) % n, n, leaves[i], proof, root)
        for m in range(0, n + 1):
            proof = rc.consistency_proof(m, leaves[:n])
            rc.verify_consistency(m, n, rc.tree_hash(leaves[:m]), root, proof)
            if 0 < m < n:
                with pytest.raises(rc.CheckpointError):
                    rc.verify_consistency(m, n, rc.tree_hash(leaves[: m - 1]), root, proof)
                with pytest.raises(rc.CheckpointError):
                    rc.verify_consistency(m, n, rc.tree_hash(leaves[:m]), rc.tree_hash(leaves[: n - 1]), proof)


def test_empty_tree():
    assert rc.tree_hash([]) == hashlib.sha256(b"").digest()
    rc.verify_consistency(0, 7, rc.tree_hash([]), bytes(32), [])


# ----------------------------------------------- tampering: the vector JSON


def _vector_errors(doc):
    res = rc.check_checkpoint_vector(doc, "chain-basic.json", CP_DIR)
    assert not res.ok, "tampered checkpoint vector was accepted"
    return "\n".join(res.errors)


def test_tampered_vector_json_fails(doc):
    bad = copy.deepcopy(doc)
    bad["recordHashes"][0] = "00" * 32
    assert "recordHashes are not the hashes" in _vector_errors(bad)

    bad = copy.deepcopy(doc)
    bad["checkpoints"][1]["rootHex"] = bad["checkpoints"][0]["rootHex"]
    assert "rootHex" in _vector_errors(bad)

    bad = copy.deepcopy(doc)
    bad["inclusionProofs"][4]["proof"][0] = "11" * 32
    assert "inclusionProofs[4]: inclusion proof refused: not_included" in _vector_errors(bad)

    bad = copy.deepcopy(doc)
    c = bad["consistencyProofs"][0]
    c["oldSize"], c["newSize"] = c["newSize"], c["oldSize"]
    c["oldRoot"], c["newRoot"] = c["newRoot"], c["oldRoot"]
    assert "consistency proof refused: rollback" in _vector_errors(bad)

    bad = copy.deepcopy(doc)
    bad["invalid"][0]["signedNote"] = bad["checkpoints"][1]["signedNote"]
    assert "must be refused" in _vector_errors(bad)

    bad = copy.deepcopy(doc)
    bad["invalid"][5]["reason"] = "bad_signature"  # crlf is a format error
    assert "refused as format" in _vector_errors(bad)

    bad = copy.deepcopy(doc)
    bad["checkpoints"][0]["signedNote"] = bad["invalid"][1]["signedNote"]
    assert "checkpoints[0]: signedNote refused: bad_signature" in _vector_errors(bad)


def test_cli_counts_and_reports_checkpoint_failure(tmp_path, capsys, doc):
    shutil.copytree(VECTORS_DIR, tmp_path / "v1")
    n_all = (len(rr.vector_files(VECTORS_DIR)) + len(rc.checkpoint_vector_files(VECTORS_DIR))
             + len(rr.invalid_vector_files(VECTORS_DIR)) + len(rr.bundle_vector_files(VECTORS_DIR))
             + 1)  # the layout line
    assert rr.main([str(tmp_path / "v1")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "PASS checkpoints/chain-basic.json" in "\n".join(out)
    assert out[-1] == f"python-reader: {n_all} passed, 0 failed"

    # tamper with a .note file: its bytes no longer match and it no longer verifies
    note = tmp_path / "v1" / "checkpoints" / "chain-basic-7.note"
    note.write_bytes(note.read_bytes().replace(b"\n7\n", b"\n8\n"))
    assert rr.main([str(tmp_path / "v1")]) != 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(l.startswith("FAIL checkpoints/chain-basic.json") for l in out)
    assert out[-1] == f"python-reader: {n_all - 1} passed, 1 failed"
