//! Tests over the real vector files in testing/vectors/v1 (or the directory in
//! RONAUDIT_VECTORS_DIR): they all pass, and tampered copies fail.

use super::*;

fn vectors_dir() -> PathBuf {
    match std::env::var_os("RONAUDIT_VECTORS_DIR") {
        Some(d) => PathBuf::from(d),
        None => default_vectors_dir(),
    }
}

/// (file name, parsed document) of every vector file; asserts there is at
/// least one file and at least one chain file with two or more records.
fn load() -> Vec<(String, Value)> {
    let dir = vectors_dir();
    let files = vector_files(&dir)
        .unwrap_or_else(|e| panic!("cannot list vector dir {}: {e}", dir.display()));
    assert!(
        !files.is_empty(),
        "no *.json vector files in {}",
        dir.display()
    );
    let docs: Vec<(String, Value)> = files
        .iter()
        .map(|p| {
            let b = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let v: Value =
                serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    assert!(
        docs.iter()
            .any(|(_, d)| is_chain(d) && records(d).len() >= 2),
        "no chain vector file with two or more records in {}",
        dir.display()
    );
    docs
}

fn is_chain(d: &Value) -> bool {
    d["chain"].as_bool() == Some(true)
}

fn records(d: &Value) -> &Vec<Value> {
    d["records"].as_array().expect("records array")
}

fn records_mut(d: &mut Value) -> &mut Vec<Value> {
    d["records"].as_array_mut().expect("records array")
}

/// Flips the low bit of byte `i` of a hex string field.
fn flip_hex_byte(rec: &mut Value, key: &str, i: usize) {
    let mut b = hex::decode(rec[key].as_str().unwrap()).unwrap();
    b[i] ^= 0x01;
    rec[key] = Value::String(hex::encode(b));
}

fn assert_fails(rep: &FileReport, record: Option<usize>, needle: &str, what: &str) {
    assert!(
        rep.failures
            .iter()
            .any(|f| f.record == record && f.what.contains(needle)),
        "{}: {what}: expected a failure at {record:?} containing {needle:?}, got {:#?}",
        rep.file,
        rep.failures
    );
    assert!(rep.failed() > 0);
}

#[test]
fn all_vectors_pass() {
    let docs = load();
    let mut total = 0;
    for (file, doc) in &docs {
        let rep = check_value(file, doc);
        assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
        assert!(rep.records > 0, "{file}: no records");
        assert_eq!(rep.passed, rep.records, "{file}");
        total += rep.passed;
    }
    // The same through the file-reading entry point.
    let reps = check_dir(&vectors_dir()).unwrap();
    assert_eq!(reps.len(), docs.len());
    assert_eq!(reps.iter().map(|r| r.passed).sum::<usize>(), total);
    assert!(reps.iter().all(|r| r.failures.is_empty()));
}

#[test]
fn flipped_canonical_byte_fails() {
    for (file, doc) in &load() {
        let n = records(doc).len();
        for ri in 0..n {
            let len = hex::decode(records(doc)[ri]["canonical"].as_str().unwrap())
                .unwrap()
                .len();
            // Every byte of the first record, a few of each other one.
            let positions: Vec<usize> = if ri == 0 {
                (0..len).collect()
            } else {
                vec![0, len / 2, len - 1]
            };
            for i in positions {
                let mut d = doc.clone();
                flip_hex_byte(&mut records_mut(&mut d)[ri], "canonical", i);
                let rep = check_value(file, &d);
                assert_fails(
                    &rep,
                    Some(ri),
                    "hash mismatch",
                    &format!("canonical byte {i}"),
                );
            }
        }
    }
}

#[test]
fn flipped_signature_byte_fails() {
    for (file, doc) in &load() {
        for ri in 0..records(doc).len() {
            for i in [0, 31, 32, 63] {
                let mut d = doc.clone();
                flip_hex_byte(&mut records_mut(&mut d)[ri], "signature", i);
                let rep = check_value(file, &d);
                assert_fails(&rep, Some(ri), "signature", &format!("signature byte {i}"));
                assert_eq!(
                    rep.passed,
                    rep.records - 1,
                    "{file}: only record {ri} fails"
                );
            }
        }
    }
}

#[test]
fn flipped_hash_or_key_fails() {
    for (file, doc) in &load() {
        let mut d = doc.clone();
        flip_hex_byte(&mut records_mut(&mut d)[0], "hash", 5);
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "hash mismatch",
            "hash byte",
        );

        let mut d = doc.clone();
        flip_hex_byte(&mut records_mut(&mut d)[0], "dedupeKey", 5);
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "dedupeKey",
            "dedupeKey byte",
        );

        // Another (valid) public key: every signature fails.
        let mut d = doc.clone();
        let other = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        d["publicKey"] = Value::String(hex::encode(other.as_bytes()));
        let rep = check_value(file, &d);
        assert_eq!(rep.passed, 0, "{file}: other public key");
        assert_fails(&rep, Some(0), "signature", "other public key");
    }
}

#[test]
fn altered_record_rendering_fails() {
    for (file, doc) in &load() {
        let mut d = doc.clone();
        let r = &mut records_mut(&mut d)[0]["record"];
        let reason = r["reason"].as_str().unwrap().to_owned();
        r["reason"] = Value::String(reason + "x");
        assert_fails(&check_value(file, &d), Some(0), "field reason", "reason");

        let mut d = doc.clone();
        let r = &mut records_mut(&mut d)[0]["record"];
        r["seq"] = json!(r["seq"].as_u64().unwrap() ^ 1);
        assert_fails(&check_value(file, &d), Some(0), "field seq", "seq");

        let mut d = doc.clone();
        let r = &mut records_mut(&mut d)[0]["record"];
        r["kind"] = json!(if r["kind"] == "getServed" {
            "quotaReject"
        } else {
            "getServed"
        });
        assert_fails(&check_value(file, &d), Some(0), "field kind", "kind");

        let mut d = doc.clone();
        let r = &mut records_mut(&mut d)[0]["record"];
        r["actor"]["anon"] = json!(!r["actor"]["anon"].as_bool().unwrap());
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "field actor.anon",
            "actor.anon",
        );

        let mut d = doc.clone();
        let r = &mut records_mut(&mut d)[0]["record"];
        r["attrs"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "zzz", "value": ""}));
        assert_fails(&check_value(file, &d), Some(0), "field attrs", "attrs");

        let mut d = doc.clone();
        let r = &mut records_mut(&mut d)[0]["record"];
        let mut prev = hex::decode(r["prev"].as_str().unwrap()).unwrap();
        prev.push(0);
        r["prev"] = json!(hex::encode(prev));
        assert_fails(&check_value(file, &d), Some(0), "field prev", "prev");

        let mut d = doc.clone();
        records_mut(&mut d)[0]["record"]
            .as_object_mut()
            .unwrap()
            .remove("subject");
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "subject",
            "missing subject",
        );
    }
}

#[test]
fn non_canonical_bytes_fail() {
    for (file, doc) in &load() {
        // A trailing zero word: still decodes, but is not canonical.
        let mut d = doc.clone();
        let rec = &mut records_mut(&mut d)[0];
        let c = rec["canonical"].as_str().unwrap().to_owned() + "0000000000000000";
        rec["canonical"] = json!(c);
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "not canonical",
            "trailing word",
        );

        // Not a whole number of words.
        let mut d = doc.clone();
        let rec = &mut records_mut(&mut d)[0];
        let c = rec["canonical"].as_str().unwrap().to_owned() + "00";
        rec["canonical"] = json!(c);
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "multiple of 8",
            "odd length",
        );
    }
}

#[test]
fn broken_chain_fails() {
    let docs = load();
    let mut checked = 0;
    for (file, doc) in docs.iter().filter(|(_, d)| is_chain(d)) {
        let n = records(doc).len();
        if n < 2 {
            continue;
        }
        checked += 1;

        // Swap the first two records: each is still valid on its own.
        let mut d = doc.clone();
        records_mut(&mut d).swap(0, 1);
        let rep = check_value(file, &d);
        assert_fails(&rep, Some(0), "chain: first record", "swap 0/1");
        assert_fails(&rep, Some(1), "chain:", "swap 0/1");

        // Swap the last two.
        let mut d = doc.clone();
        records_mut(&mut d).swap(n - 2, n - 1);
        let rep = check_value(file, &d);
        assert_fails(&rep, Some(n - 2), "chain:", "swap last two");

        // Drop the first record: the chain no longer starts at seq 1.
        let mut d = doc.clone();
        records_mut(&mut d).remove(0);
        if !records(&d).is_empty() {
            assert_fails(&check_value(file, &d), Some(0), "want 1", "drop first");
        }

        // Drop a later record: seq gap and a prev that links to nothing.
        let mut d = doc.clone();
        records_mut(&mut d).remove(1);
        if records(&d).len() >= 2 {
            let rep = check_value(file, &d);
            assert_fails(&rep, Some(1), "chain: seq", "drop second");
            assert_fails(&rep, Some(1), "chain: prev", "drop second");
        }

        // Duplicate a record: seq repeats.
        let mut d = doc.clone();
        let dup = records(&d)[0].clone();
        records_mut(&mut d).insert(1, dup);
        assert_fails(&check_value(file, &d), Some(1), "chain:", "duplicate");

        // Alter prev of the second record (bytes, then hash/signature stay
        // stale): fails, at the least on the hash.
        let mut d = doc.clone();
        let rec = &mut records_mut(&mut d)[1];
        let bytes = hex::decode(rec["canonical"].as_str().unwrap()).unwrap();
        let len = bytes.len();
        flip_hex_byte(rec, "canonical", len - 1); // prev is the last object
        assert!(check_value(file, &d).failed() > 0, "{file}: altered prev");

        // The same reordered records in a non-chain file pass: the failures
        // above come from the chain check alone.
        let mut d = doc.clone();
        records_mut(&mut d).swap(0, 1);
        d["chain"] = json!(false);
        let rep = check_value(file, &d);
        assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
    }
    assert!(checked > 0, "no chain file with two or more records");
}

#[test]
fn empty_value_must_be_null_pointer() {
    // A record whose empty reason is written as a non-null empty text is a
    // canonical Cap'n Proto message, but not the format's encoding of it.
    let mut msg = capnp::message::Builder::new_default();
    {
        let mut r = msg.init_root::<audit_record::Builder>();
        r.set_v(1);
        r.set_kind(Kind::CapIssued);
        r.set_seq(1);
        r.set_writer_id("w");
        r.set_stream("s");
        r.set_reason("");
        r.set_prev(&[0u8; 32][..]);
    }
    let words = msg.into_reader().canonicalize().unwrap();
    let bytes = capnp::Word::words_to_bytes(&words).to_vec();
    let rec = decode(&bytes).expect("decodes and is canonical");
    assert_eq!(rec.reason, "");
    let re = rec.encode_canonical().unwrap();
    assert_ne!(
        re, bytes,
        "re-encoding must write the empty reason as a null pointer"
    );
    assert_eq!(decode(&re).unwrap(), rec);
}

#[test]
fn decode_rejects_garbage() {
    assert!(decode(&[]).is_err());
    assert!(decode(&[0u8; 7]).is_err());
    // Root pointer to a struct far outside the segment.
    assert!(decode(&[0xfc, 0xff, 0xff, 0x7f, 1, 0, 1, 0]).is_err());
}
