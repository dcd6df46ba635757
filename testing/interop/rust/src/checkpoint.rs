//! Foreign (Rust) reader of the ron-audit checkpoints and proofs, version 1,
//! written from `sdk/checkpoint/SPEC.md` and
//! `testing/vectors/v1/checkpoints/README.md`:
//!
//! - C2SP signed notes with Ed25519 (key type 0x01) and verifier keys
//!   `<name>+<hex key hash>+<base64(0x01 || public key)>` ([`open_note`],
//!   [`parse_verifier_key`]);
//! - the checkpoint text: canonical origin `ron-audit/` e(writerId) `/`
//!   e(stream), decimal size, padded base64 root, no extension lines
//!   ([`parse_checkpoint_text`], [`parse_origin`]);
//! - the RFC 6962 tree over leaf data = 32-byte record hashes, and RFC 9162
//!   inclusion (2.1.3.2) and consistency (2.1.4.2) proofs
//!   ([`verify_inclusion`], [`verify_consistency`]);
//! - a `checkpoints/*.json` vector file, checked as its README says
//!   ([`check_checkpoint_vector`]).
//!
//! Refusals carry the `checkpoint.Reason` value of the Go package
//! ([`Reason`]), which the vectors' `invalid` notes name.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{doc_name, field, hex_field, hex_value, vector_files};

pub type Hash = [u8; 32];

/// Note key type of Ed25519.
const ED25519_ALG: u8 = 0x01;
/// What begins a signature line: an em dash and a space.
pub const SIG_LINE_PREFIX: &str = "\u{2014} ";
/// Largest note (SPEC section 2).
pub const MAX_NOTE_BYTES: usize = 256 * 1024;
/// Most signature lines in a note (the limit of C2SP signed notes).
pub const MAX_SIGNATURES: usize = 100;
/// Largest tree size a checkpoint may state.
pub const MAX_TREE_SIZE: u64 = i64::MAX as u64;
pub const ORIGIN_PREFIX: &str = "ron-audit/";
/// The vectors' test key seed is SHA-256 of this (vectors README).
pub const VECTOR_KEY_SEED_TEXT: &[u8] = b"ron-audit checkpoint vectors v1";

/// Why a note, checkpoint or proof was refused, spelled as the Go package's
/// `checkpoint.Reason` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Format,
    BadSignature,
    UnknownKey,
    OriginMismatch,
    OutOfRange,
    NotIncluded,
    Rollback,
    Fork,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Format => "format",
            Reason::BadSignature => "bad_signature",
            Reason::UnknownKey => "unknown_key",
            Reason::OriginMismatch => "origin_mismatch",
            Reason::OutOfRange => "out_of_range",
            Reason::NotIncluded => "not_included",
            Reason::Rollback => "rollback",
            Reason::Fork => "fork",
        }
    }
}

/// A refusal: the reason and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub what: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.what)
    }
}

fn refuse<T>(reason: Reason, what: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        reason,
        what: what.into(),
    })
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

// ---------------------------------------------------------------------------
// Standard base64 with padding, in the one encoding of its bytes

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 section 4) with padding.
pub fn b64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let mut v = 0u32;
        for i in 0..3 {
            v = v << 8 | u32::from(chunk.get(i).copied().unwrap_or(0));
        }
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(v >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64 and accepts it only if it is the one
/// encoding of its bytes: no character outside the alphabet, and
/// [`b64_encode`] gives the very string back (which refuses a length that is
/// not a multiple of 4, missing or misplaced padding and unused bits set).
pub fn b64_decode_strict(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for chunk in s.as_bytes().chunks(4) {
        let (mut v, mut pad) = (0u32, 0);
        for &c in chunk {
            let d = match c {
                b'=' => 0,
                _ => B64.iter().position(|&x| x == c)? as u32,
            };
            pad += usize::from(c == b'=');
            v = v << 6 | d;
        }
        out.extend_from_slice(&v.to_be_bytes()[1..4 - pad.min(3)]);
    }
    (b64_encode(&out) == s).then_some(out)
}

// ---------------------------------------------------------------------------
// Signed notes

/// A note key name: non-empty, no white space, no '+'.
pub fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// First 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
pub fn key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let h = sha256(&[name.as_bytes(), b"\n", &[ED25519_ALG], public_key]);
    [h[0], h[1], h[2], h[3]]
}

/// A key a note may be signed by.
#[derive(Clone, Debug)]
pub struct Verifier {
    pub name: String,
    pub hash: [u8; 4],
    pub key: VerifyingKey,
}

/// Parses `<name>+<8 hex digits>+<base64(0x01 || 32-byte key)>`; the hash
/// must be the key hash of name and key.
pub fn parse_verifier_key(vkey: &str) -> Result<Verifier, Refusal> {
    // The base64 key may itself hold '+': split at the first two.
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(hash_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return refuse(Reason::Format, "verifier key is not <name>+<hash>+<key>");
    };
    if !is_key_name(name) {
        return refuse(
            Reason::Format,
            format!("verifier key name {name:?} is not valid"),
        );
    }
    let hash: [u8; 4] = match hex::decode(hash_hex).ok().and_then(|h| h.try_into().ok()) {
        Some(h) => h,
        None => return refuse(Reason::Format, "verifier key hash is not 8 hex digits"),
    };
    let key = match b64_decode_strict(key_b64) {
        Some(k) if k.len() == 33 && k[0] == ED25519_ALG => k,
        _ => {
            return refuse(
                Reason::Format,
                "verifier key is not base64 of 0x01 || 32-byte Ed25519 key",
            )
        }
    };
    let pk: [u8; 32] = key[1..].try_into().expect("33 bytes");
    let Ok(vk) = VerifyingKey::from_bytes(&pk) else {
        return refuse(Reason::Format, "verifier key is not an Ed25519 point");
    };
    if hash != key_hash(name, &pk) {
        return refuse(
            Reason::Format,
            "verifier key hash is not the hash of its name and key",
        );
    }
    Ok(Verifier {
        name: name.to_owned(),
        hash,
        key: vk,
    })
}

/// The verifier key string of (name, public key).
pub fn format_verifier_key(name: &str, public_key: &[u8; 32]) -> String {
    let mut k = vec![ED25519_ALG];
    k.extend_from_slice(public_key);
    format!(
        "{name}+{}+{}",
        hex::encode(key_hash(name, public_key)),
        b64_encode(&k)
    )
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub hash: [u8; 4],
    /// Without the 4-byte key hash.
    pub sig: Vec<u8>,
}

/// An opened note.
#[derive(Clone, Debug)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Signatures by a given verifier (each verified).
    pub verified: Vec<NoteSignature>,
    /// Signatures by keys no verifier names.
    pub unverified: Vec<NoteSignature>,
}

/// Parses a C2SP signed note and verifies it against `verifiers`. Refuses
/// with `format` a note that is not well formed (SPEC section 2),
/// `bad_signature` when a signature by a verifier's key (same name and key
/// hash) does not verify, and `unknown_key` when no signature is by one.
pub fn open_note(msg: &[u8], verifiers: &[Verifier]) -> Result<Note, Refusal> {
    use Reason::Format;
    if msg.len() > MAX_NOTE_BYTES {
        return refuse(
            Format,
            format!("note is {} bytes, more than {MAX_NOTE_BYTES}", msg.len()),
        );
    }
    let Ok(s) = std::str::from_utf8(msg) else {
        return refuse(Format, "note is not UTF-8");
    };
    if let Some(c) = s.chars().find(|&c| c < ' ' && c != '\n') {
        return refuse(Format, format!("note holds control character {c:?}"));
    }
    let Some(split) = s.rfind("\n\n") else {
        return refuse(Format, "note has no blank line before its signatures");
    };
    let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
    // (Not empty: the blank line found is the last one.)
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return refuse(
            Format,
            "signature block is empty or does not end in a newline",
        );
    };
    let lines: Vec<&str> = sigs.split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return refuse(
            Format,
            format!(
                "{} signature lines, more than {MAX_SIGNATURES}",
                lines.len()
            ),
        );
    }
    let mut note = Note {
        text: text.to_owned(),
        verified: Vec::new(),
        unverified: Vec::new(),
    };
    for line in lines {
        let Some((name, b64)) = line
            .strip_prefix(SIG_LINE_PREFIX)
            .and_then(|b| b.split_once(' '))
        else {
            return refuse(
                Format,
                format!("signature line {line:?} is not '\u{2014} <name> <base64>'"),
            );
        };
        if !is_key_name(name) {
            return refuse(Format, format!("signature key name {name:?} is not valid"));
        }
        let raw = match b64_decode_strict(b64) {
            Some(r) if r.len() >= 5 => r,
            _ => {
                return refuse(
                    Format,
                    format!(
                        "signature of {name:?} is not the base64 of a key hash and a signature"
                    ),
                )
            }
        };
        let sig = NoteSignature {
            name: name.to_owned(),
            hash: [raw[0], raw[1], raw[2], raw[3]],
            sig: raw[4..].to_vec(),
        };
        // One line per key name and hash: a second would give the same note
        // another spelling.
        if note
            .verified
            .iter()
            .chain(&note.unverified)
            .any(|o| (&o.name, o.hash) == (&sig.name, sig.hash))
        {
            return refuse(
                Format,
                format!("two signature lines by key {name:?} with the same key hash"),
            );
        }
        let Some(v) = verifiers
            .iter()
            .find(|v| (&v.name, v.hash) == (&sig.name, sig.hash))
        else {
            note.unverified.push(sig);
            continue;
        };
        let ok = Signature::from_slice(&sig.sig)
            .is_ok_and(|s| crate::verify_ed25519(&v.key, text.as_bytes(), &s).is_ok());
        if !ok {
            return refuse(
                Reason::BadSignature,
                format!(
                    "signature by {name} ({}) does not verify",
                    hex::encode(sig.hash)
                ),
            );
        }
        note.verified.push(sig);
    }
    if note.verified.is_empty() {
        return refuse(Reason::UnknownKey, "no signature by a known key");
    }
    Ok(note)
}

/// Signs note text with the Ed25519 key of `seed` under `name`: the text,
/// a blank line, one signature line (for tests and tools).
pub fn sign_note(text: &str, name: &str, seed: &[u8; 32]) -> String {
    use ed25519_dalek::Signer;
    let sk = SigningKey::from_bytes(seed);
    let mut raw = key_hash(name, sk.verifying_key().as_bytes()).to_vec();
    raw.extend_from_slice(&sk.sign(text.as_bytes()).to_bytes());
    format!("{text}\n{SIG_LINE_PREFIX}{name} {}\n", b64_encode(&raw))
}

// ---------------------------------------------------------------------------
// Origins

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~@".contains(&b)
}

/// e(): every byte but `A-Z a-z 0-9 - . _ ~ @` as `%XX`, upper-case hex.
pub fn escape_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `ron-audit/` e(writerId) `/` e(stream).
pub fn origin_of(writer_id: &str, stream: &str) -> String {
    format!(
        "{ORIGIN_PREFIX}{}/{}",
        escape_component(writer_id),
        escape_component(stream)
    )
}

/// The text an origin component names, if it is its canonical spelling:
/// non-empty, UTF-8 without NUL once unescaped, and e() of that gives it
/// back (so no lower-case hex, no needless escape, no unescaped byte that
/// must be escaped).
fn unescape_component(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hx = b.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hx).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let t = String::from_utf8(out).ok()?;
    (!t.is_empty() && !t.contains('\0') && escape_component(&t) == s).then_some(t)
}

/// (writerId, stream) of an origin line; any spelling but the canonical one
/// is refused with `format`.
pub fn parse_origin(origin: &str) -> Result<(String, String), Refusal> {
    origin
        .strip_prefix(ORIGIN_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(w, s)| Some((unescape_component(w)?, unescape_component(s)?)))
        .ok_or_else(|| Refusal {
            reason: Reason::Format,
            what: format!("origin {origin:?} is not canonical ron-audit/<writer>/<stream>"),
        })
}

// ---------------------------------------------------------------------------
// Checkpoints

/// The note text of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// origin "\n" size "\n" base64(root) "\n".
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            b64_encode(&self.root)
        )
    }
}

/// Parses checkpoint note text: exactly the origin, the size and the root
/// lines (SPEC section 2).
pub fn parse_checkpoint_text(text: &str) -> Result<Checkpoint, Refusal> {
    use Reason::Format;
    let lines: Vec<&str> = match text.strip_suffix('\n') {
        Some(body) => body.split('\n').collect(),
        None => return refuse(Format, "checkpoint text does not end in a newline"),
    };
    let [origin, size_s, root_s] = lines[..] else {
        return refuse(
            Format,
            format!(
                "checkpoint text has {} lines, want exactly 3 (no extension lines)",
                lines.len()
            ),
        );
    };
    parse_origin(origin)?;
    // n.to_string() gives back only the canonical spelling: no sign, no
    // leading zero.
    let size = size_s.parse::<u64>().ok();
    let Some(size) = size.filter(|&n| n.to_string() == size_s && n <= MAX_TREE_SIZE) else {
        return refuse(
            Format,
            format!("tree size {size_s:?} is not canonical decimal up to 2^63-1"),
        );
    };
    let Some(root) = b64_decode_strict(root_s).and_then(|r| Hash::try_from(r).ok()) else {
        return refuse(
            Format,
            format!("root {root_s:?} is not the padded base64 of 32 bytes"),
        );
    };
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// Opens a signed checkpoint: the note verifies ([`open_note`]), its text
/// parses, and with `origin` its origin is that one (else
/// `origin_mismatch`).
pub fn open_checkpoint(
    msg: &[u8],
    verifiers: &[Verifier],
    origin: Option<&str>,
) -> Result<(Checkpoint, Note), Refusal> {
    let note = open_note(msg, verifiers)?;
    let cp = parse_checkpoint_text(&note.text)?;
    match origin {
        Some(o) if o != cp.origin => refuse(
            Reason::OriginMismatch,
            format!("origin {:?}, want {o:?}", cp.origin),
        ),
        _ => Ok((cp, note)),
    }
}

// ---------------------------------------------------------------------------
// RFC 6962 tree and RFC 9162 proofs

/// SHA-256(0x00 || record hash).
pub fn leaf_hash(record_hash: &[u8]) -> Hash {
    sha256(&[&[0x00], record_hash])
}

/// SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[0x01], left, right])
}

/// RFC 6962 MTH over leaf hashes (SHA-256 of nothing for no leaves).
pub fn tree_hash(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            // The largest power of two smaller than n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// The audit-path walk both RFC 9162 verifications share (2.1.3.2 step 4,
/// 2.1.4.2 step 6): from `seed`, fold in each hash of `path` as a left
/// sibling (into both results) or as a right one (into the second only).
/// Returns (the root from left siblings only, the root from all), or why
/// the path does not have the length `fn_` and `sn` ask for.
fn fold_path(
    mut fn_: u64,
    mut sn: u64,
    seed: Hash,
    path: &[Hash],
) -> Result<(Hash, Hash), &'static str> {
    let (mut fr, mut sr) = (seed, seed);
    for c in path {
        if sn == 0 {
            return Err("proof is too long");
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err("proof is too short");
    }
    Ok((fr, sr))
}

/// RFC 9162 section 2.1.3.2: `leaf` (a leaf hash) is at `index` of the tree
/// of `size` leaves and hash `root`. Else `out_of_range` or `not_included`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Refusal> {
    if index >= size {
        return refuse(
            Reason::OutOfRange,
            format!("index {index} is not in a tree of size {size}"),
        );
    }
    match fold_path(index, size - 1, *leaf, proof) {
        Err(e) => refuse(Reason::NotIncluded, e),
        Ok((_, r)) if r != *root => refuse(Reason::NotIncluded, "proof does not give the root"),
        Ok(_) => Ok(()),
    }
}

/// RFC 9162 section 2.1.4.2: the tree of `new_size` leaves and hash
/// `new_root` extends the one of `old_size` and `old_root`. A smaller new
/// size is `rollback`; any other failure `fork`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Refusal> {
    use Reason::Fork;
    if new_size < old_size {
        return refuse(
            Reason::Rollback,
            format!("tree size went from {old_size} down to {new_size}"),
        );
    }
    if old_size == new_size || old_size == 0 {
        // Nothing to prove: the proof is empty, and the old root is the new
        // one or the empty tree's.
        let want = if old_size == 0 {
            tree_hash(&[])
        } else {
            *new_root
        };
        if !proof.is_empty() {
            return refuse(Fork, "proof from the empty or an equal tree is not empty");
        }
        if *old_root != want {
            return refuse(Fork, "old root is not the new root or the empty tree's");
        }
        return Ok(());
    }
    if proof.is_empty() {
        return refuse(Fork, "proof is empty");
    }
    let mut path = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    match fold_path(fn_, sn, path[0], &path[1..]) {
        Err(e) => refuse(Fork, e),
        Ok((fr, sr)) if (fr, sr) != (*old_root, *new_root) => {
            refuse(Fork, "proof does not show the new tree extending the old")
        }
        Ok(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Vector files (testing/vectors/v1/checkpoints/*.json)

/// Result of checking one checkpoint vector file.
#[derive(Clone, Debug, Default)]
pub struct CheckpointReport {
    pub file: String,
    pub name: String,
    /// Checkpoints, proofs and invalid notes checked, and how many passed.
    pub items: usize,
    pub passed: usize,
    /// Whether a check of the file as a whole (key, origin, leaves) failed.
    pub file_failed: bool,
    pub failures: Vec<String>,
}

impl CheckpointReport {
    /// Failed items, plus one if a check of the whole file failed.
    pub fn failed(&self) -> usize {
        self.items - self.passed + usize::from(self.file_failed)
    }
}

fn hash_field(obj: &Value, key: &str) -> Result<Hash, String> {
    Ok(hex_field(obj, key, Some(32))?.try_into().expect("32 bytes"))
}

fn hash_value(v: &Value, what: &str) -> Result<Hash, String> {
    Ok(hex_value(v, what, Some(32))?.try_into().expect("32 bytes"))
}

fn str_field<'a>(obj: &'a Value, key: &str) -> Result<&'a str, String> {
    field(obj, key)?
        .as_str()
        .ok_or_else(|| format!("JSON: field {key:?} is not a string"))
}

fn u64_field(obj: &Value, key: &str) -> Result<u64, String> {
    field(obj, key)?
        .as_u64()
        .ok_or_else(|| format!("JSON: field {key:?} is not a non-negative integer"))
}

fn list_field<'a>(obj: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    match field(obj, key)?.as_array() {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(format!("JSON: field {key:?} is not a non-empty array")),
    }
}

/// A list of 32-byte hashes in hex (the vectors' proofs).
fn hash_list(obj: &Value, key: &str) -> Result<Vec<Hash>, String> {
    let a = field(obj, key)?
        .as_array()
        .ok_or_else(|| format!("JSON: field {key:?} is not an array"))?;
    a.iter()
        .enumerate()
        .map(|(i, h)| hash_value(h, &format!("{key}[{i}]")))
        .collect()
}

/// What the checks of a file's items need: what the checks of the file
/// found, the roots of the checkpoints checked so far, and where the item
/// being checked collects the failures that do not stop its other checks.
struct Context<'a> {
    read: &'a dyn Fn(&str) -> Result<Vec<u8>, String>,
    verifiers: Vec<Verifier>,
    origin: Option<&'a str>,
    record_hashes: Vec<Hash>,
    leaves: Vec<Hash>,
    /// Each checkpoint's root, by size, for the proofs.
    roots: BTreeMap<u64, Hash>,
    errs: Vec<String>,
}

/// The check of one item of a section; an error stops it.
type ItemCheck = fn(&Value, &mut Context) -> Result<(), String>;

/// Checks one parsed checkpoint vector document as
/// `testing/vectors/v1/checkpoints/README.md` says; `read` gives the bytes
/// of a file named relative to the document's directory (its `.vkey` and
/// `.note` files and its `source`). `file` names it in failures.
pub fn check_checkpoint_vector(
    file: &str,
    doc: &Value,
    read: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> CheckpointReport {
    let mut rep = CheckpointReport {
        file: file.to_owned(),
        name: doc_name(doc).to_owned(),
        ..Default::default()
    };
    let mut ctx = check_file_level(doc, read, &mut rep.failures);
    rep.file_failed = !rep.failures.is_empty();
    let sections: [(&str, ItemCheck); 4] = [
        ("checkpoints", check_checkpoint_item),
        ("inclusionProofs", check_inclusion_item),
        ("consistencyProofs", check_consistency_item),
        ("invalid", check_invalid_item),
    ];
    for (key, check) in sections {
        let items = match list_field(doc, key) {
            Ok(a) => a,
            Err(e) => {
                rep.file_failed = true;
                rep.failures.push(e);
                continue;
            }
        };
        for (j, item) in items.iter().enumerate() {
            rep.items += 1;
            if let Err(e) = check(item, &mut ctx) {
                ctx.errs.push(e);
            }
            let errs = std::mem::take(&mut ctx.errs);
            if errs.is_empty() {
                rep.passed += 1;
            }
            let at = match item.get("name").and_then(Value::as_str) {
                Some(name) => format!("{key}[{j}] {name}"),
                None => format!("{key}[{j}]"),
            };
            rep.failures
                .extend(errs.into_iter().map(|e| format!("{at}: {e}")));
        }
    }
    rep
}

/// The checks of the file as a whole (README checks 1 and the key and
/// origin the others rely on); returns what the item checks need.
fn check_file_level<'a>(
    doc: &'a Value,
    read: &'a dyn Fn(&str) -> Result<Vec<u8>, String>,
    errs: &mut Vec<String>,
) -> Context<'a> {
    let mut ctx = Context {
        read,
        roots: BTreeMap::new(),
        errs: Vec::new(),
        verifiers: Vec::new(),
        origin: None,
        record_hashes: Vec::new(),
        leaves: Vec::new(),
    };
    let mut ok = |r: Result<(), String>| {
        if let Err(e) = r {
            errs.push(e)
        }
    };

    // The test key: seed, public key, key hash, verifier key and its file.
    ok((|| {
        let seed = hash_field(doc, "keySeed")?;
        if seed != sha256(&[VECTOR_KEY_SEED_TEXT]) {
            return Err("keySeed is not SHA-256 of \"ron-audit checkpoint vectors v1\"".into());
        }
        let pk = hash_field(doc, "publicKey")?;
        if SigningKey::from_bytes(&seed).verifying_key().to_bytes() != pk {
            return Err("publicKey is not the key of keySeed".into());
        }
        let name = str_field(doc, "keyName")?;
        if !is_key_name(name) {
            return Err(format!("keyName {name:?} is not a note key name"));
        }
        if hex_field(doc, "keyHash", Some(4))? != key_hash(name, &pk) {
            return Err("keyHash is not SHA-256(keyName \\n 0x01 publicKey)[:4]".into());
        }
        let vkey = str_field(doc, "verifierKey")?;
        let v = parse_verifier_key(vkey).map_err(|e| format!("verifierKey: {e}"))?;
        if (v.name.as_str(), v.key.to_bytes()) != (name, pk) {
            return Err("verifierKey is not of keyName and publicKey".into());
        }
        ctx.verifiers.push(v);
        let vfile = format!("{}.vkey", str_field(doc, "name")?);
        if read(&vfile)? != format!("{vkey}\n").into_bytes() {
            return Err(format!("{vfile} is not verifierKey and a newline"));
        }
        Ok(())
    })());

    // The origin names the chain.
    ok((|| {
        let origin = str_field(doc, "origin")?;
        let chain = (str_field(doc, "writerId")?, str_field(doc, "stream")?);
        let (w, s) = parse_origin(origin).map_err(|e| format!("origin: {e}"))?;
        if (w.as_str(), s.as_str()) != chain {
            return Err(format!(
                "origin names ({w:?}, {s:?}), not writerId and stream {chain:?}"
            ));
        }
        ctx.origin = Some(origin);
        Ok(())
    })());

    // 1. The leaves: SHA-256(0x00 || record hash), the record hashes those
    // of the source chain's records, seq 1, 2, ... in order.
    ok((|| {
        ctx.record_hashes = hash_list(doc, "recordHashes")?;
        let leaves = hash_list(doc, "leafHashes")?;
        if leaves.len() != ctx.record_hashes.len() {
            return Err(format!(
                "{} leafHashes for {} recordHashes",
                leaves.len(),
                ctx.record_hashes.len()
            ));
        }
        for (i, (l, rh)) in leaves.iter().zip(&ctx.record_hashes).enumerate() {
            if *l != leaf_hash(rh) {
                return Err(format!(
                    "leafHashes[{i}] is not SHA-256(0x00 || recordHashes[{i}])"
                ));
            }
        }
        ctx.leaves = leaves;
        let src = str_field(doc, "source")?;
        let sdoc: Value = serde_json::from_slice(&read(src)?)
            .map_err(|e| format!("source {src}: not JSON: {e}"))?;
        let recs = list_field(&sdoc, "records").map_err(|e| format!("source {src}: {e}"))?;
        let chain = (doc.get("writerId"), doc.get("stream"));
        let mut hashes = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            let rec = field(r, "record").map_err(|e| format!("source {src}: {e}"))?;
            if rec.get("seq").and_then(Value::as_u64) != Some(i as u64 + 1) {
                return Err(format!("source {src}: record {i} has not seq {}", i + 1));
            }
            if (rec.get("writerId"), rec.get("stream")) != chain {
                return Err(format!(
                    "source {src}: record {i} is not of writerId and stream"
                ));
            }
            hashes.push(hash_field(r, "hash").map_err(|e| format!("source {src}: {e}"))?);
        }
        if hashes != ctx.record_hashes {
            return Err(format!(
                "recordHashes are not the hashes of the records of {src} in order"
            ));
        }
        Ok(())
    })());
    ctx
}

/// README checks 2 and 3: root, text, signed note and its file.
fn check_checkpoint_item(c: &Value, ctx: &mut Context) -> Result<(), String> {
    let size = u64_field(c, "size")?;
    let Some(leaves) = usize::try_from(size).ok().and_then(|n| ctx.leaves.get(..n)) else {
        return Err(format!(
            "size {size} is more than the {} leaves",
            ctx.leaves.len()
        ));
    };
    let origin = ctx.origin.ok_or("no valid origin to check it against")?;
    let want = Checkpoint {
        origin: origin.to_owned(),
        size,
        root: tree_hash(leaves),
    };
    ctx.roots.insert(size, want.root);
    if hash_field(c, "rootHex")? != want.root {
        ctx.errs.push(format!(
            "rootHex is not the tree hash {} of the first {size} leaves",
            hex::encode(want.root)
        ));
    }
    if str_field(c, "rootBase64")? != b64_encode(&want.root) {
        ctx.errs
            .push("rootBase64 is not the padded base64 of the root".into());
    }
    if str_field(c, "text")? != want.text() {
        ctx.errs.push(format!("text is not {:?}", want.text()));
    }
    let signed = str_field(c, "signedNote")?;
    match open_checkpoint(signed.as_bytes(), &ctx.verifiers, Some(origin)) {
        Err(e) => ctx.errs.push(format!("signedNote refused: {e}")),
        Ok((got, _)) if got != want => ctx.errs.push(format!(
            "signedNote is of size {} and root {}, want {size} and {}",
            got.size,
            hex::encode(got.root),
            hex::encode(want.root)
        )),
        Ok((_, note)) => {
            let n = note.verified.len() + note.unverified.len();
            if n != 1 {
                ctx.errs
                    .push(format!("signedNote has {n} signature lines, want one"));
            }
        }
    }
    let f = str_field(c, "file")?;
    if (ctx.read)(f)? != signed.as_bytes() {
        return Err(format!("{f} is not the bytes of signedNote"));
    }
    Ok(())
}

/// README check 4.
fn check_inclusion_item(p: &Value, ctx: &mut Context) -> Result<(), String> {
    let (seq, index, size) = (
        u64_field(p, "seq")?,
        u64_field(p, "index")?,
        u64_field(p, "treeSize")?,
    );
    if Some(seq) != index.checked_add(1) {
        return Err(format!("seq {seq} is not index {index} + 1"));
    }
    let root = ctx
        .roots
        .get(&size)
        .ok_or(format!("no checkpoint of size {size}"))?;
    let rh = hash_field(p, "recordHash")?;
    if usize::try_from(index)
        .ok()
        .and_then(|i| ctx.record_hashes.get(i))
        != Some(&rh)
    {
        return Err(format!("recordHash is not recordHashes[{index}]"));
    }
    if hash_field(p, "leafHash")? != leaf_hash(&rh) {
        return Err("leafHash is not SHA-256(0x00 || recordHash)".into());
    }
    verify_inclusion(index, size, &leaf_hash(&rh), &hash_list(p, "proof")?, root)
        .map_err(|e| format!("inclusion proof refused: {e}"))
}

/// README check 5.
fn check_consistency_item(p: &Value, ctx: &mut Context) -> Result<(), String> {
    let mut ends = Vec::new();
    for (size_key, root_key) in [("oldSize", "oldRoot"), ("newSize", "newRoot")] {
        let size = u64_field(p, size_key)?;
        let root = hash_field(p, root_key)?;
        if ctx.roots.get(&size) != Some(&root) {
            return Err(format!(
                "{root_key} is not the root of a checkpoint of size {size}"
            ));
        }
        ends.push((size, root));
    }
    let [(m, old), (n, new)] = ends[..] else {
        unreachable!("two ends")
    };
    verify_consistency(m, n, &old, &new, &hash_list(p, "proof")?)
        .map_err(|e| format!("consistency proof refused: {e}"))
}

/// README check 6: the note is refused, for the reason the vector names.
fn check_invalid_item(v: &Value, ctx: &mut Context) -> Result<(), String> {
    let note = str_field(v, "signedNote")?;
    let want = str_field(v, "reason")?;
    match open_checkpoint(note.as_bytes(), &ctx.verifiers, ctx.origin) {
        Ok((cp, _)) => Err(format!(
            "accepted (size {}, root {}), must be refused as {want}",
            cp.size,
            hex::encode(cp.root)
        )),
        Err(e) if e.reason.as_str() != want => {
            Err(format!("refused as {e}, the vector says {want}"))
        }
        Err(_) => Ok(()),
    }
}

/// Reads and checks one checkpoint vector file, its other files read from
/// its directory.
pub fn check_checkpoint_file(path: &Path) -> CheckpointReport {
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let file = format!(
        "checkpoints/{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    let read = move |rel: &str| {
        std::fs::read(dir.join(rel)).map_err(|e| format!("cannot read {rel}: {e}"))
    };
    match read(&path.file_name().unwrap_or_default().to_string_lossy())
        .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| format!("JSON: {e}")))
    {
        Ok(doc) => check_checkpoint_vector(&file, &doc, &read),
        Err(e) => CheckpointReport {
            file,
            name: "?".into(),
            file_failed: true,
            failures: vec![e],
            ..Default::default()
        },
    }
}

/// The checkpoint vector files of a vectors directory (its
/// `checkpoints/*.json`); none when it has no `checkpoints` directory.
pub fn checkpoint_vector_files(vectors_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let sub = vectors_dir.join("checkpoints");
    if !sub.is_dir() {
        return Ok(Vec::new());
    }
    vector_files(&sub)
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
