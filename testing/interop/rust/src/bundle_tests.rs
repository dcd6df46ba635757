//! Tests of the bundle verifier: the vectors of testing/vectors/v1/bundles
//! get their verdicts, any single flipped byte of a valid bundle is
//! refused, and the pieces (CRC-32C, the compact range fold, the key
//! state) against references built here.

use super::*;

fn cases() -> Vec<Case> {
    let path = vector_file(&crate::default_vectors_dir());
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    parse_cases(&doc).unwrap()
}

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn vectors_get_their_verdicts() {
    let rep = check_file(&vector_file(&crate::default_vectors_dir()));
    assert!(rep.failures.is_empty(), "{:#?}", rep.failures);
    assert!(rep.cases >= 30, "{} cases", rep.cases);
    let all = cases();
    // Every label FORMAT.md names is exercised, valid and damaged.
    for label in [
        "ok",
        "format",
        "bad_checkpoint",
        "consistency",
        "record",
        "root",
        "gap",
        "fork",
        "truncated",
    ] {
        assert!(all.iter().any(|c| c.want.want == label), "no {label} case");
    }
    for detail in ["retired_key", "unknown_key", "bad_key_transition"] {
        assert!(
            all.iter().any(|c| c.want.detail.as_deref() == Some(detail)),
            "no {detail} case"
        );
    }
}

#[test]
fn a_wrong_expectation_is_reported() {
    let mut c = case("record-signature");
    c.check().unwrap();
    c.want.seq = Some(4);
    let e = c.check().unwrap_err();
    assert!(
        e.contains("want record at seq 4") && e.contains("seq 5"),
        "{e}"
    );
    c.want = Verdict {
        want: "ok".into(),
        detail: None,
        seq: None,
    };
    assert!(c.check().is_err());
    let mut c = case("record-retired-key");
    c.want.detail = Some("bad_key_transition".into());
    assert!(c.check().is_err());
}

#[test]
fn summaries_of_valid_sequences() {
    let s = case("ok-sequence").verify().unwrap();
    assert_eq!(
        s.bundles
            .iter()
            .map(|b| (b.prev_size, b.size, b.signed))
            .collect::<Vec<_>>(),
        [(0, 3, 3), (3, 5, 2), (5, 8, 3)]
    );
    assert_eq!(s.size(), 8);
    let u = case("ok-unsigned").verify().unwrap();
    assert_eq!((u.size(), u.bundles[0].signed), (4, 0));
    let r = case("ok-rotation").verify().unwrap();
    assert_eq!(r.keys.transitions.len(), 1);
    assert_eq!(r.keys.transitions[0].0, 4);
    let t = case("ok-trusted-checkpoint-earlier").verify().unwrap();
    assert_eq!(t.trusted_size, Some(5));
}

/// Every third byte (a different third in each bundle) of the bundles of
/// the valid cases without a trusted checkpoint (the others repeat their
/// bundles), flipped (XOR 1): the sequence is refused, each time.
#[test]
fn single_flips_are_refused() {
    const STRIDE: usize = 3;
    let mut n = 0;
    let valid = cases()
        .into_iter()
        .filter(|c| c.want.want == "ok" && c.checkpoint.is_none());
    for c in valid {
        for i in 0..c.bundles.len() {
            for at in (i % STRIDE..c.bundles[i].len()).step_by(STRIDE) {
                let mut d = c.clone();
                d.bundles[i][at] ^= 1;
                if let Ok(s) = d.verify() {
                    panic!(
                        "{}: bundle {i} byte {at} flipped: accepted ({} records)",
                        c.name,
                        s.size()
                    );
                }
                n += 1;
            }
        }
    }
    assert!(n > 2_500, "{n} flips");
}

/// FORMAT.md "Integrity": a record's flags, key id and signature are not
/// covered by the checkpoint; clearing them (CRC fixed) leaves a valid
/// bundle whose record is unsigned, except for a key transition.
#[test]
fn clearing_a_signature_leaves_a_valid_bundle() {
    let c = case("ok-sequence");
    let mut d = c.clone();
    let b = parse(&c.bundles[1]).unwrap();
    let data = &mut d.bundles[1];
    // The first frame of the second bundle: its payload starts 8 bytes
    // after where its canonical bytes end minus the header, counted from
    // the back of the bundle.
    let tail: usize = b
        .records
        .iter()
        .map(|f| FRAME_HEAD + RECORD_HEAD + f.canonical.len())
        .sum();
    let p = data.len() - tail + FRAME_HEAD;
    data[p + 1..p + 74].fill(0);
    let n = RECORD_HEAD + b.records[0].canonical.len();
    let crc = crc32c(&data[p..p + n]);
    data[p - 4..p].copy_from_slice(&crc.to_le_bytes());
    let s = d.verify().unwrap();
    assert_eq!(s.bundles[1].signed, b.records.len() - 1);
    // The same for the rotation's transition record is `record`.
    let e = case("record-unsigned-transition").verify().unwrap_err();
    assert_eq!(
        (e.reason, e.detail, e.seq),
        (Reason::Record, Some(Detail::BadKeyTransition), Some(4))
    );
}

#[test]
fn errors_name_the_bundle_and_what() {
    let e = case("record-crc").verify().unwrap_err();
    assert_eq!(e.bundle.as_deref(), Some("#1"));
    assert!(
        e.to_string().starts_with("#1: record: seq 2: CRC-32C"),
        "{e}"
    );
    let e = case("bad-checkpoint-retired-key").verify().unwrap_err();
    assert_eq!(
        e.to_string().split(": ").take(2).collect::<Vec<_>>(),
        ["#3", "bad_checkpoint (retired_key)"]
    );
    let e = case("gap").verify().unwrap_err();
    assert!(e.to_string().contains("a missing bundle"), "{e}");
    let e = case("gap-overlap").verify().unwrap_err();
    assert!(e.to_string().contains("an overlapping bundle"), "{e}");
    let e = verify_sequence(&[], &[], None).unwrap_err();
    assert_eq!(e.reason, Reason::Format);
}

#[test]
fn parse_refuses() {
    let good = case("ok-sequence").bundles[1].clone();
    parse(&good).unwrap();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut version = good.clone();
    version[15] = 2;
    for (bad, reason) in [
        (trailing, Reason::Format),
        (good[..good.len() - 1].to_vec(), Reason::Record),
        (version, Reason::Format),
        (good[..40].to_vec(), Reason::Format),
        (Vec::new(), Reason::Format),
    ] {
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.reason, reason, "{e}");
    }
    let e = parse(&good[..good.len() - 1]).unwrap_err();
    assert_eq!(e.seq, Some(5));
}

#[test]
fn crc32c_check_value() {
    // The CRC-32C check value (RFC 3720 B.4 and the Castagnoli catalogue).
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(b""), 0);
}

/// The root from a compact range and appended leaves is the tree hash of
/// all the leaves, for every m and n up to 40.
#[test]
fn root_from_compact_range() {
    let hashes: Vec<Hash> = (0u8..40).map(|i| [i; 32]).collect();
    let leaves: Vec<Hash> = hashes.iter().map(|h| cp::leaf_hash(h)).collect();
    for m in 0..hashes.len() {
        let mut compact = Vec::new();
        let mut start = 0;
        for k in (0..6).rev() {
            if m >> k & 1 == 1 {
                compact.push(cp::tree_hash(&leaves[start..start + (1 << k)]));
                start += 1 << k;
            }
        }
        assert_eq!(fold(&compact), cp::tree_hash(&leaves[..m]), "m = {m}");
        for n in m..=hashes.len() {
            assert_eq!(
                root_from(&compact, m as u64, &hashes[m..n]),
                cp::tree_hash(&leaves[..n]),
                "m = {m}, n = {n}"
            );
        }
    }
}

#[test]
fn key_state_follows_a_rotation() {
    let (a, b) = ([1u8; 32], [2u8; 32]);
    let mut k = KeyState::new(&[a]);
    assert!(k.may_sign_record(&a, 100) && !k.may_sign_record(&b, 1));
    assert!(k.transition_problem(&a, &a).is_some());
    k.apply_transition(4, &a, &b);
    assert!(k.may_sign_record(&a, 4) && !k.may_sign_record(&a, 5));
    assert!(!k.may_sign_record(&b, 4) && k.may_sign_record(&b, 5));
    assert!(k.may_sign_checkpoint(&a, 4) && !k.may_sign_checkpoint(&a, 5));
    // The named key vouches from its transition's seq on, not below.
    assert!(k.may_sign_checkpoint(&b, 4) && k.may_sign_checkpoint(&b, 100));
    assert!(!k.may_sign_checkpoint(&b, 3) && !k.may_sign_checkpoint(&b, 0));
    // Given to the verifier as well, it is judged by the chain's history.
    let mut given = KeyState::new(&[a, b]);
    given.apply_transition(4, &a, &b);
    assert!(given.may_sign_checkpoint(&b, 4) && !given.may_sign_checkpoint(&b, 3));
    // A given key no transition names nor retires counts at every size.
    let c = [3u8; 32];
    let mut sep = KeyState::new(&[a, c]);
    sep.apply_transition(4, &a, &b);
    assert!(sep.may_sign_checkpoint(&c, 1) && sep.may_sign_checkpoint(&c, 100));
    assert_eq!(k.retired_before(&a, 5), Some(4));
    assert_eq!(k.retired_before(&a, 4), None);
    // Handing the chain back to the retired key is refused.
    assert!(k
        .transition_problem(&b, &a)
        .unwrap()
        .contains("retired at seq 4"));
}

#[test]
fn transition_values() {
    let attr = |v: &str| vec![(TRANSITION_ATTR.to_owned(), v.to_owned())];
    let k = [0xabu8; 32];
    assert_eq!(
        transition_key(&attr(&format!("ed25519:{}", hex::encode(k)))),
        Ok(Some(k))
    );
    assert_eq!(transition_key(&[("a".into(), "b".into())]), Ok(None));
    for bad in [
        format!("ed25519:{}", hex::encode(k).to_uppercase()),
        format!("ed25519:{}", &hex::encode(k)[2..]),
        hex::encode(k),
        "ed25519:".into(),
        // Go's sdk.KeyTransition refuses anything around the digits.
        format!("ed25519:{}\n", hex::encode(k)),
        format!(" ed25519:{}", hex::encode(k)),
    ] {
        assert!(transition_key(&attr(&bad)).is_err(), "{bad}");
    }
}

/// A bundle vector file with no cases verifies nothing: before, the binary
/// passed a copy of bundles.json with "cases": [] (0 cases, 0 failed).
#[test]
fn empty_cases_fail() {
    assert!(parse_cases(&serde_json::json!({"cases": []}))
        .unwrap_err()
        .contains("empty"));
    let d = std::env::temp_dir().join(format!(
        "ronaudit-bundles-empty-{}.json",
        std::process::id()
    ));
    std::fs::write(&d, r#"{"cases": []}"#).unwrap();
    let rep = check_file(&d);
    let _ = std::fs::remove_file(&d);
    assert!(rep.failed() > 0, "{rep:?}");
}
