"""Python foreign verifier of ron-audit export bundles (version 1).

An independent implementation, written from the documents only:

- ``sdk/export/FORMAT.md``: the bundle layout (magic, version, origin,
  checkpoint and previous checkpoint, consistency proof, compact range,
  record frames with CRC-32C, nothing after the last record), verifying one
  bundle (steps 1-6, key rotation included), verifying a sequence (gaps,
  overlaps, forks, prev links across bundles, a trusted checkpoint the
  sequence must reach) and the ``FileSink`` directory layout;
- ``sdk/checkpoint/SPEC.md`` (signed notes, origins, RFC 6962 tree and
  consistency proofs), through ``ronaudit_checkpoint``;
- ``canonical/SPEC.md`` (record hash, strict canonical bytes, signatures,
  key ids and key transitions) and ``sdk/wal/FORMAT.md`` "SDK payloads"
  (the record frame payload), through ``ronaudit_reader`` and
  ``ronaudit_wal``.

Usage::

    python ronaudit_bundle.py PATH [PATH ...] --pub KEY.pub [--pub ...] [--checkpoint NOTE]

PATH is a bundle file, a chain directory (``<dir>/e(writer)/e(stream)``) or
an export directory holding several chains; several bundle files are one
chain's sequence, in the order given. Exit status 0: everything verifies
(a summary per chain: records 1..S and the head hash). Exit status 1: the
first failure with its FORMAT.md reason label (``format``,
``bad_checkpoint``, ``consistency``, ``record``, ``root``, ``gap``,
``fork``, ``truncated``; ``retired_key`` beside ``record`` or
``bad_checkpoint``, ``unknown_key`` beside ``bad_checkpoint``, and
``bad_key_transition`` beside ``record``, where the
documents name them). Exit status 2: bad usage
or an unreadable key or checkpoint file.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import ronaudit_checkpoint as cpk
import ronaudit_reader as rr
import ronaudit_wal as rw

# --------------------------------------------------------------------------
# Constants (FORMAT.md "Layout")

MAGIC = b"RONAUDIT-BUNDLE"
VERSION = 1
MAX_ORIGIN = 1024
MAX_NOTE = 262144
MAX_SIZE = 2**63  # S < 2^63
MIN_FRAME = rw.MIN_RECORD_PAYLOAD  # 114
MAX_FRAME = rw.MAX_RECORD_PAYLOAD  # 65642
GENESIS = rw.GENESIS
EMPTY_ROOT = hashlib.sha256(b"").digest()
BUNDLE_NAME = re.compile(r"^([0-9]{20})-([0-9]{20})\.bundle$")

# Reason labels (FORMAT.md), and the detail labels the documents name.
FORMAT = "format"
BAD_CHECKPOINT = "bad_checkpoint"
CONSISTENCY = "consistency"
RECORD = "record"
ROOT = "root"
GAP = "gap"
FORK = "fork"
TRUNCATED = "truncated"
RETIRED_KEY = "retired_key"
UNKNOWN_KEY = "unknown_key"
BAD_KEY_TRANSITION = "bad_key_transition"
REASONS = (FORMAT, BAD_CHECKPOINT, CONSISTENCY, RECORD, ROOT, GAP, FORK, TRUNCATED)


class BundleError(Exception):
    """The first failure: which bundle, why (a FORMAT.md label), where."""

    def __init__(
        self,
        reason: str,
        message: str,
        bundle: str | None = None,
        seq: int | None = None,
        detail: str | None = None,
    ):
        self.reason = reason
        self.message = message
        self.bundle = bundle
        self.seq = seq
        self.detail = detail  # e.g. "retired_key"
        super().__init__(str(self))

    @property
    def label(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason

    def __str__(self) -> str:
        out = self.label
        if self.seq is not None:
            out += f": seq {self.seq}"
        out += f": {self.message}"
        return f"{self.bundle}: {out}" if self.bundle else out


# --------------------------------------------------------------------------
# Parsing (FORMAT.md "Layout", step 1)


@dataclass
class RecordFrame:
    seq: int
    offset: int  # of the frame (its length field) in the bundle
    payload: bytes

    @property
    def type(self) -> int:
        return self.payload[0]

    @property
    def flags(self) -> int:
        return self.payload[1]

    @property
    def key_id(self) -> bytes:
        return self.payload[2:10]

    @property
    def signature(self) -> bytes:
        return self.payload[10:74]

    @property
    def hash(self) -> bytes:
        return self.payload[74:106]

    @property
    def canonical(self) -> bytes:
        return self.payload[106:]


@dataclass
class Bundle:
    name: str
    origin: str
    writer: str
    stream: str
    size: int  # S
    checkpoint: bytes
    prev_size: int  # m
    prev_checkpoint: bytes
    proof: list[bytes]
    compact: list[bytes]
    records: list[RecordFrame]

    @property
    def first_seq(self) -> int:
        return self.prev_size + 1


class _Reader:
    def __init__(self, data: bytes, name: str):
        self.data = data
        self.p = 0
        self.name = name

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.p:
            raise BundleError(
                FORMAT, f"{what}: the data ends early ({len(self.data) - self.p} bytes left, want {n})",
                self.name)
        b = self.data[self.p : self.p + n]
        self.p += n
        return b

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "little")


def parse_bundle(data: bytes, name: str = "bundle") -> Bundle:
    """Parse a bundle exactly; raise BundleError (``format``, or ``record``
    for a frame whose length is out of range or whose CRC-32C differs)."""
    r = _Reader(bytes(data), name)

    def bad(msg: str, seq: int | None = None) -> BundleError:
        return BundleError(FORMAT, msg, name, seq)

    magic = r.take(len(MAGIC), "magic")
    if magic != MAGIC:
        raise bad(f"magic is {magic!r}, want {MAGIC!r}")
    version = r.uint(1, "version")
    if version != VERSION:
        raise bad(f"version {version}, want {VERSION}")
    olen = r.uint(2, "origin length")
    if not 1 <= olen <= MAX_ORIGIN:
        raise bad(f"origin length {olen}, want 1..{MAX_ORIGIN}")
    ob = r.take(olen, "origin")
    try:
        origin = ob.decode("utf-8", errors="strict")
        writer, stream = cpk.parse_origin(origin)
    except (UnicodeDecodeError, cpk.CheckpointError):
        raise bad(f"origin {ob[:128]!r} is not a canonical ron-audit/<writer>/<stream> line") from None
    size = r.uint(8, "size")
    clen = r.uint(4, "checkpoint length")
    if not 1 <= clen <= MAX_NOTE:
        raise bad(f"checkpoint length {clen}, want 1..{MAX_NOTE}")
    checkpoint = r.take(clen, "checkpoint")
    m = r.uint(8, "previous size")
    if not m < size < MAX_SIZE:
        raise bad(f"sizes m = {m}, S = {size}: want m < S < 2^63")
    plen = r.uint(4, "previous checkpoint length")
    if plen > MAX_NOTE or (plen == 0) != (m == 0):
        raise bad(f"previous checkpoint length {plen} with previous size {m} "
                  f"(0 iff m = 0, at most {MAX_NOTE})")
    prev_checkpoint = r.take(plen, "previous checkpoint")
    pcount = r.uint(1, "proof count")
    if m == 0 and pcount != 0:
        raise bad(f"proof count {pcount} for a first bundle (m = 0), want 0")
    proof = [r.take(32, "consistency proof") for _ in range(pcount)]
    rcount = r.uint(1, "range count")
    if rcount != bin(m).count("1"):
        raise bad(f"range count {rcount}, want popcount({m}) = {bin(m).count('1')}")
    compact = [r.take(32, "compact range") for _ in range(rcount)]
    count = r.uint(8, "record count")
    if count != size - m:
        raise bad(f"record count {count}, want S - m = {size - m}")
    left = len(r.data) - r.p
    if count > left // (8 + MIN_FRAME):
        raise bad(f"{count} record frames do not fit in the {left} bytes left")
    records: list[RecordFrame] = []
    for i in range(count):
        seq = m + 1 + i
        off = r.p
        try:  # a frame cut short is the frame's fault, like a bad length
            n = r.uint(4, f"length of record frame {seq}")
            crc = r.uint(4, f"CRC of record frame {seq}")
            if not MIN_FRAME <= n <= MAX_FRAME:
                raise BundleError(RECORD, f"record frame length {n}, want {MIN_FRAME}..{MAX_FRAME}",
                                  name, seq)
            payload = r.take(n, f"payload of record frame {seq}")
        except BundleError as e:
            raise BundleError(RECORD, e.message, name, seq) from None
        got = rw.crc32c(payload)
        if got != crc:
            raise BundleError(RECORD, f"CRC-32C of the payload is {got:08x}, frame says {crc:08x}",
                              name, seq)
        records.append(RecordFrame(seq, off, payload))
    if r.p != len(r.data):
        raise bad(f"{len(r.data) - r.p} bytes after the last record")
    return Bundle(name, origin, writer, stream, size, checkpoint, m, prev_checkpoint, proof,
                  compact, records)


def marshal_bundle(b: Bundle) -> bytes:
    """The bytes of a bundle (the encoding is one to one: parse, then this,
    gives the same bytes). Used by tests to build altered bundles."""
    ob = b.origin.encode("utf-8")
    out = bytearray(MAGIC + bytes([VERSION]))
    out += len(ob).to_bytes(2, "little") + ob
    out += b.size.to_bytes(8, "little")
    out += len(b.checkpoint).to_bytes(4, "little") + b.checkpoint
    out += b.prev_size.to_bytes(8, "little")
    out += len(b.prev_checkpoint).to_bytes(4, "little") + b.prev_checkpoint
    out += bytes([len(b.proof)]) + b"".join(b.proof)
    out += bytes([len(b.compact)]) + b"".join(b.compact)
    out += len(b.records).to_bytes(8, "little")
    for f in b.records:
        out += len(f.payload).to_bytes(4, "little") + rw.crc32c(f.payload).to_bytes(4, "little")
        out += f.payload
    return bytes(out)


# --------------------------------------------------------------------------
# Key state: which key may sign what (FORMAT.md step 6). A chain's state is
# ronaudit_wal's Chain: trust intervals per key, transitions applied.


def new_chain(writer: str, stream: str, trusted: Iterable[bytes]) -> rw.Chain:
    c = rw.Chain(writer, stream)
    for k in dict.fromkeys(trusted):
        c.trust[k] = [[1, rw.INF]]
    return c


def _verifiers(raw: bytes, writer: str, keys: Iterable[bytes]) -> list[cpk.Verifier]:
    """Bare public keys are accepted under any key name (checkpoint SPEC
    section 2): one verifier per (name a signature line claims, key)."""
    names = {cpk.ORIGIN_PREFIX + cpk.escape_component(writer)} | rw._signature_names(raw)
    return [
        cpk.Verifier(n, cpk.key_hash(n, k), k)
        for n in sorted(names) if cpk._is_valid_key_name(n) for k in keys
    ]


def open_checkpoint(
    raw: bytes, chain: rw.Chain, origin: str, size: int | None, what: str,
    bundle: str | None,
) -> cpk.Checkpoint:
    """Open a signed checkpoint with the chain's keys (trusted ones and those
    its transitions named) and judge it by the rotation rules; ``size`` None
    accepts any size. Raises BundleError(bad_checkpoint)."""

    def err(msg: str, detail: str | None = None, seq: int | None = None) -> BundleError:
        return BundleError(BAD_CHECKPOINT, f"{what}: {msg}", bundle, seq, detail)

    verifiers = _verifiers(raw, chain.writer, chain.trust)
    try:
        note = cpk.open_note(raw, verifiers)
        cp = cpk.parse_checkpoint_text(note.text)
    except cpk.CheckpointError as e:
        raise err(f"{e.reason}: {e.message}", UNKNOWN_KEY if e.reason == cpk.UNKNOWN_KEY else None) from e
    if cp.origin != origin:
        raise err(f"origin {cp.origin!r}, want {origin!r}")
    if size is not None and cp.size != size:
        raise err(f"size {cp.size}, want {size}")
    by_hash = {(v.name, v.key_hash): v.public_key for v in verifiers}
    signers = [by_hash[(s.name, s.key_hash)] for s in note.verified]
    if not any(chain.may_sign_checkpoint(k, cp.size) for k in signers):
        if not any(chain.retired_for_checkpoint(k, cp.size) for k in signers):
            t = min(chain.checkpoint_span(k)[0] for k in signers)
            raise err(f"size {cp.size} is below seq {t}, where the transition named its every "
                      f"trusted signing key", UNKNOWN_KEY, cp.size)
        t = max(chain.retired_at(k, cp.size + 1) or 0 for k in signers)
        raise err(f"size {cp.size} is beyond seq {t}, where its every trusted signing key "
                  f"was retired", RETIRED_KEY, cp.size)
    return cp


# --------------------------------------------------------------------------
# Verifying one bundle (FORMAT.md steps 2-6)


@dataclass
class BundleResult:
    name: str
    origin: str
    prev_size: int
    size: int
    root: bytes
    prev_root: bytes  # the previous checkpoint's (the empty tree's for m = 0)
    first_prev: bytes  # the prev link of record m+1
    hashes: list[bytes]  # record hashes of seq m+1..S
    signed: int  # records with a valid signature

    @property
    def head_hash(self) -> bytes:
        return self.hashes[-1]


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree hashes from the right: h = H(1 || left || h)."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = cpk.node_hash(left, h)
    return h


def _root_from(compact: Sequence[bytes], m: int, record_hashes: Sequence[bytes]) -> bytes:
    """Append the leaves to the compact range of [0, m) and fold (step 5)."""
    stack: list[tuple[int, bytes]] = []
    levels = [k for k in range(m.bit_length() - 1, -1, -1) if m >> k & 1]
    stack = list(zip(levels, compact))
    for rh in record_hashes:
        node = (0, cpk.leaf_hash(rh))
        while stack and stack[-1][0] == node[0]:
            left = stack.pop()
            node = (node[0] + 1, cpk.node_hash(left[1], node[1]))
        stack.append(node)
    return _fold([h for _, h in stack])


def _check_record(
    b: Bundle, f: RecordFrame, prev: bytes | None, chain: rw.Chain
) -> tuple[bytes, dict, bytes | None]:
    """Step 4 for one record (with the record side of step 6): returns its
    hash, its decoded fields and the key that signed it (None if unsigned);
    raises BundleError(record)."""

    def err(msg: str, detail: str | None = None) -> BundleError:
        return BundleError(RECORD, msg, b.name, f.seq, detail)

    pl = f.payload
    if pl[0] != rw.FRAME_RECORD:
        raise err(f"payload type {pl[0]}, want 1 (record)")
    if f.flags not in (0, 1):
        raise err(f"flags byte {f.flags:#04x}, want 0 or 1")
    if f.flags == 0 and (any(f.key_id) or any(f.signature)):
        raise err("unsigned record with a non-zero key id or signature")
    h = rr.record_hash(f.canonical)
    if h != f.hash:
        raise err(f"record hash {h.hex()} != the frame's {f.hash.hex()}")
    try:
        r = rw.strict_open(f.canonical)
    except rw.CanonicalError as e:
        raise err(f"record bytes refused: {e}") from e
    if (r["writerId"], r["stream"]) != (b.writer, b.stream):
        raise err(f"record of {r['writerId']}/{r['stream']}, the bundle's origin is {b.origin}")
    if r["seq"] != f.seq:
        raise err(f"record seq {r['seq']}, want {f.seq}")
    rprev = bytes.fromhex(r["prev"])
    if prev is not None and rprev != prev:
        raise err(f"prev {rprev.hex()} != {prev.hex()}" + (" (genesis)" if f.seq == 1 else ""))
    signer = _check_signature(chain, f, h, b.name) if f.flags == 1 else None
    try:
        new_key = rw.transition_key(r)
    except rw.BadTransition as e:
        raise err(str(e), BAD_KEY_TRANSITION) from e
    if new_key is not None and signer is None:
        raise err("key transition record is not signed", BAD_KEY_TRANSITION)
    if new_key is not None and (why := chain.transition_problem(signer, new_key)):
        raise err(why, BAD_KEY_TRANSITION)
    return h, r, signer


def _check_records(
    b: Bundle, chain: rw.Chain
) -> tuple[list[bytes], int, bytes, BundleError | None, BundleError | None]:
    """Step 4 for every record; applies the key transitions to ``chain``.
    Returns the record hashes, the count of signed records, the prev link of
    the first record, the first failure (None if all pass) and the first
    failure of a record that holds a key transition. After a failure the
    records are still read for the transitions they hold (a record that
    passes its own checks, its link aside), so that the checkpoints open as
    far as they can."""
    hashes: list[bytes] = []
    signed = 0
    first_prev = b""
    first_err: BundleError | None = None
    transition_err: BundleError | None = None
    prev: bytes | None = GENESIS if b.prev_size == 0 else None
    for f in b.records:
        try:
            h, r, signer = _check_record(b, f, prev if first_err is None else None, chain)
        except BundleError as e:
            if first_err is None:
                first_err = e
            if _holds_transition(f.canonical):
                transition_err = transition_err or e
            continue
        new_key = rw.transition_key(r)
        if new_key is not None:
            chain.apply_transition(f.seq, signer, new_key)
        if f.seq == b.first_seq:
            first_prev = bytes.fromhex(r["prev"])
        if first_err is None:
            hashes.append(h)
            signed += signer is not None
            prev = h
    return hashes, signed, first_prev, first_err, transition_err


def _holds_transition(canonical: bytes) -> bool:
    """Whether bytes that failed a check still decode to a record holding
    the key transition attr."""
    try:
        r = rr.decode_record(canonical, rr.V1_SCHEMA)
        return any(a["key"] == rw.TRANSITION_ATTR for a in r["attrs"])
    except Exception:
        return False


def _check_signature(chain: rw.Chain, f: RecordFrame, h: bytes, name: str) -> bytes:
    def err(msg: str, detail: str | None = None) -> BundleError:
        return BundleError(RECORD, msg, name, f.seq, detail)

    kid = f.key_id
    candidates = [k for k in chain.trust if rw.key_id(k) == kid]
    usable = [k for k in candidates if chain.may_sign_record(k, f.seq)]
    for k in usable:
        if rr.verify_signature(k, f.signature, h):
            return k
    if usable:
        raise err(f"signature by key id {kid.hex()} does not verify")
    if candidates:
        t = max((chain.retired_at(k, f.seq) or 0) for k in candidates)
        raise err(f"key id {kid.hex()} was retired at seq {t}; it signs nothing after",
                  RETIRED_KEY)
    raise err(f"key id {kid.hex()} is not a trusted key of this chain")


def verify_bundle(
    b: Bundle, trusted: Sequence[bytes] = (), chain: rw.Chain | None = None
) -> BundleResult:
    """Verify one parsed bundle (steps 2-6). ``chain`` carries the key state
    of the bundles before it (a sequence); without it, a new state trusts
    ``trusted``. Raises BundleError."""
    if chain is None:
        chain = new_chain(b.writer, b.stream, trusted)
    # Step 4 first, to learn the keys the bundle's transitions name (a
    # checkpoint after a rotation is signed by the new key, step 6). A bad
    # transition record is reported first: which keys may sign the
    # checkpoints depends on it. Other record failures are reported after
    # those of steps 2 and 3, in the order of FORMAT.md.
    hashes, signed, first_prev, record_err, transition_err = _check_records(b, chain)
    if transition_err is not None:
        raise transition_err
    # Step 2 (with the checkpoint side of step 6).
    cp = open_checkpoint(b.checkpoint, chain, b.origin, b.size, "the checkpoint", b.name)
    prev_root = EMPTY_ROOT
    if b.prev_size > 0:
        pcp = open_checkpoint(b.prev_checkpoint, chain, b.origin, b.prev_size,
                              "the previous checkpoint", b.name)
        prev_root = pcp.root
    # Step 3.
    folded = _fold(b.compact)
    if folded != prev_root:
        raise BundleError(CONSISTENCY, f"the compact range folds to {folded.hex()}, the root at "
                          f"m = {b.prev_size} is {prev_root.hex()}", b.name)
    try:
        cpk.verify_consistency(b.prev_size, b.size, prev_root, cp.root, b.proof)
    except cpk.CheckpointError as e:
        raise BundleError(CONSISTENCY, f"proof {b.prev_size} -> {b.size}: {e.reason}: {e.message}",
                          b.name) from e
    # Step 4.
    if record_err is not None:
        raise record_err
    # Step 5.
    root = _root_from(b.compact, b.prev_size, hashes)
    if root != cp.root:
        raise BundleError(ROOT, f"the records give root {root.hex()} at size {b.size}, the "
                          f"checkpoint's is {cp.root.hex()}", b.name)
    return BundleResult(b.name, b.origin, b.prev_size, b.size, cp.root, prev_root, first_prev,
                        hashes, signed)


# --------------------------------------------------------------------------
# Verifying a sequence (FORMAT.md "Verifying a sequence")


@dataclass
class ChainResult:
    label: str  # the directory or first file
    origin: str
    bundles: list[BundleResult] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)  # record hashes of seq 1..S
    checkpoint: cpk.Checkpoint | None = None  # the trusted one, when given and reached
    chain: rw.Chain | None = field(default=None, repr=False)  # key state at the end

    @property
    def size(self) -> int:
        return self.bundles[-1].size if self.bundles else 0

    @property
    def head_hash(self) -> bytes:
        return self.hashes[-1]

    def summary(self) -> list[str]:
        def count(n: int, noun: str) -> str:  # as the Go CLI's: "1 bundle", "2 bundles"
            return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

        out = [f"  seq {b.prev_size + 1}..{b.size}: {count(b.size - b.prev_size, 'record')}, "
               f"{b.signed} signed, checkpoint size {b.size}" for b in self.bundles]
        w, s = cpk.parse_origin(self.origin)
        first = self.bundles[0].prev_size + 1
        # As the Go CLI: the chain said once, by the directory when it ends
        # in the chain's name as said (plain names), else after it.
        chain = rw.chain_name((w, s))
        label = self.label.replace("\\", "/") if os.sep == "\\" else self.label
        said = f": {chain}"
        if rw._plain(w) and rw._plain(s) and (label == chain or label.endswith("/" + chain)):
            said = ""
        out.append(f"ok: {self.label}{said}: {count(len(self.bundles), 'bundle')}, records "
                   f"{first}..{self.size}, head {self.head_hash.hex()}")
        if self.checkpoint is not None:
            out.append(f"checkpoint ok: the bundles reach and agree with the trusted "
                       f"checkpoint of size {self.checkpoint.size}")
        return out


def verify_sequence(
    bundles: Sequence[tuple[str, bytes]],
    trusted: Sequence[bytes],
    checkpoint: bytes | None = None,
    label: str | None = None,
) -> ChainResult:
    """Verify (name, bytes) bundles of one chain, in order, as a sequence:
    the first from seq 1, each from where the one before ended, with the
    same history; then, given a trusted checkpoint note, that the sequence
    reaches it and agrees with it. Raises BundleError."""
    if not bundles:
        raise BundleError(FORMAT, "no bundles", label)
    chain: rw.Chain | None = None
    res: ChainResult | None = None
    prev: BundleResult | None = None
    for name, data in bundles:
        b = parse_bundle(data, name)
        if res is None:
            res = ChainResult(label or name, b.origin)
            chain = new_chain(b.writer, b.stream, trusted)
        want = prev.size if prev is not None else 0
        if b.prev_size != want and b.origin == res.origin:
            what = ("a missing bundle" if b.prev_size > want else "an overlapping bundle")
            raise BundleError(GAP, f"starts after seq {b.prev_size}, want after seq {want} "
                              f"({what})", name, want + 1)
        br = verify_bundle(b, trusted, chain)
        if b.origin != res.origin:
            raise BundleError(FORMAT, f"a bundle of another chain: {b.origin!r}, the sequence's "
                              f"is {res.origin!r}", name)
        if prev is not None:
            if br.prev_root != prev.root:
                raise BundleError(FORK, f"previous checkpoint's root at size {b.prev_size} is "
                                  f"{br.prev_root.hex()}, the previous bundle's is "
                                  f"{prev.root.hex()}", name, b.prev_size)
            if br.first_prev != prev.head_hash:
                raise BundleError(RECORD, f"prev {br.first_prev.hex()} != the previous bundle's "
                                  f"last record hash {prev.head_hash.hex()}", name, b.first_seq)
        res.bundles.append(br)
        res.hashes += br.hashes
        prev = br
    assert res is not None and chain is not None
    res.chain = chain
    if checkpoint is not None:
        check_trusted(res, chain, checkpoint)
    return res


def vector_verdict(case: dict) -> tuple[str, str | None, int | None, str]:
    """The verdict of one case of a bundle vector file (testing/vectors/v1/
    bundles/README.md): (reason label or "ok", detail, seq, message)."""
    bundles = [(f"#{i + 1}", bytes.fromhex(b)) for i, b in enumerate(case["bundles"])]
    trusted = [bytes.fromhex(k) for k in case["trusted"]]
    note = case["checkpoint"].encode() if "checkpoint" in case else None
    try:
        res = verify_sequence(bundles, trusted, note)
    except BundleError as e:
        return e.reason, e.detail, e.seq, str(e)
    return "ok", None, None, f"ok: records 1..{res.size}"


def check_vector_file(path: Path) -> tuple[int, list[str]]:
    """(number of cases, errors) of a bundle vector file: every case must get
    its "want" verdict, and its "detail" and "seq" where it names them."""
    import json

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        cases = doc["cases"]
        if not isinstance(cases, list) or not cases:
            raise ValueError("'cases' is not a non-empty list")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return 0, [f"{path.name}: cannot read the cases: {type(e).__name__}: {e}"]
    errs = []
    for i, case in enumerate(cases):
        name = case.get("name", i) if isinstance(case, dict) else i
        try:
            reason, detail, seq, text = vector_verdict(case)
        except (KeyError, TypeError, ValueError) as e:
            errs.append(f"case {name}: malformed: {type(e).__name__}: {e}")
            continue
        if reason != case.get("want"):
            errs.append(f"case {name}: want {case.get('want')}, got {reason}: {text}")
        elif "detail" in case and detail != case["detail"]:
            errs.append(f"case {name}: want detail {case['detail']}, got {detail}: {text}")
        elif "seq" in case and seq != case["seq"]:
            errs.append(f"case {name}: want seq {case['seq']}, got {seq}: {text}")
    return len(cases), errs


def check_trusted(res: ChainResult, chain: rw.Chain, raw: bytes) -> cpk.Checkpoint:
    """The latest checkpoint the verifier trusts: judged by step 6 with the
    sequence's transitions; the sequence must reach it (``truncated``) and
    its first n records must have its root (``fork``)."""
    name = res.bundles[-1].name if res.bundles else res.label
    cp = open_checkpoint(raw, chain, res.origin, None, "the trusted checkpoint", name)
    if cp.size > res.size:
        raise BundleError(TRUNCATED, f"the sequence stops at seq {res.size}, the trusted "
                          f"checkpoint vouches for {cp.size} records (its tail was cut or "
                          f"rolled back)", name, res.size + 1)
    root = rw.prefix_roots(res.hashes, {cp.size})[cp.size]
    if root != cp.root:
        raise BundleError(FORK, f"the first {cp.size} records have root {root.hex()}, the trusted "
                          f"checkpoint's is {cp.root.hex()} (history was rewritten)", name,
                          cp.size)
    res.checkpoint = cp
    return cp


# --------------------------------------------------------------------------
# Files (FORMAT.md "Files") and paths


def bundle_name_seqs(name: str) -> tuple[int, int] | None:
    """The seqs (first, last) of a bundle file name, or None if the name is
    not one the format gives a bundle (FORMAT.md "Files"):
    <first>-<last>.bundle, 20 ASCII decimal digits each,
    1 <= first <= last < 2^63."""
    m = BUNDLE_NAME.fullmatch(name)
    if m is None:
        return None
    first, last = int(m.group(1)), int(m.group(2))
    if not 1 <= first <= last < MAX_SIZE:
        return None
    return first, last


def chain_dirs(directory: Path) -> list[tuple[Path, list[Path]]]:
    """Each directory under ``directory`` (itself included) holding
    ``*.bundle`` files, with its bundles in name order (a FileSink names
    them <m+1>-<S> in 20 digits, so name order is sequence order). A name
    beginning with "." (a FileSink's temporary file) is no bundle. As Go's
    export.ListDir, every other entry but a directory is one (a symbolic
    link counts as what it is, not what it points to), and so is a
    directory at a bundle name among a chain's bundles; ``_read`` refuses
    one that is not a regular file: a named pipe, a link to a directory or
    a directory at a bundle name among the bundles is ``format``, not
    skipped. So is a
    ``*.bundle`` entry whose name is not a bundle name
    (``bundle_name_seqs``), as Go's ListDir refuses it. A symbolic link
    under ``directory`` to a directory, or one that cannot be followed (to
    nothing, a loop), is refused as `ronaudit verify-bundle` refuses it:
    rglob does not walk into it, and that chain would go unchecked."""
    for root, dirs, files in os.walk(directory, followlinks=False):
        for name in dirs + files:
            q = Path(root) / name
            if not q.is_symlink():
                continue
            if not q.exists():
                raise BundleError(FORMAT, f"{q} is a symbolic link that cannot be followed")
            if q.is_dir():
                raise BundleError(FORMAT, f"{q} is a symbolic link to a directory, not followed: "
                                  "verify it on its own")
    groups: dict[Path, list[Path]] = {}
    subdirs: list[Path] = []
    for p in sorted(directory.rglob("*.bundle")):
        if p.name.startswith("."):
            continue
        if p.is_dir() and not p.is_symlink():
            if bundle_name_seqs(p.name) is not None:
                subdirs.append(p)
            continue
        if bundle_name_seqs(p.name) is None:
            raise BundleError(FORMAT, f"in {p.parent}: not a bundle file name "
                              "(<first>-<last>.bundle, 20 decimal digits each, "
                              "1 <= first <= last < 2^63)", bundle=p.name)
        groups.setdefault(p.parent, []).append(p)
    # A directory at a bundle name, among a chain's bundles, is listed as
    # Go's ListDir lists it, for _read to refuse (not a regular file).
    for p in subdirs:
        if p.parent in groups:
            groups[p.parent].append(p)
    return [(d, sorted(fs, key=lambda p: p.name)) for d, fs in sorted(groups.items())]


def _read_regular(p: Path) -> bytes:
    """A bundle file's bytes, as Go's export.ReadFile reads them: a regular
    file only, checked on the open file (a named pipe is opened without
    blocking, and refused)."""
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BundleError(FORMAT, f"{p} is not a regular file (mode {stat.filemode(mode)})")
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _read(paths: Sequence[Path]) -> list[tuple[str, bytes]]:
    return [(str(p), _read_regular(p)) for p in paths]


def verify_path(
    paths: Sequence[Path | str], trusted: Sequence[bytes], checkpoint: bytes | None = None
) -> list[ChainResult]:
    """Verify what the command line names: one bundle file (alone, or as a
    sequence when a trusted checkpoint is given), several bundle files (one
    chain's sequence, in order), or a directory (each chain directory under
    it as a sequence; two directories of one chain must agree, else
    ``fork``). A trusted checkpoint applies to the chain of its
    origin, which must be among them. Raises BundleError (ValueError for a
    mix of directories and files)."""
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and paths[0].is_file() and checkpoint is None:
        p = paths[0]
        b = parse_bundle(p.read_bytes(), str(p))
        br = verify_bundle(b, trusted)
        res = ChainResult(str(p), b.origin, [br], br.hashes)
        return [res]
    if all(p.is_file() for p in paths):
        return [verify_sequence(_read(paths), trusted, checkpoint, str(paths[0]))]
    if len(paths) != 1 or not paths[0].is_dir():
        raise ValueError("give one bundle file, several bundle files of one chain, or one "
                         "directory")
    origin = _note_origin(checkpoint) if checkpoint is not None else None
    groups = chain_dirs(paths[0])
    if not groups:
        raise BundleError(FORMAT, f"no *.bundle files under {paths[0]}")
    results = []
    longest: dict[str, ChainResult] = {}
    for d, files in groups:
        res = verify_sequence(_read(files), trusted, None, str(d))
        results.append(res)
        # Two directories of one chain are two signed histories of it, which
        # must agree: the shorter's records are the longer's first ones.
        other = longest.get(res.origin)
        if other is None:
            longest[res.origin] = res
            continue
        short, long_ = (res, other) if res.size < other.size else (other, res)
        if long_.hashes[:short.size] != short.hashes:
            raise BundleError(FORK, f"{other.label} and {res.label} hold bundles of one chain, "
                              f"{res.origin}, that disagree: {long_.label} does not extend the "
                              f"checkpoint of {short.label} at size {short.size}",
                              long_.bundles[-1].name, short.size)
        longest[res.origin] = long_
    if checkpoint is not None:
        match = [r for r in results if r.origin == origin]
        if not match:
            raise BundleError(TRUNCATED, f"no bundles of {origin!r}, which the trusted checkpoint "
                              "vouches for")
        for r in match:
            check_trusted(r, r.chain, checkpoint)
    return results


def _note_origin(raw: bytes) -> str:
    """The origin line of a note (unverified: it picks the chain whose keys
    then open the note); one that is no canonical origin is refused."""
    line = raw.split(b"\n", 1)[0]
    try:
        origin = line.decode("utf-8", errors="strict")
        cpk.parse_origin(origin)
    except (UnicodeDecodeError, cpk.CheckpointError):
        raise BundleError(BAD_CHECKPOINT, f"the trusted checkpoint: format: origin line "
                          f"{line[:128]!r} is not a canonical origin") from None
    return origin


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="ronaudit_bundle.py",
        description="Verify ron-audit export bundles: one file, one chain's files in order, "
                    "or a directory of chains.")
    ap.add_argument("paths", nargs="+", metavar="PATH")
    ap.add_argument("--pub", action="append", required=True, metavar="KEY.pub",
                    help="PEM PKIX Ed25519 public key of a trusted signer (repeatable)")
    ap.add_argument("--checkpoint", metavar="NOTE",
                    help="the latest signed checkpoint you trust: the bundles must reach it "
                         "and agree with it")
    args = ap.parse_args(argv)
    try:
        keys = [rw.load_public_key(p) for p in args.pub]
    except (OSError, ValueError) as e:
        print(f"ronaudit_bundle: cannot load public key: {e}", file=sys.stderr)
        return 2
    note = None
    if args.checkpoint is not None:
        try:
            note = Path(args.checkpoint).read_bytes()
        except OSError as e:
            print(f"ronaudit_bundle: cannot read checkpoint: {e}", file=sys.stderr)
            return 2
    for p in args.paths:
        if not Path(p).exists():
            print(f"ronaudit_bundle: {p}: no such file or directory", file=sys.stderr)
            return 2
    if len(args.paths) > 1 and not all(Path(p).is_file() for p in args.paths):
        print("ronaudit_bundle: give one bundle file, several bundle files of one chain, or one "
              "directory", file=sys.stderr)
        return 2
    rr.load_schema()
    try:
        results = verify_path(args.paths, keys, note)
    except BundleError as e:
        print(f"FAIL: {e}")
        return 1
    except OSError as e:
        print(f"FAIL: {e}")
        return 1
    for r in results:
        for line in r.summary():
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
