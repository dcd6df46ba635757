"""Python foreign reader for ron-audit test vectors (schema v1).

Checks every record of every ``*.json`` vector file the way
``testing/vectors/v1/README.md`` describes:

1. ``canonical`` decodes (pycapnp, using ``schema/audit.capnp``) as a
   single-segment Cap'n Proto message without a segment table whose root is an
   ``AuditRecord``, and every decoded field equals the JSON ``record``; the
   values follow the rules of ``canonical/SPEC.md`` section 3, and the bytes
   are exactly the canonical encoding (section 2, by the schema-driven
   encoder below) of what they decode to (``open_strict``, section 7).
2. ``hash`` is BLAKE3 derive_key("ron-audit 2026-11-27 record hash v1") of the
   canonical bytes.
3. ``signature`` is a valid Ed25519 signature by ``publicKey`` over
   ``b"RONAUDIT-SIG-V1" + hash``.
4. When ``chain`` is true: every record is of the first one's (writerId,
   stream), seq starts at 1 with prev = 32 zero bytes, and each later record
   has seq + 1 and prev = the previous record's hash.

5. ``dedupeKey``, when a record has one (the drill's evolution vectors have
   none): BLAKE3 derive_key("ron-audit 2026-11-27 dedupe key v1") of the
   canonical bytes of the same record with ``seq`` = 0 and ``prev`` empty,
   by the same encoder as step 1 (``dedupe_key``).

When the directory has a ``checkpoints`` subfolder, each of its ``*.json``
files is checked too (signed checkpoints, Merkle roots, inclusion and
consistency proofs, notes that must be refused), by ``ronaudit_checkpoint``,
and counted in the summary like a record vector file. So is each negative
vector file of its ``invalid`` subfolder (``records.json``: bytes
``open_strict`` must refuse although their hash and signature verify;
``chains.json``: chains the chain check must refuse at ``failsAt``), read
with schema v1 whatever ``RONAUDIT_SCHEMA`` says, and each ``*.json`` of its
``bundles`` subfolder (export bundle cases, each to its expected verdict,
by ``ronaudit_bundle``). ``check_layout`` fails a directory holding anything
of those the reader would not read, so no vector is skipped unseen.

Usage: ``python ronaudit_reader.py <vectors dir>``
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import blake3
import capnp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import ronaudit_checkpoint

HERE = Path(__file__).resolve().parent
SCHEMA_PATH = Path(
    os.environ.get("RONAUDIT_SCHEMA", HERE / ".." / ".." / ".." / "schema" / "audit.capnp")
)
DEFAULT_VECTORS_DIR = HERE / ".." / ".." / "vectors" / "v1"

HASH_CONTEXT = "ron-audit 2026-11-27 record hash v1"
DEDUPE_CONTEXT = "ron-audit 2026-11-27 dedupe key v1"
SIG_PREFIX = b"RONAUDIT-SIG-V1"
HASH_LEN = 32
SIG_LEN = 64
PUBKEY_LEN = 32
# canonical/SPEC.md section 4: a record is at most this many canonical
# bytes (Go's canonical.MaxRecordSize); the strict open refuses more.
MAX_RECORD_SIZE = 65536

_schema = None
_other_schemas: dict[Path, Any] = {}


def load_schema(path: Path | None = None):
    """Load (once) and return the schema module of ``path``, by default
    SCHEMA_PATH (audit.capnp, or what RONAUDIT_SCHEMA names)."""
    global _schema
    if path is not None and path.resolve() != SCHEMA_PATH.resolve():
        path = path.resolve()
        if path not in _other_schemas:
            _other_schemas[path] = capnp.SchemaParser().load(str(path))
        return _other_schemas[path]
    if _schema is None:
        path = SCHEMA_PATH.resolve()
        if not path.is_file():
            raise FileNotFoundError(f"schema not found: {path}")
        # A parser of its own: the v1 and v2 schemas share a file id, which
        # one parser (capnp.load's global one) refuses to load twice.
        _schema = capnp.SchemaParser().load(str(path))
    return _schema


class DecodeError(Exception):
    """The canonical bytes are not a readable AuditRecord message."""


# --------------------------------------------------------------------------
# Decoding and rendering


def _render_value(value: Any) -> Any:
    """Render one decoded value the way the vector files do."""
    if isinstance(value, capnp.lib.capnp._DynamicStructReader):
        return _render_struct(value)
    if isinstance(value, capnp.lib.capnp._DynamicListReader):
        return [_render_value(v) for v in value]
    if isinstance(value, capnp.lib.capnp._DynamicEnum):
        try:
            return str(value)  # enumerant name
        except RuntimeError:
            # A value this schema has no enumerant for: render the raw number,
            # which can never equal a rendering's enumerant name.
            return value.raw
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (bool, int, float, str)):
        return value
    raise DecodeError(f"unsupported decoded value type {type(value).__name__}")


def _render_struct(reader) -> dict:
    """Render every field of a struct reader, in schema declaration order.

    Absent values come out as their defaults: "" for Text/Data, [] for lists,
    a struct with all-default fields for structs.
    """
    out = {}
    for f in reader.schema.node.struct.fields:
        if f.which() != "slot":
            raise DecodeError(f"field {f.name}: groups are not supported")
        out[f.name] = _render_value(reader._get(f.name))
    return out


def decode_record(data: bytes, schema_path: Path | None = None) -> dict:
    """Decode canonical bytes (one segment, no segment table) into a rendering.

    Raises DecodeError when the bytes are not a readable AuditRecord. It
    checks neither canonical form nor the field rules: open_strict does.
    """
    return _decode(data, schema_path, strict=False)


def open_strict(data: bytes, schema_path: Path | None = None) -> dict:
    """Strict reading (canonical/SPEC.md section 7): the rendering of
    ``data`` if they are exactly the canonical bytes of a valid record,
    else DecodeError: the bytes are more than section 4's 65,536
    (``too large: ...``), the values break a rule of section 3 (``rule: ...``),
    or re-encoding what pycapnp decoded (only the schema's fields, empty
    values as null pointers) gives other bytes (``not canonical: ...``)."""
    return _decode(data, schema_path, strict=True)


def _decode(data: bytes, schema_path: Path | None, strict: bool) -> dict:
    if len(data) == 0:
        raise DecodeError("canonical bytes are empty")
    if len(data) % 8 != 0:
        raise DecodeError(
            f"canonical length {len(data)} is not a whole number of 8-byte words"
        )
    if strict and len(data) > MAX_RECORD_SIZE:
        raise DecodeError(
            f"too large: {len(data)} canonical bytes, a record is at most {MAX_RECORD_SIZE}"
        )
    schema = load_schema(schema_path)
    try:
        reader = schema.AuditRecord.from_segments([data])
        # Render everything while `data` is alive; every pointer is followed
        # here, so bounds errors surface as exceptions. (Do not call
        # reader.total_size on unchecked input: in pycapnp 2.2.4 a bad pointer
        # there aborts the whole process.)
        rendering = _render_struct(reader)
        if strict:
            check_rules(rendering)
            enc = canonical_encoding(reader)
            if enc != data:
                raise DecodeError(
                    "not canonical: the canonical encoding of the decoded record is other "
                    f"bytes ({len(enc)} bytes, first difference at byte "
                    f"{_first_diff(enc, data)})"
                )
        return rendering
    except DecodeError:
        raise
    except (capnp.KjException, RuntimeError, UnicodeDecodeError, ValueError) as e:
        raise DecodeError(f"{type(e).__name__}: {_short(str(e))}") from e


def _first_diff(a: bytes, b: bytes) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def check_rules(r: dict) -> None:
    """The value rules of canonical/SPEC.md section 3 that Cap'n Proto does
    not know (NUL in text is refused by the encoder); raises DecodeError."""
    if r.get("v") != 1:
        raise DecodeError(f"rule: v is {r.get('v')}, want 1")
    if not isinstance(r.get("kind"), str):
        raise DecodeError(f"rule: kind {r.get('kind')} is not an enumerant of the schema")
    if not r.get("seq"):
        raise DecodeError("rule: seq is 0, want >= 1")
    for f in ("writerId", "stream"):
        if not r.get(f):
            raise DecodeError(f"rule: {f} is empty")
    if len(bytes.fromhex(r.get("prev", ""))) != HASH_LEN:
        raise DecodeError(f"rule: prev is {len(r.get('prev', '')) // 2} bytes, want {HASH_LEN}")
    keys = [a["key"] for a in r.get("attrs", [])]
    for i, k in enumerate(keys):
        if not k:
            raise DecodeError(f"rule: attrs[{i}].key is empty")
        if i > 0 and keys[i - 1].encode("utf-8") >= k.encode("utf-8"):
            raise DecodeError(
                f"rule: attrs[{i}].key {k!r} does not sort after {keys[i - 1]!r} "
                "(bytewise, keys unique)"
            )


# --------------------------------------------------------------------------
# Canonical encoder (canonical/SPEC.md section 2), driven by the schema: it
# writes what a pycapnp reader holds, field by field, so anything the schema
# does not know (wider sections, stray data bits) and any non-null empty
# value is missing from its bytes.

_DATA_BITS = {"bool": 1, "uint8": 8, "uint16": 16, "enum": 16, "uint32": 32, "uint64": 64}


def _text_obj(s: str, name: str) -> tuple | None:
    if "\x00" in s:
        raise DecodeError(f"rule: field {name} holds a NUL byte")
    b = s.encode("utf-8")
    return ("bytes", b + b"\x00") if b else None  # rule 6: empty is null


def canonical_encoding(reader, overrides: dict[str, Any] | None = None) -> bytes:
    """The canonical bytes (section 2) of what a root AuditRecord reader
    holds, with the top-level fields named in ``overrides`` taking the
    given values instead (the dedupe key's ``seq`` = 0, ``prev`` empty)."""
    enc = _Encoder()
    enc.alloc(1)  # root pointer
    enc.put(0, _struct(*_encode_fields(reader, overrides=overrides)))
    return bytes(enc.buf)


def _encode_fields(
    reader, path: str = "", overrides: dict[str, Any] | None = None
) -> tuple[list[int], list[Any]]:
    """Data words and pointer objects of a struct reader, every field of
    its schema at its place (the schema's own section sizes); a field
    named in ``overrides`` is written with that value."""
    node = reader.schema.node
    data = [0] * node.struct.dataWordCount
    ptrs: list[Any] = [None] * node.struct.pointerCount
    overrides = overrides or {}
    for f in node.struct.fields:
        name = f"{path}{f.name}"
        if f.which() != "slot" or f.discriminantValue != 0xFFFF or f.slot.hadExplicitDefault:
            raise DecodeError(f"field {name}: groups, unions and explicit defaults are not supported")
        t, off = f.slot.type.which(), f.slot.offset
        v = overrides[f.name] if f.name in overrides else reader._get(f.name)
        if t in _DATA_BITS:
            width = _DATA_BITS[t]
            x = v.raw if t == "enum" else int(v)
            bit = off * width
            data[bit // 64] |= x << (bit % 64)
        elif t == "text":
            ptrs[off] = _text_obj(v, name)
        elif t == "data":
            ptrs[off] = ("bytes", bytes(v)) if len(v) else None
        elif t == "struct":
            ptrs[off] = _struct(*_encode_fields(v, f"{name}."))
        elif t == "list" and f.slot.type.list.elementType.which() == "struct":
            ptrs[off] = _struct_list(
                [_encode_fields(e, f"{name}[{i}].") for i, e in enumerate(v)]
            )
        else:
            raise DecodeError(f"field {name}: type {t} is not supported")
    return data, ptrs


def _trim(data: list[int], ptrs: list[Any]) -> tuple[list[int], list[Any]]:
    data, ptrs = list(data), list(ptrs)
    while data and data[-1] == 0:
        data.pop()
    while ptrs and ptrs[-1] is None:
        ptrs.pop()
    return data, ptrs


def _struct(data: list[int], ptrs: list[Any]) -> tuple | None:
    data, ptrs = _trim(data, ptrs)
    if not data and not ptrs:
        return None  # rule 6: an empty struct is null
    return ("struct", data, ptrs)


def _struct_list(elems: list[tuple[list[int], list[Any]]]) -> tuple | None:
    if not elems:
        return None  # rule 6: an empty list is null
    trimmed = [_trim(d, p) for d, p in elems]
    dw = max(len(d) for d, _ in trimmed)
    pc = max(len(p) for _, p in trimmed)
    padded = [(d + [0] * (dw - len(d)), p + [None] * (pc - len(p))) for d, p in trimmed]
    return ("list", dw, pc, padded)


class _Encoder:
    """Lays objects out in preorder (section 2), each right after the last."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def alloc(self, words: int) -> int:
        pos = len(self.buf) // 8
        self.buf += bytes(8 * words)
        return pos

    def word(self, pos: int, w: int) -> None:
        self.buf[8 * pos : 8 * pos + 8] = (w & (2**64 - 1)).to_bytes(8, "little")

    def put(self, ptr: int, obj: tuple | None) -> None:
        """Lay ``obj`` out at the end and point word ``ptr`` at it."""
        if obj is None:
            return
        if obj[0] == "bytes":
            b = obj[1]
            start = self.alloc((len(b) + 7) // 8)
            self.buf[8 * start : 8 * start + len(b)] = b
            self.word(ptr, 1 | ((start - ptr - 1) << 2) | (2 << 32) | (len(b) << 35))
        elif obj[0] == "struct":
            _, data, ptrs = obj
            start = self.alloc(len(data) + len(ptrs))
            for i, w in enumerate(data):
                self.word(start + i, w)
            self.word(ptr, ((start - ptr - 1) << 2) | (len(data) << 32) | (len(ptrs) << 48))
            for i, p in enumerate(ptrs):
                self.put(start + len(data) + i, p)
        else:  # composite list: tag word, the elements, then their objects
            _, dw, pc, elems = obj
            words = len(elems) * (dw + pc)
            tag = self.alloc(1 + words)
            self.word(tag, (len(elems) << 2) | (dw << 32) | (pc << 48))
            self.word(ptr, 1 | ((tag - ptr - 1) << 2) | (7 << 32) | (words << 35))
            for j, (data, _) in enumerate(elems):
                for i, w in enumerate(data):
                    self.word(tag + 1 + j * (dw + pc) + i, w)
            for j, (_, ptrs) in enumerate(elems):
                for i, p in enumerate(ptrs):
                    self.put(tag + 1 + j * (dw + pc) + dw + i, p)


def _short(msg: str, limit: int = 300) -> str:
    msg = msg.strip().splitlines()[0] if msg.strip() else msg
    return msg if len(msg) <= limit else msg[:limit] + "..."


def _same(a: Any, b: Any) -> bool:
    """Equality that does not confuse bool with int (True == 1 in Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return type(a) is type(b) and a == b


REPO = HERE / ".." / ".." / ".."
V1_SCHEMA = REPO / "schema" / "audit.capnp"


def added_paths(rendering_schema: Path) -> set[str]:
    """Rendering paths of the fields the reading schema (SCHEMA_PATH) has
    and the schema a vector file was rendered with does not: those, and
    only those, a rendering may lack (when they decode as defaults)."""
    if rendering_schema.resolve() == SCHEMA_PATH.resolve():
        return set()
    # load_schema keeps the module (and so its parser) alive: the schema of
    # a parser that was let go reads freed memory (in pycapnp 2.2.4 the
    # walk below then fails with KeyError on a field it has).
    old = load_schema(rendering_schema).AuditRecord.schema
    new = load_schema().AuditRecord.schema
    out: set[str] = set()

    def walk(o, n, prefix: str) -> None:
        old_fields = {f.name: f for f in o.node.struct.fields}
        for f in n.node.struct.fields:
            if f.name not in old_fields:
                out.add(f"{prefix}.{f.name}")
            elif f.slot.type.which() == "struct":
                walk(o.fields[f.name].schema, n.fields[f.name].schema, f"{prefix}.{f.name}")

    walk(old, new, "record")
    return out


def _is_default(v: Any) -> bool:
    """Whether a decoded rendering is a field's default: 0, false, "", [],
    or a struct of defaults (enums render by name, so an enum field added
    later counts as absent only at its first enumerant)."""
    if isinstance(v, dict):
        return all(_is_default(x) for x in v.values())
    if isinstance(v, bool):
        return v is False
    return v in (0, "", [])


def compare_rendering(
    decoded: Any, expected: Any, path: str = "record", may_lack: frozenset[str] = frozenset()
) -> list[str]:
    """Compare a decoded rendering with the JSON rendering; return mismatches."""
    errs: list[str] = []
    if isinstance(decoded, dict):
        if not isinstance(expected, dict):
            return [f"{path}: decoded a struct, rendering has {json.dumps(expected)}"]
        for k, v in decoded.items():
            if k not in expected:
                # A rendering written under an older schema lacks the fields
                # added since (may_lack): they must decode as their defaults.
                if f"{path}.{k}" not in may_lack or not _is_default(v):
                    errs.append(f"{path}.{k}: missing from rendering (decoded {json.dumps(v)})")
            else:
                errs.extend(compare_rendering(v, expected[k], f"{path}.{k}", may_lack))
        for k in expected:
            if k not in decoded:
                errs.append(f"{path}.{k}: rendering has a field the schema does not")
        return errs
    if isinstance(decoded, list):
        if not isinstance(expected, list):
            return [f"{path}: decoded a list, rendering has {json.dumps(expected)}"]
        if len(decoded) != len(expected):
            errs.append(
                f"{path}: decoded {len(decoded)} elements, rendering has {len(expected)}"
            )
        for i, (d, e) in enumerate(zip(decoded, expected)):
            errs.extend(compare_rendering(d, e, f"{path}[{i}]", may_lack))
        return errs
    if not _same(decoded, expected):
        errs.append(
            f"{path}: decoded {json.dumps(decoded, ensure_ascii=False)} "
            f"!= rendering {json.dumps(expected, ensure_ascii=False)}"
        )
    return errs


# --------------------------------------------------------------------------
# Hash and signature


def record_hash(data: bytes) -> bytes:
    """BLAKE3 derive_key record hash of canonical bytes."""
    return blake3.blake3(data, derive_key_context=HASH_CONTEXT).digest()


def dedupe_key(data: bytes, schema_path: Path | None = None) -> bytes:
    """README check 5: BLAKE3 derive_key(DEDUPE_CONTEXT) of the canonical
    bytes of the record ``data`` holds with seq = 0 and prev empty (which
    are not the bytes of a valid record: the dedupe key names the event,
    not its place in the chain). Raises DecodeError if ``data`` does not
    decode."""
    schema = load_schema(schema_path)
    try:
        reader = schema.AuditRecord.from_segments([data])
        enc = canonical_encoding(reader, {"seq": 0, "prev": b""})
    except DecodeError:
        raise
    except (capnp.KjException, RuntimeError, UnicodeDecodeError, ValueError) as e:
        raise DecodeError(f"{type(e).__name__}: {_short(str(e))}") from e
    return blake3.blake3(enc, derive_key_context=DEDUPE_CONTEXT).digest()


def signing_message(h: bytes) -> bytes:
    return SIG_PREFIX + h


def verify_signature(public_key: bytes, signature: bytes, h: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signing_message(h))
        return True
    except InvalidSignature:
        return False


def _hex_field(obj: dict, key: str, length: int | None, where: str, errs: list[str]):
    """Parse obj[key] as hex (of `length` bytes if given); record errors."""
    return ronaudit_checkpoint.parse_hex(obj.get(key), length, f"{where}: '{key}'", errs)


# --------------------------------------------------------------------------
# Files


@dataclass
class FileResult:
    path: Path
    records: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_vector(doc: Any, label: str) -> FileResult:
    """Check one parsed vector document; `label` names it in errors."""
    res = FileResult(Path(label))
    errs = res.errors
    if not isinstance(doc, dict):
        errs.append(f"{label}: top level is not a JSON object")
        return res
    if not isinstance(doc.get("name"), str):
        errs.append(f"{label}: 'name' missing or not a string")
    chain = doc.get("chain")
    if not isinstance(chain, bool):
        errs.append(f"{label}: 'chain' missing or not a boolean")
        chain = False
    pub = _hex_field(doc, "publicKey", PUBKEY_LEN, label, errs)
    if pub is not None:
        try:
            Ed25519PublicKey.from_public_bytes(pub)
        except ValueError as e:
            errs.append(f"{label}: publicKey is not a valid Ed25519 key: {e}")
            pub = None
    # The schema the rendering was written with: the file's "schema" (a
    # repository path), else v1.
    schema_name = doc.get("schema", "schema/audit.capnp")
    if not isinstance(schema_name, str) or not (REPO / schema_name).is_file():
        errs.append(f"{label}: 'schema' {json.dumps(schema_name)} is not a schema file of the repository")
        return res
    may_lack = frozenset(added_paths(REPO / schema_name))
    records = doc.get("records")
    if not isinstance(records, list) or not records:
        errs.append(f"{label}: 'records' missing, not a list or empty")
        return res
    res.records = len(records)

    prev_hash: bytes | None = None  # recomputed hash of the previous record
    prev_seq: int | None = None
    chain_id: tuple | None = None  # (writerId, stream) of the first record
    for i, entry in enumerate(records):
        where = f"{label}: record {i}"
        if not isinstance(entry, dict):
            errs.append(f"{where}: not a JSON object")
            prev_hash = prev_seq = None
            continue
        data = _hex_field(entry, "canonical", None, where, errs)
        want_hash = _hex_field(entry, "hash", HASH_LEN, where, errs)
        sig = _hex_field(entry, "signature", SIG_LEN, where, errs)
        expected = entry.get("record")
        if not isinstance(expected, dict):
            errs.append(f"{where}: 'record' rendering missing or not an object")

        # 1. decode and compare every field; the bytes are exactly the
        # canonical bytes of a valid record
        decoded = None
        if data is not None:
            try:
                decoded = decode_record(data)
            except DecodeError as e:
                errs.append(f"{where}: canonical bytes do not decode: {e}")
            else:
                try:
                    open_strict(data)
                except DecodeError as e:
                    errs.append(f"{where}: canonical bytes refused: {e}")
        if decoded is not None and isinstance(expected, dict):
            for m in compare_rendering(decoded, expected, may_lack=may_lack):
                errs.append(f"{where}: field mismatch: {m}")

        # 5. dedupe key, when the record has one
        if "dedupeKey" in entry:
            want_key = _hex_field(entry, "dedupeKey", HASH_LEN, where, errs)
            if decoded is not None and want_key is not None:
                got_key = dedupe_key(data)
                if got_key != want_key:
                    errs.append(
                        f"{where}: dedupeKey mismatch: computed {got_key.hex()}, "
                        f"vector has {want_key.hex()}"
                    )

        # 2. hash
        h = record_hash(data) if data is not None else None
        if h is not None and want_hash is not None and h != want_hash:
            errs.append(
                f"{where}: hash mismatch: computed {h.hex()}, vector has {want_hash.hex()}"
            )

        # 3. signature (over the hash the vector states; if that differs from
        # the computed one, the hash check above has already failed)
        if pub is not None and sig is not None and want_hash is not None:
            if not verify_signature(pub, sig, want_hash):
                errs.append(f"{where}: Ed25519 signature does not verify")

        # 4. chain links (from the decoded record, else the rendering)
        src = decoded if decoded is not None else (expected if isinstance(expected, dict) else {})
        seq = src.get("seq")
        prev_hex = src.get("prev")
        if chain:
            cid = (src.get("writerId"), src.get("stream"))
            if chain_id is None:
                chain_id = cid
            elif cid != chain_id:
                errs.append(f"{where}: chain: record is of {cid}, not of the chain {chain_id}")
            if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(prev_hex, str):
                errs.append(f"{where}: chain: record has no usable seq/prev")
            elif i == 0:
                if seq != 1:
                    errs.append(f"{where}: chain: first record has seq {seq}, want 1")
                if prev_hex != "00" * HASH_LEN:
                    errs.append(
                        f"{where}: chain: first record has prev {prev_hex!r}, want 32 zero bytes"
                    )
            else:
                if prev_seq is not None and seq != prev_seq + 1:
                    errs.append(
                        f"{where}: chain: seq {seq} does not follow previous seq {prev_seq}"
                    )
                if prev_hash is not None and prev_hex != prev_hash.hex():
                    errs.append(
                        f"{where}: chain: prev {prev_hex} != hash of record {i - 1} "
                        f"({prev_hash.hex()})"
                    )
        prev_hash = h
        prev_seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    return res


def check_file(path: Path | str) -> FileResult:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return FileResult(path, 0, [f"{path.name}: cannot read JSON: {e}"])
    res = check_vector(doc, path.name)
    res.path = path
    return res


def vector_files(directory: Path | str) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))


def check_dir(directory: Path | str) -> list[FileResult]:
    return [check_file(p) for p in vector_files(directory)]


# --------------------------------------------------------------------------
# Negative vectors (the vectors dir's invalid/, README "Negative vectors")

INVALID_FILES = ("records.json", "chains.json")


def invalid_vector_files(directory: Path | str) -> list[Path]:
    """The negative vector files of a vectors dir: none without an
    ``invalid`` subfolder, else both (a missing one fails when read)."""
    sub = Path(directory) / "invalid"
    return [sub / n for n in INVALID_FILES] if sub.is_dir() else []


def _negative_entries(
    doc: Any, key: str, noun: str, label: str, res: FileResult
) -> Iterator[tuple[dict, str]]:
    """Each entry of the non-empty list ``doc[key]`` that is a JSON object,
    with the place to name in its errors; counts them in ``res.records`` and
    records in ``res.errors`` what is not as it must be."""
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        res.errors.append(f"{label}: '{key}' missing, not a list or empty")
        return
    res.records = len(items)
    for i, entry in enumerate(items):
        if not isinstance(entry, dict):
            res.errors.append(f"{label}: {noun} {i}: not a JSON object")
            continue
        yield entry, f"{label}: {noun} {i} {entry.get('name')}"


def check_invalid_records(doc: Any, label: str) -> FileResult:
    """Every record has the right hash and a valid signature by
    ``publicKey`` (a refusal then proves the rule it breaks), and
    open_strict refuses it, with schema v1 (the vectors' schema)."""
    res = FileResult(Path(label))
    errs = res.errors
    if not isinstance(doc, dict):
        errs.append(f"{label}: top level is not a JSON object")
        return res
    pub = _hex_field(doc, "publicKey", PUBKEY_LEN, label, errs)
    for entry, where in _negative_entries(doc, "records", "record", label, res):
        data = _hex_field(entry, "canonical", None, where, errs)
        want_hash = _hex_field(entry, "hash", HASH_LEN, where, errs)
        sig = _hex_field(entry, "signature", SIG_LEN, where, errs)
        if data is None or want_hash is None or sig is None or pub is None:
            continue
        h = record_hash(data)
        if h != want_hash:
            errs.append(f"{where}: vector: hash is not the hash of the bytes ({h.hex()}), "
                        "so a refusal proves nothing")
        if not verify_signature(pub, sig, h):
            errs.append(f"{where}: vector: signature does not verify, so a refusal proves nothing")
        try:
            r = open_strict(data, V1_SCHEMA)
        except DecodeError:
            continue
        errs.append(f"{where}: accepted (seq {r['seq']}, writerId {r['writerId']!r}), "
                    f"but it breaks: {entry.get('rule')}")
    return res


def check_invalid_chains(doc: Any, label: str) -> FileResult:
    """Each chain, checked as a vector file with ``"chain": true``, fails
    at record ``failsAt`` and only there, on chain checks alone."""
    res = FileResult(Path(label))
    errs = res.errors
    for c, where in _negative_entries(doc, "chains", "chain", label, res):
        at = c.get("failsAt")
        if not isinstance(at, int) or isinstance(at, bool):
            errs.append(f"{where}: 'failsAt' missing or not an integer")
            continue
        sub = {"name": str(c.get("name", "?")), "chain": True, "publicKey": doc.get("publicKey"),
               "records": c.get("records")}
        got = check_vector(sub, where).errors
        if not got:
            errs.append(f"{where}: accepted, but it breaks: {c.get('rule')}")
        for e in got:
            if not e.startswith(f"{where}: record {at}: chain: "):
                errs.append(f"{where}: want only chain failures at record {at}, got: {e}")
    return res


def check_invalid_file(path: Path) -> FileResult:
    label = f"{path.parent.name}/{path.name}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return FileResult(Path(label), 0, [f"{label}: cannot read JSON: {e}"])
    if path.name == "records.json":
        return check_invalid_records(doc, label)
    return check_invalid_chains(doc, label)


# --------------------------------------------------------------------------
# Layout of a vectors dir

# The subdirectories of a vectors dir this reader checks: the negative
# vectors, the checkpoint vectors and the export bundle vectors. A vectors
# dir of a released schema (testing/vectors/vN) has all three; the drill's
# none.
SUBDIRS = ("invalid", "checkpoints", "bundles")


def bundle_vector_files(directory: Path | str) -> list[Path]:
    """The bundle vector files of a vectors dir (its bundles/*.json)."""
    sub = Path(directory) / "bundles"
    return sorted(sub.glob("*.json")) if sub.is_dir() else []


def check_layout(directory: Path | str) -> list[str]:
    """What in a vectors dir this reader would skip without a word, one
    line each: a subdirectory it does not check, a ``*.json`` of
    ``invalid/`` other than INVALID_FILES, a ``checkpoints/`` or
    ``bundles/`` without ``*.json`` files, and some but not all of SUBDIRS
    (a release's dir has all three, so a missing one was lost)."""
    directory = Path(directory)
    subdirs = sorted(p.name for p in directory.iterdir() if p.is_dir())
    out = [f"{s}/: a subdirectory this reader does not check (it knows {list(SUBDIRS)}), "
           "so its vectors would go unread" for s in subdirs if s not in SUBDIRS]
    has = [s for s in SUBDIRS if s in subdirs]
    if has and len(has) != len(SUBDIRS):
        out += [f"{s}/ missing: the directory has {has}, and a release's vectors have all "
                f"of {list(SUBDIRS)}" for s in SUBDIRS if s not in has]
    for s in has:
        files = sorted((directory / s).glob("*.json"))
        if not files:
            out.append(f"{s}/ holds no *.json vector file")
        elif s == "invalid":
            out += [f"invalid/{f.name}: not a negative vector file this reader reads (it reads "
                    f"{list(INVALID_FILES)})" for f in files if f.name not in INVALID_FILES]
    return out


def _show(label: str, errors: list[str], what: str) -> bool:
    """Print one checked file's PASS or FAIL line and its errors; True if
    it passed."""
    if not errors:
        print(f"PASS {label} ({what})")
        return True
    print(f"FAIL {label} ({what}, {len(errors)} errors)")
    for e in errors:
        print(f"  {e}")
    return False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python ronaudit_reader.py <vectors dir>", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    if not directory.is_dir():
        print(f"python-reader: {directory} is not a directory", file=sys.stderr)
        return 2
    load_schema()
    results = check_dir(directory)
    if not results:
        print(f"python-reader: no *.json vector files in {directory}", file=sys.stderr)
        return 1
    shown = [_show(r.path.name, r.errors, f"{r.records} records") for r in results]
    for p in ronaudit_checkpoint.checkpoint_vector_files(directory):
        c = ronaudit_checkpoint.check_checkpoint_file(p)
        shown.append(_show(f"{p.parent.name}/{p.name}", c.errors,
                           f"{c.items} checkpoints, proofs and refusals"))
    for p in invalid_vector_files(directory):
        r = check_invalid_file(p)
        shown.append(_show(f"{p.parent.name}/{p.name}", r.errors,
                           f"{r.records} refused, as they must be" if r.ok
                           else f"{r.records} that must be refused"))
    import ronaudit_bundle  # imports this module: not at the top

    for p in bundle_vector_files(directory):
        n, errs = ronaudit_bundle.check_vector_file(p)
        shown.append(_show(f"{p.parent.name}/{p.name}", errs,
                           f"{n} bundle cases, each with its expected verdict"))
    shown.append(_show("layout", check_layout(directory),
                       f"subdirectories {', '.join(SUBDIRS)}: nothing left unread"))
    passed, failed = shown.count(True), shown.count(False)
    print(f"python-reader: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
