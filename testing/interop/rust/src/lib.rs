//! Foreign (Rust) reader of the ron-audit test vectors (schema v1, and the
//! schema evolution drill's v2).
//!
//! It checks every record of every vector file the way
//! `testing/vectors/v1/README.md` says a reader must:
//!
//! 1. `canonical` decodes as a single-segment Cap'n Proto message with no
//!    segment table, the message is canonical, every decoded field of the
//!    root `AuditRecord` equals the JSON `record` rendering, the values follow
//!    the rules of canonical/SPEC.md section 3 ([`check_rules`]), and the
//!    bytes are exactly this crate's own encoding of the decoded record
//!    (empty values as null pointers, then canonicalized: [`check_strict`]);
//! 2. `hash` is BLAKE3 derive_key("ron-audit 2026-11-27 record hash v1") over
//!    the canonical bytes;
//! 3. `signature` is a valid (strict) Ed25519 signature by `publicKey` over
//!    `RONAUDIT-SIG-V1` || hash;
//! 4. in a `chain` file, every record is of the first one's (writerId,
//!    stream), seq counts up from 1 and prev links to the hash of the record
//!    before (32 zero bytes for the first).
//!
//! It also checks `dedupeKey` (README check 5) with its own encoder when the
//! record has one, refuses every negative vector of the directory's
//! `invalid/` ([`check_invalid_dir`]), and checks the checkpoint and proof
//! vectors of its `checkpoints/` ([`checkpoint`], from
//! `sdk/checkpoint/SPEC.md`) and verifies the export bundles of its
//! `bundles/`, each case to its expected verdict ([`bundle`], from
//! `sdk/export/FORMAT.md`); [`check_layout`] fails a directory holding
//! anything of those it would not read (so no vector is skipped unseen).
//!
//! Schemas: a vector file is decoded, rendered and re-encoded with the schema
//! its top-level `"schema"` field names (`schema/audit.capnp`, v1, or
//! `gen/testdata/audit_v2.capnp`, the evolution drill's v2), or with v1 when
//! it has none; [`check_value_with`] (the binary's `--schema` flag or the
//! `RONAUDIT_SCHEMA` environment variable) overrides that for every file.
//! Under v2 a record rendering may lack the fields v2 added (a rendering
//! written under v1 does) only when they decode as their defaults.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub mod bundle;
pub mod checkpoint;

// The two schemas have the same file id and the same struct and enum ids, so
// their generated code lives in two modules (see build.rs).
#[allow(clippy::all, dead_code, unused_imports, unused_parens)]
pub mod audit_capnp {
    include!(concat!(env!("OUT_DIR"), "/audit_capnp.rs"));
}

#[allow(clippy::all, dead_code, unused_imports, unused_parens)]
pub mod audit_v2_capnp {
    include!(concat!(env!("OUT_DIR"), "/audit_v2_capnp.rs"));
}

/// BLAKE3 derive_key context of the record hash.
pub const HASH_CONTEXT: &str = "ron-audit 2026-11-27 record hash v1";
/// BLAKE3 derive_key context of the dedupe key.
pub const DEDUPE_CONTEXT: &str = "ron-audit 2026-11-27 dedupe key v1";
/// Domain-separation prefix of the signed message.
pub const SIG_PREFIX: &[u8] = b"RONAUDIT-SIG-V1";
/// Ed25519 verification as canonical/SPEC.md section 5 states it and Go's
/// crypto/ed25519 does it (the Python reader's OpenSSL too): RFC 8032's
/// cofactorless check, `S` below the group order, `[S]B - [k]A` encoding
/// to exactly the bytes of `R`, small-order points not refused.
/// ed25519-dalek's `verify` is that check; its `verify_strict` also refuses
/// small-order `A` or `R`, and so signatures Go accepts (a key holder can
/// craft them), which a reader of this format must not. Used for record
/// signatures and checkpoint notes alike.
pub fn verify_ed25519(
    key: &ed25519_dalek::VerifyingKey,
    msg: &[u8],
    sig: &ed25519_dalek::Signature,
) -> Result<(), ed25519_dalek::SignatureError> {
    use ed25519_dalek::Verifier;
    key.verify(msg, sig)
}

/// canonical/SPEC.md section 4: a record is at most this many canonical
/// bytes (Go's `canonical.MaxRecordSize`); the strict reading refuses more.
pub const MAX_RECORD_SIZE: usize = 65_536;

/// Directory of the v1 vectors, relative to this crate.
pub fn default_vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/v1")
}

/// Directory of the schema evolution drill's v2 vectors, relative to this crate.
pub fn default_drill_vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/drill")
}

/// Environment variable that overrides the schema of every vector file (see
/// [`Schema::parse`]), like the Python reader's.
pub const SCHEMA_ENV: &str = "RONAUDIT_SCHEMA";

// ---------------------------------------------------------------------------
// Schemas

/// A schema this reader was compiled with (build.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// schema/audit.capnp, the released schema.
    V1,
    /// gen/testdata/audit_v2.capnp, the schema evolution drill's version 2:
    /// v1 plus AuditRecord.region/traceId/origin and Kind.exportDone.
    V2,
}

impl Schema {
    pub const ALL: [Schema; 2] = [Schema::V1, Schema::V2];

    /// Short name, as the --schema flag and RONAUDIT_SCHEMA take it.
    pub fn name(self) -> &'static str {
        match self {
            Schema::V1 => "v1",
            Schema::V2 => "v2",
        }
    }

    /// The schema file relative to the repository root, as a vector file's
    /// top-level "schema" field names it.
    pub fn path(self) -> &'static str {
        match self {
            Schema::V1 => "schema/audit.capnp",
            Schema::V2 => "gen/testdata/audit_v2.capnp",
        }
    }

    /// Rendering names of the AuditRecord fields this schema added over v1.
    /// A rendering may lack these (it was written under v1) only when they
    /// decode as their defaults.
    pub fn added_fields(self) -> &'static [&'static str] {
        match self {
            Schema::V1 => &[],
            Schema::V2 => &["region", "traceId", "origin"],
        }
    }

    /// The schema a vector file's "schema" field names: exactly one of the
    /// repository-relative paths of [`Schema::path`].
    pub fn from_vector_field(s: &str) -> Result<Schema, String> {
        Schema::ALL
            .into_iter()
            .find(|sc| sc.path() == s)
            .ok_or_else(|| {
                format!(
                    "JSON: field \"schema\": unknown schema {s:?} (this reader knows {:?} and {:?})",
                    Schema::V1.path(),
                    Schema::V2.path()
                )
            })
    }

    /// Parses a schema selector (--schema, RONAUDIT_SCHEMA): "v1" or "v2", a
    /// repository-relative path as in a vector file's "schema" field, or a
    /// filesystem path of one of the two schema files this crate was compiled
    /// from (what the Python reader's RONAUDIT_SCHEMA holds).
    pub fn parse(s: &str) -> Result<Schema, String> {
        if let Some(sc) = Schema::ALL
            .into_iter()
            .find(|sc| sc.name() == s || sc.path() == s)
        {
            return Ok(sc);
        }
        if let Ok(p) = std::fs::canonicalize(s) {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
            for sc in Schema::ALL {
                if std::fs::canonicalize(root.join(sc.path())).is_ok_and(|q| q == p) {
                    return Ok(sc);
                }
            }
        }
        Err(format!(
            "unknown schema {s:?}: want v1, v2, {:?} or {:?}",
            Schema::V1.path(),
            Schema::V2.path()
        ))
    }

    /// The override in RONAUDIT_SCHEMA: None when unset or empty.
    pub fn from_env() -> Result<Option<Schema>, String> {
        match std::env::var(SCHEMA_ENV) {
            Ok(s) if !s.is_empty() => Schema::parse(&s)
                .map(Some)
                .map_err(|e| format!("{SCHEMA_ENV}: {e}")),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(e) => Err(format!("{SCHEMA_ENV}: {e}")),
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------
// Decoded record

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    pub cap_id: String,
    pub key_fpr: String,
    pub passport_id: String,
    pub anon: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub content_id: String,
    pub ledger_txid: String,
    pub name: String,
}

/// v2: AuditRecord.origin.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub host: String,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The schema the record was decoded with; it is rendered and re-encoded
    /// with the same one.
    pub schema: Schema,
    pub v: u16,
    /// Kind enumerant number; decode only yields numbers `schema` names.
    pub kind: u16,
    pub seq: u64,
    pub ts_ms: u64,
    pub writer_id: String,
    pub stream: String,
    pub actor: Actor,
    pub subject: Subject,
    pub reason: String,
    pub attrs: Vec<(String, String)>,
    pub prev: Vec<u8>,
    // The fields v2 added: always their defaults when `schema` is V1.
    pub region: u32,
    pub trace_id: String,
    pub origin: Origin,
}

/// The enumerant name of Kind number `k` in `schema`, None if it has none.
/// v2 only adds enumerants to v1 (Cap'n Proto never renumbers one), so the
/// names are v2's, of the numbers `schema` has.
pub fn kind_name(schema: Schema, k: u16) -> Option<&'static str> {
    if schema == Schema::V1 {
        audit_capnp::Kind::try_from(k).ok()?;
    }
    use audit_v2_capnp::Kind;
    Some(match Kind::try_from(k).ok()? {
        Kind::Unknown => "unknown",
        Kind::CapIssued => "capIssued",
        Kind::CapRevoked => "capRevoked",
        Kind::PolicyChanged => "policyChanged",
        Kind::IndexWrite => "indexWrite",
        Kind::GetServed => "getServed",
        Kind::QuotaReject => "quotaReject",
        Kind::ExportDone => "exportDone",
    })
}

fn text(r: capnp::Result<capnp::text::Reader<'_>>, field: &str) -> Result<String, String> {
    let t = r.map_err(|e| format!("decode: field {field}: {e}"))?;
    t.to_str()
        .map(str::to_owned)
        .map_err(|e| format!("decode: field {field}: invalid UTF-8: {e}"))
}

/// Copies `bytes` into 8-aligned words, as the capnp crate requires.
fn to_words(bytes: &[u8]) -> Result<Vec<capnp::Word>, String> {
    if bytes.is_empty() || bytes.len() & 7 != 0 {
        return Err(format!(
            "decode: canonical is {} bytes, not a positive multiple of 8",
            bytes.len()
        ));
    }
    let mut words = capnp::Word::allocate_zeroed_vec(bytes.len() / 8);
    capnp::Word::words_to_bytes_mut(&mut words).copy_from_slice(bytes);
    Ok(words)
}

/// Reads the fields v1 and v2 share from an AuditRecord reader of either
/// generated module (the two have the same shape for them); the v2 fields are
/// left at their defaults.
macro_rules! decode_v1_fields {
    ($r:expr, $schema:expr) => {{
        let r = $r;
        let schema: Schema = $schema;
        let kind = r.get_kind().map_err(|e| {
            format!(
                "decode: field kind: enumerant {} not in schema {schema}",
                e.0
            )
        })?;
        let actor_r = r
            .get_actor()
            .map_err(|e| format!("decode: field actor: {e}"))?;
        let subject_r = r
            .get_subject()
            .map_err(|e| format!("decode: field subject: {e}"))?;
        let mut attrs = Vec::new();
        for (i, a) in r
            .get_attrs()
            .map_err(|e| format!("decode: field attrs: {e}"))?
            .iter()
            .enumerate()
        {
            attrs.push((
                text(a.get_key(), &format!("attrs[{i}].key"))?,
                text(a.get_value(), &format!("attrs[{i}].value"))?,
            ));
        }
        Record {
            schema,
            v: r.get_v(),
            kind: u16::from(kind),
            seq: r.get_seq(),
            ts_ms: r.get_ts_ms(),
            writer_id: text(r.get_writer_id(), "writerId")?,
            stream: text(r.get_stream(), "stream")?,
            actor: Actor {
                cap_id: text(actor_r.get_cap_id(), "actor.capId")?,
                key_fpr: text(actor_r.get_key_fpr(), "actor.keyFpr")?,
                passport_id: text(actor_r.get_passport_id(), "actor.passportId")?,
                anon: actor_r.get_anon(),
            },
            subject: Subject {
                content_id: text(subject_r.get_content_id(), "subject.contentId")?,
                ledger_txid: text(subject_r.get_ledger_txid(), "subject.ledgerTxid")?,
                name: text(subject_r.get_name(), "subject.name")?,
            },
            reason: text(r.get_reason(), "reason")?,
            attrs,
            prev: r
                .get_prev()
                .map_err(|e| format!("decode: field prev: {e}"))?
                .to_vec(),
            region: 0,
            trace_id: String::new(),
            origin: Origin::default(),
        }
    }};
}

/// The value rules of canonical/SPEC.md section 3 that a Cap'n Proto
/// library does not check: v is 1, seq >= 1, writerId and stream are
/// non-empty, prev is 32 bytes, attr keys are non-empty, sorted by their
/// UTF-8 bytes and unique, and no text holds a NUL (Cap'n Proto text may).
/// (Decoding checks kind and UTF-8; the re-encoding of [`check_strict`]
/// the layout, empty is null and unknown fields.)
pub fn check_rules(r: &Record) -> Result<(), String> {
    if r.v != 1 {
        return Err(format!("rule: v is {}, want 1", r.v));
    }
    if r.seq == 0 {
        return Err("rule: seq is 0, want >= 1".into());
    }
    if r.writer_id.is_empty() {
        return Err("rule: writerId is empty".into());
    }
    if r.stream.is_empty() {
        return Err("rule: stream is empty".into());
    }
    if r.prev.len() != 32 {
        return Err(format!("rule: prev is {} bytes, want 32", r.prev.len()));
    }
    for (i, (k, _)) in r.attrs.iter().enumerate() {
        if k.is_empty() {
            return Err(format!("rule: attrs[{i}].key is empty"));
        }
        if i > 0 && r.attrs[i - 1].0.as_bytes() >= k.as_bytes() {
            return Err(format!(
                "rule: attrs[{i}].key {k:?} does not sort after {:?} (bytewise, keys unique)",
                r.attrs[i - 1].0
            ));
        }
    }
    let mut texts: Vec<(String, &str)> = vec![
        ("writerId".into(), &r.writer_id),
        ("stream".into(), &r.stream),
        ("actor.capId".into(), &r.actor.cap_id),
        ("actor.keyFpr".into(), &r.actor.key_fpr),
        ("actor.passportId".into(), &r.actor.passport_id),
        ("subject.contentId".into(), &r.subject.content_id),
        ("subject.ledgerTxid".into(), &r.subject.ledger_txid),
        ("subject.name".into(), &r.subject.name),
        ("reason".into(), &r.reason),
        ("traceId".into(), &r.trace_id),
        ("origin.host".into(), &r.origin.host),
    ];
    for (i, (k, v)) in r.attrs.iter().enumerate() {
        texts.push((format!("attrs[{i}].key"), k));
        texts.push((format!("attrs[{i}].value"), v));
    }
    for (name, t) in texts {
        if t.contains('\0') {
            return Err(format!("rule: field {name} holds a NUL byte"));
        }
    }
    Ok(())
}

/// Checks that `bytes`, which decoded to `r`, are exactly the format's
/// bytes of it: at most 65,536 of them (section 4), the rules of section 3 ([`check_rules`]) hold, and this
/// crate's own canonical encoding of `r` (empty values as null pointers,
/// only the schema's fields) is the very same bytes.
pub fn check_strict(r: &Record, bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_RECORD_SIZE {
        return Err(format!(
            "too large: {} canonical bytes, a record is at most {MAX_RECORD_SIZE}",
            bytes.len()
        ));
    }
    check_rules(r)?;
    let re = r.encode_canonical()?;
    if re != bytes {
        return Err(format!(
            "re-encoding: Rust canonical encoding of the decoded record differs from \
             canonical\n  rust: {}\n  file: {}",
            hex::encode(&re),
            hex::encode(bytes)
        ));
    }
    Ok(())
}

/// Strict reading (canonical/SPEC.md section 7): accepts `bytes` only if
/// they are exactly the canonical bytes of a valid record of `schema`.
pub fn open_strict(bytes: &[u8], schema: Schema) -> Result<Record, String> {
    let r = decode_with(bytes, schema)?;
    check_strict(&r, bytes)?;
    Ok(r)
}

/// Decodes canonical bytes (one segment, no segment table) with schema v1
/// into a Record and checks that the message is canonical.
pub fn decode(bytes: &[u8]) -> Result<Record, String> {
    decode_with(bytes, Schema::V1)
}

/// Decodes canonical bytes (one segment, no segment table) with `schema`
/// into a Record and checks that the message is canonical. Fields the schema
/// does not have are not read (the re-encoding check then catches them).
pub fn decode_with(bytes: &[u8], schema: Schema) -> Result<Record, String> {
    let words = to_words(bytes)?;
    let segments: [&[u8]; 1] = [capnp::Word::words_to_bytes(&words)];
    let msg = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(&segments),
        capnp::message::ReaderOptions::new(),
    );
    match msg.is_canonical() {
        Ok(true) => {}
        Ok(false) => return Err("decode: message is not canonical (is_canonical() = false)".into()),
        Err(e) => return Err(format!("decode: is_canonical: {e}")),
    }
    match schema {
        Schema::V1 => {
            let r: audit_capnp::audit_record::Reader = msg
                .get_root()
                .map_err(|e| format!("decode: root AuditRecord: {e}"))?;
            Ok(decode_v1_fields!(r, schema))
        }
        Schema::V2 => {
            let r: audit_v2_capnp::audit_record::Reader = msg
                .get_root()
                .map_err(|e| format!("decode: root AuditRecord: {e}"))?;
            let mut rec = decode_v1_fields!(r, schema);
            let origin_r = r
                .get_origin()
                .map_err(|e| format!("decode: field origin: {e}"))?;
            rec.region = r.get_region();
            rec.trace_id = text(r.get_trace_id(), "traceId")?;
            rec.origin = Origin {
                host: text(origin_r.get_host(), "origin.host")?,
                port: origin_r.get_port(),
            };
            Ok(rec)
        }
    }
}

/// Writes the fields v1 and v2 share into an AuditRecord builder of either
/// generated module, empty values as null pointers.
/// Sets each text field whose value is not empty (rule 6: an empty value is a
/// null pointer, so its setter is not called).
macro_rules! set_texts {
    ($b:expr, $($setter:ident = $v:expr),+ $(,)?) => {
        $(
            if !$v.is_empty() {
                $b.$setter($v.as_str());
            }
        )+
    };
}

macro_rules! encode_v1_fields {
    ($rec:expr, $r:expr, $kind:expr) => {{
        let rec: &Record = $rec;
        let mut r = $r;
        r.set_v(rec.v);
        r.set_kind($kind);
        r.set_seq(rec.seq);
        r.set_ts_ms(rec.ts_ms);
        set_texts!(r, set_writer_id = rec.writer_id, set_stream = rec.stream);
        if rec.actor != Actor::default() {
            let mut a = r.reborrow().init_actor();
            set_texts!(
                a,
                set_cap_id = rec.actor.cap_id,
                set_key_fpr = rec.actor.key_fpr,
                set_passport_id = rec.actor.passport_id,
            );
            a.set_anon(rec.actor.anon);
        }
        if rec.subject != Subject::default() {
            let mut s = r.reborrow().init_subject();
            set_texts!(
                s,
                set_content_id = rec.subject.content_id,
                set_ledger_txid = rec.subject.ledger_txid,
                set_name = rec.subject.name,
            );
        }
        set_texts!(r, set_reason = rec.reason);
        if !rec.attrs.is_empty() {
            let n = u32::try_from(rec.attrs.len()).map_err(|_| "too many attrs")?;
            let mut list = r.reborrow().init_attrs(n);
            for (i, (k, v)) in rec.attrs.iter().enumerate() {
                let mut a = list.reborrow().get(i as u32);
                set_texts!(a, set_key = k, set_value = v);
            }
        }
        if !rec.prev.is_empty() {
            r.set_prev(&rec.prev[..]);
        }
    }};
}

impl Record {
    /// The README's JSON rendering of a record, with every field of its
    /// schema (under v2 also region, traceId and origin).
    pub fn to_json(&self) -> Value {
        let mut j = json!({
            "v": self.v,
            "kind": match kind_name(self.schema, self.kind) {
                Some(name) => json!(name),
                // Never after decode; a number never equals a rendering's name.
                None => json!(self.kind),
            },
            "seq": self.seq,
            "tsMs": self.ts_ms,
            "writerId": self.writer_id,
            "stream": self.stream,
            "actor": {
                "capId": self.actor.cap_id,
                "keyFpr": self.actor.key_fpr,
                "passportId": self.actor.passport_id,
                "anon": self.actor.anon,
            },
            "subject": {
                "contentId": self.subject.content_id,
                "ledgerTxid": self.subject.ledger_txid,
                "name": self.subject.name,
            },
            "reason": self.reason,
            "attrs": self.attrs.iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect::<Vec<_>>(),
            "prev": hex::encode(&self.prev),
        });
        if self.schema == Schema::V2 {
            let o = j.as_object_mut().expect("rendering is an object");
            o.insert("region".into(), json!(self.region));
            o.insert("traceId".into(), json!(self.trace_id));
            o.insert(
                "origin".into(),
                json!({"host": self.origin.host, "port": self.origin.port}),
            );
        }
        j
    }

    /// Encodes the record with this crate's Cap'n Proto implementation and
    /// its schema: empty values are left as null pointers, then the message
    /// is canonicalized.
    pub fn encode_canonical(&self) -> Result<Vec<u8>, String> {
        let mut msg = capnp::message::Builder::new_default();
        match self.schema {
            Schema::V1 => {
                if self.region != 0 || !self.trace_id.is_empty() || self.origin != Origin::default()
                {
                    return Err("encode: a v2 field (region, traceId, origin) is set, \
                                but schema v1 does not have it"
                        .into());
                }
                let r = msg.init_root::<audit_capnp::audit_record::Builder>();
                let kind = audit_capnp::Kind::try_from(self.kind).map_err(|e| {
                    format!("encode: field kind: enumerant {} not in schema v1", e.0)
                })?;
                encode_v1_fields!(self, r, kind);
            }
            Schema::V2 => {
                let mut r = msg.init_root::<audit_v2_capnp::audit_record::Builder>();
                let kind = audit_v2_capnp::Kind::try_from(self.kind).map_err(|e| {
                    format!("encode: field kind: enumerant {} not in schema v2", e.0)
                })?;
                encode_v1_fields!(self, r.reborrow(), kind);
                r.set_region(self.region);
                set_texts!(r, set_trace_id = self.trace_id);
                if self.origin != Origin::default() {
                    let mut o = r.reborrow().init_origin();
                    set_texts!(o, set_host = self.origin.host);
                    o.set_port(self.origin.port);
                }
            }
        }
        let words = msg
            .into_reader()
            .canonicalize()
            .map_err(|e| format!("encode: canonicalize: {e}"))?;
        Ok(capnp::Word::words_to_bytes(&words).to_vec())
    }
}

// ---------------------------------------------------------------------------
// JSON helpers

/// A vector document's "name", "?" if it has none.
fn doc_name(doc: &Value) -> &str {
    doc.get("name").and_then(Value::as_str).unwrap_or("?")
}

fn field<'a>(obj: &'a Value, key: &str) -> Result<&'a Value, String> {
    obj.get(key)
        .ok_or_else(|| format!("JSON: missing field {key:?}"))
}

fn hex_field(obj: &Value, key: &str, len: Option<usize>) -> Result<Vec<u8>, String> {
    hex_value(field(obj, key)?, key, len)
}

/// A JSON string of hex (of `len` bytes if given); `key` names it in errors.
fn hex_value(v: &Value, key: &str, len: Option<usize>) -> Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("JSON: field {key:?} is not a string"))?;
    let b = hex::decode(s).map_err(|e| format!("JSON: field {key:?} is not hex: {e}"))?;
    if let Some(n) = len {
        if b.len() != n {
            return Err(format!(
                "JSON: field {key:?} is {} bytes, want {n}",
                b.len()
            ));
        }
    }
    Ok(b)
}

/// Whether a decoded rendering is its field's default: 0, false, "", [], or
/// an object of defaults (an all-default nested struct), as the Python
/// reader's _is_default.
fn is_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => {
            n.as_u64() == Some(0) || n.as_i64() == Some(0) || n.as_f64() == Some(0.0)
        }
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_default),
    }
}

/// Compares a decoded rendering with the JSON one, field by field, and names
/// the first field that differs. The JSON rendering must have exactly the
/// README's fields (every field always present); check_record drops from the
/// decoded rendering beforehand the v2-added fields a rendering may omit.
fn compare(path: &str, got: &Value, want: &Value) -> Result<(), String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for k in g.keys() {
                if !w.contains_key(k) {
                    return Err(format!(
                        "record: field {path}{k} missing from JSON rendering"
                    ));
                }
            }
            for k in w.keys() {
                if !g.contains_key(k) {
                    return Err(format!(
                        "record: JSON rendering has unknown field {path}{k}"
                    ));
                }
            }
            for (k, gv) in g {
                compare(&format!("{path}{k}."), gv, &w[k])?;
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) => {
            let p = path.trim_end_matches('.');
            if g.len() != w.len() {
                return Err(format!(
                    "record: field {p}: decoded {} entries, JSON has {}",
                    g.len(),
                    w.len()
                ));
            }
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                compare(&format!("{p}[{i}]."), gv, wv)?;
            }
            Ok(())
        }
        _ if got == want => Ok(()),
        _ => Err(format!(
            "record: field {}: decoded {got}, JSON has {want}",
            path.trim_end_matches('.')
        )),
    }
}

// ---------------------------------------------------------------------------
// Checking

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub file: String,
    /// Index of the record in the file's `records`, None for the file itself.
    pub record: Option<usize>,
    pub what: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.record {
            Some(i) => write!(f, "{}: record {}: {}", self.file, i, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

/// Result of checking one vector file.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub file: String,
    pub name: String,
    /// The schema the records were decoded with.
    pub schema: Schema,
    pub chain: bool,
    /// A file of negative vectors (`invalid/`): `records` counts the records
    /// or chains that must be refused, `passed` those that were.
    pub negative: bool,
    pub records: usize,
    pub passed: usize,
    pub failures: Vec<Failure>,
}

impl FileReport {
    /// Failed records, plus one if the file itself could not be read.
    pub fn failed(&self) -> usize {
        let mut recs: Vec<Option<usize>> = self.failures.iter().map(|f| f.record).collect();
        recs.dedup();
        recs.len()
    }
}

/// What the chain check needs of a record: its decoded seq, prev and
/// (writerId, stream), and its computed hash.
struct Link {
    seq: Option<u64>,
    hash: Option<[u8; 32]>,
    prev: Option<Vec<u8>>,
    chain: Option<(String, String)>,
}

/// Checks one record; returns what the chain check of it and of the next
/// record needs, even when a check failed.
fn check_record(
    rec: &Value,
    vk: Option<&ed25519_dalek::VerifyingKey>,
    schema: Schema,
    errs: &mut Vec<String>,
) -> Link {
    let bytes = match hex_field(rec, "canonical", None) {
        Ok(b) => b,
        Err(e) => {
            errs.push(e);
            return Link {
                seq: None,
                hash: None,
                prev: None,
                chain: None,
            };
        }
    };

    // 1. decode, canonical, fields; and our own re-encoding.
    let mut seq = None;
    let mut prev = None;
    let mut chain = None;
    match decode_with(&bytes, schema) {
        Err(e) => errs.push(e),
        Ok(r) => {
            seq = Some(r.seq);
            prev = Some(r.prev.clone());
            chain = Some((r.writer_id.clone(), r.stream.clone()));
            match field(rec, "record") {
                Err(e) => errs.push(e),
                Ok(want) => {
                    let mut got = r.to_json();
                    // A rendering written under v1 lacks the fields v2 added:
                    // accepted only when they decode as their defaults (as in
                    // the Python reader). Every other field is required.
                    for &k in schema.added_fields() {
                        if want.get(k).is_some() {
                            continue;
                        }
                        let o = got.as_object_mut().expect("rendering is an object");
                        let v = o.remove(k).unwrap_or(Value::Null);
                        if !is_default(&v) {
                            errs.push(format!(
                                "record: field {k} missing from JSON rendering, but decoded {v} \
                                 is not its default (schema {schema})"
                            ));
                        }
                    }
                    if let Err(e) = compare("", &got, want) {
                        errs.push(e);
                    }
                }
            }
            // Section 3 rules, and the bytes are exactly our encoding of
            // what they hold.
            if let Err(e) = check_strict(&r, &bytes) {
                errs.push(e);
            }
            // 5. dedupe key: same record with seq = 0 and prev empty,
            // encoded with the same schema. The field is optional (README
            // check 5 lets readers skip it, and the v2 evolution vectors
            // carry none): a record without "dedupeKey" skips this check
            // without an error; one that has it must match.
            if rec.get("dedupeKey").is_some() {
                let mut d = r.clone();
                d.seq = 0;
                d.prev.clear();
                match (d.encode_canonical(), hex_field(rec, "dedupeKey", Some(32))) {
                    (Ok(db), Ok(want)) => {
                        let got = blake3::derive_key(DEDUPE_CONTEXT, &db);
                        if got[..] != want[..] {
                            errs.push(format!(
                                "dedupeKey mismatch: computed {}, JSON has {}",
                                hex::encode(got),
                                hex::encode(&want)
                            ));
                        }
                    }
                    (Err(e), _) | (_, Err(e)) => errs.push(e),
                }
            }
        }
    }

    // 2. hash.
    let hash = blake3::derive_key(HASH_CONTEXT, &bytes);
    match hex_field(rec, "hash", Some(32)) {
        Err(e) => errs.push(e),
        Ok(want) if want[..] != hash[..] => errs.push(format!(
            "hash mismatch: computed {}, JSON has {}",
            hex::encode(hash),
            hex::encode(&want)
        )),
        Ok(_) => {}
    }

    // 3. signature over SIG_PREFIX || hash (the hash recomputed from the bytes).
    match (vk, hex_field(rec, "signature", Some(64))) {
        (_, Err(e)) => errs.push(e),
        (None, Ok(_)) => errs.push("signature not checked: the file's publicKey is invalid".into()),
        (Some(vk), Ok(sig)) => {
            let sig = ed25519_dalek::Signature::from_bytes(sig[..].try_into().unwrap());
            let mut msg = Vec::with_capacity(SIG_PREFIX.len() + 32);
            msg.extend_from_slice(SIG_PREFIX);
            msg.extend_from_slice(&hash);
            if let Err(e) = verify_ed25519(vk, &msg, &sig) {
                errs.push(format!("signature does not verify: {e}"));
            }
        }
    }

    Link {
        seq,
        hash: Some(hash),
        prev,
        chain,
    }
}

/// Checks one parsed vector file with the schema it names (v1 if none).
/// `file` names it in failures.
pub fn check_value(file: &str, doc: &Value) -> FileReport {
    check_value_with(file, doc, None)
}

/// Checks one parsed vector file. The schema is `schema_override` when given,
/// else the one the file's top-level "schema" field names, else v1. A
/// "schema" field that is not a string or names no schema this reader knows
/// fails the file (even with an override). `file` names it in failures.
pub fn check_value_with(file: &str, doc: &Value, schema_override: Option<Schema>) -> FileReport {
    let mut rep = FileReport {
        file: file.to_owned(),
        name: doc_name(doc).to_owned(),
        schema: schema_override.unwrap_or(Schema::V1),
        chain: false,
        negative: false,
        records: 0,
        passed: 0,
        failures: Vec::new(),
    };
    let file_fail = |rep: &mut FileReport, what: String| {
        rep.failures.push(Failure {
            file: file.to_owned(),
            record: None,
            what,
        })
    };

    if doc.get("name").and_then(Value::as_str).is_none() {
        file_fail(&mut rep, "JSON: missing string field \"name\"".into());
    }
    let declared = match doc.get("schema") {
        None => None,
        Some(Value::String(s)) => match Schema::from_vector_field(s) {
            Ok(sc) => Some(sc),
            Err(e) => {
                file_fail(&mut rep, e);
                return rep;
            }
        },
        Some(_) => {
            file_fail(&mut rep, "JSON: field \"schema\" is not a string".into());
            return rep;
        }
    };
    rep.schema = schema_override.or(declared).unwrap_or(Schema::V1);
    match doc.get("chain") {
        Some(Value::Bool(b)) => rep.chain = *b,
        _ => file_fail(&mut rep, "JSON: missing boolean field \"chain\"".into()),
    }
    let vk = match hex_field(doc, "publicKey", Some(32)) {
        Err(e) => {
            file_fail(&mut rep, e);
            None
        }
        Ok(pk) => match ed25519_dalek::VerifyingKey::from_bytes(pk[..].try_into().unwrap()) {
            Ok(vk) => Some(vk),
            Err(e) => {
                file_fail(
                    &mut rep,
                    format!("publicKey is not a valid Ed25519 key: {e}"),
                );
                None
            }
        },
    };
    let records = match doc.get("records").and_then(Value::as_array) {
        Some(r) if !r.is_empty() => r,
        Some(_) => {
            file_fail(&mut rep, "JSON: \"records\" is empty".into());
            return rep;
        }
        None => {
            file_fail(&mut rep, "JSON: missing array field \"records\"".into());
            return rep;
        }
    };
    rep.records = records.len();

    let mut last: Option<(Option<u64>, Option<[u8; 32]>)> = None;
    // (writerId, stream) of the first record that decoded: every record of
    // a chain file is of that chain.
    let mut chain_id: Option<(String, String)> = None;
    for (i, rec) in records.iter().enumerate() {
        let mut errs = Vec::new();
        let Link {
            seq,
            hash,
            prev,
            chain,
        } = check_record(rec, vk.as_ref(), rep.schema, &mut errs);

        // 4. chain links.
        if rep.chain {
            if let Some(c) = chain {
                match &chain_id {
                    None => chain_id = Some(c),
                    Some(want) if *want != c => errs.push(format!(
                        "chain: record is of ({:?}, {:?}), not of the chain ({:?}, {:?})",
                        c.0, c.1, want.0, want.1
                    )),
                    Some(_) => {}
                }
            }
            if let (Some(seq), Some(prev)) = (seq, prev.as_ref()) {
                match &last {
                    None => {
                        if seq != 1 {
                            errs.push(format!("chain: first record has seq {seq}, want 1"));
                        }
                        if prev[..] != [0u8; 32] {
                            errs.push(format!(
                                "chain: first record has prev {}, want 32 zero bytes",
                                hex::encode(prev)
                            ));
                        }
                    }
                    Some((lseq, lhash)) => {
                        if let Some(lseq) = lseq {
                            if Some(seq) != lseq.checked_add(1) {
                                errs.push(format!(
                                    "chain: seq {seq} does not follow seq {lseq} of record {}",
                                    i - 1
                                ));
                            }
                        }
                        if let Some(lhash) = lhash {
                            if prev[..] != lhash[..] {
                                errs.push(format!(
                                    "chain: prev {} is not the hash {} of record {}",
                                    hex::encode(prev),
                                    hex::encode(lhash),
                                    i - 1
                                ));
                            }
                        }
                    }
                }
            }
        }
        last = Some((seq, hash));

        if errs.is_empty() {
            rep.passed += 1;
        } else {
            for what in errs {
                rep.failures.push(Failure {
                    file: file.to_owned(),
                    record: Some(i),
                    what,
                });
            }
        }
    }
    rep
}

/// Reads and checks one vector file with the schema it names (v1 if none).
pub fn check_file(path: &Path) -> FileReport {
    check_file_with(path, None)
}

/// Reads and checks one vector file; `schema_override` as in
/// [`check_value_with`].
pub fn check_file_with(path: &Path, schema_override: Option<Schema>) -> FileReport {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let parsed = std::fs::read(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|b| {
            serde_json::from_slice::<Value>(&b).map_err(|e| format!("JSON: cannot parse: {e}"))
        });
    match parsed {
        Ok(doc) => check_value_with(&file, &doc, schema_override),
        Err(what) => FileReport {
            file: file.clone(),
            name: "?".into(),
            schema: schema_override.unwrap_or(Schema::V1),
            chain: false,
            negative: false,
            records: 0,
            passed: 0,
            failures: vec![Failure {
                file,
                record: None,
                what,
            }],
        },
    }
}

/// The *.json files of a directory, sorted by name.
pub fn vector_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "json") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Checks every vector file of a directory, each with the schema it names.
pub fn check_dir(dir: &Path) -> std::io::Result<Vec<FileReport>> {
    check_dir_with(dir, None)
}

/// Checks every vector file of a directory; `schema_override` as in
/// [`check_value_with`].
pub fn check_dir_with(
    dir: &Path,
    schema_override: Option<Schema>,
) -> std::io::Result<Vec<FileReport>> {
    Ok(vector_files(dir)?
        .iter()
        .map(|p| check_file_with(p, schema_override))
        .collect())
}

// ---------------------------------------------------------------------------
// Layout of a vectors directory

/// The subdirectories of a vectors directory this reader checks: the
/// negative vectors ([`check_invalid_dir`]), the checkpoint vectors
/// ([`checkpoint`]) and the export bundle vectors ([`bundle`]). A vectors
/// directory of a released schema (testing/vectors/vN) has all three; the
/// drill's has none.
pub const SUBDIRS: [&str; 3] = ["invalid", "checkpoints", "bundles"];

/// What in the layout of a vectors directory would make this reader skip
/// vectors without a word, one line each (none when it reads them all): a
/// subdirectory it does not check, a `*.json` file of `invalid/` other than
/// [`INVALID_FILES`], a `checkpoints/` or `bundles/` without `*.json`
/// files, and some but not all of [`SUBDIRS`] (a release's directory has all
/// three, so a missing one was lost). The top-level files are listed by
/// [`vector_files`] and the binary fails when there are none.
pub fn check_layout(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![format!("cannot list {}: {e}", dir.display())],
    };
    let mut subdirs = Vec::new();
    for e in entries {
        match e {
            Ok(e) if e.path().is_dir() => {
                subdirs.push(e.file_name().to_string_lossy().into_owned())
            }
            Ok(_) => {}
            Err(e) => out.push(format!("cannot list {}: {e}", dir.display())),
        }
    }
    subdirs.sort();
    for s in &subdirs {
        if !SUBDIRS.contains(&s.as_str()) {
            out.push(format!(
                "{s}/: a subdirectory this reader does not check (it knows {SUBDIRS:?}), \
                 so its vectors would go unread"
            ));
        }
    }
    let has: Vec<&str> = SUBDIRS
        .into_iter()
        .filter(|s| subdirs.iter().any(|d| d == s))
        .collect();
    if !has.is_empty() && has.len() != SUBDIRS.len() {
        for s in SUBDIRS.into_iter().filter(|s| !has.contains(s)) {
            out.push(format!(
                "{s}/ missing: the directory has {has:?}, and a release's vectors have all of {SUBDIRS:?}"
            ));
        }
    }
    for s in has {
        match vector_files(&dir.join(s)) {
            Err(e) => out.push(format!("{s}/: cannot list: {e}")),
            Ok(files) if files.is_empty() => out.push(format!("{s}/ holds no *.json vector file")),
            Ok(files) if s == "invalid" => {
                for f in files {
                    let name = f.file_name().unwrap_or_default().to_string_lossy();
                    if !INVALID_FILES.contains(&name.as_ref()) {
                        out.push(format!(
                            "invalid/{name}: not a negative vector file this reader reads \
                             (it reads {INVALID_FILES:?})"
                        ));
                    }
                }
            }
            Ok(_) => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Negative vectors: testing/vectors/v1/invalid (README "Negative vectors")

/// The negative vector files of a vectors directory, under `invalid/`.
pub const INVALID_FILES: [&str; 2] = ["records.json", "chains.json"];

/// Checks `invalid/records.json` and `invalid/chains.json` of a vectors
/// directory; no reports when it has no `invalid` directory (v2 has none).
/// They are vectors of schema v1 and are read with it, whatever a
/// `--schema` override says: under the drill's v2, kind 7 is `exportDone`.
pub fn check_invalid_dir(dir: &Path) -> Vec<FileReport> {
    let sub = dir.join("invalid");
    if !sub.is_dir() {
        return Vec::new();
    }
    INVALID_FILES
        .iter()
        .map(|name| {
            let file = format!("invalid/{name}");
            let parsed = std::fs::read(sub.join(name))
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|b| {
                    serde_json::from_slice::<Value>(&b)
                        .map_err(|e| format!("JSON: cannot parse: {e}"))
                });
            match parsed {
                Ok(doc) if *name == "records.json" => check_invalid_records(&file, &doc),
                Ok(doc) => check_invalid_chains(&file, &doc),
                Err(what) => {
                    let mut rep = negative_report(&file, "?");
                    rep.failures.push(Failure {
                        file,
                        record: None,
                        what,
                    });
                    rep
                }
            }
        })
        .collect()
}

fn negative_report(file: &str, name: &str) -> FileReport {
    FileReport {
        file: file.to_owned(),
        name: name.to_owned(),
        schema: Schema::V1,
        chain: false,
        negative: true,
        records: 0,
        passed: 0,
        failures: Vec::new(),
    }
}

/// Checks a negative record file: every record has the right hash and a
/// valid signature by `publicKey` (so that refusing it proves the rule,
/// not a broken vector), Cap'n Proto's canonical check agrees with its
/// `capnpCanonical`, and [`open_strict`] (schema v1) refuses it.
pub fn check_invalid_records(file: &str, doc: &Value) -> FileReport {
    let name = doc_name(doc);
    let mut rep = negative_report(file, name);
    let schema = rep.schema;
    let fail = |rep: &mut FileReport, record: Option<usize>, what: String| {
        rep.failures.push(Failure {
            file: file.to_owned(),
            record,
            what,
        })
    };
    let vk = match hex_field(doc, "publicKey", Some(32)).and_then(|pk| {
        ed25519_dalek::VerifyingKey::from_bytes(pk[..].try_into().unwrap())
            .map_err(|e| format!("publicKey is not a valid Ed25519 key: {e}"))
    }) {
        Ok(vk) => vk,
        Err(e) => {
            fail(&mut rep, None, e);
            return rep;
        }
    };
    let records = match doc.get("records").and_then(Value::as_array) {
        Some(r) if !r.is_empty() => r,
        _ => {
            fail(&mut rep, None, "JSON: \"records\" missing or empty".into());
            return rep;
        }
    };
    rep.records = records.len();
    for (i, rec) in records.iter().enumerate() {
        let rname = rec.get("name").and_then(Value::as_str).unwrap_or("?");
        let mut errs = Vec::new();
        match (
            hex_field(rec, "canonical", None),
            hex_field(rec, "hash", Some(32)),
            hex_field(rec, "signature", Some(64)),
        ) {
            (Ok(bytes), Ok(want_hash), Ok(sig)) => {
                let hash = blake3::derive_key(HASH_CONTEXT, &bytes);
                if want_hash[..] != hash[..] {
                    errs.push(format!(
                        "vector: hash is not the hash of the bytes ({}), so a refusal proves nothing",
                        hex::encode(hash)
                    ));
                }
                let sig = ed25519_dalek::Signature::from_bytes(sig[..].try_into().unwrap());
                let mut msg = SIG_PREFIX.to_vec();
                msg.extend_from_slice(&hash);
                if let Err(e) = verify_ed25519(&vk, &msg, &sig) {
                    errs.push(format!(
                        "vector: signature does not verify ({e}), so a refusal proves nothing"
                    ));
                }
                match rec.get("capnpCanonical").and_then(Value::as_bool) {
                    None => errs.push("JSON: missing boolean field \"capnpCanonical\"".into()),
                    Some(want) => {
                        let got = is_capnp_canonical(&bytes);
                        if got != want {
                            errs.push(format!(
                                "capnpCanonical: the capnp crate finds the bytes canonical: {got}, the vector says {want}"
                            ));
                        }
                    }
                }
                if let Ok(r) = open_strict(&bytes, schema) {
                    errs.push(format!(
                        "accepted (seq {}, writerId {:?}), but it breaks: {}",
                        r.seq,
                        r.writer_id,
                        rec.get("rule").and_then(Value::as_str).unwrap_or("?")
                    ));
                }
            }
            (a, b, c) => {
                for e in [a.err(), b.err(), c.err()].into_iter().flatten() {
                    errs.push(e);
                }
            }
        }
        if errs.is_empty() {
            rep.passed += 1;
        }
        for e in errs {
            fail(&mut rep, Some(i), format!("{rname}: {e}"));
        }
    }
    rep
}

/// Whether the capnp crate finds `bytes` a canonical single-segment message.
pub fn is_capnp_canonical(bytes: &[u8]) -> bool {
    let Ok(words) = to_words(bytes) else {
        return false;
    };
    let segments: [&[u8]; 1] = [capnp::Word::words_to_bytes(&words)];
    let msg = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(&segments),
        capnp::message::ReaderOptions::new(),
    );
    matches!(msg.is_canonical(), Ok(true))
}

/// Checks a negative chain file: each chain, read as a vector file with
/// `"chain": true` ([`check_value_with`]), fails at record `failsAt` and
/// only there, and only on chain checks: every record is valid on its own.
pub fn check_invalid_chains(file: &str, doc: &Value) -> FileReport {
    let name = doc_name(doc);
    let mut rep = negative_report(file, name);
    let chains = match doc.get("chains").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => c,
        _ => {
            rep.failures.push(Failure {
                file: file.to_owned(),
                record: None,
                what: "JSON: \"chains\" missing or empty".into(),
            });
            return rep;
        }
    };
    rep.records = chains.len();
    for (i, c) in chains.iter().enumerate() {
        let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
        let mut errs = Vec::new();
        match c.get("failsAt").and_then(Value::as_u64) {
            None => errs.push("JSON: missing integer field \"failsAt\"".to_owned()),
            Some(at) => {
                let sub = json!({
                    "name": cname,
                    "chain": true,
                    "publicKey": doc.get("publicKey").cloned().unwrap_or(Value::Null),
                    "records": c.get("records").cloned().unwrap_or(Value::Null),
                });
                let r = check_value_with(file, &sub, Some(Schema::V1));
                let at = usize::try_from(at).ok();
                if r.failures.is_empty() {
                    errs.push(format!(
                        "accepted, but it breaks: {}",
                        c.get("rule").and_then(Value::as_str).unwrap_or("?")
                    ));
                }
                for f in &r.failures {
                    if f.record != at || !f.what.starts_with("chain:") {
                        errs.push(format!(
                            "want only chain failures at record {at:?}, got at {:?}: {}",
                            f.record, f.what
                        ));
                    }
                }
            }
        }
        if errs.is_empty() {
            rep.passed += 1;
        }
        for e in errs {
            rep.failures.push(Failure {
                file: file.to_owned(),
                record: Some(i),
                what: format!("{cname}: {e}"),
            });
        }
    }
    rep
}

#[cfg(test)]
mod tests;
