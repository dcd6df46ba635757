"""Python foreign verifier of a ron-audit write-ahead-log directory.

An independent implementation, written from the documents only:

- ``sdk/wal/FORMAT.md``: segment files ``%016d.seg`` numbered 1..N, their
  32-byte headers (magic, version 1, header length, segment number, first
  frame index), frames (length 1..2^20, CRC-32C of the payload), the torn
  tail rules of section 6 for the last segment, and the SDK payloads:
  record frames (type 1) and seal frames (type 2);
- ``canonical/SPEC.md``: record hash, strict canonical bytes (decoded with
  pycapnp, then re-encoded by the canonical encoder below and compared),
  chains, signatures, key ids and key transitions;
- ``sdk/checkpoint/SPEC.md``: the kept checkpoints under ``DIR/checkpoints``
  (signed notes, RFC 6962 tree over the record hashes), which seal the
  records that carry no signature. One signed by none of the given keys is
  not used, unless a signature line is one of theirs with its key name or
  key hash damaged (section 2): that is ``bad_signature``.

Usage::

    python ronaudit_wal.py DIR --pub KEY.pub [--pub KEY.pub ...] [--allow-unsealed-tail]

Exit status 0: the log verifies (a summary names records, chains and heads;
a torn tail of the last segment is reported, not an error). Exit status 1:
the first failure, naming file, offset and (when known) chain and seq.
Exit status 2: bad usage or an unreadable public key file. Exit status 3,
as for Go's ``ronaudit verify``: no verdict, said on stderr, not as FAIL:
DIR is not a directory, part of the log could not be read (reason
``unreadable``), or the ``chain_name`` case below.

A log that keeps checkpoints and holds a chain whose writerId or stream is
longer than 255 bytes escaped as its directory name (written before the Go
SDK refused such names) fails with reason ``chain_name`` once everything
else holds: no checkpoint of it can be kept, and Go's ``ronaudit verify``
gives no verdict on the log (exit 3).
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import blake3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import ronaudit_checkpoint as cpk
import ronaudit_reader as rr

# --------------------------------------------------------------------------
# Constants (FORMAT.md sections 2, 3 and "SDK payloads"; canonical/SPEC.md)

MAGIC = b"RONAWAL\x00"
FORMAT_VERSION = 1
HEADER_LEN = 32
FRAME_HEADER_LEN = 8
MAX_PAYLOAD = 1 << 20
# The reason of a file the verifier cannot open or read (WalError).
UNREADABLE = "unreadable"
# Matched with fullmatch: "$" would also match before a final newline.
SEGMENT_NAME = re.compile(r"([0-9]{16})\.seg")

FRAME_RECORD = 1
FRAME_SEAL = 2
RECORD_HEADER_LEN = 1 + 1 + 8 + 64 + 32  # type, flags, key id, signature, hash
MIN_RECORD_PAYLOAD = RECORD_HEADER_LEN + 8
MAX_RECORD_SIZE = 65536
MAX_RECORD_PAYLOAD = RECORD_HEADER_LEN + MAX_RECORD_SIZE
KEY_ID_LEN = 8
SIG_LEN = 64
HASH_LEN = 32
GENESIS = bytes(HASH_LEN)

KEY_ID_CONTEXT = "ron-audit 2026-11-27 key id v1"
TRANSITION_ATTR = "ron-audit.keyTransition"
# fullmatch only: with match, "$" also matches before a final newline, and
# a value with one names no key to Go's sdk.KeyTransition.
TRANSITION_VALUE = re.compile(r"ed25519:([0-9a-f]{64})")
INF = float("inf")

KINDS = (
    "unknown",
    "capIssued",
    "capRevoked",
    "policyChanged",
    "indexWrite",
    "getServed",
    "quotaReject",
)

# Failure reasons. Those the documents name are spelled as they are there.
UNSEALED_TAIL = "unsealed_tail"
UNKNOWN_KEY = cpk.UNKNOWN_KEY
BAD_SIGNATURE = cpk.BAD_SIGNATURE
RETIRED_KEY = "retired_key"
ROLLBACK = cpk.ROLLBACK
FORK = cpk.FORK
# A chain whose writerId or stream is too long to name its directory
# under checkpoints/ (a log written before the Go SDK refused such names,
# sdk.MaxChainName): no checkpoint of it can be kept. Go's verify names it
# once everything else holds, with no verdict on the log (exit 3).
CHAIN_NAME = "chain_name"
MAX_CHAIN_NAME = 255  # NAME_MAX, bytes of the escaped directory name


# --------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected 0x82F63B78, init and final XOR 0xFFFFFFFF)


def _make_crc_table(poly: int) -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


CRC32C_TABLE = _make_crc_table(0x82F63B78)


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32C of ``data``; pass a previous result as ``crc`` to continue."""
    t = CRC32C_TABLE
    c = crc ^ 0xFFFFFFFF
    for b in bytes(data):
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _mul_mod_p(a: int, b: int) -> int:
    """a times b, bit-reflected polynomials over GF(2), modulo the CRC-32C
    polynomial (zlib's multmodp)."""
    p = 0
    m = 1 << 31
    while m:
        if a & m:
            p ^= b
            if not a & (m - 1):
                break
        b = (b >> 1) ^ 0x82F63B78 if b & 1 else b >> 1
        m >>= 1
    return p


class RangeCRC:
    """The CRC-32C of any range of ``data[lo:hi]`` in constant time, from the
    CRCs of its prefixes: crc(AB) = crc(A)·x^(8·len(B)) xor crc(B) modulo
    the polynomial (FORMAT.md section 6, rule 3)."""

    def __init__(self, data: bytes, lo: int, hi: int):
        t = CRC32C_TABLE
        self.lo = lo
        pre = array("I", [0])  # 4 bytes an entry, not a Python int's 30
        c = 0xFFFFFFFF
        for b in data[lo:hi]:
            c = t[(c ^ b) & 0xFF] ^ (c >> 8)
            pre.append(c ^ 0xFFFFFFFF)
        self.pre = pre
        self.pow = array("I", [1 << 31])  # pow[k] = x^(8k) mod P; times x^8 is a zero byte's step

    def crc(self, i: int, j: int) -> int:
        """CRC-32C of data[i:j]."""
        pw = self.pow
        t = CRC32C_TABLE
        while len(pw) <= j - i:
            v = pw[-1]
            pw.append(t[v & 0xFF] ^ (v >> 8))
        return self.pre[j - self.lo] ^ _mul_mod_p(pw[j - i], self.pre[i - self.lo])


# --------------------------------------------------------------------------
# Errors and results


class WalError(Exception):
    """The first failure: where (file, offset, chain, seq) and why."""

    def __init__(
        self,
        reason: str,
        message: str,
        file: Path | str | None = None,
        offset: int | None = None,
        chain: tuple[str, str] | None = None,
        seq: int | None = None,
    ):
        self.reason = reason
        self.message = message
        self.file = str(file) if file is not None else None
        self.offset = offset
        self.chain = chain
        self.seq = seq
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or ""
        if self.offset is not None:
            where += f":{self.offset}"
        if self.chain is not None:
            what = chain_name(self.chain)
            if self.seq is not None:
                what += f" seq {self.seq}"
            where += f" ({what})" if where else what
        return f"{where}: {self.reason}: {self.message}" if where else f"{self.reason}: {self.message}"


def chain_name(chain: tuple[str, str]) -> str:
    """The chain as Go's internal/names.Chain spells it in messages:
    "writer/stream" when both names are plain, else both quoted as Go's
    strconv.Quote does, so that a newline or a '/' in a name cannot change
    what a report line says."""
    w, s = chain
    if _plain(w) and _plain(s):
        return f"{w}/{s}"
    return f"{go_quote(w)}/{go_quote(s)}"


def _plain(name: str) -> bool:
    """Go's names.Plain: not empty, printable (strconv.IsPrint), and none
    of space, '/' and '"'."""
    return name != "" and all(c.isprintable() and c not in ' /"' for c in name)


_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v",
               '"': r'\"', "\\": r"\\"}


def go_quote(s: str) -> str:
    """Go's strconv.Quote of valid UTF-8 text."""
    out = ['"']
    for c in s:
        r = ord(c)
        if c in _GO_ESCAPES:
            out.append(_GO_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        elif r < 0x20 or r == 0x7F:
            out.append(f"\\x{r:02x}")
        elif r < 0x10000:
            out.append(f"\\u{r:04x}")
        else:
            out.append(f"\\U{r:08x}")
    out.append('"')
    return "".join(out)


@dataclass
class Entry:
    """One record as read from the log."""

    file: str
    offset: int
    index: int  # global frame index
    hash: bytes
    key_id: bytes | None  # None when unsigned
    record: dict  # rendering (ronaudit_reader.decode_record)


@dataclass
class Chain:
    writer: str
    stream: str
    hashes: list[bytes] = field(default_factory=list)  # record hash of seq i+1
    where: list[tuple[str, int]] = field(default_factory=list)  # (file, offset) of seq i+1
    # key -> trust intervals [first seq, last seq] in which it may sign records
    trust: dict[bytes, list[list[float]]] = field(default_factory=dict)
    transitions: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # (T, old, new)
    signed: int = 0  # highest seq with a valid record signature
    sealed: int = 0  # highest seq with a valid seal frame
    checkpointed: int = 0  # highest size of a verified kept checkpoint
    checkpoint_roots: dict[int, bytes] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.writer, self.stream)

    @property
    def head_seq(self) -> int:
        return len(self.hashes)

    @property
    def head_hash(self) -> bytes:
        return self.hashes[-1]

    @property
    def vouched(self) -> int:
        return max(self.signed, self.sealed, self.checkpointed)

    def may_sign_record(self, pub: bytes, seq: int) -> bool:
        return any(a <= seq <= b for a, b in self.trust.get(pub, ()))

    def checkpoint_span(self, pub: bytes) -> tuple[int, float]:
        """The sizes a key's checkpoints vouch for by the chain's history
        (checkpoint SPEC section 3, Go checkpoint.InForce): from the seq of
        the transition that named it (0: none did) to the seq of the one
        that retired it (INF: none did). At a transition's seq both keys
        may sign; a key given to the verifier is judged the same way, and
        one no transition names nor retires counts at every size."""
        named = [s for s, _, new in self.transitions if new == pub]
        retired = [s for s, old, _ in self.transitions if old == pub]
        return (min(named) if named else 0, min(retired) if retired else INF)

    def may_sign_checkpoint(self, pub: bytes, size: int) -> bool:
        """A key's checkpoints vouch for at most the seq it was retired at,
        and for no size below the seq of the transition that named it."""
        if not self.trust.get(pub):
            return False
        lo, hi = self.checkpoint_span(pub)
        return lo <= size <= hi

    def named_at(self, pub: bytes, seq: int) -> bool:
        """Whether the transition at ``seq`` named ``pub``."""
        return any(s == seq and new == pub for s, _, new in self.transitions)

    def retired_for_checkpoint(self, pub: bytes, size: int) -> bool:
        """Whether ``pub`` was retired before a checkpoint of ``size``."""
        return size > self.checkpoint_span(pub)[1]

    def retired_at(self, pub: bytes, seq: int) -> int | None:
        """The seq at which ``pub`` was retired before ``seq``, if it was."""
        ends = [b for _, b in self.trust.get(pub, ()) if b < seq]
        return int(max(ends)) if ends else None

    def transition_problem(self, old: bytes, new: bytes) -> str | None:
        """Why a transition signed by ``old`` may not name ``new``, if it may
        not: a transition hands the chain to another key, so it cannot name
        the key that signs it, nor one the chain already retired."""
        if new == old:
            return "a transition naming the key that signs it"
        for seq, retired, _ in self.transitions:
            if new == retired:
                return f"a transition naming key {key_id(new).hex()}, retired at seq {seq}"
        return None

    def apply_transition(self, seq: int, old: bytes, new: bytes) -> None:
        for iv in self.trust.get(old, ()):
            if iv[0] <= seq <= iv[1]:
                iv[1] = seq
        ivs = self.trust.setdefault(new, [])
        if not any(a <= seq + 1 <= b for a, b in ivs):
            ivs.append([seq + 1, INF])
        self.transitions.append((seq, old, new))


@dataclass
class Result:
    directory: str
    segments: int = 0
    frames: int = 0
    records: int = 0
    seals: int = 0
    checkpoints: int = 0
    chains: dict[tuple[str, str], Chain] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)
    unsealed_allowed: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        out = [
            f"ok: {self.records} records in {len(self.chains)} chains, "
            f"{self.segments} segments, {self.seals} seals, {self.checkpoints} checkpoints"
        ]
        for c in self.chains.values():
            out.append(
                f"head {chain_name(c.key)} seq {c.head_seq} hash {c.head_hash.hex()} "
                f"sealed {c.vouched}"
            )
        out += [f"torn tail: {t}" for t in self.torn]
        out += [f"unsealed tail (allowed): {u}" for u in self.unsealed_allowed]
        return out


# --------------------------------------------------------------------------
# Keys


def key_id(public_key: bytes) -> bytes:
    """First 8 bytes of BLAKE3 derive_key("ron-audit 2026-11-27 key id v1", key)."""
    return blake3.blake3(public_key, derive_key_context=KEY_ID_CONTEXT).digest()[:KEY_ID_LEN]


def load_public_key(path: Path | str) -> bytes:
    """Raw 32 bytes of a PEM PKIX Ed25519 public key file."""
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --------------------------------------------------------------------------
# Canonical encoder (canonical/SPEC.md section 2), used to check that the
# bytes of a record are exactly the canonical bytes of what they decode to.


class CanonicalError(Exception):
    pass


def _text(s: str) -> tuple | None:
    if "\x00" in s:
        raise CanonicalError("text holds a NUL byte")
    b = s.encode("utf-8")
    return ("bytes", b + b"\x00") if b else None  # rule 6: empty is null


def _data(b: bytes) -> tuple | None:
    return ("bytes", b) if b else None


# The canonical layout (canonical/SPEC.md section 2) is the vector
# reader's: one encoder for both, so the two cannot lay records out apart.
_struct, _struct_list, _Encoder = rr._struct, rr._struct_list, rr._Encoder


def check_record_fields(r: dict) -> None:
    """The field rules of canonical/SPEC.md section 3 (schema v1)."""
    if set(r) != {"v", "kind", "seq", "tsMs", "writerId", "stream", "actor", "subject",
                  "reason", "attrs", "prev"}:
        raise CanonicalError(f"fields {sorted(r)} are not those of schema v1")
    if r["v"] != 1:
        raise CanonicalError(f"v is {r['v']}, want 1")
    if r["kind"] not in KINDS:
        raise CanonicalError(f"kind {r['kind']!r} is not one of the 7 kinds")
    if not isinstance(r["seq"], int) or r["seq"] < 1:
        raise CanonicalError(f"seq is {r['seq']}, want >= 1")
    if not r["writerId"] or not r["stream"]:
        raise CanonicalError("writerId and stream must be non-empty")
    if len(bytes.fromhex(r["prev"])) != HASH_LEN:
        raise CanonicalError("prev is not 32 bytes")
    keys = [a["key"].encode("utf-8") for a in r["attrs"]]
    if any(not k for k in keys):
        raise CanonicalError("an attr key is empty")
    if any(a >= b for a, b in zip(keys, keys[1:])):
        raise CanonicalError("attrs are not sorted by key with unique keys")


def encode_record(r: dict) -> bytes:
    """Canonical bytes of a v1 record rendering (as decode_record returns)."""
    a, s = r["actor"], r["subject"]
    actor = _struct(
        [1 if a["anon"] else 0], [_text(a["capId"]), _text(a["keyFpr"]), _text(a["passportId"])]
    )
    subject = _struct([], [_text(s["contentId"]), _text(s["ledgerTxid"]), _text(s["name"])])
    attrs = _struct_list([([], [_text(x["key"]), _text(x["value"])]) for x in r["attrs"]])
    root = _struct(
        [r["v"] | (KINDS.index(r["kind"]) << 16), r["seq"], r["tsMs"]],
        [_text(r["writerId"]), _text(r["stream"]), actor, subject, _text(r["reason"]), attrs,
         _data(bytes.fromhex(r["prev"]))],
    )
    enc = _Encoder()
    enc.alloc(1)  # root pointer
    enc.put(0, root)
    return bytes(enc.buf)


def strict_open(canonical: bytes) -> dict:
    """Decode with pycapnp and accept only exactly canonical bytes of a
    valid record (canonical/SPEC.md section 7) of at most 65,536 bytes
    (section 4). Raises CanonicalError."""
    if len(canonical) > rr.MAX_RECORD_SIZE:
        raise CanonicalError(f"{len(canonical)} bytes, a record is at most {rr.MAX_RECORD_SIZE}")
    try:
        # Schema v1 whatever RONAUDIT_SCHEMA says: the rules and the encoder
        # below are v1's (the reader's drill run reads the bundle vectors).
        r = rr.decode_record(canonical, rr.V1_SCHEMA)
    except rr.DecodeError as e:
        raise CanonicalError(f"does not decode: {e}") from e
    check_record_fields(r)
    if encode_record(r) != canonical:
        raise CanonicalError("bytes are not the canonical encoding of the record they hold")
    return r


class BadTransition(Exception):
    """A record holds the transition attr with a value that names no key."""


def transition_key(r: dict) -> bytes | None:
    """The key a key-transition record names, or None if it is not one.

    Any record holding the attr is a transition, whatever its kind
    (canonical/SPEC.md section 5); a value that is not ``ed25519:`` and 64
    lower-case hex digits raises BadTransition.
    """
    for a in r["attrs"]:
        if a["key"] == TRANSITION_ATTR:
            m = TRANSITION_VALUE.fullmatch(a["value"])
            if not m:
                raise BadTransition(f"value {a['value']!r} does not name an Ed25519 key")
            return bytes.fromhex(m.group(1))
    return None


# --------------------------------------------------------------------------
# Segments and frames (FORMAT.md sections 2, 3, 5, 6)


@dataclass
class Frame:
    file: Path
    offset: int
    index: int
    payload: bytes


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    segs = []
    # Every entry with a segment's name counts, as in Go's listSegments:
    # one that is not a regular file is refused when read (_read_segment),
    # not skipped.
    for p in directory.iterdir():
        m = SEGMENT_NAME.fullmatch(p.name)
        if m:
            segs.append((int(m.group(1)), p))
    segs.sort()
    if not segs:
        raise WalError("no_segments", "directory holds no segment files", directory)
    for want, (num, p) in enumerate(segs, start=1):
        if num != want:
            raise WalError(
                "missing_segment",
                f"segment numbers are not consecutive from 1: want {want:016d}.seg, found {p.name}",
                p,
            )
    return segs


def _read_segment(path: Path) -> bytes:
    """A segment file's bytes, as Go's scanSegmentFile opens it
    (fsutil.OpenRegular): see _read_regular."""
    return _read_regular(path, "", "not_regular")


def _read_regular(path: Path, what: str, not_regular: str, limit: int = -1) -> bytes:
    """The bytes of ``path`` (at most ``limit`` of them if limit >= 0), as Go's
    fsutil.OpenRegular opens a file: symbolic links followed, a regular
    file only, checked on the open file (a named pipe is opened without
    blocking and refused, as is a directory: reason ``not_regular``). One
    that cannot be opened or read (a dangling link) is ``unreadable``: Go
    fails on it too. ``what`` prefixes the messages."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise WalError(UNREADABLE, f"{what}cannot open: {e.strerror}", path) from e
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise WalError(not_regular, f"{what}not a regular file (mode {stat.filemode(mode)})", path)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read(limit)
    except OSError as e:
        raise WalError(UNREADABLE, f"{what}cannot read: {e.strerror}", path) from e
    finally:
        if fd >= 0:
            os.close(fd)


def expected_header(number: int, first_index: int) -> bytes:
    return (
        MAGIC
        + FORMAT_VERSION.to_bytes(4, "little")
        + HEADER_LEN.to_bytes(4, "little")
        + number.to_bytes(8, "little")
        + first_index.to_bytes(8, "little")
    )


def header_problem(data: bytes, number: int, first_index: int) -> tuple[str, str] | None:
    # FORMAT.md section 2: the magic and version are the first 12 bytes in
    # every version, whose header may be shorter: the version decides first.
    if len(data) >= 12 and data[:8] == MAGIC and int.from_bytes(data[8:12], "little") != FORMAT_VERSION:
        return ("version", f"unknown format version {int.from_bytes(data[8:12], 'little')} (ErrVersion)")
    if len(data) < HEADER_LEN:
        return ("bad_header", f"file is {len(data)} bytes, shorter than the 32-byte header")
    if data[:8] != MAGIC:
        return ("bad_header", f"magic is {data[:8].hex()}, want {MAGIC.hex()}")
    version = int.from_bytes(data[8:12], "little")
    if version != FORMAT_VERSION:
        return ("version", f"unknown format version {version} (ErrVersion)")
    hlen = int.from_bytes(data[12:16], "little")
    if hlen != HEADER_LEN:
        return ("bad_header", f"header length {hlen}, want 32")
    num = int.from_bytes(data[16:24], "little")
    if num != number:
        return ("bad_header", f"header segment number {num}, file name says {number}")
    first = int.from_bytes(data[24:32], "little")
    if first != first_index:
        return ("first_index", f"first frame index {first}, want {first_index}")
    return None


def frame_problem(data: bytes, p: int) -> tuple[str, str] | None:
    """Why the frame at ``p`` is not a good frame, or None."""
    size = len(data)
    if p + FRAME_HEADER_LEN > size:
        return ("truncated", f"incomplete frame header ({size - p} bytes)")
    n = int.from_bytes(data[p : p + 4], "little")
    if not 1 <= n <= MAX_PAYLOAD:
        return ("bad_length", f"impossible payload length {n}")
    if p + FRAME_HEADER_LEN + n > size:
        return ("truncated", f"payload of {n} bytes runs past the end of the file ({size})")
    stored = int.from_bytes(data[p + 4 : p + 8], "little")
    got = crc32c(data[p + 8 : p + 8 + n])
    if stored != got:
        return ("crc_mismatch", f"CRC-32C of the {n}-byte payload is {got:08x}, frame says {stored:08x}")
    return None


def _damaged_frame_followed_by_good(data: bytes, p: int, z: int) -> int | None:
    """FORMAT.md section 6 rule 3: a good frame starting at a q inside
    (p + 8, z), q - p - 8 <= MAX_PAYLOAD, where the CRC stored at p is the
    CRC-32C of data[p + 8:q] (the frame at p, its length alone damaged,
    ends at q), from which a run of good frames ends at some e with
    z <= e <= size, or at some e < z where the bytes [e, size) are torn by
    rules 1 and 2. Returns its start, or None. Good frames at any other q
    can be bytes of a torn frame's payload: they prove nothing. Each
    candidate's CRC comes from RangeCRC: nearly every offset can hold a
    candidate as long as the rest of the tail."""
    size = len(data)

    def torn_at(e: int) -> bool:
        if z - e < FRAME_HEADER_LEN:
            return True
        n = int.from_bytes(data[e : e + 4], "little")
        return 1 <= n <= MAX_PAYLOAD and e + FRAME_HEADER_LEN + n >= z
    memo: dict[int, bool] = {}
    crcs: list[RangeCRC] = []  # made at the first frame to check

    def good_len(q: int) -> int | None:
        if q + FRAME_HEADER_LEN > size:
            return None
        n = int.from_bytes(data[q : q + 4], "little")
        if not 1 <= n <= MAX_PAYLOAD or q + FRAME_HEADER_LEN + n > size:
            return None
        if not crcs:  # every frame starting before z ends by z + 8 + MAX_PAYLOAD
            crcs.append(RangeCRC(data, p, min(size, z + FRAME_HEADER_LEN + MAX_PAYLOAD)))
        if crcs[0].crc(q + 8, q + 8 + n) != int.from_bytes(data[q + 4 : q + 8], "little"):
            return None
        return n

    def reaches(q: int) -> bool:
        path = []
        ok = False
        while True:
            if q in memo:
                ok = memo[q]
                break
            n = good_len(q)
            if n is None:
                ok = bool(path) and torn_at(q)  # the run ends at a torn rest
                break
            path.append(q)
            q += FRAME_HEADER_LEN + n
            if q >= z:  # and q <= size, as the frame is inside the file
                ok = True
                break
        for s in path:
            memo[s] = ok
        return ok

    stored = int.from_bytes(data[p + 4 : p + 8], "little")
    t = CRC32C_TABLE
    c = 0xFFFFFFFF  # the register of the CRC of data[p + 8:q]
    for q in range(p + FRAME_HEADER_LEN + 1, min(z, p + FRAME_HEADER_LEN + MAX_PAYLOAD + 1)):
        c = t[(c ^ data[q - 1]) & 0xFF] ^ (c >> 8)
        if c ^ 0xFFFFFFFF == stored and reaches(q):
            return q
    return None


def classify_tail(data: bytes, p: int) -> tuple[bool, str]:
    """FORMAT.md section 6 for the bad frame at ``p`` of the last segment:
    (True, why) for a torn tail, (False, why) for corruption."""
    size = len(data)
    z = max(p, len(data.rstrip(b"\x00")))
    if z - p < FRAME_HEADER_LEN:
        if z == p:
            return True, f"{size - p} bytes: zeros to the end of the file"
        return True, f"{size - p} bytes: {z - p} non-zero bytes do not hold a frame header"
    n = int.from_bytes(data[p : p + 4], "little")
    if not 1 <= n <= MAX_PAYLOAD:
        return False, f"impossible payload length {n} followed by non-zero data"
    end = p + FRAME_HEADER_LEN + n
    if end < z:
        return False, f"frame declares {n} bytes and ends at {end}, but non-zero data follows up to {z}"
    q = _damaged_frame_followed_by_good(data, p, z)
    if q is not None:
        return False, f"damaged frame: its CRC says it ends at offset {q}, where intact frames start and run to the end (or to a torn append)"
    return True, f"{size - p} bytes: the beginning of a {n}-byte frame (an interrupted append)"


def read_frames(directory: Path, result: Result) -> Iterator[Frame]:
    """Yield every good frame in order; raise WalError at the first problem;
    note a torn tail of the last segment in ``result.torn``."""
    segs = list_segments(directory)
    result.segments = len(segs)
    index = 1
    for i, (num, path) in enumerate(segs):
        last = i == len(segs) - 1
        data = _read_segment(path)
        bad = header_problem(data, num, index)
        if bad is not None:
            want = expected_header(num, index)
            k = 0  # bytes are want[:k] followed only by zeros?
            while k < min(len(data), HEADER_LEN) and data[k] == want[k]:
                k += 1
            if last and not any(data[k:]):
                result.torn.append(
                    f"{path}: {len(data)} bytes at offset 0: interrupted segment creation "
                    f"(a prefix of the header, then zeros)"
                )
                return
            raise WalError(bad[0], bad[1], path, 0)
        p = HEADER_LEN
        while p < len(data):
            bad = frame_problem(data, p)
            if bad is None:
                n = int.from_bytes(data[p : p + 4], "little")
                yield Frame(path, p, index, data[p + 8 : p + 8 + n])
                index += 1
                p += FRAME_HEADER_LEN + n
                continue
            if not last:
                raise WalError(bad[0], f"frame {index}: {bad[1]} (in a segment other than the last)", path, p)
            torn, why = classify_tail(data, p)
            if not torn:
                raise WalError(bad[0], f"frame {index}: {bad[1]}: corruption, not a torn tail: {why}", path, p)
            result.torn.append(f"{path}: {why}, at offset {p} ({bad[1]})")
            return


# --------------------------------------------------------------------------
# SDK payloads


class _Verifier:
    def __init__(self, directory: Path, trusted: list[bytes], allow_unsealed_tail: bool):
        self.dir = directory
        self.trusted = list(dict.fromkeys(trusted))
        self.allow_unsealed_tail = allow_unsealed_tail
        self.result = Result(str(directory))
        self.kept: Path | None = None  # DIR/checkpoints, when the log keeps checkpoints
        self.key_ids: dict[bytes, bytes] = {}  # public key -> key id
        for k in self.trusted:
            self.key_ids[k] = key_id(k)

    def chain(self, w: str, s: str) -> Chain:
        c = self.result.chains.get((w, s))
        if c is None:
            c = Chain(w, s)
            for k in self.trusted:
                c.trust[k] = [[1, INF]]
            self.result.chains[(w, s)] = c
        return c

    def _kid(self, pub: bytes) -> bytes:
        kid = self.key_ids.get(pub)
        if kid is None:
            kid = self.key_ids[pub] = key_id(pub)
        return kid

    def check_signature(self, c: Chain, seq: int, kid: bytes, sig: bytes, h: bytes, err,
                        seal: bool = False) -> bytes:
        """Return the key that signed; raise via ``err`` otherwise. A seal
        of seq T may also be by the key a transition at T named: it is in
        force there, as for a kept checkpoint of size T (Go's replay takes
        such a seal: the key is learned, and retired nowhere)."""
        candidates = [k for k in c.trust if self._kid(k) == kid]
        usable = [k for k in candidates if c.may_sign_record(k, seq) or seal and c.named_at(k, seq)]
        for k in usable:
            if rr.verify_signature(k, sig, h):
                return k
        if usable:
            raise err(BAD_SIGNATURE, f"signature by key id {kid.hex()} does not verify")
        if candidates:
            t = max((c.retired_at(k, seq) or 0) for k in candidates)
            raise err(RETIRED_KEY, f"key id {kid.hex()} was retired at seq {t}; it signs nothing after")
        raise err(UNKNOWN_KEY, f"key id {kid.hex()} is not a trusted key of this chain")

    def record(self, f: Frame) -> None:
        pl = f.payload
        where: dict[str, Any] = {"file": f.file, "offset": f.offset}

        def err(reason: str, msg: str) -> WalError:
            return WalError(reason, msg, **where)

        if not MIN_RECORD_PAYLOAD <= len(pl) <= MAX_RECORD_PAYLOAD:
            raise err("bad_payload", f"record payload of {len(pl)} bytes, want {MIN_RECORD_PAYLOAD}..{MAX_RECORD_PAYLOAD}")
        flags = pl[1]
        kid, sig, stored = pl[2:10], pl[10:74], pl[74:106]
        canonical = pl[106:]
        # Name chain and seq as early as the bytes allow (for the messages).
        decoded = None
        try:
            decoded = rr.decode_record(canonical)
            where["chain"] = (decoded["writerId"], decoded["stream"])
            where["seq"] = decoded["seq"]
        except Exception:
            pass
        if flags not in (0, 1):
            raise err("bad_payload", f"record flags byte is {flags:#04x}, want 0 or 1")
        if flags == 0 and (any(kid) or any(sig)):
            raise err("bad_payload", "unsigned record with a non-zero key id or signature")
        h = rr.record_hash(canonical)
        if h != stored:
            raise err("hash_mismatch", f"record hash {h.hex()} != frame's {stored.hex()}")
        try:
            r = strict_open(canonical)
        except CanonicalError as e:
            raise err("canonical", f"record bytes refused: {e}") from e
        w, s, seq = r["writerId"], r["stream"], r["seq"]
        c = self.chain(w, s)
        prev = bytes.fromhex(r["prev"])
        if seq != c.head_seq + 1:
            raise err("chain", f"seq {seq} does not follow the chain's head seq {c.head_seq}"
                      + (" (a chain starts at seq 1)" if c.head_seq == 0 else ""))
        want_prev = GENESIS if seq == 1 else c.head_hash
        if prev != want_prev:
            raise err("chain", f"prev {prev.hex()} != {'genesis (32 zero bytes)' if seq == 1 else 'hash of seq %d %s' % (seq - 1, want_prev.hex())}")
        signer = None
        if flags == 1:
            signer = self.check_signature(c, seq, kid, sig, h, err)
        try:
            new_key = transition_key(r)
        except BadTransition as e:
            raise err("bad_key_transition", str(e)) from e
        if new_key is not None and signer is None:
            raise err("bad_key_transition", "key transition record is not signed")
        if new_key is not None and (why := c.transition_problem(signer, new_key)):
            raise err("bad_key_transition", why)
        c.hashes.append(h)
        c.where.append((str(f.file), f.offset))
        if signer is not None:
            c.signed = seq
        if new_key is not None:
            c.apply_transition(seq, signer, new_key)
        self.result.records += 1
        self.result.entries.append(Entry(str(f.file), f.offset, f.index, h, kid if flags else None, r))

    def seal(self, f: Frame) -> None:
        pl = f.payload
        where: dict[str, Any] = {"file": f.file, "offset": f.offset}

        def err(reason: str, msg: str) -> WalError:
            return WalError(reason, msg, **where)

        fixed = 1 + 8 + 8 + 64 + 32
        if len(pl) < fixed + 2:
            raise err("bad_seal", f"seal payload of {len(pl)} bytes is too short")
        seq = int.from_bytes(pl[1:9], "little")
        kid, sig, h = pl[9:17], pl[17:81], pl[81:113]
        p = fixed
        names = []
        for what in ("writerId", "stream"):
            if p + 2 > len(pl):
                raise err("bad_seal", f"seal ends before the length of its {what}")
            n = int.from_bytes(pl[p : p + 2], "little")
            p += 2
            if n < 1 or p + n > len(pl):
                raise err("bad_seal", f"seal {what} length {n} is 0 or runs past the payload")
            try:
                names.append(pl[p : p + n].decode("utf-8", errors="strict"))
            except UnicodeDecodeError:
                raise err("bad_seal", f"seal {what} is not UTF-8") from None
            p += n
        if p != len(pl):
            raise err("bad_seal", f"{len(pl) - p} bytes after the seal's stream")
        where["chain"], where["seq"] = (names[0], names[1]), seq
        c = self.result.chains.get((names[0], names[1]))
        if c is None or c.head_seq == 0:
            raise err("bad_seal", "seal of a chain that has no record before it")
        if seq != c.head_seq:
            raise err("bad_seal", f"seal of seq {seq}, but the chain's head is seq {c.head_seq}")
        if h != c.head_hash:
            raise err("bad_seal", f"seal hash {h.hex()} != head hash {c.head_hash.hex()}")
        self.check_signature(c, seq, kid, sig, h, err, seal=True)
        c.sealed = max(c.sealed, seq)
        self.result.seals += 1

    # ---------------------------------------------------------------- checkpoints

    def checkpoints(self) -> None:
        root_dir = self.dir / "checkpoints"
        if not root_dir.is_dir():
            if root_dir.is_symlink() or root_dir.exists():
                # As `ronaudit verify`: a checkpoints/ that is there but is
                # no directory that can be read (a link to nothing, a file)
                # is not "none kept".
                raise WalError(UNREADABLE, "kept checkpoints: not a directory that can be read", root_dir)
            return
        self.kept = root_dir
        notes = []
        # Pass 1: the (chain, size) of each note, to compute the needed roots
        # in one pass over each chain. The chain is the one its directory
        # names; checkpoint() refuses a note of another.
        for chain, p in kept_checkpoint_files(root_dir):
            raw = _read_note(p)
            try:
                body = raw[: raw.rfind(b"\n\n") + 1]
                cp = cpk.parse_checkpoint_text(body)
            except (cpk.CheckpointError, ValueError):
                cp = None
            notes.append((p, raw, chain))
            c = self.result.chains.get(chain)
            if cp is not None and c is not None and cp.size <= c.head_seq:
                c.checkpoint_roots[cp.size] = b""
        for c in self.result.chains.values():
            if c.checkpoint_roots:
                c.checkpoint_roots = prefix_roots(c.hashes, set(c.checkpoint_roots))
        # Pass 2: verify each, in path order.
        for p, raw, chain in notes:
            if self.checkpoint(p, raw, chain):
                self.result.checkpoints += 1

    def checkpoint(self, path: Path, raw: bytes, chain: tuple[str, str]) -> bool:
        """Check the kept note at ``path`` of ``chain`` (the chain its
        directory names); False if it is signed by none of the keys, which
        is no evidence either way and not a failure (as `ronaudit verify`:
        "signed by none of the --pub keys in force at its size; not used"); so
        is one signed only by a key the chain named after its size). A
        signature line that is one of the keys' with its key name or key
        hash damaged is no note of another key: ``bad_signature``."""
        def err(reason: str, msg: str, seq: int | None = None) -> WalError:
            return WalError(reason, f"kept checkpoint: {msg}", path, None, chain, seq)

        c = self.result.chains.get(chain)
        keys = list(c.trust) if c is not None else list(self.trusted)
        names = {cpk.ORIGIN_PREFIX + cpk.escape_component(chain[0])}
        names |= _signature_names(raw)
        verifiers = [
            cpk.Verifier(n, cpk.key_hash(n, k), k)
            for n in sorted(names) if cpk._is_valid_key_name(n) for k in keys
        ]
        try:
            note = cpk.open_note(raw, verifiers)
        except cpk.CheckpointError as e:
            if e.reason != cpk.UNKNOWN_KEY:
                raise err(e.reason, e.message) from e
            # Signed by none of the keys, unless a signature line is one
            # of theirs with its key name or key hash damaged: a damaged
            # file, not a note of a key not given (Go's VerifyDir, as the
            # writer that kept it refuses it).
            own = cpk.damaged_own(raw, keys, cpk.ORIGIN_PREFIX + cpk.escape_component(chain[0]))
            if own is None:
                return False
            sig, k, verifies = own
            if verifies:
                why = (f"its signature verifies by key {key_id(k).hex()}, whose key hash under that "
                       f"name is {cpk.key_hash(sig.name, k):x}")
            else:
                why = (f"{sig.key_hash:x} is the key hash of key {key_id(k).hex()} under the "
                       f"chain's key name, and the signature does not verify by it")
            raise err(cpk.BAD_SIGNATURE, f"signature line of key {sig.name!r} hash {sig.key_hash:x} is "
                      f"damaged or was tampered with, not another key's: {why}",
                      int(path.name[:20])) from e
        try:
            cp = cpk.parse_checkpoint_text(note.text)
            chain2 = cpk.parse_origin(cp.origin)
        except cpk.CheckpointError as e:
            raise err(e.reason, e.message) from e
        if chain2 != chain:
            raise err(cpk.ORIGIN_MISMATCH, f"it is a checkpoint of {cp.origin}, kept as one of "
                      f"{cpk.origin_of(*chain)}")
        named = int(path.name[:20])
        if cp.size != named:
            # The name is not signed, and a writer takes the newest by it:
            # one named past its size would stop its checkpoints there.
            raise err(cpk.FORMAT, f"the file is named for size {named}, the checkpoint's is {cp.size}", named)
        by_hash = {(v.name, v.key_hash): v.public_key for v in verifiers}
        signers = [by_hash[(s.name, s.key_hash)] for s in note.verified]
        n = cp.size
        have = c.head_seq if c is not None else 0
        if n > have:
            raise err(ROLLBACK, f"vouches for {n} records, the chain has {have} (cut or rolled back)", n)
        if n == 0:
            # The empty tree's root, as Go's checkpoint.VerifyDir checks it
            # (of a chain with records or of one the log has none of): a
            # note of size 0 vouches for no record, but any other root is
            # not of this log.
            empty = cpk.tree_hash([])
            if cp.root != empty:
                raise err(FORK, f"root of size 0 is {cp.root.hex()}, the empty tree's is {empty.hex()}", 0)
            return True
        root = c.checkpoint_roots[n]
        if root != cp.root:
            raise err(FORK, f"root of size {n} is {cp.root.hex()}, the chain's is {root.hex()}", n)
        if not any(c.may_sign_checkpoint(k, n) for k in signers):
            if not any(c.retired_for_checkpoint(k, n) for k in signers):
                # Signed only by a key the chain named after its size: no
                # evidence, as one by a key not given (Go VerifyDir: Unused).
                return False
            t = max(c.retired_at(k, n + 1) or 0 for k in signers)
            raise err(RETIRED_KEY, f"size {n} is beyond seq {t} where its signing key was retired", n)
        c.checkpointed = max(c.checkpointed, n)
        return True

    # ---------------------------------------------------------------- all

    def run(self) -> Result:
        for f in read_frames(self.dir, self.result):
            self.result.frames += 1
            t = f.payload[0]
            if t == FRAME_RECORD:
                self.record(f)
            elif t == FRAME_SEAL:
                self.seal(f)
            else:
                raise WalError("bad_frame_type", f"frame {f.index} has type {t}, want 1 (record) or 2 (seal)",
                               f.file, f.offset)
        self.checkpoints()
        for c in self.result.chains.values():
            if c.vouched < c.head_seq:
                first = c.vouched + 1
                file, off = c.where[first - 1]
                msg = (f"records {first}..{c.head_seq} are vouched for by no signature, seal "
                       f"or trusted kept checkpoint")
                if not self.allow_unsealed_tail:
                    raise WalError(UNSEALED_TAIL, msg + " (--allow-unsealed-tail accepts them)",
                                   file, off, c.key, first)
                self.result.unsealed_allowed.append(f"{chain_name(c.key)} seq {first}..{c.head_seq}")
        if self.kept is not None:
            # Last, as Go's checkpoint.VerifyDir: every other chain holds,
            # and this one's records verified, but no checkpoint of it can
            # be kept, so none vouches for it or can be missed. The first
            # such chain in (writerId, stream) order, writerId first.
            for key in sorted(self.result.chains):
                for what, name in zip(("writerId", "stream"), key):
                    n = dir_name_len(name)
                    if n > MAX_CHAIN_NAME:
                        raise WalError(CHAIN_NAME, f"cannot be checkpointed: {what} is {n} bytes escaped as a "
                                       f"directory name, limit {MAX_CHAIN_NAME}", self.kept, None, key)
        return self.result


NOTE_NAME = re.compile(r"[0-9]{20}\.note")


def _parse_dir_name(name: str) -> str | None:
    """The writer id or stream a directory under checkpoints/ names: its
    component of the origin line, "." and ".." written %2E and %2E%2E (as
    Go's checkpoint.parseDirName); None for any other spelling."""
    if name == "%2E":
        return "."
    if name == "%2E%2E":
        return ".."
    return cpk._unescape_component(name)


def dir_name_len(name: str) -> int:
    """Bytes of the directory name of a writer id or stream under
    checkpoints/ (Go's chaindir.NameLen): its origin component, "." and
    ".." written %2E and %2E%2E."""
    if name in (".", ".."):
        return 3 * len(name)
    return len(cpk.escape_component(name))


def kept_checkpoint_files(root_dir: Path) -> list[tuple[tuple[str, str], Path]]:
    """(chain, path) of each kept checkpoint under ``root_dir``, as Go's
    checkpoint.HistoryChains and HistoryPaths list them:
    <e(writerId)>/<e(stream)>/<20 digits, at most 2^63-1>.note, each directory named in the
    one spelling of its component (symbolic links followed). Any entry so
    named counts (_read_note refuses one that is not a regular file);
    everything else is not a checkpoint and is ignored, but an entry named
    as a writer's or a stream's directory that is not one (a file, a FIFO
    in its place) or cannot be followed (a symbolic link to nothing, a
    loop of links) is ``unreadable``, as in Go: its checkpoints are
    unseen."""
    out = []
    for w in sorted(root_dir.iterdir()):
        writer = _parse_dir_name(w.name)
        if writer is None or not _chain_dir(w):
            continue
        for s in sorted(w.iterdir()):
            stream = _parse_dir_name(s.name)
            if stream is None or not _chain_dir(s, (writer, stream)):
                continue
            out += [((writer, stream), p) for p in sorted(s.iterdir()) if _is_note_name(p.name)]
    return out


def _chain_dir(p: Path, chain: tuple[str, str] | None = None) -> bool:
    """Whether ``p``, named as a writer's or a stream's directory (of
    ``chain``), is a directory (a symbolic link followed): False if it is
    gone since it was listed. One that is not a directory, or a link that
    cannot be followed, is an error naming it (Go's
    checkpoint.HistoryChains), never a chain without checkpoints."""
    try:
        st = p.stat()
    except FileNotFoundError:
        if p.is_symlink():
            raise WalError(UNREADABLE, "kept checkpoints: a symbolic link that cannot be followed "
                           "(to nothing, or a loop)", p, None, chain) from None
        return False
    except OSError as e:  # a loop of links, or a path that cannot be looked at
        raise WalError(UNREADABLE, f"kept checkpoints: cannot be followed or looked at: {e.strerror}",
                       p, None, chain) from None
    if not stat.S_ISDIR(st.st_mode):
        raise WalError(UNREADABLE, f"kept checkpoints: not a directory (mode {stat.filemode(st.st_mode)})",
                       p, None, chain)
    return True


def _is_note_name(name: str) -> bool:
    """Whether ``name`` is a kept checkpoint's: 20 decimal digits and
    ".note", of a size Go's strconv.ParseInt takes (at most 2^63-1:
    checkpoint.historySizes ignores a larger one)."""
    return NOTE_NAME.fullmatch(name) is not None and int(name[:20]) < 1 << 63


def _read_note(path: Path) -> bytes:
    """A kept note's bytes, as Go's checkpoint.ReadNote reads them: a
    regular file (see _read_regular; not one is ``format``) of at most
    256 KiB, else ``format``."""
    raw = _read_regular(path, "kept checkpoint: ", cpk.FORMAT, cpk.MAX_NOTE_BYTES + 1)
    if len(raw) > cpk.MAX_NOTE_BYTES:
        raise WalError(cpk.FORMAT, f"kept checkpoint: more than {cpk.MAX_NOTE_BYTES} bytes", path)
    return raw


def _signature_names(raw: bytes) -> set[str]:
    """Key names the signature lines of a note claim (unverified)."""
    i = raw.rfind(b"\n\n")
    out = set()
    if i < 0:
        return out
    for line in raw[i + 2 :].split(b"\n"):
        if line.startswith(cpk.SIG_PREFIX):
            name = line[len(cpk.SIG_PREFIX) :].split(b" ", 1)[0]
            try:
                out.add(name.decode("utf-8"))
            except UnicodeDecodeError:
                pass
    return out


def prefix_roots(hashes: list[bytes], sizes: set[int]) -> dict[int, bytes]:
    """RFC 6962 roots of the first n record hashes, for each n in sizes, in
    one pass (compact range: perfect subtrees, folded right to left)."""
    out: dict[int, bytes] = {}
    stack: list[tuple[int, bytes]] = []  # (height, hash)
    if 0 in sizes:
        out[0] = cpk.tree_hash([])
    for i, rh in enumerate(hashes, start=1):
        node = (0, cpk.leaf_hash(rh))
        while stack and stack[-1][0] == node[0]:
            left = stack.pop()
            node = (node[0] + 1, cpk.node_hash(left[1], node[1]))
        stack.append(node)
        if i in sizes:
            r = stack[-1][1]
            for _, hsh in reversed(stack[:-1]):
                r = cpk.node_hash(hsh, r)
            out[i] = r
    return out


def verify_dir(
    directory: Path | str, trusted: list[bytes], allow_unsealed_tail: bool = False
) -> Result:
    """Verify a log directory; return the Result or raise WalError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise WalError("not_a_directory", "not a log directory", directory)
    return _Verifier(directory, trusted, allow_unsealed_tail).run()


# Failures that are no verdict on the log (exit 3, as Go's ``ronaudit
# verify`` exits for them): it was not read, or not all of it could be
# vouched for; 1 is for a log that was read and does not verify.
NO_VERDICT = frozenset({"not_a_directory", UNREADABLE, CHAIN_NAME})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="ronaudit_wal.py", description="Verify a ron-audit write-ahead-log directory."
    )
    ap.add_argument("dir", metavar="DIR")
    ap.add_argument("--pub", action="append", required=True, metavar="KEY.pub",
                    help="PEM PKIX Ed25519 public key of a trusted signer (repeatable)")
    ap.add_argument("--allow-unsealed-tail", action="store_true",
                    help="accept records after a chain's last signature, seal or checkpoint")
    args = ap.parse_args(argv)
    try:
        keys = [load_public_key(p) for p in args.pub]
    except (OSError, ValueError) as e:
        print(f"ronaudit_wal: cannot load public key: {e}", file=sys.stderr)
        return 2
    rr.load_schema()
    try:
        res = verify_dir(args.dir, keys, args.allow_unsealed_tail)
    except WalError as e:
        if e.reason in NO_VERDICT:
            print(f"ronaudit_wal: {e}", file=sys.stderr)
            print("ronaudit_wal: the log was not verified", file=sys.stderr)
            return 3
        print(f"FAIL: {e}")
        return 1
    for line in res.summary():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
