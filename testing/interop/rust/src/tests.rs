//! Tests over the real vector files in testing/vectors/v1 (or the directory in
//! RONAUDIT_VECTORS_DIR) and in testing/vectors/drill (the schema evolution
//! drill, or the directory in RONAUDIT_DRILL_VECTORS_DIR): they all pass, with
//! the schema each names and v1 also with v2 decoding, and tampered copies
//! fail.

use super::*;
use crate::audit_capnp::{audit_record, Kind};

fn vectors_dir() -> PathBuf {
    match std::env::var_os("RONAUDIT_VECTORS_DIR") {
        Some(d) => PathBuf::from(d),
        None => default_vectors_dir(),
    }
}

fn drill_vectors_dir() -> PathBuf {
    match std::env::var_os("RONAUDIT_DRILL_VECTORS_DIR") {
        Some(d) => PathBuf::from(d),
        None => default_drill_vectors_dir(),
    }
}

/// (file name, parsed document) of every vector file of `dir`; asserts there
/// is at least one file and at least one chain file with two or more records.
fn load_dir(dir: &Path) -> Vec<(String, Value)> {
    let files = vector_files(dir)
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

/// The v1 vector files.
fn load_v1() -> Vec<(String, Value)> {
    load_dir(&vectors_dir())
}

/// The v1 and the v2 vector files: the tamper tests run over both, each file
/// read with the schema it names.
fn load() -> Vec<(String, Value)> {
    let mut docs = load_v1();
    docs.extend(load_dir(&drill_vectors_dir()));
    docs
}

/// testing/vectors/drill/evolution.json.
fn evolution() -> (String, Value) {
    let p = drill_vectors_dir().join("evolution.json");
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: Value = serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    ("evolution.json".to_owned(), v)
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
    let docs = load_v1();
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

        if records(doc)[0].get("dedupeKey").is_some() {
            let mut d = doc.clone();
            flip_hex_byte(&mut records_mut(&mut d)[0], "dedupeKey", 5);
            assert_fails(
                &check_value(file, &d),
                Some(0),
                "dedupeKey",
                "dedupeKey byte",
            );
        }

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

// ---------------------------------------------------------------------------
// Schema evolution (v2)

/// Byte offset in `b` of the object a pointer at byte `ptr` points to, and
/// for a struct pointer its data and pointer section sizes in words.
fn follow(b: &[u8], ptr: usize) -> (usize, u16, u16) {
    let lo = i32::from_le_bytes(b[ptr..ptr + 4].try_into().unwrap());
    assert_ne!(lo & 3, 2, "far pointer at byte {ptr}");
    let target = (ptr as i64 + 8 + i64::from(lo >> 2) * 8) as usize;
    let data = u16::from_le_bytes(b[ptr + 4..ptr + 6].try_into().unwrap());
    let ptrs = u16::from_le_bytes(b[ptr + 6..ptr + 8].try_into().unwrap());
    (target, data, ptrs)
}

/// Byte offsets in a v2 record's canonical bytes of: region's low byte, the
/// first byte of traceId, the first byte of origin.host, port's low byte.
fn v2_field_offsets(b: &[u8]) -> [(&'static str, usize); 4] {
    let (root, data, _) = follow(b, 0);
    let ptr = |i: usize| root + usize::from(data) * 8 + i * 8;
    let (trace, _, _) = follow(b, ptr(7)); // traceId @12 is pointer 7
    let (origin, odata, _) = follow(b, ptr(8)); // origin @13 is pointer 8
    let (host, _, _) = follow(b, origin + usize::from(odata) * 8);
    [
        ("field region", root + 4), // region: bits 32..63 of data word 0
        ("field traceId", trace),
        ("field origin.host", host),
        ("field origin.port", origin), // port: bits 0..15 of data word 0
    ]
}

/// Indices of the evolution records that set v2 fields.
fn v2_records(doc: &Value) -> Vec<usize> {
    records(doc)
        .iter()
        .enumerate()
        .filter(|(_, r)| r["record"]["region"] != json!(0))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn evolution_passes() {
    let (file, doc) = evolution();
    assert_eq!(doc["schema"], json!(Schema::V2.path()));
    let rep = check_value(&file, &doc);
    assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
    assert_eq!(rep.schema, Schema::V2);
    assert!(rep.chain);
    assert_eq!(rep.records, 6);
    assert_eq!(rep.passed, 6);

    // Three records written by v1 code, three with every v2 field set.
    let v2 = v2_records(&doc);
    assert_eq!(v2, vec![3, 4, 5], "{file}: records with v2 fields");
    for (i, rec) in records(&doc).iter().enumerate() {
        assert!(
            rec.get("dedupeKey").is_none(),
            "{file}: record {i} has a dedupeKey"
        );
        let bytes = hex::decode(rec["canonical"].as_str().unwrap()).unwrap();
        let r = decode_with(&bytes, Schema::V2).unwrap();
        if v2.contains(&i) {
            assert_eq!(kind_name(Schema::V2, r.kind), Some("exportDone"));
            assert_eq!(kind_name(Schema::V1, r.kind), None);
            assert_ne!(r.region, 0);
            assert!(!r.trace_id.is_empty());
            assert!(!r.origin.host.is_empty() && r.origin.port != 0);
            // v1 code cannot read it: the kind is not in schema v1.
            assert!(decode_with(&bytes, Schema::V1)
                .unwrap_err()
                .contains("not in schema v1"));
        } else {
            // Written by v1 code: v1 decoding reads the same record, and both
            // schemas re-encode the same bytes (and the same dedupe bytes).
            let r1 = decode_with(&bytes, Schema::V1).unwrap();
            assert_eq!(
                r1,
                Record {
                    schema: Schema::V1,
                    ..r.clone()
                }
            );
            assert_eq!(r1.encode_canonical().unwrap(), bytes);
            assert_eq!(r.encode_canonical().unwrap(), bytes);
            let (mut d1, mut d2) = (r1.clone(), r.clone());
            (d1.seq, d2.seq) = (0, 0);
            d1.prev.clear();
            d2.prev.clear();
            assert_eq!(
                d1.encode_canonical().unwrap(),
                d2.encode_canonical().unwrap()
            );
        }
    }

    // The same through the file-reading entry point, and with a v2 override.
    for ov in [None, Some(Schema::V2)] {
        let reps = check_dir_with(&drill_vectors_dir(), ov).unwrap();
        assert!(reps.iter().all(|r| r.failures.is_empty()), "{reps:#?}");
        assert!(reps.iter().any(|r| r.name == "evolution" && r.passed == 6));
    }
}

#[test]
fn evolution_flipped_v2_field_byte_fails() {
    let (file, doc) = evolution();
    for ri in v2_records(&doc) {
        let bytes = hex::decode(records(&doc)[ri]["canonical"].as_str().unwrap()).unwrap();
        for (needle, off) in v2_field_offsets(&bytes) {
            let mut d = doc.clone();
            flip_hex_byte(&mut records_mut(&mut d)[ri], "canonical", off);
            let rep = check_value(&file, &d);
            let what = format!("record {ri} {needle} (byte {off})");
            assert_fails(&rep, Some(ri), needle, &what);
            assert_fails(&rep, Some(ri), "hash mismatch", &what);
            assert_fails(&rep, Some(ri), "signature does not verify", &what);
        }
    }
}

#[test]
fn evolution_fails_without_v2_decoding() {
    let (file, doc) = evolution();
    // Forced to v1: the renderings have fields v1 lacks, the v2 kinds are not
    // in v1.
    let rep = check_value_with(&file, &doc, Some(Schema::V1));
    assert_eq!(rep.schema, Schema::V1);
    assert_eq!(rep.passed, 0);
    assert_fails(&rep, Some(0), "unknown field", "forced v1");
    assert_fails(&rep, Some(3), "not in schema v1", "forced v1");

    // Without its "schema" field the file is read as v1 and fails the same.
    let mut d = doc.clone();
    d.as_object_mut().unwrap().remove("schema");
    let rep = check_value(&file, &d);
    assert_eq!(rep.schema, Schema::V1);
    assert_eq!(rep.passed, 0);
    assert_fails(&rep, Some(3), "not in schema v1", "no schema field");
}

#[test]
fn v1_vectors_pass_under_v2_decoding() {
    let docs = load_v1();
    let mut total = 0;
    for (file, doc) in &docs {
        let rep = check_value_with(file, doc, Some(Schema::V2));
        assert!(rep.failures.is_empty(), "{file} (v2): {:#?}", rep.failures);
        assert_eq!(rep.schema, Schema::V2);
        assert_eq!(rep.passed, rep.records, "{file} (v2)");
        total += rep.passed;

        // A v1 rendering that also lists the v2 fields at their defaults
        // passes too; at any other value it fails.
        let mut d = doc.clone();
        for rec in records_mut(&mut d) {
            let r = rec["record"].as_object_mut().unwrap();
            r.insert("region".into(), json!(0));
            r.insert("traceId".into(), json!(""));
            r.insert("origin".into(), json!({"host": "", "port": 0}));
        }
        let rep = check_value_with(file, &d, Some(Schema::V2));
        assert!(
            rep.failures.is_empty(),
            "{file} (v2, defaults): {:#?}",
            rep.failures
        );
        for (k, v, needle) in [
            ("region", json!(1), "field region"),
            ("traceId", json!("t"), "field traceId"),
            (
                "origin",
                json!({"host": "h", "port": 0}),
                "field origin.host",
            ),
            (
                "origin",
                json!({"host": "", "port": 1}),
                "field origin.port",
            ),
            ("origin", json!({"host": ""}), "origin.port missing"),
        ] {
            let mut d2 = d.clone();
            records_mut(&mut d2)[0]["record"][k] = v;
            assert_fails(
                &check_value_with(file, &d2, Some(Schema::V2)),
                Some(0),
                needle,
                k,
            );
        }
    }
    let reps = check_dir_with(&vectors_dir(), Some(Schema::V2)).unwrap();
    assert_eq!(reps.len(), docs.len());
    assert!(reps
        .iter()
        .all(|r| r.failures.is_empty() && r.schema == Schema::V2));
    assert_eq!(reps.iter().map(|r| r.passed).sum::<usize>(), total);
}

#[test]
fn v2_field_omitted_only_when_default() {
    let (file, doc) = evolution();
    let v2 = v2_records(&doc);
    for ri in 0..records(&doc).len() {
        for k in Schema::V2.added_fields() {
            let mut d = doc.clone();
            records_mut(&mut d)[ri]["record"]
                .as_object_mut()
                .unwrap()
                .remove(*k);
            let rep = check_value(&file, &d);
            if v2.contains(&ri) {
                // Set in this record: the rendering must show it.
                assert_fails(
                    &rep,
                    Some(ri),
                    &format!("field {k} missing from JSON rendering"),
                    &format!("record {ri} without {k}"),
                );
                assert_eq!(
                    rep.passed,
                    rep.records - 1,
                    "{file}: only record {ri} fails"
                );
            } else {
                // Written by v1 code: it decodes as its default.
                assert!(
                    rep.failures.is_empty(),
                    "{file}: record {ri} without {k}: {:#?}",
                    rep.failures
                );
            }
        }
    }
}

#[test]
fn missing_v1_field_fails() {
    // Every rendering field of schema v1 is required, under v1 decoding and
    // under v2 decoding (only the fields v2 added may be omitted), also when
    // the field holds its default.
    let (efile, edoc) = evolution();
    let mut docs: Vec<(String, Value, Option<Schema>)> = Vec::new();
    for (file, doc) in load_v1() {
        docs.push((file.clone(), doc.clone(), None));
        docs.push((file, doc, Some(Schema::V2)));
    }
    docs.push((efile, edoc, None));
    let mut defaults = 0;
    for (file, doc, ov) in &docs {
        for ri in 0..records(doc).len() {
            let keys: Vec<String> = records(doc)[ri]["record"]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| !Schema::V2.added_fields().contains(&k.as_str()))
                .cloned()
                .collect();
            assert_eq!(keys.len(), 11, "{file}: record {ri}: v1 has 11 fields");
            for k in &keys {
                let mut d = doc.clone();
                let r = records_mut(&mut d)[ri]["record"].as_object_mut().unwrap();
                if is_default(&r[k]) {
                    defaults += 1;
                }
                r.remove(k);
                let rep = check_value_with(file, &d, *ov);
                assert_fails(
                    &rep,
                    Some(ri),
                    &format!("field {k} missing from JSON rendering"),
                    &format!("record {ri} without {k}, schema {}", rep.schema),
                );
            }
            // A nested field too.
            let mut d = doc.clone();
            records_mut(&mut d)[ri]["record"]["actor"]
                .as_object_mut()
                .unwrap()
                .remove("anon");
            assert_fails(
                &check_value_with(file, &d, *ov),
                Some(ri),
                "field actor.anon missing",
                "without actor.anon",
            );
        }
    }
    assert!(defaults > 0, "no field removed at its default");
}

#[test]
fn dedupe_key_is_optional() {
    for (file, doc) in &load_v1() {
        // Without dedupeKey the records still pass (the check is skipped)...
        let mut d = doc.clone();
        for rec in records_mut(&mut d) {
            assert!(rec.as_object_mut().unwrap().remove("dedupeKey").is_some());
        }
        let rep = check_value(file, &d);
        assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
        assert_eq!(rep.passed, rep.records);
        // ...but no other check is skipped with it.
        flip_hex_byte(&mut records_mut(&mut d)[0], "hash", 0);
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "hash mismatch",
            "no dedupeKey",
        );

        // When present it must be 32 bytes of hex.
        let mut d = doc.clone();
        records_mut(&mut d)[0]["dedupeKey"] = json!("00");
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "dedupeKey",
            "short dedupeKey",
        );
        let mut d = doc.clone();
        records_mut(&mut d)[0]["dedupeKey"] = json!(null);
        assert_fails(
            &check_value(file, &d),
            Some(0),
            "dedupeKey",
            "null dedupeKey",
        );
    }

    // A dedupeKey added to an evolution record is checked, with v2 encoding.
    let (file, doc) = evolution();
    for ri in 0..records(&doc).len() {
        let bytes = hex::decode(records(&doc)[ri]["canonical"].as_str().unwrap()).unwrap();
        let mut r = decode_with(&bytes, Schema::V2).unwrap();
        r.seq = 0;
        r.prev.clear();
        let key = blake3::derive_key(DEDUPE_CONTEXT, &r.encode_canonical().unwrap());
        let mut d = doc.clone();
        records_mut(&mut d)[ri]["dedupeKey"] = json!(hex::encode(key));
        let rep = check_value(&file, &d);
        assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
        flip_hex_byte(&mut records_mut(&mut d)[ri], "dedupeKey", 0);
        assert_fails(
            &check_value(&file, &d),
            Some(ri),
            "dedupeKey mismatch",
            "v2 dedupeKey",
        );
    }
}

#[test]
fn schema_selection() {
    // A v1 file that names its schema is read with it.
    for (file, doc) in &load_v1() {
        let mut d = doc.clone();
        d["schema"] = json!("schema/audit.capnp");
        let rep = check_value(file, &d);
        assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
        assert_eq!(rep.schema, Schema::V1);
        let mut d = doc.clone();
        d["schema"] = json!("gen/testdata/audit_v2.capnp");
        let rep = check_value(file, &d);
        assert!(rep.failures.is_empty(), "{file}: {:#?}", rep.failures);
        assert_eq!(rep.schema, Schema::V2);
    }

    // A schema this reader does not know fails the file, override or not.
    let (file, doc) = evolution();
    for bad in [json!("gen/testdata/audit_v3.capnp"), json!("v2"), json!("")] {
        let mut d = doc.clone();
        d["schema"] = bad.clone();
        for ov in [None, Some(Schema::V2)] {
            let rep = check_value_with(&file, &d, ov);
            assert_fails(&rep, None, "unknown schema", &format!("schema {bad}"));
            assert_eq!(rep.passed, 0);
        }
    }
    let mut d = doc.clone();
    d["schema"] = json!(2);
    assert_fails(&check_value(&file, &d), None, "not a string", "schema 2");

    // Selectors of --schema and RONAUDIT_SCHEMA.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    for (s, want) in [
        ("v1".to_owned(), Schema::V1),
        ("v2".to_owned(), Schema::V2),
        ("schema/audit.capnp".to_owned(), Schema::V1),
        ("gen/testdata/audit_v2.capnp".to_owned(), Schema::V2),
        (
            root.join("schema/audit.capnp").display().to_string(),
            Schema::V1,
        ),
        (
            root.join("gen/testdata/../testdata/audit_v2.capnp")
                .display()
                .to_string(),
            Schema::V2,
        ),
    ] {
        assert_eq!(Schema::parse(&s), Ok(want), "{s}");
    }
    for s in [
        "",
        "v3",
        "V2",
        "/nonexistent/audit_v2.capnp",
        env!("CARGO_MANIFEST_DIR"),
    ] {
        assert!(Schema::parse(s).is_err(), "{s:?}");
    }
}

#[test]
fn v2_empty_origin_must_be_null_pointer() {
    use audit_v2_capnp::audit_record;
    // An origin whose fields are all defaults is absent: written non-null it
    // is canonical Cap'n Proto but not the format's encoding.
    let build = |host: &str, port: u16| {
        let mut msg = capnp::message::Builder::new_default();
        {
            let mut r = msg.init_root::<audit_record::Builder>();
            r.set_v(1);
            r.set_kind(audit_v2_capnp::Kind::ExportDone);
            r.set_seq(1);
            r.set_writer_id("w");
            r.set_stream("s");
            r.set_prev(&[0u8; 32][..]);
            let mut o = r.init_origin();
            if !host.is_empty() {
                o.set_host(host);
            }
            o.set_port(port);
        }
        let words = msg.into_reader().canonicalize().unwrap();
        capnp::Word::words_to_bytes(&words).to_vec()
    };
    let bytes = build("", 0);
    let rec = decode_with(&bytes, Schema::V2).expect("decodes and is canonical");
    assert_eq!(rec.origin, Origin::default());
    let re = rec.encode_canonical().unwrap();
    assert_ne!(
        re, bytes,
        "re-encoding must write the empty origin as a null pointer"
    );
    assert_eq!(decode_with(&re, Schema::V2).unwrap(), rec);

    // An origin with only a port is present and round-trips.
    let bytes = build("", 443);
    let rec = decode_with(&bytes, Schema::V2).unwrap();
    assert_eq!(
        rec.origin,
        Origin {
            host: String::new(),
            port: 443
        }
    );
    assert_eq!(rec.encode_canonical().unwrap(), bytes);

    // A v1 Record cannot carry v2 fields.
    let mut v1 = Record {
        schema: Schema::V1,
        ..rec
    };
    v1.kind = 1;
    assert!(v1.encode_canonical().unwrap_err().contains("schema v1"));
}

// ---------------------------------------------------------------------------
// Negative vectors (testing/vectors/v1/invalid)

fn load_invalid(name: &str) -> (String, Value) {
    let p = vectors_dir().join("invalid").join(name);
    let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: Value = serde_json::from_slice(&b).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (format!("invalid/{name}"), v)
}

#[test]
fn invalid_vectors_are_refused() {
    let reps = check_invalid_dir(&vectors_dir());
    assert_eq!(reps.len(), INVALID_FILES.len());
    for rep in &reps {
        assert!(rep.failures.is_empty(), "{}: {:#?}", rep.file, rep.failures);
        assert!(rep.negative && rep.records > 0, "{}", rep.file);
        assert_eq!(rep.passed, rep.records, "{}", rep.file);
    }
    // The field-rule vectors are canonical Cap'n Proto and our own encoding
    // of what they hold: only check_rules refuses them.
    let (_, doc) = load_invalid("records.json");
    let mut rules = 0;
    for r in records(&doc) {
        let bytes = hex::decode(r["canonical"].as_str().unwrap()).unwrap();
        let err = open_strict(&bytes, Schema::V1).unwrap_err();
        if r["refusal"] == "invalid" {
            rules += 1;
            assert!(err.starts_with("rule:"), "{}: {err}", r["name"]);
        }
    }
    assert!(rules > 0, "no field-rule vectors");
    // No directory, no reports (testing/vectors/drill has none).
    assert!(check_invalid_dir(&drill_vectors_dir()).is_empty());
}

#[test]
fn check_value_applies_the_rules() {
    // An invalid record in an ordinary vector file, with the rendering of
    // what it decodes to, its right hash and a valid signature: refused by
    // the rules alone.
    let (_, doc) = load_invalid("records.json");
    let mut checked = 0;
    for r in records(&doc).iter().filter(|r| r["refusal"] == "invalid") {
        let bytes = hex::decode(r["canonical"].as_str().unwrap()).unwrap();
        let rec = decode(&bytes).unwrap();
        let d = json!({
            "name": r["name"], "chain": false, "publicKey": doc["publicKey"],
            "records": [{"record": rec.to_json(), "canonical": r["canonical"],
                         "hash": r["hash"], "signature": r["signature"]}],
        });
        let rep = check_value("invalid.json", &d);
        assert_fails(&rep, Some(0), "rule:", r["name"].as_str().unwrap());
        assert_eq!(rep.failures.len(), 1, "{:#?}", rep.failures);
        checked += 1;
    }
    assert!(checked > 0);
}

#[test]
fn invalid_vector_checks_bite() {
    let (file, doc) = load_invalid("records.json");
    let (_, worked) = load_dir(&vectors_dir())
        .into_iter()
        .find(|(f, _)| f == "worked-example.json")
        .unwrap();

    // A wrong hash or signature in the vector: the refusal would prove nothing.
    let mut d = doc.clone();
    flip_hex_byte(&mut records_mut(&mut d)[0], "hash", 0);
    assert_fails(
        &check_invalid_records(&file, &d),
        Some(0),
        "vector: hash",
        "hash",
    );
    let mut d = doc.clone();
    flip_hex_byte(&mut records_mut(&mut d)[0], "signature", 0);
    assert_fails(
        &check_invalid_records(&file, &d),
        Some(0),
        "vector: signature",
        "signature",
    );
    // capnpCanonical must agree with the capnp crate.
    let mut d = doc.clone();
    let c = records(&d)[0]["capnpCanonical"].as_bool().unwrap();
    records_mut(&mut d)[0]["capnpCanonical"] = json!(!c);
    assert_fails(
        &check_invalid_records(&file, &d),
        Some(0),
        "capnpCanonical",
        "capnpCanonical",
    );
    // A valid record in its place is accepted: a failure.
    let mut d = doc.clone();
    for k in ["canonical", "hash", "signature"] {
        records_mut(&mut d)[0][k] = records(&worked)[0][k].clone();
    }
    let rep = check_invalid_records(&file, &d);
    assert_fails(&rep, Some(0), "accepted", "valid record");
    assert_eq!(rep.passed, rep.records - 1);
    // No records: nothing shown.
    let mut d = doc.clone();
    d["records"] = json!([]);
    assert_fails(&check_invalid_records(&file, &d), None, "records", "empty");

    let (file, doc) = load_invalid("chains.json");
    let (_, basic) = load_dir(&vectors_dir())
        .into_iter()
        .find(|(f, _)| f == "chain-basic.json")
        .unwrap();
    // A valid chain in its place: accepted, a failure.
    let mut d = doc.clone();
    d["chains"][0]["records"] = json!(records(&basic)[..2]);
    assert_fails(
        &check_invalid_chains(&file, &d),
        Some(0),
        "accepted",
        "valid chain",
    );
    // Failing elsewhere than failsAt, or on something else than the chain.
    let mut d = doc.clone();
    let at = d["chains"][0]["failsAt"].as_u64().unwrap();
    d["chains"][0]["failsAt"] = json!(at + 1);
    assert_fails(
        &check_invalid_chains(&file, &d),
        Some(0),
        "want only chain failures",
        "failsAt",
    );
    let mut d = doc.clone();
    flip_hex_byte(&mut d["chains"][0]["records"][0], "signature", 0);
    assert_fails(
        &check_invalid_chains(&file, &d),
        Some(0),
        "want only chain failures",
        "signature",
    );
    let mut d = doc.clone();
    d["chains"] = json!([]);
    assert_fails(&check_invalid_chains(&file, &d), None, "chains", "empty");
}

/// canonical/SPEC.md section 5: a signature verifies as Go's crypto/ed25519
/// (and the Python reader's OpenSSL) verifies it, cofactorless and without
/// refusing small-order points. The identity as public key with R = the
/// identity and S = 0 verifies any message there: [0]B - [k]A encodes to R.
/// A stricter check (ed25519-dalek's verify_strict) refuses it, and a
/// reader using it would refuse a record Go accepts. S at or above the
/// group order is refused by all.
#[test]
fn signatures_verify_as_go_does() {
    let (_, worked) = load_dir(&vectors_dir())
        .into_iter()
        .find(|(f, _)| f == "worked-example.json")
        .unwrap();
    let identity = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let mut d = worked.clone();
    d["publicKey"] = json!(hex::encode(identity));
    d["records"][0]["signature"] = json!(hex::encode(sig));
    let rep = check_value("identity-key.json", &d);
    assert!(rep.failures.is_empty(), "{:#?}", rep.failures);

    // S = the group order L: not below it, refused.
    let l =
        hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010").unwrap();
    sig[32..].copy_from_slice(&l);
    d["records"][0]["signature"] = json!(hex::encode(sig));
    let rep = check_value("identity-key.json", &d);
    assert_fails(&rep, Some(0), "signature does not verify", "S = L");

    // A checkpoint note signed so, under the identity key.
    let text = "ron-audit/w/s\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let name = "ron-audit/w";
    let mut raw = checkpoint::key_hash(name, &identity).to_vec();
    let mut s = [0u8; 64];
    s[0] = 1;
    raw.extend_from_slice(&s);
    let note = format!(
        "{text}\n{}{name} {}\n",
        checkpoint::SIG_LINE_PREFIX,
        checkpoint::b64_encode(&raw)
    );
    let v =
        checkpoint::parse_verifier_key(&checkpoint::format_verifier_key(name, &identity)).unwrap();
    let opened = checkpoint::open_note(note.as_bytes(), &[v]);
    assert!(opened.is_ok(), "{:?}", opened.err());
}

// ---------------------------------------------------------------------------
// The layout of a vectors directory (check_layout): nothing is skipped

/// A fresh copy of the v1 vectors directory (files and subdirectories) in
/// the system temp directory, removed when dropped.
struct TempVectors(PathBuf);

impl TempVectors {
    fn new(tag: &str) -> TempVectors {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap() {
                let p = e.unwrap().path();
                let q = to.join(p.file_name().unwrap());
                if p.is_dir() {
                    copy(&p, &q);
                } else {
                    std::fs::copy(&p, &q).unwrap();
                }
            }
        }
        let d = std::env::temp_dir().join(format!(
            "ronaudit-interop-layout-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        copy(&vectors_dir(), &d);
        TempVectors(d)
    }
}

impl Drop for TempVectors {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The layout failures of a copy of the v1 vectors changed by `change`.
fn layout_failures(tag: &str, change: impl FnOnce(&Path)) -> Vec<String> {
    let t = TempVectors::new(tag);
    change(&t.0);
    check_layout(&t.0)
}

#[test]
fn layout_of_the_vectors_is_known() {
    assert_eq!(check_layout(&vectors_dir()), Vec::<String>::new());
    assert_eq!(check_layout(&drill_vectors_dir()), Vec::<String>::new());
}

/// Before check_layout each of these copies passed the reader: the vectors
/// below a new subdirectory, a third file in invalid/, a bundles/ file other
/// than bundles.json, and a missing or emptied checkpoints/ or bundles/ were
/// silently not read (README: a reader must never skip a vector unseen).
#[test]
fn layout_gaps_fail() {
    let cases: Vec<(&str, Box<dyn FnOnce(&Path)>, &str)> = vec![
        (
            "newkind",
            Box::new(|d: &Path| {
                std::fs::create_dir(d.join("newkind")).unwrap();
                std::fs::write(d.join("newkind/x.json"), "{}").unwrap();
            }),
            "newkind",
        ),
        (
            "invalid-extra",
            Box::new(|d: &Path| std::fs::write(d.join("invalid/extra.json"), "{}").unwrap()),
            "invalid/extra.json",
        ),
        (
            "checkpoints-empty",
            Box::new(|d: &Path| {
                std::fs::remove_file(d.join("checkpoints/chain-basic.json")).unwrap()
            }),
            "checkpoints/",
        ),
        (
            "checkpoints-gone",
            Box::new(|d: &Path| std::fs::remove_dir_all(d.join("checkpoints")).unwrap()),
            "checkpoints/",
        ),
        (
            "bundles-gone",
            Box::new(|d: &Path| std::fs::remove_dir_all(d.join("bundles")).unwrap()),
            "bundles/",
        ),
        (
            "invalid-gone",
            Box::new(|d: &Path| std::fs::remove_dir_all(d.join("invalid")).unwrap()),
            "invalid/",
        ),
    ];
    for (tag, change, needle) in cases {
        let got = layout_failures(tag, change);
        assert!(
            got.iter().any(|f| f.contains(needle)),
            "{tag}: want a layout failure naming {needle:?}, got {got:?}"
        );
    }
    // A second bundle vector file is read, not skipped: it is listed.
    let t = TempVectors::new("bundles-other");
    std::fs::write(t.0.join("bundles/other.json"), "{}").unwrap();
    let files = bundle::vector_files(&t.0).unwrap();
    assert_eq!(
        files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        ["bundles.json", "other.json"]
    );
    assert!(bundle::check_file(&files[1]).failed() > 0);
}
