# The evolution drill's version 2 of schema/audit.capnp: the same file,
# struct and enum ids, and additions only (a data field, a pointer field, a
# nested struct, an enum value). gen/internal/auditv2 is generated from it
# and its tests show v1 records opening and hashing unchanged under v2 code.
# It is not a released schema.
#
# Cap'n Proto schema of ron-audit records, version 1.
#
# The bytes that are hashed and signed are the Cap'n Proto canonical encoding
# of one AuditRecord, with one extra rule: an empty value (empty Text or Data,
# an empty list, a nested struct whose fields all hold their defaults) is
# written as a null pointer. canonical/SPEC.md is the full specification.
#
# Compatibility: this file only grows. Never renumber, retype or remove a
# field, never change a default or an id; `make schema-check` enforces it.

@0xd394c48b34a2eab4;

struct AuditRecord @0xa1210ae6526415e8 {
  # One audit event, as written by one writer into one stream. Records of a
  # (writerId, stream) pair form a hash chain: seq counts up from 1 and prev
  # holds the record hash of the record before.

  v @0 :UInt16;
  # Schema major version of the record. Always 1 for records of this schema.

  kind @1 :Kind;
  # What happened.

  seq @2 :UInt64;
  # Position in the chain of (writerId, stream): 1 for the first record, then
  # exactly one more than the record before.

  tsMs @3 :UInt64;
  # Wall-clock time of the event in milliseconds since the Unix epoch (UTC).

  writerId @4 :Text;
  # Who writes the chain, e.g. "svc-gateway@inst-1". Required.

  stream @5 :Text;
  # Name of the chain within the writer, e.g. "caps". Required.

  actor @6 :Actor;
  # Who caused the event. Absent when every actor field is empty.

  subject @7 :Subject;
  # What the event is about. Absent when every subject field is empty.

  reason @8 :Text;
  # Short human-readable reason, e.g. "quota exceeded".

  attrs @9 :List(Attr);
  # Extra key/value attributes, sorted by key (bytewise), keys unique.

  prev @10 :Data;
  # Record hash (32 bytes) of the previous record of the chain; 32 zero
  # bytes for the first record (seq 1).

  region @11 :UInt32;
  # v2: the region of the writer (a data field).

  traceId @12 :Text;
  # v2: a distributed-trace id (a pointer field).

  origin @13 :Origin;
  # v2: where the event came from (a nested struct).
}

struct Origin @0xf4c2a9e7b1d35a68 {
  # v2: the origin of an event.

  host @0 :Text;
  # Host name.

  port @1 :UInt16;
  # Port.
}

struct Actor @0xe33f6e771e165644 {
  # The party that caused an event. No secrets or raw personal data here.

  capId @0 :Text;
  # Capability id the actor presented.

  keyFpr @1 :Text;
  # Fingerprint of the actor's public key.

  passportId @2 :Text;
  # Passport (identity document) id of the actor.

  anon @3 :Bool;
  # True when the actor is anonymous.
}

struct Subject @0xc0e2ba02ad94eae3 {
  # The object an event is about.

  contentId @0 :Text;
  # Content address of the object, e.g. "b3:9f2c...".

  ledgerTxid @1 :Text;
  # Ledger transaction id the event relates to.

  name @2 :Text;
  # Human-readable name of the object.
}

struct Attr @0x8d3a9c6e1f4b2a70 {
  # One attribute of a record.

  key @0 :Text;
  # Attribute name; non-empty.

  value @1 :Text;
  # Attribute value; may be empty.
}

enum Kind @0xb5e3c2a1d0f49867 {
  # The kind of an audit event.

  unknown @0;
  # Not specified by the writer.

  capIssued @1;
  # A capability was issued.

  capRevoked @2;
  # A capability was revoked.

  policyChanged @3;
  # A policy was changed.

  indexWrite @4;
  # An index entry was written.

  getServed @5;
  # A read request was served.

  quotaReject @6;
  # A request was rejected by a quota.

  exportDone @7;
  # v2: an export finished.
}
