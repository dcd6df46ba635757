// Package canonical owns the byte format of ron-audit records: the bytes
// that are hashed, chained and signed, forever. SPEC.md in this directory is
// the full specification, with a worked example in hex that the tests
// compare with this code; this comment is its summary.
//
// A record is a Cap'n Proto AuditRecord (schema/audit.capnp). Its canonical
// bytes are the Cap'n Proto canonical form (one segment, no segment table,
// preorder, truncated sections, zeroed padding) with one more rule: an empty
// value (Text, Data, list, or a struct whose fields all hold defaults) is a
// null pointer. Attrs are sorted by key, bytewise, keys unique and non-empty;
// text is valid UTF-8 without NUL and is never Unicode-normalized; v is 1,
// seq >= 1, prev is 32 bytes, writerId and stream are non-empty. A record is
// at most MaxRecordSize bytes; writers apply Limits (4 KiB per record, 1 KiB
// of attrs by default).
//
// The record hash is BLAKE3 derive_key with context HashContext over the
// canonical bytes; b3sum --derive-key reproduces it. A chain starts with
// seq 1 and prev = Genesis (32 zero bytes); each next record's prev is the
// hash of the one before. A signature is Ed25519 over SigPrefix followed by
// the hash. The dedupe key is BLAKE3 derive_key with DedupeContext over the
// canonical bytes of the record with seq 0 and no prev.
//
// Writing: fill an AuditRecord and call AppendRecord, which normalizes,
// checks and appends the canonical bytes to a buffer without allocating
// when the buffer has room. Reading: Open checks that a byte string is
// exactly the canonical bytes of a valid record and returns a zero-copy
// AuditRecordView. Errors are typed (*FieldError, *SizeError,
// *NonCanonicalError) and match ErrInvalid, ErrTooLarge or ErrNotCanonical.
//
// The AuditRecord types, encoders and views are generated from the schema by
// gen/ (file audit.capnp.go); the rest of the package is hand-written.
package canonical
