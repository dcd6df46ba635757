//! Foreign verifier of ron-audit export bundles (version 1), written from
//! the documents only:
//!
//! - `sdk/export/FORMAT.md`: the layout (magic, version, origin, the
//!   checkpoint and the previous one, the consistency proof, the compact
//!   range, CRC-32C record frames, nothing after the last one), verifying
//!   one bundle (steps 1-6, key rotation included) and a sequence (gaps,
//!   forks, links across bundles, a trusted checkpoint it must reach);
//! - `sdk/checkpoint/SPEC.md` (signed notes, origins, RFC 6962 trees and
//!   consistency proofs), through [`crate::checkpoint`];
//! - `canonical/SPEC.md` (record hash, strict canonical bytes, signatures,
//!   key ids, key transitions), through the crate root.
//!
//! Failures are [`BundleError`]s naming FORMAT.md's reason label (and the
//! detail label, `retired_key`, `unknown_key` or `bad_key_transition`, where the documents
//! name one), the bundle, the record's seq and what was wrong.
//!
//! The order of the checks within a bundle is not part of the format: this
//! verifier reads the records first (step 4 with the record side of step
//! 6, which learns the keys the bundle's transitions name), then opens the
//! checkpoints (step 2), then checks the compact range and the proof (step
//! 3) and the root (step 5).

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use crate::checkpoint::{self as cp, Hash};
use crate::{open_strict, verify_ed25519, Schema, HASH_CONTEXT, SIG_PREFIX};

pub const MAGIC: &[u8; 15] = b"RONAUDIT-BUNDLE";
pub const VERSION: u8 = 1;
pub const MAX_ORIGIN: usize = 1024;
pub const MAX_NOTE: usize = 262_144;
/// Record payload header: type, flags, key id, signature, record hash.
const RECORD_HEAD: usize = 1 + 1 + 8 + 64 + 32;
/// A record frame payload's bounds: the header and 8..65,536 record bytes.
pub const MIN_PAYLOAD: usize = RECORD_HEAD + 8;
pub const MAX_PAYLOAD: usize = RECORD_HEAD + 65_536;
/// A record frame's length and CRC-32C.
const FRAME_HEAD: usize = 8;
const RECORD_TYPE: u8 = 1;
const FLAG_SIGNED: u8 = 1;
pub const KEY_ID_CONTEXT: &str = "ron-audit 2026-11-27 key id v1";
pub const TRANSITION_ATTR: &str = "ron-audit.keyTransition";
const GENESIS: [u8; 32] = [0; 32];

// ---------------------------------------------------------------------------
// Errors

/// FORMAT.md's reason labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Format,
    BadCheckpoint,
    Consistency,
    Record,
    Root,
    Gap,
    Fork,
    Truncated,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Format => "format",
            Reason::BadCheckpoint => "bad_checkpoint",
            Reason::Consistency => "consistency",
            Reason::Record => "record",
            Reason::Root => "root",
            Reason::Gap => "gap",
            Reason::Fork => "fork",
            Reason::Truncated => "truncated",
        }
    }
}

/// What failed inside a `record` or `bad_checkpoint`, where the documents
/// name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    RetiredKey,
    UnknownKey,
    BadKeyTransition,
}

impl Detail {
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::RetiredKey => "retired_key",
            Detail::UnknownKey => "unknown_key",
            Detail::BadKeyTransition => "bad_key_transition",
        }
    }
}

/// The first failure: why, which bundle, which record, what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleError {
    pub reason: Reason,
    pub detail: Option<Detail>,
    /// The bundle's name (a file name, or "#i" for the i-th of a sequence).
    pub bundle: Option<String>,
    pub seq: Option<u64>,
    pub what: String,
}

impl BundleError {
    fn new(reason: Reason, what: impl Into<String>) -> Self {
        BundleError {
            reason,
            detail: None,
            bundle: None,
            seq: None,
            what: what.into(),
        }
    }

    fn at(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    fn with(mut self, detail: Detail) -> Self {
        self.detail = Some(detail);
        self
    }

    fn in_bundle(mut self, name: &str) -> Self {
        self.bundle.get_or_insert_with(|| name.to_owned());
        self
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = &self.bundle {
            write!(f, "{b}: ")?;
        }
        f.write_str(self.reason.as_str())?;
        if let Some(d) = self.detail {
            write!(f, " ({})", d.as_str())?;
        }
        if let Some(s) = self.seq {
            write!(f, ": seq {s}")?;
        }
        write!(f, ": {}", self.what)
    }
}

impl std::error::Error for BundleError {}

type Result<T> = std::result::Result<T, BundleError>;

// ---------------------------------------------------------------------------
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)

const fn crc32c_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC32C: [u32; 256] = crc32c_table();

pub fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        CRC32C[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

// ---------------------------------------------------------------------------
// Parsing (FORMAT.md "Layout", step 1)

/// One record frame's payload, split into its fields.
#[derive(Clone, Debug)]
pub struct Frame<'a> {
    pub seq: u64,
    pub payload_type: u8,
    pub flags: u8,
    pub key_id: [u8; 8],
    pub signature: [u8; 64],
    pub hash: Hash,
    pub canonical: &'a [u8],
}

impl Frame<'_> {
    fn signed(&self) -> bool {
        self.flags == FLAG_SIGNED
    }
}

/// A parsed bundle; nothing in it is verified but its framing.
#[derive(Clone, Debug)]
pub struct Bundle<'a> {
    pub origin: String,
    pub writer: String,
    pub stream: String,
    /// S
    pub size: u64,
    pub checkpoint: &'a [u8],
    /// m
    pub prev_size: u64,
    pub prev_checkpoint: &'a [u8],
    pub proof: Vec<Hash>,
    pub compact: Vec<Hash>,
    pub records: Vec<Frame<'a>>,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.left() {
            return Err(BundleError::new(
                Reason::Format,
                format!(
                    "{what}: the data ends early ({} bytes left, want {n})",
                    self.left()
                ),
            ));
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn uint(&mut self, n: usize, what: &str) -> Result<u64> {
        let b = self.take(n, what)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn hashes(&mut self, count: u64, what: &str) -> Result<Vec<Hash>> {
        (0..count)
            .map(|_| Ok(self.take(32, what)?.try_into().expect("32 bytes")))
            .collect()
    }
}

fn format_err(what: impl Into<String>) -> BundleError {
    BundleError::new(Reason::Format, what)
}

/// Parses a bundle exactly (step 1): `format`, or `record` at its seq for a
/// frame whose length is out of range or runs past the end, or whose
/// CRC-32C differs.
pub fn parse(data: &[u8]) -> Result<Bundle<'_>> {
    let mut r = Reader { data, pos: 0 };
    let magic = r.take(MAGIC.len(), "magic")?;
    if magic != MAGIC {
        return Err(format_err(format!(
            "magic is {:?}, want {:?}",
            String::from_utf8_lossy(magic),
            String::from_utf8_lossy(MAGIC)
        )));
    }
    let version = r.uint(1, "version")?;
    if version != u64::from(VERSION) {
        return Err(format_err(format!("version {version}, want {VERSION}")));
    }
    let olen = r.uint(2, "origin length")? as usize;
    if !(1..=MAX_ORIGIN).contains(&olen) {
        return Err(format_err(format!(
            "origin length {olen}, want 1..{MAX_ORIGIN}"
        )));
    }
    let ob = r.take(olen, "origin")?;
    let origin = std::str::from_utf8(ob)
        .map_err(|_| format_err("origin is not UTF-8"))?
        .to_owned();
    let (writer, stream) = cp::parse_origin(&origin).map_err(|e| format_err(e.what))?;
    let size = r.uint(8, "size")?;
    let clen = r.uint(4, "checkpoint length")? as usize;
    if !(1..=MAX_NOTE).contains(&clen) {
        return Err(format_err(format!(
            "checkpoint length {clen}, want 1..{MAX_NOTE}"
        )));
    }
    let checkpoint = r.take(clen, "checkpoint")?;
    let m = r.uint(8, "previous size")?;
    if !(m < size && size <= cp::MAX_TREE_SIZE) {
        return Err(format_err(format!(
            "sizes m = {m}, S = {size}: want m < S < 2^63"
        )));
    }
    let plen = r.uint(4, "previous checkpoint length")? as usize;
    if plen > MAX_NOTE || (plen == 0) != (m == 0) {
        return Err(format_err(format!(
            "previous checkpoint length {plen} with previous size {m} \
             (0 iff m = 0, at most {MAX_NOTE})"
        )));
    }
    let prev_checkpoint = r.take(plen, "previous checkpoint")?;
    let pcount = r.uint(1, "proof count")?;
    // A proof count that is not the proof's length fails as `consistency`
    // (step 1), except for a first bundle, which has no proof to check.
    if m == 0 && pcount != 0 {
        return Err(format_err(format!(
            "proof count {pcount} for a first bundle (m = 0), want 0"
        )));
    }
    let proof = r.hashes(pcount, "consistency proof")?;
    let rcount = r.uint(1, "range count")?;
    if rcount != u64::from(m.count_ones()) {
        return Err(format_err(format!(
            "range count {rcount}, want popcount({m}) = {}",
            m.count_ones()
        )));
    }
    let compact = r.hashes(rcount, "compact range")?;
    let count = r.uint(8, "record count")?;
    if count != size - m {
        return Err(format_err(format!(
            "record count {count}, want S - m = {}",
            size - m
        )));
    }
    if count > (r.left() / (FRAME_HEAD + MIN_PAYLOAD)) as u64 {
        return Err(format_err(format!(
            "{count} record frames do not fit in the {} bytes left",
            r.left()
        )));
    }
    let mut records = Vec::with_capacity(count as usize);
    for seq in m + 1..=size {
        records.push(parse_frame(&mut r, seq).map_err(|e| e.at(seq))?);
    }
    if r.left() != 0 {
        return Err(format_err(format!(
            "{} bytes after the last record",
            r.left()
        )));
    }
    Ok(Bundle {
        origin,
        writer,
        stream,
        size,
        checkpoint,
        prev_size: m,
        prev_checkpoint,
        proof,
        compact,
        records,
    })
}

/// One record frame; every failure is `record` (the caller adds the seq).
fn parse_frame<'a>(r: &mut Reader<'a>, seq: u64) -> Result<Frame<'a>> {
    let rec = |e: BundleError| BundleError::new(Reason::Record, e.what);
    let n = r.uint(4, "record frame length").map_err(rec)? as usize;
    let crc = r.uint(4, "record frame CRC-32C").map_err(rec)? as u32;
    if !(MIN_PAYLOAD..=MAX_PAYLOAD).contains(&n) {
        return Err(BundleError::new(
            Reason::Record,
            format!("record frame length {n}, want {MIN_PAYLOAD}..{MAX_PAYLOAD}"),
        ));
    }
    let p = r.take(n, "record frame payload").map_err(rec)?;
    let got = crc32c(p);
    if got != crc {
        return Err(BundleError::new(
            Reason::Record,
            format!("CRC-32C of the payload is {got:08x}, the frame says {crc:08x}"),
        ));
    }
    Ok(Frame {
        seq,
        // The type byte is checked with the record (step 4).
        payload_type: p[0],
        flags: p[1],
        key_id: p[2..10].try_into().expect("8 bytes"),
        signature: p[10..74].try_into().expect("64 bytes"),
        hash: p[74..106].try_into().expect("32 bytes"),
        canonical: &p[RECORD_HEAD..],
    })
}

// ---------------------------------------------------------------------------
// Keys (canonical/SPEC.md section 5, FORMAT.md step 6)

pub type PublicKey = [u8; 32];

/// First 8 bytes of BLAKE3 derive_key("ron-audit 2026-11-27 key id v1", key).
pub fn key_id(public_key: &PublicKey) -> [u8; 8] {
    blake3::derive_key(KEY_ID_CONTEXT, public_key)[..8]
        .try_into()
        .expect("8 bytes")
}

/// One chain's key state: for each key the seqs at which it may sign
/// records (inclusive intervals), and the transitions seen.
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    trust: Vec<(PublicKey, Vec<(u64, u64)>)>,
    /// (seq T, retired key, named key)
    pub transitions: Vec<(u64, PublicKey, PublicKey)>,
}

impl KeyState {
    /// The keys a verifier is given, each trusted from seq 1 on.
    pub fn new(trusted: &[PublicKey]) -> Self {
        let mut s = KeyState::default();
        for k in trusted {
            if s.intervals(k).is_none() {
                s.trust.push((*k, vec![(1, u64::MAX)]));
            }
        }
        s
    }

    fn intervals(&self, k: &PublicKey) -> Option<&Vec<(u64, u64)>> {
        self.trust.iter().find(|(p, _)| p == k).map(|(_, iv)| iv)
    }

    fn intervals_mut(&mut self, k: &PublicKey) -> &mut Vec<(u64, u64)> {
        let i = match self.trust.iter().position(|(p, _)| p == k) {
            Some(i) => i,
            None => {
                self.trust.push((*k, Vec::new()));
                self.trust.len() - 1
            }
        };
        &mut self.trust[i].1
    }

    /// Every key trusted for something (given, or named by a transition).
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.trust.iter().map(|(k, _)| k)
    }

    fn may_sign_record(&self, k: &PublicKey, seq: u64) -> bool {
        self.intervals(k)
            .is_some_and(|iv| iv.iter().any(|&(a, b)| a <= seq && seq <= b))
    }

    /// The sizes a key's checkpoints vouch for by the chain's history
    /// (checkpoint SPEC section 3, Go `checkpoint.InForce`): from the seq
    /// of the transition that named it (0: none did) to the seq of the one
    /// that retired it (`u64::MAX`: none did). At a transition's seq both
    /// keys may sign; a key given to the verifier is judged the same way,
    /// and one no transition names nor retires counts at every size.
    fn checkpoint_span(&self, k: &PublicKey) -> (u64, u64) {
        let named = self
            .transitions
            .iter()
            .filter(|(_, _, new)| new == k)
            .map(|&(t, _, _)| t)
            .min();
        let retired = self
            .transitions
            .iter()
            .filter(|(_, old, _)| old == k)
            .map(|&(t, _, _)| t)
            .min();
        (named.unwrap_or(0), retired.unwrap_or(u64::MAX))
    }

    /// A key's checkpoints vouch for at most the seq it was retired at, and
    /// for no size below the seq of the transition that named it.
    fn may_sign_checkpoint(&self, k: &PublicKey, size: u64) -> bool {
        let (lo, hi) = self.checkpoint_span(k);
        self.intervals(k).is_some_and(|iv| !iv.is_empty()) && lo <= size && size <= hi
    }

    /// The seq at which `k` was last retired before `seq`, if it was.
    fn retired_before(&self, k: &PublicKey, seq: u64) -> Option<u64> {
        self.intervals(k)?
            .iter()
            .map(|&(_, b)| b)
            .filter(|&b| b < seq)
            .max()
    }

    /// Why a transition signed by `old` may not name `new`, if it may not.
    fn transition_problem(&self, old: &PublicKey, new: &PublicKey) -> Option<String> {
        if new == old {
            return Some("a transition naming the key that signs it".into());
        }
        self.transitions
            .iter()
            .find(|(_, retired, _)| retired == new)
            .map(|(t, _, _)| {
                format!(
                    "a transition naming key {}, retired at seq {t}",
                    hex::encode(key_id(new))
                )
            })
    }

    /// The transition at `seq`: `old` signs nothing after it, `new` signs
    /// from seq + 1 on.
    fn apply_transition(&mut self, seq: u64, old: &PublicKey, new: &PublicKey) {
        for iv in self.intervals_mut(old) {
            if iv.0 <= seq && seq <= iv.1 {
                iv.1 = seq;
            }
        }
        let ivs = self.intervals_mut(new);
        if !ivs.iter().any(|&(a, b)| a <= seq + 1 && seq < b) {
            ivs.push((seq + 1, u64::MAX));
        }
        self.transitions.push((seq, *old, *new));
    }
}

/// The key a record's transition attr names, None if it has none; an attr
/// value that is not `ed25519:` and 64 lower-case hex digits is refused.
fn transition_key(attrs: &[(String, String)]) -> std::result::Result<Option<PublicKey>, String> {
    let Some((_, v)) = attrs.iter().find(|(k, _)| k == TRANSITION_ATTR) else {
        return Ok(None);
    };
    v.strip_prefix("ed25519:")
        .filter(|h| h.len() == 64 && h.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        .and_then(|h| hex::decode(h).ok())
        .and_then(|k| PublicKey::try_from(k).ok())
        .map(Some)
        .ok_or_else(|| format!("value {v:?} is not ed25519:<64 lower-case hex digits>"))
}

// ---------------------------------------------------------------------------
// Verifying one bundle (FORMAT.md steps 2-6)

/// What one verified bundle holds.
#[derive(Clone, Debug)]
pub struct BundleSummary {
    pub origin: String,
    pub prev_size: u64,
    pub size: u64,
    pub root: Hash,
    /// The previous checkpoint's root (the empty tree's for m = 0).
    pub prev_root: Hash,
    /// The prev link of record m+1.
    pub first_prev: Hash,
    /// Record hashes of seq m+1..S.
    pub hashes: Vec<Hash>,
    /// Records with a valid signature.
    pub signed: usize,
}

/// Checks one record (step 4, and the record side of step 6: its signer
/// may sign at its seq; a transition is signed and names another key,
/// which `keys` then trusts). Returns its hash and prev link.
fn check_record(
    b: &Bundle<'_>,
    f: &Frame<'_>,
    prev: Option<&Hash>,
    keys: &mut KeyState,
) -> Result<(Hash, Hash, bool)> {
    let err = |what: String| BundleError::new(Reason::Record, what).at(f.seq);
    if f.payload_type != RECORD_TYPE {
        return Err(err(format!(
            "payload type {}, want {RECORD_TYPE} (record)",
            f.payload_type
        )));
    }
    if f.flags > FLAG_SIGNED {
        return Err(err(format!("flags byte {:#04x}, want 0 or 1", f.flags)));
    }
    if !f.signed() && (f.key_id != [0; 8] || f.signature != [0; 64]) {
        return Err(err(
            "unsigned record with a non-zero key id or signature".into()
        ));
    }
    let h = blake3::derive_key(HASH_CONTEXT, f.canonical);
    if h != f.hash {
        return Err(err(format!(
            "record hash {} != the frame's {}",
            hex::encode(h),
            hex::encode(f.hash)
        )));
    }
    let r = open_strict(f.canonical, Schema::V1)
        .map_err(|e| err(format!("record bytes refused: {e}")))?;
    if (r.writer_id.as_str(), r.stream.as_str()) != (b.writer.as_str(), b.stream.as_str()) {
        return Err(err(format!(
            "record of {}/{}, the bundle's origin is {}",
            r.writer_id, r.stream, b.origin
        )));
    }
    if r.seq != f.seq {
        return Err(err(format!("record seq {}, want {}", r.seq, f.seq)));
    }
    let rprev: Hash = r.prev.as_slice().try_into().expect("strict: 32 bytes");
    if let Some(p) = prev {
        if rprev != *p {
            let genesis = if f.seq == 1 { " (genesis)" } else { "" };
            return Err(err(format!(
                "prev {} != {}{genesis}",
                hex::encode(rprev),
                hex::encode(p)
            )));
        }
    }
    let signer = if f.signed() {
        Some(check_signature(f, &h, keys)?)
    } else {
        None
    };
    let bad_transition = |what: String| err(what).with(Detail::BadKeyTransition);
    if let Some(new) = transition_key(&r.attrs).map_err(bad_transition)? {
        let Some(old) = signer else {
            return Err(bad_transition("an unsigned key transition".into()));
        };
        if let Some(why) = keys.transition_problem(&old, &new) {
            return Err(bad_transition(why));
        }
        keys.apply_transition(f.seq, &old, &new);
    }
    Ok((h, rprev, signer.is_some()))
}

/// The key that signed the record: one of `keys` with the frame's key id
/// that may sign at its seq and whose signature verifies.
fn check_signature(f: &Frame<'_>, h: &Hash, keys: &KeyState) -> Result<PublicKey> {
    let err = |what: String| BundleError::new(Reason::Record, what).at(f.seq);
    let kid = hex::encode(f.key_id);
    let candidates: Vec<&PublicKey> = keys.keys().filter(|k| key_id(k) == f.key_id).collect();
    let usable: Vec<&PublicKey> = candidates
        .iter()
        .copied()
        .filter(|k| keys.may_sign_record(k, f.seq))
        .collect();
    let mut msg = SIG_PREFIX.to_vec();
    msg.extend_from_slice(h);
    let sig = Signature::from_bytes(&f.signature);
    // The SPEC's cofactorless check, as Go's (crate::verify_ed25519).
    let verifies = |k: &PublicKey| {
        VerifyingKey::from_bytes(k).is_ok_and(|vk| verify_ed25519(&vk, &msg, &sig).is_ok())
    };
    if let Some(k) = usable.iter().find(|k| verifies(k)) {
        return Ok(**k);
    }
    if !usable.is_empty() {
        return Err(err(format!("signature by key id {kid} does not verify")));
    }
    if let Some(t) = candidates
        .iter()
        .filter_map(|k| keys.retired_before(k, f.seq))
        .max()
    {
        return Err(err(format!(
            "key id {kid} was retired at seq {t}; it signs nothing after"
        ))
        .with(Detail::RetiredKey));
    }
    Err(err(format!(
        "key id {kid} is not a trusted key of this chain"
    )))
}

/// The names a note's signature lines claim (bare public keys are accepted
/// under any key name: checkpoint SPEC section 2).
fn signature_names(note: &[u8]) -> Vec<String> {
    let Ok(s) = std::str::from_utf8(note) else {
        return Vec::new();
    };
    let Some(split) = s.rfind("\n\n") else {
        return Vec::new();
    };
    s[split + 2..]
        .lines()
        .filter_map(|l| l.strip_prefix(cp::SIG_LINE_PREFIX)?.split_once(' '))
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// Opens a signed checkpoint with the chain's keys and judges it by step
/// 6; `size` None accepts any size. Refuses with `bad_checkpoint`.
pub fn open_checkpoint(
    note: &[u8],
    keys: &KeyState,
    writer: &str,
    origin: &str,
    size: Option<u64>,
    what: &str,
) -> Result<cp::Checkpoint> {
    let err = |msg: String| BundleError::new(Reason::BadCheckpoint, format!("{what}: {msg}"));
    let mut names = signature_names(note);
    names.push(format!(
        "{}{}",
        cp::ORIGIN_PREFIX,
        cp::escape_component(writer)
    ));
    names.sort();
    names.dedup();
    let mut verifiers = Vec::new();
    for name in names.iter().filter(|n| cp::is_key_name(n)) {
        for k in keys.keys() {
            if let Ok(vk) = VerifyingKey::from_bytes(k) {
                verifiers.push(cp::Verifier {
                    name: name.clone(),
                    hash: cp::key_hash(name, k),
                    key: vk,
                });
            }
        }
    }
    let (c, opened) = cp::open_checkpoint(note, &verifiers, Some(origin)).map_err(|e| {
        let unknown = e.reason == cp::Reason::UnknownKey;
        let e = err(e.to_string());
        if unknown {
            e.with(Detail::UnknownKey)
        } else {
            e
        }
    })?;
    if let Some(s) = size {
        if c.size != s {
            return Err(err(format!("size {}, want {s}", c.size)));
        }
    }
    let signers: Vec<PublicKey> = opened
        .verified
        .iter()
        .filter_map(|s| {
            verifiers
                .iter()
                .find(|v| v.name == s.name && v.hash == s.hash)
                .map(|v| v.key.to_bytes())
        })
        .collect();
    if !signers.iter().any(|k| keys.may_sign_checkpoint(k, c.size)) {
        if !signers.iter().any(|k| c.size > keys.checkpoint_span(k).1) {
            let t = signers
                .iter()
                .map(|k| keys.checkpoint_span(k).0)
                .min()
                .unwrap_or(0);
            return Err(err(format!(
                "size {} is below seq {t}, where the transition named its every trusted signing key",
                c.size
            ))
            .with(Detail::UnknownKey)
            .at(c.size));
        }
        let t = signers
            .iter()
            .filter_map(|k| keys.retired_before(k, c.size + 1))
            .max()
            .unwrap_or(0);
        return Err(err(format!(
            "size {} is beyond seq {t}, where its every trusted signing key was retired",
            c.size
        ))
        .with(Detail::RetiredKey)
        .at(c.size));
    }
    Ok(c)
}

/// Folds perfect-subtree hashes from the right: h = H(1 || left || h).
fn fold(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => cp::tree_hash(&[]),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |h, left| cp::node_hash(left, &h)),
    }
}

/// Step 5: the root at m + len(hashes), from the compact range of [0, m)
/// and the record hashes after it.
fn root_from(compact: &[Hash], m: u64, record_hashes: &[Hash]) -> Hash {
    // (level, hash) of the perfect subtrees, largest first.
    let levels = (0..64u32).rev().filter(|k| m >> k & 1 == 1);
    let mut stack: Vec<(u32, Hash)> = levels.zip(compact.iter().copied()).collect();
    for rh in record_hashes {
        let mut node = (0u32, cp::leaf_hash(rh));
        while let Some(&(level, left)) = stack.last() {
            if level != node.0 {
                break;
            }
            stack.pop();
            node = (level + 1, cp::node_hash(&left, &node.1));
        }
        stack.push(node);
    }
    let hashes: Vec<Hash> = stack.into_iter().map(|(_, h)| h).collect();
    fold(&hashes)
}

/// Verifies one parsed bundle (steps 2-6) with the chain's key state
/// `keys` (the bundles before it in a sequence have updated it).
pub fn verify_bundle(b: &Bundle<'_>, keys: &mut KeyState) -> Result<BundleSummary> {
    // Step 4, with the record side of step 6.
    let mut hashes = Vec::with_capacity(b.records.len());
    let mut signed = 0;
    let mut first_prev = GENESIS;
    let mut prev: Option<Hash> = (b.prev_size == 0).then_some(GENESIS);
    for f in &b.records {
        let (h, rprev, is_signed) = check_record(b, f, prev.as_ref(), keys)?;
        if f.seq == b.prev_size + 1 {
            first_prev = rprev;
        }
        hashes.push(h);
        signed += usize::from(is_signed);
        prev = Some(h);
    }
    // Step 2, with the checkpoint side of step 6.
    let c = open_checkpoint(
        b.checkpoint,
        keys,
        &b.writer,
        &b.origin,
        Some(b.size),
        "the checkpoint",
    )?;
    let prev_root = if b.prev_size == 0 {
        cp::tree_hash(&[])
    } else {
        open_checkpoint(
            b.prev_checkpoint,
            keys,
            &b.writer,
            &b.origin,
            Some(b.prev_size),
            "the previous checkpoint",
        )?
        .root
    };
    // Step 3.
    let folded = fold(&b.compact);
    if folded != prev_root {
        return Err(BundleError::new(
            Reason::Consistency,
            format!(
                "the compact range folds to {}, the root at m = {} is {}",
                hex::encode(folded),
                b.prev_size,
                hex::encode(prev_root)
            ),
        ));
    }
    cp::verify_consistency(b.prev_size, b.size, &prev_root, &c.root, &b.proof).map_err(|e| {
        BundleError::new(
            Reason::Consistency,
            format!("proof {} -> {}: {e}", b.prev_size, b.size),
        )
    })?;
    // Step 5.
    let root = root_from(&b.compact, b.prev_size, &hashes);
    if root != c.root {
        return Err(BundleError::new(
            Reason::Root,
            format!(
                "the records give root {} at size {}, the checkpoint's is {}",
                hex::encode(root),
                b.size,
                hex::encode(c.root)
            ),
        ));
    }
    Ok(BundleSummary {
        origin: b.origin.clone(),
        prev_size: b.prev_size,
        size: b.size,
        root: c.root,
        prev_root,
        first_prev,
        hashes,
        signed,
    })
}

// ---------------------------------------------------------------------------
// Verifying a sequence (FORMAT.md "Verifying a sequence")

/// What a verified sequence holds.
#[derive(Clone, Debug)]
pub struct SequenceSummary {
    pub origin: String,
    pub bundles: Vec<BundleSummary>,
    /// Record hashes of seq 1..S.
    pub hashes: Vec<Hash>,
    /// The trusted checkpoint's size, when one was given (and reached).
    pub trusted_size: Option<u64>,
    /// The key state at the end.
    pub keys: KeyState,
}

impl SequenceSummary {
    pub fn size(&self) -> u64 {
        self.hashes.len() as u64
    }
}

/// Verifies `bundles` (name, bytes), one chain's in order, as a sequence
/// from seq 1, with the `trusted` keys; then, given the latest checkpoint
/// the verifier trusts (a signed note), that the sequence reaches it and
/// agrees with it.
pub fn verify_sequence(
    bundles: &[(&str, &[u8])],
    trusted: &[PublicKey],
    trusted_checkpoint: Option<&[u8]>,
) -> Result<SequenceSummary> {
    let Some((last_name, _)) = bundles.last() else {
        return Err(format_err("no bundles"));
    };
    let mut out: Option<SequenceSummary> = None;
    for (name, data) in bundles {
        let b = parse(data).map_err(|e| e.in_bundle(name))?;
        let seq = out.get_or_insert_with(|| SequenceSummary {
            origin: b.origin.clone(),
            bundles: Vec::new(),
            hashes: Vec::new(),
            trusted_size: None,
            keys: KeyState::new(trusted),
        });
        let want = seq.size();
        if b.prev_size != want && b.origin == seq.origin {
            let what = if b.prev_size > want {
                "a missing bundle"
            } else {
                "an overlapping bundle"
            };
            return Err(BundleError::new(
                Reason::Gap,
                format!(
                    "starts after seq {}, want after seq {want} ({what})",
                    b.prev_size
                ),
            )
            .at(want + 1)
            .in_bundle(name));
        }
        if b.origin != seq.origin {
            return Err(format_err(format!(
                "a bundle of another chain: {:?}, the sequence's is {:?}",
                b.origin, seq.origin
            ))
            .in_bundle(name));
        }
        let bs = verify_bundle(&b, &mut seq.keys).map_err(|e| e.in_bundle(name))?;
        if let Some(last) = seq.bundles.last() {
            if bs.prev_root != last.root {
                return Err(BundleError::new(
                    Reason::Fork,
                    format!(
                        "the previous checkpoint's root at size {} is {}, the previous \
                         bundle's is {}",
                        b.prev_size,
                        hex::encode(bs.prev_root),
                        hex::encode(last.root)
                    ),
                )
                .at(b.prev_size)
                .in_bundle(name));
            }
            let head = seq.hashes.last().expect("a verified bundle has records");
            if bs.first_prev != *head {
                return Err(BundleError::new(
                    Reason::Record,
                    format!(
                        "prev {} != the previous bundle's last record hash {}",
                        hex::encode(bs.first_prev),
                        hex::encode(head)
                    ),
                )
                .at(b.prev_size + 1)
                .in_bundle(name));
            }
        }
        seq.hashes.extend_from_slice(&bs.hashes);
        seq.bundles.push(bs);
    }
    let mut seq = out.expect("at least one bundle");
    if let Some(note) = trusted_checkpoint {
        check_trusted(&mut seq, note).map_err(|e| e.in_bundle(last_name))?;
    }
    Ok(seq)
}

/// The trusted checkpoint: judged by step 6 with the sequence's
/// transitions; the sequence must reach it (`truncated`) and its first n
/// records must have its root (`fork`).
fn check_trusted(seq: &mut SequenceSummary, note: &[u8]) -> Result<()> {
    let (writer, _) = cp::parse_origin(&seq.origin).expect("parsed with the bundle");
    let c = open_checkpoint(
        note,
        &seq.keys,
        &writer,
        &seq.origin,
        None,
        "the trusted checkpoint",
    )?;
    if c.size > seq.size() {
        return Err(BundleError::new(
            Reason::Truncated,
            format!(
                "the sequence stops at seq {}, the trusted checkpoint vouches for {} records \
                 (its tail was cut or rolled back)",
                seq.size(),
                c.size
            ),
        )
        .at(seq.size() + 1));
    }
    let leaves: Vec<Hash> = seq.hashes[..c.size as usize]
        .iter()
        .map(|h| cp::leaf_hash(h))
        .collect();
    let root = cp::tree_hash(&leaves);
    if root != c.root {
        return Err(BundleError::new(
            Reason::Fork,
            format!(
                "the first {} records have root {}, the trusted checkpoint's is {} \
                 (history was rewritten)",
                c.size,
                hex::encode(root),
                hex::encode(c.root)
            ),
        )
        .at(c.size));
    }
    seq.trusted_size = Some(c.size);
    Ok(())
}

// ---------------------------------------------------------------------------
// The vectors (testing/vectors/v1/bundles/bundles.json)

/// The verdict a case expects, or one a verification gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// "ok" or a reason label.
    pub want: String,
    pub detail: Option<String>,
    pub seq: Option<u64>,
}

impl Verdict {
    fn of(r: &Result<SequenceSummary>) -> Verdict {
        match r {
            Ok(_) => Verdict {
                want: "ok".into(),
                detail: None,
                seq: None,
            },
            Err(e) => Verdict {
                want: e.reason.as_str().into(),
                detail: e.detail.map(|d| d.as_str().into()),
                seq: e.seq,
            },
        }
    }
}

/// One case of the vector file, decoded.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub trusted: Vec<PublicKey>,
    pub bundles: Vec<Vec<u8>>,
    pub checkpoint: Option<Vec<u8>>,
    pub want: Verdict,
}

impl Case {
    /// Runs the verifier on the case.
    pub fn verify(&self) -> Result<SequenceSummary> {
        let names: Vec<String> = (1..=self.bundles.len()).map(|i| format!("#{i}")).collect();
        let named: Vec<(&str, &[u8])> = names
            .iter()
            .map(String::as_str)
            .zip(self.bundles.iter().map(Vec::as_slice))
            .collect();
        verify_sequence(&named, &self.trusted, self.checkpoint.as_deref())
    }

    /// Whether the verifier gives the case its verdict: the same label, and
    /// the same detail and seq where the case names them.
    pub fn check(&self) -> std::result::Result<(), String> {
        let r = self.verify();
        let got = Verdict::of(&r);
        let agrees = got.want == self.want.want
            && (self.want.detail.is_none() || got.detail == self.want.detail)
            && (self.want.seq.is_none() || got.seq == self.want.seq);
        if agrees {
            return Ok(());
        }
        let said = match &r {
            Ok(s) => format!("ok, records 1..{}", s.size()),
            Err(e) => e.to_string(),
        };
        Err(format!(
            "{}: want {}{}{}, got: {said}",
            self.name,
            self.want.want,
            self.want
                .detail
                .as_deref()
                .map_or(String::new(), |d| format!(" ({d})")),
            self.want
                .seq
                .map_or(String::new(), |s| format!(" at seq {s}")),
        ))
    }
}

fn hex_bytes(v: &Value, what: &str) -> std::result::Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("{what} is not a string"))?;
    hex::decode(s).map_err(|e| format!("{what}: {e}"))
}

/// Decodes the vector file's cases.
pub fn parse_cases(doc: &Value) -> std::result::Result<Vec<Case>, String> {
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .ok_or("no \"cases\" array")?;
    if cases.is_empty() {
        return Err("\"cases\" is empty: a bundle vector file with no case checks nothing".into());
    }
    cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .ok_or(format!("case {i} has no name"))?
                .to_owned();
            let list = |key: &str| {
                c.get(key)
                    .and_then(Value::as_array)
                    .ok_or(format!("{name}: no {key:?} array"))
            };
            let trusted = list("trusted")?
                .iter()
                .map(|k| {
                    PublicKey::try_from(hex_bytes(k, "trusted key")?)
                        .map_err(|_| format!("{name}: a trusted key is not 32 bytes"))
                })
                .collect::<std::result::Result<_, String>>()?;
            let bundles = list("bundles")?
                .iter()
                .map(|b| hex_bytes(b, "bundle"))
                .collect::<std::result::Result<_, String>>()?;
            let checkpoint = match c.get("checkpoint") {
                None => None,
                Some(n) => Some(
                    n.as_str()
                        .ok_or(format!("{name}: checkpoint is not a string"))?
                        .as_bytes()
                        .to_vec(),
                ),
            };
            let want = Verdict {
                want: c
                    .get("want")
                    .and_then(Value::as_str)
                    .ok_or(format!("{name}: no \"want\""))?
                    .to_owned(),
                detail: c.get("detail").and_then(Value::as_str).map(str::to_owned),
                seq: c.get("seq").and_then(Value::as_u64),
            };
            Ok(Case {
                name,
                trusted,
                bundles,
                checkpoint,
                want,
            })
        })
        .collect()
}

/// The bundle vector file of a vectors directory.
pub fn vector_file(vectors_dir: &Path) -> std::path::PathBuf {
    vectors_dir.join("bundles").join("bundles.json")
}

/// The bundle vector files of a vectors directory: every `*.json` of its
/// `bundles/`, sorted (none without one), so that a new file is read, not
/// skipped.
pub fn vector_files(vectors_dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let sub = vectors_dir.join("bundles");
    if !sub.is_dir() {
        return Ok(Vec::new());
    }
    crate::vector_files(&sub)
}

/// Result of checking the bundle vector file.
#[derive(Clone, Debug, Default)]
pub struct BundleReport {
    pub file: String,
    pub cases: usize,
    pub passed: usize,
    pub failures: Vec<String>,
}

impl BundleReport {
    pub fn failed(&self) -> usize {
        self.failures.len()
    }
}

/// Checks every case of the bundle vector file at `path`.
pub fn check_file(path: &Path) -> BundleReport {
    let mut rep = BundleReport {
        file: path.display().to_string(),
        ..Default::default()
    };
    let cases = std::fs::read(path)
        .map_err(|e| e.to_string())
        .and_then(|d| serde_json::from_slice::<Value>(&d).map_err(|e| e.to_string()))
        .and_then(|doc| parse_cases(&doc));
    match cases {
        Err(e) => rep.failures.push(format!("{}: {e}", rep.file)),
        Ok(cases) => {
            rep.cases = cases.len();
            for c in &cases {
                match c.check() {
                    Ok(()) => rep.passed += 1,
                    Err(e) => rep.failures.push(e),
                }
            }
        }
    }
    rep
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
