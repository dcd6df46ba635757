"""Python foreign reader for ron-audit checkpoints and proofs (v1).

An independent implementation of ``sdk/checkpoint/SPEC.md``:

- C2SP ``signed-note`` parsing and Ed25519 verification, with verifier keys
  ``<name>+<hex key hash>+<base64(0x01 || public key)>``;
- the C2SP ``tlog-checkpoint`` body of version 1 (origin, size, root, no
  extension lines) and the origin's percent-escaping;
- the RFC 6962 tree (leaf data = the 32-byte record hash) and RFC 9162
  inclusion (2.1.3.2) and consistency (2.1.4.2) proof verification;
- checking a ``testing/vectors/v1/checkpoints/*.json`` vector file the way
  ``testing/vectors/v1/checkpoints/README.md`` describes.

Only the standard library and ``cryptography`` are used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

HASH_LEN = 32
ED25519_ALG = 0x01
SIG_PREFIX = "\u2014 ".encode("utf-8")  # em dash, space
MAX_NOTE_BYTES = 256 * 1024
MAX_SIGNATURES = 100
MAX_TREE_SIZE = 2**63 - 1
ORIGIN_PREFIX = "ron-audit/"
VECTOR_KEY_SEED_TEXT = b"ron-audit checkpoint vectors v1"

# Reasons, spelled as the Go package's checkpoint.Reason values.
FORMAT = "format"
BAD_SIGNATURE = "bad_signature"
UNKNOWN_KEY = "unknown_key"
OUT_OF_RANGE = "out_of_range"
NOT_INCLUDED = "not_included"
ORIGIN_MISMATCH = "origin_mismatch"
ROLLBACK = "rollback"
FORK = "fork"


class CheckpointError(Exception):
    """A note, checkpoint or proof was refused; ``reason`` says why."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


# --------------------------------------------------------------------------
# Signed notes


def _is_valid_key_name(name: str) -> bool:
    """A note key name: non-empty, no white space, no '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_hash(name: str, public_key: bytes) -> int:
    """First 4 bytes (big-endian) of SHA-256(name || "\\n" || 0x01 || key)."""
    h = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519_ALG]) + public_key)
    return int.from_bytes(h.digest()[:4], "big")


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: int
    public_key: bytes  # 32 bytes

    def verify(self, text: bytes, sig: bytes) -> bool:
        if len(sig) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(sig, text)
            return True
        except InvalidSignature:
            return False


def _b64decode_strict(s: str) -> bytes:
    """Standard base64 with padding, in the one encoding of its bytes: refuse
    any character outside the alphabet and unused bits that are not zero."""
    if not s.isascii():
        raise ValueError("non-ASCII base64")
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValueError("non-canonical base64 (unused bits set)")
    return raw


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse ``<name>+<8 hex digits>+<base64(0x01 || 32-byte key)>``."""
    parts = vkey.split("+", 2)  # the base64 key may itself contain '+'
    if len(parts) != 3:
        raise CheckpointError(FORMAT, "verifier key is not name+hash+key")
    name, hash_hex, key_b64 = parts
    if not _is_valid_key_name(name):
        raise CheckpointError(FORMAT, f"verifier key name {name!r} is not valid")
    if len(hash_hex) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hash_hex):
        raise CheckpointError(FORMAT, "verifier key hash is not 8 hex digits")
    try:
        key = _b64decode_strict(key_b64)
    except (ValueError, binascii.Error) as e:
        raise CheckpointError(FORMAT, f"verifier key is not base64: {e}") from e
    if len(key) != 1 + 32 or key[0] != ED25519_ALG:
        raise CheckpointError(FORMAT, "verifier key is not 0x01 || 32-byte Ed25519 key")
    pub = key[1:]
    try:
        Ed25519PublicKey.from_public_bytes(pub)
    except ValueError as e:
        raise CheckpointError(FORMAT, f"verifier key is not an Ed25519 key: {e}") from e
    h = int(hash_hex, 16)
    if h != key_hash(name, pub):
        raise CheckpointError(FORMAT, "verifier key hash does not match name and key")
    return Verifier(name, h, pub)


@dataclass
class NoteSignature:
    name: str
    key_hash: int
    signature: bytes  # without the 4-byte key hash


@dataclass
class Note:
    text: bytes  # ends with "\n"
    verified: list[NoteSignature] = field(default_factory=list)
    unverified: list[NoteSignature] = field(default_factory=list)


def _as_bytes(msg: bytes | str) -> bytes:
    return msg.encode("utf-8") if isinstance(msg, str) else bytes(msg)


def open_note(msg: bytes | str, verifiers: Iterable[Verifier]) -> Note:
    """Parse a C2SP signed note and verify it against ``verifiers``.

    Refuses (CheckpointError) with ``format`` a note that is not well formed,
    ``bad_signature`` when a signature by a known key (same name and key
    hash) does not verify, and ``unknown_key`` when no signature is by a
    known key.
    """
    msg = _as_bytes(msg)
    if len(msg) > MAX_NOTE_BYTES:
        raise CheckpointError(FORMAT, f"note is {len(msg)} bytes, more than {MAX_NOTE_BYTES}")
    try:
        s = msg.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise CheckpointError(FORMAT, "note is not valid UTF-8") from e
    for c in s:
        if ord(c) < 0x20 and c != "\n":
            raise CheckpointError(FORMAT, f"note has control character {c!r}")
    split = msg.rfind(b"\n\n")
    if split < 0:
        raise CheckpointError(FORMAT, "note has no blank line before its signatures")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs or not sigs.endswith(b"\n"):
        raise CheckpointError(FORMAT, "signature block is empty or does not end in a newline")

    known: dict[tuple[str, int], Verifier] = {}
    for v in verifiers:
        known[(v.name, v.key_hash)] = v

    note = Note(text)
    seen: set[tuple[str, int]] = set()
    lines = sigs[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(FORMAT, f"more than {MAX_SIGNATURES} signatures")
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise CheckpointError(FORMAT, f"signature line {line[:64]!r} does not begin with '\u2014 '")
        body = line[len(SIG_PREFIX) :].decode("utf-8")
        name, sp, b64 = body.partition(" ")
        if not sp or not b64 or not _is_valid_key_name(name):
            raise CheckpointError(FORMAT, f"signature line {body[:64]!r} is not '<name> <base64>'")
        try:
            raw = _b64decode_strict(b64)
        except (ValueError, binascii.Error) as e:
            raise CheckpointError(FORMAT, f"signature of {name!r} is not base64") from e
        if len(raw) < 5:
            raise CheckpointError(FORMAT, f"signature of {name!r} is too short")
        h = int.from_bytes(raw[:4], "big")
        sig = NoteSignature(name, h, raw[4:])
        # One line per key name and hash: a second would give the note
        # another spelling (a reader that checks only the first lets any
        # signature ride along).
        if (name, h) in seen:
            raise CheckpointError(FORMAT, f"two signature lines by key {name!r} with the same key hash")
        seen.add((name, h))
        v = known.get((name, h))
        if v is None:
            note.unverified.append(sig)
            continue
        if not v.verify(text, sig.signature):
            raise CheckpointError(
                BAD_SIGNATURE, f"signature by {name} ({h:08x}) does not verify"
            )
        note.verified.append(sig)
    if not note.verified:
        raise CheckpointError(UNKNOWN_KEY, "no signature by a known key")
    return note


def damaged_own(
    msg: bytes, keys: Iterable[bytes], name: str
) -> tuple[NoteSignature, bytes, bool] | None:
    """For a note ``open_note`` refused as ``unknown_key`` with verifiers of
    ``keys``: a signature line that is one of ``keys``' all the same,
    damaged, as (the line, the key, whether its signature verifies by the
    key). Its Ed25519 signature verifies by the key over the note text (its
    key name or key hash was changed), or its key hash is the key's under
    ``name``, the key name the chain's checkpoints are signed under (its key
    name was changed, and its signature too). None when no line is: the
    note is another key's, as far as ``keys`` tell. As Go's
    checkpoint.damagedOwn: a line says whose it is only by its key name and
    hash, so one byte flipped there would read as a key nobody holds."""
    msg = _as_bytes(msg)
    split = msg.rfind(b"\n\n")
    if split < 0:
        return None
    text = msg[: split + 1]
    sigs = msg[split + 2 :]
    if sigs.endswith(b"\n"):
        sigs = sigs[:-1]
    keys = [k for k in keys if len(k) == 32]
    for line in sigs.split(b"\n"):
        body = line[len(SIG_PREFIX) :] if line.startswith(SIG_PREFIX) else line
        line_name, _, b64 = body.partition(b" ")
        try:
            raw = base64.b64decode(b64, validate=True)
            line_name_s = line_name.decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            continue  # not a note open_note parsed: its error says so
        if len(raw) < 5:
            continue
        sig = NoteSignature(line_name_s, int.from_bytes(raw[:4], "big"), raw[4:])
        for k in keys:
            if Verifier(sig.name, sig.key_hash, k).verify(text, sig.signature):
                return sig, k, True
            if sig.key_hash == key_hash(name, k):
                return sig, k, False
    return None


def sign_note(text: bytes | str, name: str, seed: bytes) -> bytes:
    """Sign note text with the Ed25519 key of ``seed`` (for tests)."""
    text = _as_bytes(text)
    priv = Ed25519PrivateKey.from_private_bytes(seed)
    pub = priv.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    sig = key_hash(name, pub).to_bytes(4, "big") + priv.sign(text)
    return text + b"\n" + SIG_PREFIX + name.encode("utf-8") + b" " + base64.b64encode(sig) + b"\n"


def verifier_key(name: str, public_key: bytes) -> str:
    """Format the verifier key string of (name, Ed25519 public key)."""
    return (
        f"{name}+{key_hash(name, public_key):08x}+"
        + base64.b64encode(bytes([ED25519_ALG]) + public_key).decode()
    )


# --------------------------------------------------------------------------
# Origins


def _unreserved(b: int) -> bool:
    return (
        0x61 <= b <= 0x7A  # a-z
        or 0x41 <= b <= 0x5A  # A-Z
        or 0x30 <= b <= 0x39  # 0-9
        or b in b"-._~@"
    )


def escape_component(s: str) -> str:
    return "".join(
        chr(b) if _unreserved(b) else f"%{b:02X}" for b in s.encode("utf-8")
    )


def origin_of(writer_id: str, stream: str) -> str:
    return ORIGIN_PREFIX + escape_component(writer_id) + "/" + escape_component(stream)


def _unescape_component(s: str) -> str | None:
    if not s or not s.isascii():
        return None
    out = bytearray()
    i = 0
    upper_hex = "0123456789ABCDEF"
    while i < len(s):
        c = ord(s[i])
        if _unreserved(c):
            out.append(c)
            i += 1
        elif s[i] == "%" and i + 2 < len(s):
            hi, lo = s[i + 1], s[i + 2]
            if hi not in upper_hex or lo not in upper_hex:
                return None
            d = int(hi + lo, 16)
            if _unreserved(d) or d == 0:
                return None
            out.append(d)
            i += 3
        else:
            return None
    try:
        return out.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def parse_origin(origin: str) -> tuple[str, str]:
    """Return (writer id, stream) of an origin line, refusing any spelling
    but the canonical one with ``format``."""
    if origin.startswith(ORIGIN_PREFIX):
        w, sep, s = origin[len(ORIGIN_PREFIX) :].partition("/")
        if sep:
            wid, st = _unescape_component(w), _unescape_component(s)
            if wid is not None and st is not None and origin_of(wid, st) == origin:
                return wid, st
    raise CheckpointError(FORMAT, f"origin {origin[:128]!r} is not canonical ron-audit/<writer>/<stream>")


# --------------------------------------------------------------------------
# Checkpoints


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def parse_checkpoint_text(text: bytes | str) -> Checkpoint:
    """Parse the note text: origin, decimal size, base64 root, nothing else."""
    text = _as_bytes(text)
    try:
        s = text.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise CheckpointError(FORMAT, "checkpoint text is not UTF-8") from e
    if not s.endswith("\n"):
        raise CheckpointError(FORMAT, "checkpoint text does not end in a newline")
    lines = s[:-1].split("\n")
    if len(lines) != 3:
        raise CheckpointError(
            FORMAT, f"checkpoint text has {len(lines)} lines, want exactly 3 (no extension lines)"
        )
    origin, size_s, root_s = lines
    parse_origin(origin)
    if not size_s or not all("0" <= c <= "9" for c in size_s) or (
        len(size_s) > 1 and size_s[0] == "0"
    ):
        raise CheckpointError(FORMAT, f"tree size {size_s[:32]!r} is not canonical decimal")
    size = int(size_s)
    if size > MAX_TREE_SIZE:
        raise CheckpointError(FORMAT, "tree size is more than 2^63-1")
    if len(root_s) != 44:
        raise CheckpointError(FORMAT, "root is not 44 characters of padded base64")
    try:
        root = _b64decode_strict(root_s)
    except (ValueError, binascii.Error) as e:
        raise CheckpointError(FORMAT, "root is not base64") from e
    if len(root) != HASH_LEN or base64.b64encode(root).decode() != root_s:
        raise CheckpointError(FORMAT, "root is not the canonical base64 of 32 bytes")
    return Checkpoint(origin, size, root)


def format_checkpoint_text(cp: Checkpoint) -> bytes:
    return f"{cp.origin}\n{cp.size}\n{base64.b64encode(cp.root).decode()}\n".encode()


def open_checkpoint(
    msg: bytes | str, verifiers: Iterable[Verifier], origin: str | None = None
) -> Checkpoint:
    """Open a signed checkpoint: verify the note, then parse its text.

    With ``origin``, a checkpoint of another origin is refused with
    ``origin_mismatch``.
    """
    note = open_note(msg, verifiers)
    cp = parse_checkpoint_text(note.text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(ORIGIN_MISMATCH, f"origin {cp.origin!r}, want {origin!r}")
    return cp


# --------------------------------------------------------------------------
# RFC 6962 tree and RFC 9162 proofs


def leaf_hash(record_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + record_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 MTH over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]) (used by tests to cross-check verification)."""
    n = len(leaves)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof(index, leaves[:k]) + [tree_hash(leaves[k:])]
    return inclusion_proof(index - k, leaves[k:]) + [tree_hash(leaves[:k])]


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]) for 0 < m <= n; [] for m == 0 or m == n."""
    if m == 0 or m == len(leaves):
        return []

    def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [tree_hash(d)]
        k = _split(n)
        if m <= k:
            return subproof(m, d[:k], b) + [tree_hash(d[k:])]
        return subproof(m - k, d[k:], False) + [tree_hash(d[:k])]

    return subproof(m, leaves, True)


def _fold_path(fn: int, sn: int, seed: bytes, path: Sequence[bytes], reason: str) -> tuple[bytes, bytes]:
    """The audit-path walk both RFC 9162 verifications share (2.1.3.2
    step 4, 2.1.4.2 step 6): from ``seed``, fold in each hash of ``path``
    as a left sibling (into both results) or a right one (into the second
    only). Returns (the root from left siblings only, the root from all);
    raises CheckpointError(reason) when the path does not have the length
    ``fn`` and ``sn`` ask for."""
    fr = sr = seed
    for c in path:
        if sn == 0:
            raise CheckpointError(reason, "proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CheckpointError(reason, "proof is too short")
    return fr, sr


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 section 2.1.3.2. Raises CheckpointError on failure."""
    if not (0 <= index < size):
        raise CheckpointError(OUT_OF_RANGE, f"index {index} is not in a tree of size {size}")
    if any(len(p) != HASH_LEN for p in proof):
        raise CheckpointError(NOT_INCLUDED, "proof hash is not 32 bytes")
    _, r = _fold_path(index, size - 1, leaf, proof, NOT_INCLUDED)
    if r != root:
        raise CheckpointError(NOT_INCLUDED, "inclusion proof does not give the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2. Raises CheckpointError on failure."""
    if old_size < 0 or new_size < 0:
        raise CheckpointError(OUT_OF_RANGE, "negative tree size")
    if new_size < old_size:
        raise CheckpointError(ROLLBACK, f"tree size went from {old_size} down to {new_size}")
    if any(len(p) != HASH_LEN for p in proof):
        raise CheckpointError(FORK, "proof hash is not 32 bytes")
    if old_size == 0:
        # The empty tree has one root (SPEC: MTH of no leaves), whatever
        # the newer size: an "empty" checkpoint with another root is a fork.
        empty = tree_hash([])
        if old_root != empty or (new_size == 0 and new_root != empty):
            raise CheckpointError(FORK, "a tree of size 0 has the empty tree's root")
        if proof:
            raise CheckpointError(FORK, "proof from the empty tree must be empty")
        return
    if old_size == new_size:
        if proof:
            raise CheckpointError(FORK, "proof between equal sizes must be empty")
        if old_root != new_root:
            raise CheckpointError(FORK, "same size, different roots")
        return
    if not proof:
        raise CheckpointError(FORK, "consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr, sr = _fold_path(fn, sn, path[0], path[1:], FORK)
    if fr != old_root or sr != new_root:
        raise CheckpointError(FORK, "consistency proof does not show the new tree extending the old")


# --------------------------------------------------------------------------
# Vector files (testing/vectors/v1/checkpoints/*.json)


@dataclass
class CheckpointFileResult:
    path: Path
    items: int = 0  # checkpoints + proofs + invalid notes checked
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_hex(v: Any, length: int | None, what: str, errs: list[str]) -> bytes | None:
    """``v`` as hex of ``length`` bytes (any length if None), or None with
    an error naming ``what`` (``<file>: <field>``) recorded in ``errs``."""
    if not isinstance(v, str):
        errs.append(f"{what} missing or not a string")
        return None
    try:
        b = bytes.fromhex(v)
    except ValueError:
        errs.append(f"{what} is not valid hex")
        return None
    if length is not None and len(b) != length:
        errs.append(f"{what} is {len(b)} bytes, want {length}")
        return None
    return b


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _section(doc: dict, key: str, label: str, res: CheckpointFileResult) -> Iterator[tuple[Any, str]]:
    """Each item of the non-empty list ``doc[key]``, counted in
    ``res.items``, with the place to name in its errors."""
    items = doc.get(key)
    if not isinstance(items, list) or not items:
        res.errors.append(f"{label}: {key} missing or empty")
        return
    for j, item in enumerate(items):
        res.items += 1
        yield item, f"{label}: {key}[{j}]"


def check_checkpoint_vector(doc: Any, label: str, base_dir: Path | None) -> CheckpointFileResult:
    """Check one parsed checkpoint vector document.

    ``base_dir`` is the directory of the file: ``source``, the ``.note``
    files and the ``.vkey`` file are read relative to it (skipped if None).
    """
    res = CheckpointFileResult(Path(label))
    errs = res.errors
    if not isinstance(doc, dict):
        errs.append(f"{label}: top level is not a JSON object")
        return res

    # --- key
    seed = parse_hex(doc.get("keySeed"), 32, f"{label}: keySeed", errs)
    pub = parse_hex(doc.get("publicKey"), 32, f"{label}: publicKey", errs)
    name = doc.get("keyName")
    if not isinstance(name, str) or not _is_valid_key_name(name):
        errs.append(f"{label}: keyName missing or not a valid key name")
        name = None
    if seed is not None and seed != hashlib.sha256(VECTOR_KEY_SEED_TEXT).digest():
        errs.append(f"{label}: keySeed is not SHA-256({VECTOR_KEY_SEED_TEXT.decode()!r})")
    if seed is not None and pub is not None:
        derived = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        if derived != pub:
            errs.append(f"{label}: publicKey is not the key of keySeed")
    kh = parse_hex(doc.get("keyHash"), 4, f"{label}: keyHash", errs)
    if kh is not None and pub is not None and name is not None:
        if int.from_bytes(kh, "big") != key_hash(name, pub):
            errs.append(f"{label}: keyHash is not SHA-256(keyName \\n 0x01 publicKey)[:4]")
    verifier: Verifier | None = None
    vkey = doc.get("verifierKey")
    if not isinstance(vkey, str):
        errs.append(f"{label}: verifierKey missing")
    else:
        try:
            verifier = parse_verifier_key(vkey)
        except CheckpointError as e:
            errs.append(f"{label}: verifierKey does not parse: {e}")
        if verifier is not None and pub is not None and name is not None:
            if (verifier.name, verifier.public_key) != (name, pub):
                errs.append(f"{label}: verifierKey is not of keyName/publicKey")
        if base_dir is not None:
            vfiles = sorted(base_dir.glob(f"{doc.get('name', '')}.vkey"))
            if not vfiles:
                errs.append(f"{label}: no {doc.get('name')}.vkey next to it")
            for vf in vfiles:
                if vf.read_bytes() != vkey.encode() + b"\n":
                    errs.append(f"{label}: {vf.name} is not verifierKey and a newline")
    verifiers = [verifier] if verifier is not None else []

    # --- origin
    origin = doc.get("origin")
    wid, stream = doc.get("writerId"), doc.get("stream")
    if not isinstance(origin, str):
        errs.append(f"{label}: origin missing")
        origin = None
    else:
        try:
            pw, ps = parse_origin(origin)
            if (pw, ps) != (wid, stream):
                errs.append(f"{label}: origin names ({pw!r}, {ps!r}), not writerId/stream")
        except CheckpointError as e:
            errs.append(f"{label}: origin: {e}")
        if isinstance(wid, str) and isinstance(stream, str) and origin_of(wid, stream) != origin:
            errs.append(f"{label}: origin is not e(writerId)/e(stream): {origin_of(wid, stream)!r}")

    # --- leaves
    rh_list = doc.get("recordHashes")
    lh_list = doc.get("leafHashes")
    if not isinstance(rh_list, list) or not isinstance(lh_list, list):
        errs.append(f"{label}: recordHashes/leafHashes missing")
        return res
    record_hashes = [parse_hex(h, 32, f"{label}: recordHashes[{i}]", errs) for i, h in enumerate(rh_list)]
    if len(lh_list) != len(rh_list):
        errs.append(f"{label}: {len(lh_list)} leafHashes for {len(rh_list)} recordHashes")
    leaves: list[bytes] = []
    for i, rh in enumerate(record_hashes):
        lh = leaf_hash(rh) if rh is not None else None
        if lh is not None:
            leaves.append(lh)
        if i < len(lh_list):
            want = parse_hex(lh_list[i], 32, f"{label}: leafHashes[{i}]", errs)
            if lh is not None and want is not None and want != lh:
                errs.append(f"{label}: leafHashes[{i}] is not SHA-256(0x00 || recordHashes[{i}])")
    if len(leaves) != len(rh_list):
        return res  # errors already recorded

    # recordHashes = the `hash` fields of the source chain, in order
    src = doc.get("source")
    if base_dir is not None:
        if not isinstance(src, str):
            errs.append(f"{label}: source missing")
        else:
            sp = (base_dir / src).resolve()
            try:
                sdoc = json.loads(sp.read_text(encoding="utf-8"))
                recs = sdoc["records"]
                hashes = [r["hash"] for r in recs]
            except (OSError, ValueError, KeyError, TypeError) as e:
                errs.append(f"{label}: cannot read source {src}: {e}")
            else:
                if [h.lower() for h in hashes] != [h.lower() for h in rh_list]:
                    errs.append(f"{label}: recordHashes are not the hashes of {src} in order")
                for i, r in enumerate(recs):
                    rec = r.get("record", {}) if isinstance(r, dict) else {}
                    if rec.get("seq") != i + 1:
                        errs.append(f"{label}: {src} record {i} has seq {rec.get('seq')}, want {i + 1}")
                    if (rec.get("writerId"), rec.get("stream")) != (wid, stream):
                        errs.append(f"{label}: {src} record {i} is not of chain ({wid}, {stream})")

    # --- checkpoints
    roots: dict[int, bytes] = {}
    for c, where in _section(doc, "checkpoints", label, res):
        if not isinstance(c, dict) or not _int(c.get("size")):
            errs.append(f"{where}: not an object with an integer size")
            continue
        size = c["size"]
        if not 0 <= size <= len(leaves):
            errs.append(f"{where}: size {size} is not within the {len(leaves)} leaves")
            continue
        root = tree_hash(leaves[:size])
        roots[size] = root
        want_root = parse_hex(c.get("rootHex"), 32, f"{where}: rootHex", errs)
        if want_root is not None and want_root != root:
            errs.append(f"{where}: rootHex {want_root.hex()} != computed tree hash {root.hex()}")
        if c.get("rootBase64") != base64.b64encode(root).decode():
            errs.append(f"{where}: rootBase64 is not the padded base64 of the root")
        want_text = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        if c.get("text") != want_text:
            errs.append(f"{where}: text is not origin/size/root lines")
        signed = c.get("signedNote")
        if not isinstance(signed, str):
            errs.append(f"{where}: signedNote missing")
            continue
        if not signed.startswith(want_text + "\n\u2014 "):
            errs.append(f"{where}: signedNote is not text, a blank line, a signature line")
        try:
            got = open_checkpoint(signed, verifiers, origin)
        except CheckpointError as e:
            errs.append(f"{where}: signedNote refused: {e}")
        else:
            if (got.size, got.root) != (size, root):
                errs.append(f"{where}: signed (size, root) = ({got.size}, {got.root.hex()})")
            note = open_note(signed, verifiers)
            if name is not None and [s.name for s in note.verified] != [name]:
                errs.append(f"{where}: verified signatures are {[s.name for s in note.verified]}")
        f = c.get("file")
        if base_dir is not None:
            if not isinstance(f, str):
                errs.append(f"{where}: file missing")
            else:
                try:
                    if (base_dir / f).read_bytes() != signed.encode("utf-8"):
                        errs.append(f"{where}: {f} is not the bytes of signedNote")
                except OSError as e:
                    errs.append(f"{where}: cannot read {f}: {e}")

    # --- inclusion proofs
    for p, where in _section(doc, "inclusionProofs", label, res):
        if not isinstance(p, dict) or not all(_int(p.get(k)) for k in ("seq", "index", "treeSize")):
            errs.append(f"{where}: seq/index/treeSize missing")
            continue
        idx, n = p["index"], p["treeSize"]
        if p["seq"] != idx + 1:
            errs.append(f"{where}: seq {p['seq']} is not index + 1")
        if n not in roots:
            errs.append(f"{where}: no checkpoint of size {n}")
            continue
        rh = parse_hex(p.get("recordHash"), 32, f"{where}: recordHash", errs)
        lh = parse_hex(p.get("leafHash"), 32, f"{where}: leafHash", errs)
        proof_hex = p.get("proof")
        if rh is None or lh is None or not isinstance(proof_hex, list):
            errs.append(f"{where}: recordHash/leafHash/proof unusable")
            continue
        if 0 <= idx < len(record_hashes) and rh != record_hashes[idx]:
            errs.append(f"{where}: recordHash is not recordHashes[{idx}]")
        if lh != leaf_hash(rh):
            errs.append(f"{where}: leafHash is not SHA-256(0x00 || recordHash)")
        proof = [parse_hex(h, 32, f"{where}: proof[{k}]", errs) for k, h in enumerate(proof_hex)]
        if any(h is None for h in proof):
            continue
        try:
            verify_inclusion(idx, n, leaf_hash(rh), proof, roots[n])
        except CheckpointError as e:
            errs.append(f"{where}: inclusion proof refused: {e}")

    # --- consistency proofs
    for p, where in _section(doc, "consistencyProofs", label, res):
        if not isinstance(p, dict) or not _int(p.get("oldSize")) or not _int(p.get("newSize")):
            errs.append(f"{where}: oldSize/newSize missing")
            continue
        m, n = p["oldSize"], p["newSize"]
        old_root = parse_hex(p.get("oldRoot"), 32, f"{where}: oldRoot", errs)
        new_root = parse_hex(p.get("newRoot"), 32, f"{where}: newRoot", errs)
        proof_hex = p.get("proof")
        if old_root is None or new_root is None or not isinstance(proof_hex, list):
            continue
        for sz, r, what in ((m, old_root, "oldRoot"), (n, new_root, "newRoot")):
            if sz not in roots:
                errs.append(f"{where}: no checkpoint of size {sz}")
            elif roots[sz] != r:
                errs.append(f"{where}: {what} is not the root of the checkpoint of size {sz}")
        proof = [parse_hex(h, 32, f"{where}: proof[{k}]", errs) for k, h in enumerate(proof_hex)]
        if any(h is None for h in proof):
            continue
        try:
            verify_consistency(m, n, old_root, new_root, proof)
        except CheckpointError as e:
            errs.append(f"{where}: consistency proof refused: {e}")

    # --- notes that must be refused
    for v, where in _section(doc, "invalid", label, res):
        where += f" {v.get('name') if isinstance(v, dict) else None}"
        if not isinstance(v, dict) or not isinstance(v.get("signedNote"), str):
            errs.append(f"{where}: signedNote missing")
            continue
        try:
            got = open_checkpoint(v["signedNote"], verifiers, origin)
        except CheckpointError as e:
            if v.get("reason") != e.reason:
                errs.append(f"{where}: refused as {e.reason} ({e.message}), vector says {v.get('reason')}")
        else:
            errs.append(f"{where}: accepted ({got.size}, {got.root.hex()}), must be refused")
    return res


def check_checkpoint_file(path: Path | str) -> CheckpointFileResult:
    path = Path(path)
    label = f"{path.parent.name}/{path.name}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return CheckpointFileResult(Path(label), 0, [f"{label}: cannot read JSON: {e}"])
    return check_checkpoint_vector(doc, label, path.parent)


def checkpoint_vector_files(directory: Path | str) -> list[Path]:
    """The checkpoint vector files of a vectors dir (its checkpoints/*.json)."""
    sub = Path(directory) / "checkpoints"
    return sorted(sub.glob("*.json")) if sub.is_dir() else []
