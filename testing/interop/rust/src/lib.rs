//! Foreign (Rust) reader of the ron-audit v1 test vectors.
//!
//! It checks every record of every vector file the way
//! `testing/vectors/v1/README.md` says a reader must:
//!
//! 1. `canonical` decodes as a single-segment Cap'n Proto message with no
//!    segment table, the message is canonical, and every decoded field of the
//!    root `AuditRecord` equals the JSON `record` rendering;
//! 2. `hash` is BLAKE3 derive_key("ron-audit 2026-11-27 record hash v1") over
//!    the canonical bytes;
//! 3. `signature` is a valid (strict) Ed25519 signature by `publicKey` over
//!    `RONAUDIT-SIG-V1` || hash;
//! 4. in a `chain` file, seq counts up from 1 and prev links to the hash of
//!    the record before (32 zero bytes for the first).
//!
//! On top of that it re-encodes the decoded record with this crate's own
//! Cap'n Proto implementation (empty values as null pointers, then
//! canonicalized) and requires the very same bytes, and checks `dedupeKey`
//! (README check 5) with the same encoder.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

#[allow(clippy::all, dead_code, unused_imports, unused_parens)]
pub mod audit_capnp {
    include!(concat!(env!("OUT_DIR"), "/audit_capnp.rs"));
}

use audit_capnp::{audit_record, Kind};

/// BLAKE3 derive_key context of the record hash.
pub const HASH_CONTEXT: &str = "ron-audit 2026-11-27 record hash v1";
/// BLAKE3 derive_key context of the dedupe key.
pub const DEDUPE_CONTEXT: &str = "ron-audit 2026-11-27 dedupe key v1";
/// Domain-separation prefix of the signed message.
pub const SIG_PREFIX: &[u8] = b"RONAUDIT-SIG-V1";

/// Directory of the v1 vectors, relative to this crate.
pub fn default_vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/v1")
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub v: u16,
    pub kind: Kind,
    pub seq: u64,
    pub ts_ms: u64,
    pub writer_id: String,
    pub stream: String,
    pub actor: Actor,
    pub subject: Subject,
    pub reason: String,
    pub attrs: Vec<(String, String)>,
    pub prev: Vec<u8>,
}

pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Unknown => "unknown",
        Kind::CapIssued => "capIssued",
        Kind::CapRevoked => "capRevoked",
        Kind::PolicyChanged => "policyChanged",
        Kind::IndexWrite => "indexWrite",
        Kind::GetServed => "getServed",
        Kind::QuotaReject => "quotaReject",
    }
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

/// Decodes canonical bytes (one segment, no segment table) into a Record and
/// checks that the message is canonical.
pub fn decode(bytes: &[u8]) -> Result<Record, String> {
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
    let r: audit_record::Reader = msg
        .get_root()
        .map_err(|e| format!("decode: root AuditRecord: {e}"))?;

    let kind = r
        .get_kind()
        .map_err(|e| format!("decode: field kind: enumerant {} not in schema", e.0))?;
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
    Ok(Record {
        v: r.get_v(),
        kind,
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
    })
}

impl Record {
    /// The README's JSON rendering of a record.
    pub fn to_json(&self) -> Value {
        json!({
            "v": self.v,
            "kind": kind_name(self.kind),
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
        })
    }

    /// Encodes the record with this crate's Cap'n Proto implementation: empty
    /// values are left as null pointers, then the message is canonicalized.
    pub fn encode_canonical(&self) -> Result<Vec<u8>, String> {
        let mut msg = capnp::message::Builder::new_default();
        {
            let mut r = msg.init_root::<audit_record::Builder>();
            r.set_v(self.v);
            r.set_kind(self.kind);
            r.set_seq(self.seq);
            r.set_ts_ms(self.ts_ms);
            if !self.writer_id.is_empty() {
                r.set_writer_id(self.writer_id.as_str());
            }
            if !self.stream.is_empty() {
                r.set_stream(self.stream.as_str());
            }
            if self.actor != Actor::default() {
                let mut a = r.reborrow().init_actor();
                if !self.actor.cap_id.is_empty() {
                    a.set_cap_id(self.actor.cap_id.as_str());
                }
                if !self.actor.key_fpr.is_empty() {
                    a.set_key_fpr(self.actor.key_fpr.as_str());
                }
                if !self.actor.passport_id.is_empty() {
                    a.set_passport_id(self.actor.passport_id.as_str());
                }
                a.set_anon(self.actor.anon);
            }
            if self.subject != Subject::default() {
                let mut s = r.reborrow().init_subject();
                if !self.subject.content_id.is_empty() {
                    s.set_content_id(self.subject.content_id.as_str());
                }
                if !self.subject.ledger_txid.is_empty() {
                    s.set_ledger_txid(self.subject.ledger_txid.as_str());
                }
                if !self.subject.name.is_empty() {
                    s.set_name(self.subject.name.as_str());
                }
            }
            if !self.reason.is_empty() {
                r.set_reason(self.reason.as_str());
            }
            if !self.attrs.is_empty() {
                let n = u32::try_from(self.attrs.len()).map_err(|_| "too many attrs")?;
                let mut list = r.reborrow().init_attrs(n);
                for (i, (k, v)) in self.attrs.iter().enumerate() {
                    let mut a = list.reborrow().get(i as u32);
                    if !k.is_empty() {
                        a.set_key(k.as_str());
                    }
                    if !v.is_empty() {
                        a.set_value(v.as_str());
                    }
                }
            }
            if !self.prev.is_empty() {
                r.set_prev(&self.prev[..]);
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

fn field<'a>(obj: &'a Value, key: &str) -> Result<&'a Value, String> {
    obj.get(key)
        .ok_or_else(|| format!("JSON: missing field {key:?}"))
}

fn hex_field(obj: &Value, key: &str, len: Option<usize>) -> Result<Vec<u8>, String> {
    let s = field(obj, key)?
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

/// Compares a decoded rendering with the JSON one, field by field, and names
/// the first field that differs. The JSON rendering must have exactly the
/// README's fields (every field always present).
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
    pub chain: bool,
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

/// Checks one record; returns its decoded seq and computed hash, which the
/// chain check of the next record needs, even when a check failed.
fn check_record(
    rec: &Value,
    vk: Option<&ed25519_dalek::VerifyingKey>,
    errs: &mut Vec<String>,
) -> (Option<u64>, Option<[u8; 32]>, Option<Vec<u8>>) {
    let bytes = match hex_field(rec, "canonical", None) {
        Ok(b) => b,
        Err(e) => {
            errs.push(e);
            return (None, None, None);
        }
    };

    // 1. decode, canonical, fields; and our own re-encoding.
    let mut seq = None;
    let mut prev = None;
    match decode(&bytes) {
        Err(e) => errs.push(e),
        Ok(r) => {
            seq = Some(r.seq);
            prev = Some(r.prev.clone());
            match field(rec, "record") {
                Err(e) => errs.push(e),
                Ok(want) => {
                    if let Err(e) = compare("", &r.to_json(), want) {
                        errs.push(e);
                    }
                }
            }
            match r.encode_canonical() {
                Err(e) => errs.push(e),
                Ok(re) if re != bytes => errs.push(format!(
                    "re-encoding: Rust canonical encoding of the decoded record differs from \
                     canonical\n  rust: {}\n  file: {}",
                    hex::encode(&re),
                    hex::encode(&bytes)
                )),
                Ok(_) => {}
            }
            // 5. dedupe key: same record with seq = 0 and prev empty.
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
            if let Err(e) = vk.verify_strict(&msg, &sig) {
                errs.push(format!("signature does not verify: {e}"));
            }
        }
    }

    (seq, Some(hash), prev)
}

/// Checks one parsed vector file. `file` names it in failures.
pub fn check_value(file: &str, doc: &Value) -> FileReport {
    let mut rep = FileReport {
        file: file.to_owned(),
        name: doc
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned(),
        chain: false,
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
    for (i, rec) in records.iter().enumerate() {
        let mut errs = Vec::new();
        let (seq, hash, prev) = check_record(rec, vk.as_ref(), &mut errs);

        // 4. chain links.
        if rep.chain {
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

/// Reads and checks one vector file.
pub fn check_file(path: &Path) -> FileReport {
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
        Ok(doc) => check_value(&file, &doc),
        Err(what) => FileReport {
            file: file.clone(),
            name: "?".into(),
            chain: false,
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

/// Checks every vector file of a directory.
pub fn check_dir(dir: &Path) -> std::io::Result<Vec<FileReport>> {
    Ok(vector_files(dir)?.iter().map(|p| check_file(p)).collect())
}

#[cfg(test)]
mod tests;
