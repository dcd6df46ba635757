//! Tests of the checkpoint reader: the vectors of
//! testing/vectors/v1/checkpoints pass, every tampered copy fails on the
//! check it breaks, and the tree, proof, note and origin code refuses what
//! the SPEC says it must, against a reference built in this file from the
//! RFC 6962 definitions.

use std::collections::HashMap;

use serde_json::json;

use super::*;

fn checkpoints_dir() -> PathBuf {
    crate::default_vectors_dir().join("checkpoints")
}

/// The vector document and the files it names (read relative to its
/// directory), which the tests change in memory.
struct Fixture {
    doc: Value,
    files: HashMap<String, Vec<u8>>,
}

impl Fixture {
    fn load() -> Fixture {
        let dir = checkpoints_dir();
        let read =
            |rel: &str| std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let doc: Value = serde_json::from_slice(&read("chain-basic.json")).unwrap();
        let mut files = HashMap::new();
        let mut names = vec![
            "chain-basic.vkey".to_owned(),
            doc["source"].as_str().unwrap().to_owned(),
        ];
        for c in doc["checkpoints"].as_array().unwrap() {
            names.push(c["file"].as_str().unwrap().to_owned());
        }
        for n in names {
            files.insert(n.clone(), read(&n));
        }
        Fixture { doc, files }
    }

    fn check(&self) -> CheckpointReport {
        let read = |rel: &str| {
            self.files
                .get(rel)
                .cloned()
                .ok_or_else(|| format!("cannot read {rel}"))
        };
        check_checkpoint_vector("chain-basic.json", &self.doc, &read)
    }

    fn seed(&self) -> [u8; 32] {
        hash_field(&self.doc, "keySeed").unwrap()
    }

    /// The source chain's file name and document.
    fn source(&self) -> (String, Value) {
        let src = self.doc["source"].as_str().unwrap().to_owned();
        let v = serde_json::from_slice(&self.files[&src]).unwrap();
        (src, v)
    }
}

/// Asserts that the copy fails and that a failure contains `needle`.
fn assert_refused(f: &Fixture, needle: &str, what: &str) {
    let rep = f.check();
    assert!(rep.failed() > 0, "{what}: accepted");
    assert!(
        rep.failures.iter().any(|e| e.contains(needle)),
        "{what}: expected a failure containing {needle:?}, got {:#?}",
        rep.failures
    );
}

fn flip_hex(v: &mut Value, i: usize) {
    let mut b = hex::decode(v.as_str().unwrap()).unwrap();
    b[i] ^= 0x01;
    *v = json!(hex::encode(b));
}

#[test]
fn checkpoint_vectors_pass() {
    let files = checkpoint_vector_files(&crate::default_vectors_dir()).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    for p in &files {
        let rep = check_checkpoint_file(p);
        assert!(rep.failures.is_empty(), "{}: {:#?}", rep.file, rep.failures);
        // 2 checkpoints, 7 inclusion proofs, 1 consistency proof, 17 notes
        // that must be refused.
        assert_eq!((rep.items, rep.passed, rep.failed()), (27, 27, 0));
    }
    let rep = Fixture::load().check();
    assert!(rep.failures.is_empty(), "{:#?}", rep.failures);
    // No checkpoints directory (the drill vectors): no files.
    assert!(checkpoint_vector_files(&crate::default_drill_vectors_dir())
        .unwrap()
        .is_empty());
}

#[test]
fn missing_file_fails() {
    let rep = check_checkpoint_file(&checkpoints_dir().join("no-such.json"));
    assert!(rep.file_failed && rep.failed() == 1, "{rep:?}");
    let mut f = Fixture::load();
    f.files.remove("chain-basic-3.note");
    assert_refused(&f, "cannot read chain-basic-3.note", "no note file");
    for key in [
        "checkpoints",
        "inclusionProofs",
        "consistencyProofs",
        "invalid",
    ] {
        let mut f = Fixture::load();
        f.doc[key] = json!([]);
        assert_refused(&f, &format!("{key:?} is not a non-empty array"), key);
    }
}

#[test]
fn tampered_note_files_fail() {
    for j in 0..2 {
        let name = Fixture::load().doc["checkpoints"][j]["file"]
            .as_str()
            .unwrap()
            .to_owned();
        let n = Fixture::load().files[&name].len();
        for i in [0, 40, n - 2, n - 1] {
            let mut f = Fixture::load();
            f.files.get_mut(&name).unwrap()[i] ^= 0x01;
            assert_refused(&f, &format!("{name} is not the bytes of signedNote"), &name);
        }
    }
}

#[test]
fn tampered_signed_notes_fail() {
    let f0 = Fixture::load();
    for j in 0..2 {
        let note = f0.doc["checkpoints"][j]["signedNote"].as_str().unwrap();
        let text_len = f0.doc["checkpoints"][j]["text"].as_str().unwrap().len();
        // A byte of the text (the size digit, a root character) or of the
        // signature's base64 (key hash, signature) changed.
        let sig_at = note.rfind(' ').unwrap() + 1;
        for (i, reason) in [
            (text_len - 3, "bad_signature"),
            (text_len - 10, "bad_signature"),
            (sig_at + 2, "unknown_key"),
            (sig_at + 10, "bad_signature"),
            (note.len() - 5, "bad_signature"),
        ] {
            let mut b = note.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let mut f = Fixture::load();
            f.doc["checkpoints"][j]["signedNote"] = json!(String::from_utf8(b).unwrap());
            assert_refused(&f, &format!("signedNote refused: {reason}"), "note byte");
        }
    }
}

#[test]
fn resigned_notes_fail() {
    // Notes with a valid signature by the test key (its seed is public) of
    // text that is not the checkpoint's: only the comparison with the
    // recomputed checkpoint refuses them.
    let f0 = Fixture::load();
    let name = f0.doc["keyName"].as_str().unwrap();
    let text = f0.doc["checkpoints"][1]["text"].as_str().unwrap();
    let other_root = f0.doc["checkpoints"][0]["rootBase64"].as_str().unwrap();
    let this_root = f0.doc["checkpoints"][1]["rootBase64"].as_str().unwrap();
    for (bad, needle) in [
        (text.replace("\n7\n", "\n6\n"), "signedNote is of size 6"),
        (
            text.replace(this_root, other_root),
            "signedNote is of size 7 and root 3ee7",
        ),
        (text.replace("/index\n", "/index2\n"), "origin_mismatch"),
    ] {
        let mut f = Fixture::load();
        f.doc["checkpoints"][1]["signedNote"] = json!(sign_note(&bad, name, &f.seed()));
        assert_refused(&f, needle, needle);
    }
    // The right text signed with another key under the same name: no
    // signature by the vectors' key.
    let mut f = Fixture::load();
    f.doc["checkpoints"][1]["signedNote"] = json!(sign_note(text, name, &[7u8; 32]));
    assert_refused(&f, "signedNote refused: unknown_key", "other key");
    // A second signature line (a witness): not the vector's one line.
    let mut f = Fixture::load();
    let note = f0.doc["checkpoints"][1]["signedNote"].as_str().unwrap();
    let witness = sign_note(text, "witness", &[7u8; 32]);
    let witness_line = &witness[text.len() + 1..];
    f.doc["checkpoints"][1]["signedNote"] = json!(format!("{note}{witness_line}"));
    assert_refused(&f, "signedNote has 2 signature lines", "cosigned");
}

#[test]
fn tampered_roots_and_texts_fail() {
    for j in 0..2 {
        let mut f = Fixture::load();
        flip_hex(&mut f.doc["checkpoints"][j]["rootHex"], 31);
        assert_refused(&f, "rootHex is not the tree hash", "rootHex");
        let mut f = Fixture::load();
        let b = f.doc["checkpoints"][j]["rootBase64"].as_str().unwrap();
        f.doc["checkpoints"][j]["rootBase64"] = json!(b.replacen('P', "Q", 1));
        assert_refused(&f, "rootBase64 is not", "rootBase64");
        let mut f = Fixture::load();
        let t = f.doc["checkpoints"][j]["text"].as_str().unwrap();
        f.doc["checkpoints"][j]["text"] = json!(t.replacen('\n', "\r\n", 1));
        assert_refused(&f, "text is not", "text");
    }
}

#[test]
fn tampered_sizes_fail() {
    for (at, size, needle) in [
        // A checkpoint of another size: its root, text and note no longer fit.
        (
            "/checkpoints/0/size",
            json!(4),
            "checkpoints[0]: rootHex is not the tree hash",
        ),
        (
            "/checkpoints/1/size",
            json!(8),
            "size 8 is more than the 7 leaves",
        ),
        (
            "/checkpoints/1/size",
            json!(-1),
            "\"size\" is not a non-negative integer",
        ),
        // An inclusion proof against another size's checkpoint, or one there
        // is none of.
        (
            "/inclusionProofs/0/treeSize",
            json!(3),
            "inclusion proof refused: not_included",
        ),
        (
            "/inclusionProofs/0/treeSize",
            json!(6),
            "no checkpoint of size 6",
        ),
        // The consistency proof between other sizes.
        (
            "/consistencyProofs/0/oldSize",
            json!(7),
            "oldRoot is not the root of a checkpoint of size 7",
        ),
        (
            "/consistencyProofs/0/newSize",
            json!(3),
            "newRoot is not the root of a checkpoint of size 3",
        ),
    ] {
        refused_with(&[(at, size)], needle);
    }
}

#[test]
fn tampered_inclusion_proofs_fail() {
    let f0 = Fixture::load();
    let proofs = f0.doc["inclusionProofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 7);
    for (j, p) in proofs.iter().enumerate() {
        // Each hash of the path.
        for k in 0..p["proof"].as_array().unwrap().len() {
            let mut f = Fixture::load();
            flip_hex(&mut f.doc["inclusionProofs"][j]["proof"][k], 0);
            assert_refused(&f, "inclusion proof refused: not_included", "proof hash");
        }
        // A path one hash short or long.
        let mut f = Fixture::load();
        f.doc["inclusionProofs"][j]["proof"]
            .as_array_mut()
            .unwrap()
            .pop();
        assert_refused(&f, "not_included: proof is too short", "short path");
        let mut f = Fixture::load();
        let extra = f.doc["leafHashes"][0].clone();
        f.doc["inclusionProofs"][j]["proof"]
            .as_array_mut()
            .unwrap()
            .push(extra);
        assert_refused(&f, "not_included: proof is too long", "long path");
        // Another record's hash, leaf hash or place.
        let mut f = Fixture::load();
        flip_hex(&mut f.doc["inclusionProofs"][j]["recordHash"], 3);
        assert_refused(
            &f,
            &format!("recordHash is not recordHashes[{j}]"),
            "recordHash",
        );
        let mut f = Fixture::load();
        flip_hex(&mut f.doc["inclusionProofs"][j]["leafHash"], 3);
        assert_refused(&f, "leafHash is not SHA-256", "leafHash");
        let mut f = Fixture::load();
        f.doc["inclusionProofs"][j]["seq"] = json!(j + 2);
        assert_refused(&f, "is not index", "seq");
    }
    // The index and seq of another leaf (with its hashes): the path does not
    // fit.
    let mut f = Fixture::load();
    let p1 = f.doc["inclusionProofs"][1].clone();
    for k in ["seq", "index", "recordHash", "leafHash"] {
        f.doc["inclusionProofs"][0][k] = p1[k].clone();
    }
    assert_refused(&f, "inclusion proof refused: not_included", "other leaf");
    // An index out of the tree.
    let mut f = Fixture::load();
    f.doc["inclusionProofs"][6]["index"] = json!(7);
    f.doc["inclusionProofs"][6]["seq"] = json!(8);
    assert_refused(&f, "recordHash is not recordHashes[7]", "index 7");
}

#[test]
fn tampered_consistency_proofs_fail() {
    let n = Fixture::load().doc["consistencyProofs"][0]["proof"]
        .as_array()
        .unwrap()
        .len();
    for k in 0..n {
        let mut f = Fixture::load();
        flip_hex(&mut f.doc["consistencyProofs"][0]["proof"][k], 31);
        assert_refused(&f, "consistency proof refused: fork", "proof hash");
    }
    let mut f = Fixture::load();
    f.doc["consistencyProofs"][0]["proof"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_refused(&f, "fork: proof is too short", "short");
    for key in ["oldRoot", "newRoot"] {
        let mut f = Fixture::load();
        flip_hex(&mut f.doc["consistencyProofs"][0][key], 0);
        assert_refused(&f, &format!("{key} is not the root"), key);
    }
}

#[test]
fn tampered_leaves_fail() {
    let mut f = Fixture::load();
    flip_hex(&mut f.doc["recordHashes"][4], 0);
    assert_refused(
        &f,
        "leafHashes[4] is not SHA-256(0x00 || recordHashes[4])",
        "rh",
    );
    let mut f = Fixture::load();
    flip_hex(&mut f.doc["leafHashes"][6], 0);
    assert_refused(&f, "leafHashes[6] is not", "leaf");
    let mut f = Fixture::load();
    f.doc["leafHashes"].as_array_mut().unwrap().pop();
    assert_refused(&f, "6 leafHashes for 7 recordHashes", "count");
    // Consistent record and leaf hashes that are not the source chain's.
    let mut f = Fixture::load();
    f.doc["recordHashes"].as_array_mut().unwrap().swap(0, 1);
    f.doc["leafHashes"].as_array_mut().unwrap().swap(0, 1);
    assert_refused(
        &f,
        "recordHashes are not the hashes of the records",
        "order",
    );
    // The source chain changed: a hash, a seq, another chain's record.
    for (k, needle) in [
        ("hash", "recordHashes are not the hashes"),
        ("seq", "record 2 has not seq 3"),
        ("stream", "record 2 is not of writerId and stream"),
    ] {
        let mut f = Fixture::load();
        let (src, mut s) = f.source();
        match k {
            "hash" => flip_hex(&mut s["records"][2]["hash"], 0),
            "seq" => s["records"][2]["record"]["seq"] = json!(4),
            _ => s["records"][2]["record"]["stream"] = json!("other"),
        }
        f.files.insert(src, serde_json::to_vec(&s).unwrap());
        assert_refused(&f, needle, k);
    }
}

/// Sets the fields at the JSON pointers of a fresh copy and asserts that it
/// fails with `needle`.
fn refused_with(changes: &[(&str, Value)], needle: &str) {
    let mut f = Fixture::load();
    for (at, v) in changes {
        *f.doc.pointer_mut(at).unwrap() = v.clone();
    }
    assert_refused(&f, needle, &format!("{changes:?}"));
}

#[test]
fn tampered_keys_fail() {
    let d = Fixture::load().doc;
    let flipped = |at: &str, i: usize| {
        let mut v = d.pointer(at).unwrap().clone();
        flip_hex(&mut v, i);
        v
    };
    let name = d["keyName"].as_str().unwrap();
    let pk = hash_field(&d, "publicKey").unwrap();
    let other = SigningKey::from_bytes(&[7u8; 32])
        .verifying_key()
        .to_bytes();
    let vkey = d["verifierKey"].as_str().unwrap();
    for (at, v, needle) in [
        ("/keySeed", flipped("/keySeed", 0), "keySeed is not SHA-256"),
        (
            "/publicKey",
            flipped("/publicKey", 0),
            "publicKey is not the key of keySeed",
        ),
        ("/keyHash", flipped("/keyHash", 3), "keyHash is not"),
        ("/keyName", json!("ron-audit/other"), "keyHash is not"),
        ("/keyName", json!("two words"), "is not a note key name"),
        // A valid verifier key of another key, or of the key under another
        // name; one whose hash is not of its name and key.
        (
            "/verifierKey",
            json!(format_verifier_key(name, &other)),
            "verifierKey is not of keyName and publicKey",
        ),
        (
            "/verifierKey",
            json!(format_verifier_key("other", &pk)),
            "verifierKey is not of keyName and publicKey",
        ),
        (
            "/verifierKey",
            json!(vkey.replace("+ac6707c0+", "+ac6707c1+")),
            "verifierKey: format: verifier key hash is not the hash",
        ),
    ] {
        refused_with(&[(at, v)], needle);
    }
    // The .vkey file.
    let mut f = Fixture::load();
    f.files.get_mut("chain-basic.vkey").unwrap().pop();
    assert_refused(
        &f,
        "chain-basic.vkey is not verifierKey and a newline",
        "vkey file",
    );
}

#[test]
fn tampered_origins_fail() {
    let index2 = "ron-audit/svc-index@inst-2/index2";
    refused_with(&[("/stream", json!("index2"))], "origin names");
    refused_with(
        &[("/origin", json!("ron-audit/svc-index%40inst-2/index"))],
        "origin: format",
    );
    // The notes are checked against the origin.
    refused_with(
        &[("/origin", json!(index2)), ("/stream", json!("index2"))],
        "signedNote refused: origin_mismatch",
    );
}

#[test]
fn tampered_invalid_notes_fail() {
    let f0 = Fixture::load();
    let inv = f0.doc["invalid"].as_array().unwrap();
    let reasons = ["format", "bad_signature", "unknown_key"];
    for (j, item) in inv.iter().enumerate() {
        // Another reason than the one it is refused for.
        let mut f = Fixture::load();
        let r = item["reason"].as_str().unwrap();
        let other = reasons.iter().find(|&&x| x != r).unwrap();
        f.doc["invalid"][j]["reason"] = json!(other);
        assert_refused(&f, &format!("the vector says {other}"), "reason");
        // A valid note in its place.
        let mut f = Fixture::load();
        f.doc["invalid"][j]["signedNote"] = f0.doc["checkpoints"][1]["signedNote"].clone();
        assert_refused(&f, &format!("invalid[{j}]"), "valid note");
        assert_refused(&f, "accepted (size 7", "valid note");
    }
}

// ---------------------------------------------------------------------------
// Tree and proofs against a reference from RFC 6962 section 2.1.

/// RFC 6962's k for n > 1: the largest power of two smaller than n.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 PATH(m, D[n]).
fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(tree_hash(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(tree_hash(&d[..k]));
        p
    }
}

/// RFC 6962 SUBPROOF(m, D[n], b).
fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![tree_hash(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(tree_hash(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(tree_hash(&d[..k]));
        p
    }
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&sha256(&[&i.to_be_bytes()])))
        .collect()
}

#[test]
fn tree_hash_is_rfc6962() {
    // MTH by its definition: the split is the largest power of two < n.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => sha256(&[]),
            1 => d[0],
            n => node_hash(&mth(&d[..split(n)]), &mth(&d[split(n)..])),
        }
    }
    let l = leaves(33);
    for n in 0..=33 {
        assert_eq!(tree_hash(&l[..n]), mth(&l[..n]), "n = {n}");
    }
    assert_eq!(
        hex::encode(tree_hash(&[])),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn inclusion_proofs_verify_and_refuse() {
    let l = leaves(17);
    for n in 1..=17 {
        let root = tree_hash(&l[..n]);
        for m in 0..n {
            let p = ref_path(m, &l[..n]);
            let (m64, n64) = (m as u64, n as u64);
            verify_inclusion(m64, n64, &l[m], &p, &root)
                .unwrap_or_else(|e| panic!("{m} of {n}: {e}"));
            let refused = |idx: u64, size: u64, leaf: &Hash, p: &[Hash], root: &Hash| {
                verify_inclusion(idx, size, leaf, p, root)
                    .unwrap_err()
                    .reason
            };
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k][0] ^= 1;
                assert_eq!(refused(m64, n64, &l[m], &q, &root), Reason::NotIncluded);
                assert_eq!(
                    refused(m64, n64, &l[m], &p[..k], &root),
                    Reason::NotIncluded
                );
            }
            let mut q = p.clone();
            q.push(root);
            assert_eq!(refused(m64, n64, &l[m], &q, &root), Reason::NotIncluded);
            let mut bad_root = root;
            bad_root[31] ^= 1;
            assert_eq!(refused(m64, n64, &l[m], &p, &bad_root), Reason::NotIncluded);
            if n > 1 {
                let other = (m + 1) % n;
                assert_eq!(
                    refused(other as u64, n64, &l[m], &p, &root),
                    Reason::NotIncluded
                );
                assert_eq!(refused(m64, n64, &l[other], &p, &root), Reason::NotIncluded);
            }
        }
        assert_eq!(
            verify_inclusion(n as u64, n as u64, &l[0], &[], &root)
                .unwrap_err()
                .reason,
            Reason::OutOfRange
        );
    }
    assert_eq!(
        verify_inclusion(0, 0, &l[0], &[], &l[0])
            .unwrap_err()
            .reason,
        Reason::OutOfRange
    );
}

#[test]
fn consistency_proofs_verify_and_refuse() {
    let l = leaves(17);
    let empty = tree_hash(&[]);
    for n in 1..=17 {
        let new = tree_hash(&l[..n]);
        // From the empty tree and to itself: the empty proof.
        verify_consistency(0, n as u64, &empty, &new, &[]).unwrap();
        verify_consistency(n as u64, n as u64, &new, &new, &[]).unwrap();
        let refused = |m: usize, old: &Hash, new: &Hash, p: &[Hash]| {
            verify_consistency(m as u64, n as u64, old, new, p)
                .unwrap_err()
                .reason
        };
        assert_eq!(
            refused(0, &new, &new, &[]),
            Reason::Fork,
            "not the empty root"
        );
        assert_eq!(refused(0, &empty, &new, &[new]), Reason::Fork);
        assert_eq!(refused(n, &new, &new, &[new]), Reason::Fork);
        assert_eq!(refused(n, &empty, &new, &[]), Reason::Fork);
        for m in 1..n {
            let old = tree_hash(&l[..m]);
            let p = ref_subproof(m, &l[..n], true);
            verify_consistency(m as u64, n as u64, &old, &new, &p)
                .unwrap_or_else(|e| panic!("{m} to {n}: {e}"));
            for k in 0..p.len() {
                let mut q = p.clone();
                q[k][5] ^= 1;
                assert_eq!(refused(m, &old, &new, &q), Reason::Fork, "{m} {n} {k}");
                assert_eq!(refused(m, &old, &new, &p[..k]), Reason::Fork, "{m} {n} {k}");
            }
            let mut q = p.clone();
            q.push(new);
            assert_eq!(refused(m, &old, &new, &q), Reason::Fork);
            assert_eq!(refused(m, &new, &new, &p), Reason::Fork, "old root");
            assert_eq!(refused(m, &old, &old, &p), Reason::Fork, "new root");
            // The other way round: a rollback.
            assert_eq!(
                verify_consistency(n as u64, m as u64, &new, &old, &p)
                    .unwrap_err()
                    .reason,
                Reason::Rollback
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Notes, verifier keys, origins, checkpoint text: what the vectors' invalid
// notes do not cover.

fn test_verifier() -> (Fixture, Verifier) {
    let f = Fixture::load();
    let v = parse_verifier_key(f.doc["verifierKey"].as_str().unwrap()).unwrap();
    (f, v)
}

fn note_reason(msg: &str, v: &Verifier) -> Reason {
    open_checkpoint(msg.as_bytes(), std::slice::from_ref(v), None)
        .unwrap_err()
        .reason
}

#[test]
fn notes_are_read_strictly() {
    let (f, v) = test_verifier();
    let good = f.doc["checkpoints"][1]["signedNote"].as_str().unwrap();
    let text = f.doc["checkpoints"][1]["text"].as_str().unwrap();
    let name = f.doc["keyName"].as_str().unwrap();
    let seed = f.seed();
    open_checkpoint(good.as_bytes(), std::slice::from_ref(&v), None).unwrap();
    let sig_line = &good[text.len() + 1..];
    let b64 = &sig_line[sig_line.rfind(' ').unwrap() + 1..sig_line.len() - 1];
    use Reason::*;
    for (bad, want, what) in [
        (text.to_owned(), Format, "no signatures"),
        (format!("{text}\n"), Format, "empty signature block"),
        (good.trim_end().to_owned(), Format, "no final newline"),
        (good.replace("\u{2014} ", "- "), Format, "no em dash"),
        (
            good.replace(&format!("{name} "), " "),
            Format,
            "empty key name",
        ),
        (
            good.replace(&format!("{name} "), &format!("{name}+x ")),
            Format,
            "'+' in the name",
        ),
        (good.replace(b64, "rGcHwA=="), Format, "signature too short"),
        (
            good.replace(b64, &b64[..b64.len() - 1]),
            Format,
            "base64 cut",
        ),
        (good.replace('=', ""), Format, "unpadded signature"),
        (good.replace("\n7\n", "\n7\t\n"), Format, "tab"),
        // A signature by the key, of the right length, that is the key hash
        // and 60 bytes: bad_signature, not format.
        (
            good.replace(b64, &b64_encode(&[&v.hash[..], &[0u8; 60]].concat())),
            BadSignature,
            "60-byte signature",
        ),
    ] {
        assert_eq!(note_reason(&bad, &v), want, "{what}: {bad:?}");
    }
    // Texts that are not a checkpoint's, validly signed by the key.
    for (from, to) in [
        ("\n7\n", "\n007\n"),
        ("\n7\n", "\n+7\n"),
        ("\n7\n", "\n9223372036854775808\n"),
        ("/index\n", "/in%00dex\n"),
        ("/index\n", "/in%FFdex\n"),
        ("ron-audit/svc-index@inst-2/", "ron-audit//"),
        ("ron-audit/", "ron-audit:"),
        ("/index\n", "/in%2\n"),
        ("cA=\n", "cA\n"),
        ("2cA=\n", "2c==\n"),
    ] {
        let bad = sign_note(&text.replace(from, to), name, &seed);
        assert_eq!(note_reason(&bad, &v), Format, "{from:?} -> {to:?}");
    }
    // Not UTF-8.
    let mut b = good.as_bytes().to_vec();
    b[3] = 0xff;
    let e = open_note(&b, std::slice::from_ref(&v)).unwrap_err();
    assert_eq!((e.reason, e.what.as_str()), (Format, "note is not UTF-8"));
    // More than 256 KiB: format, before anything else.
    let big = format!("{}{good}", "x".repeat(MAX_NOTE_BYTES));
    assert_eq!(note_reason(&big, &v), Format);
    // Exactly 100 signature lines are allowed, by keys the verifier does
    // not know besides its own.
    let mut many = good.to_owned();
    for i in 0..99 {
        let w = sign_note(text, &format!("w{i}"), &[i as u8; 32]);
        many.push_str(&w[text.len() + 1..]);
    }
    let note = open_note(many.as_bytes(), std::slice::from_ref(&v)).unwrap();
    assert_eq!((note.verified.len(), note.unverified.len()), (1, 99));
    // A note not by a known key.
    let other = SigningKey::from_bytes(&[7u8; 32])
        .verifying_key()
        .to_bytes();
    let vo = parse_verifier_key(&format_verifier_key(name, &other)).unwrap();
    assert_eq!(note_reason(good, &vo), UnknownKey);
}

#[test]
fn verifier_keys_are_read_strictly() {
    let (f, v) = test_verifier();
    let vkey = f.doc["verifierKey"].as_str().unwrap();
    let pk = v.key.to_bytes();
    assert_eq!(format_verifier_key(&v.name, &pk), vkey);
    let (name, rest) = vkey.split_once('+').unwrap();
    let (hash, key) = rest.split_once('+').unwrap();
    for (bad, what) in [
        (format!("{name}+{hash}"), "two parts"),
        (format_verifier_key("a b", &pk), "space in the name"),
        (format_verifier_key("", &pk), "empty name"),
        (format!("{name}+{}+{key}", &hash[..7]), "7 hex digits"),
        (format!("{name}+{hash}0+{key}"), "9 hex digits"),
        (
            format!("{name}+{}+{key}", hash.replace('a', "g")),
            "not hex",
        ),
        (
            format!("{name}+{hash}+{}", &key[..key.len() - 4]),
            "key cut",
        ),
        (
            format!("{name}+{hash}+{}", key.replacen('A', "B", 1)),
            "key type 0x05",
        ),
        (
            format!("{name}+{hash}+{}", key.replace('r', "s")),
            "another key",
        ),
    ] {
        assert_eq!(
            parse_verifier_key(&bad).unwrap_err().reason,
            Reason::Format,
            "{what}: {bad}"
        );
    }
    // A point that is not on the curve.
    let off = (2u8..)
        .map(|y| [&[y][..], &[0u8; 31]].concat().try_into().unwrap())
        .find(|k: &[u8; 32]| VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    let vk = format!(
        "{name}+{}+{}",
        hex::encode(key_hash(name, &off)),
        b64_encode(&[&[1u8][..], &off].concat())
    );
    assert!(parse_verifier_key(&vk)
        .unwrap_err()
        .what
        .contains("not an Ed25519 point"));
}

#[test]
fn origins_are_one_to_one() {
    for (w, s) in [
        ("svc-index@inst-2", "index"),
        ("a/b", "c d+e%f"),
        ("wr\u{e9}ter", "\u{1f600}"),
        ("-._~@", "AZaz09"),
    ] {
        let o = origin_of(w, s);
        assert_eq!(
            parse_origin(&o).unwrap(),
            (w.to_owned(), s.to_owned()),
            "{o}"
        );
    }
    assert_eq!(origin_of("a/b", "c d"), "ron-audit/a%2Fb/c%20d");
    for bad in [
        "ron-audit/w",
        "ron-audit/w/",
        "ron-audit//s",
        "ron-audit/w/s/t",
        "ron-audit/w/%2f",
        "ron-audit/w/%41",
        "ron-audit/w/%00",
        "ron-audit/w/%C3",
        "ron-audit/w/%+F",
        "ron-audit/w/%",
        "ron-audit/w/a b",
        "ron-audit/w/\u{e9}",
        "ronaudit/w/s",
    ] {
        assert_eq!(
            parse_origin(bad).unwrap_err().reason,
            Reason::Format,
            "{bad}"
        );
    }
}

#[test]
fn base64_is_strict() {
    for n in 0..8usize {
        let b: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(97)).collect();
        let s = b64_encode(&b);
        assert_eq!(s.len(), n.div_ceil(3) * 4);
        assert_eq!(b64_decode_strict(&s).unwrap(), b, "{s}");
    }
    assert_eq!(b64_encode(b"\xfb\xff"), "+/8=");
    for bad in [
        "A", "AB=", "AB==AB==", "A===", "AB=A", "AQ==x", "AR==", "AB\n=", "AB-_",
    ] {
        assert!(b64_decode_strict(bad).is_none(), "{bad}");
    }
}

#[test]
fn checkpoint_text_round_trips() {
    let (f, _) = test_verifier();
    let text = f.doc["checkpoints"][0]["text"].as_str().unwrap();
    let cp = parse_checkpoint_text(text).unwrap();
    assert_eq!((cp.size, cp.text()), (3, text.to_owned()));
    let max = format!("{}\n{MAX_TREE_SIZE}\n{}\n", cp.origin, b64_encode(&cp.root));
    assert_eq!(parse_checkpoint_text(&max).unwrap().size, MAX_TREE_SIZE);
    let zero = format!("{}\n0\n{}\n", cp.origin, b64_encode(&tree_hash(&[])));
    assert_eq!(parse_checkpoint_text(&zero).unwrap().size, 0);
    // Open checks the lines; the text alone must end in a newline too.
    let cut = parse_checkpoint_text(&text[..text.len() - 1]).unwrap_err();
    assert_eq!(cut.reason, Reason::Format);
    assert!(cut.what.contains("does not end in a newline"), "{cut}");
}
