package auditv2

// The schema evolution drill (issue 7): gen/testdata/audit_v2.capnp is
// schema/audit.capnp with additions only — a data field (region), a pointer
// field (traceId), a nested struct (origin) and an enum value (exportDone) —
// and this package is generated from it. These tests hold the promises
// that make growth safe:
//
//   - every v1 record opens strictly under v2 code, and re-encodes to the
//     same bytes, so it verifies and hashes unchanged;
//   - a v2 record whose new fields are unset has exactly the bytes, so the
//     hash, of the same record under v1;
//   - a chain whose first records are v1 and later ones use v2 fields
//     verifies under v2 code;
//   - v1 code refuses a record that uses v2 fields (strict canonical form):
//     verifiers must be upgraded before writers emit new fields.
//
// With a v2 pointer field set, prev is no longer the last object of the
// record (traceId and origin come after it; TestPrevIsNotLastWithV2Pointers).
// sdk's link step, dedupe fingerprint and same-event check find prev
// through its pointer (sdk.prevAt), tested on this drill's records by
// sdk's TestLinkFindsPrevInV2Records.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

type vectorFile struct {
	Name    string `json:"name"`
	Records []struct {
		Record    canonical.AuditRecord `json:"record"`
		Canonical string                `json:"canonical"`
		Hash      string                `json:"hash"`
	} `json:"records"`
}

func v1Vectors(t testing.TB) []vectorFile {
	t.Helper()
	files, err := filepath.Glob("../../../testing/vectors/v1/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no v1 vectors: %v", err)
	}
	var out []vectorFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var vf vectorFile
		if err := json.Unmarshal(b, &vf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, vf)
	}
	return out
}

// TestV1RecordsUnderV2: every v1 vector record opens strictly under v2,
// decodes with the v2 fields zero, and re-encodes to its exact bytes; its
// hash is unchanged.
func TestV1RecordsUnderV2(t *testing.T) {
	n := 0
	for _, vf := range v1Vectors(t) {
		for i, r := range vf.Records {
			b, _ := hex.DecodeString(r.Canonical)
			v, err := OpenAuditRecord(b)
			if err != nil {
				t.Fatalf("%s[%d]: v1 record refused by v2 code: %v", vf.Name, i, err)
			}
			rec := v.Decode()
			if rec.Region != 0 || rec.TraceID != "" || rec.Origin != (Origin{}) {
				t.Fatalf("%s[%d]: v2 fields not zero: %+v", vf.Name, i, rec)
			}
			again, err := rec.AppendCanonical(nil)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("%s[%d]: re-encoded under v2: %v\n got %x\nwant %x", vf.Name, i, err, again, b)
			}
			if h := canonical.RecordHash(again); h.String() != r.Hash {
				t.Fatalf("%s[%d]: hash %s, want %s", vf.Name, i, h, r.Hash)
			}
			n++
		}
	}
	t.Logf("%d v1 records", n)
}

// toV2 builds the v2 record with the same content as a (normalized) v1
// record, field by field, not through the v1 bytes.
func toV2(r *canonical.AuditRecord) AuditRecord {
	out := AuditRecord{V: r.V, Kind: Kind(r.Kind), Seq: r.Seq, TsMs: r.TsMs, WriterID: r.WriterID, Stream: r.Stream,
		Actor:   Actor{CapID: r.Actor.CapID, KeyFpr: r.Actor.KeyFpr, PassportID: r.Actor.PassportID, Anon: r.Actor.Anon},
		Subject: Subject{ContentID: r.Subject.ContentID, LedgerTxid: r.Subject.LedgerTxid, Name: r.Subject.Name},
		Reason:  r.Reason, Prev: r.Prev}
	for _, a := range r.Attrs {
		out.Attrs = append(out.Attrs, Attr{Key: a.Key, Value: a.Value})
	}
	return out
}

// TestV2UnsetHashesAsV1: the v2 encoder, given a record whose v2 fields
// are unset, writes the bytes the v1 encoder writes for it.
func TestV2UnsetHashesAsV1(t *testing.T) {
	for _, vf := range v1Vectors(t) {
		for i, r := range vf.Records {
			rec := r.Record
			v1, err := canonical.AppendRecord(nil, &rec, canonical.Limits{MaxRecord: 64 << 10, MaxAttrs: 64 << 10})
			if err != nil {
				t.Fatalf("%s[%d]: v1 encode: %v", vf.Name, i, err)
			}
			r2 := toV2(&rec) // rec is normalized by AppendRecord
			v2, err := r2.AppendCanonical(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v1, v2) || canonical.RecordHash(v1) != canonical.RecordHash(v2) {
				t.Fatalf("%s[%d]: v2 with v2 fields unset differs from v1:\n v1 %x\n v2 %x", vf.Name, i, v1, v2)
			}
		}
	}
}

func drillKey() ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "ron-audit evolution drill key")
	return ed25519.NewKeyFromSeed(seed)
}

// sealed is a record as a chain holds it.
type sealed struct {
	bytes []byte
	hash  canonical.Hash
	sig   []byte
}

// verifyV2 is a chain verifier built on v2 code: strict open, self-hash,
// signature, seq and prev link, from genesis.
func verifyV2(chain []sealed, pub ed25519.PublicKey) error {
	prev, seq := canonical.Genesis, uint64(0)
	for i, r := range chain {
		v, err := OpenAuditRecord(r.bytes)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		if canonical.RecordHash(r.bytes) != r.hash {
			return fmt.Errorf("record %d: hash mismatch", i)
		}
		if !canonical.VerifySignature(pub, r.hash, r.sig) {
			return fmt.Errorf("record %d: bad signature", i)
		}
		if v.Seq() != seq+1 || !bytes.Equal(v.Prev(), prev[:]) {
			return fmt.Errorf("record %d: seq %d prev %x after seq %d hash %s", i, v.Seq(), v.Prev(), seq, prev)
		}
		prev, seq = r.hash, v.Seq()
	}
	return nil
}

// crossingChain is 3 records appended by sdk (v1 code, every record
// signed), then 3 records written with v2 fields set, linked and signed
// with the same key.
func crossingChain(t *testing.T) ([]sealed, *sdk.KeySet) {
	t.Helper()
	priv := drillKey()
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := sdk.New(sdk.Config{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	var chain []sealed
	for i := range 3 {
		rec := canonical.AuditRecord{Kind: canonical.KindIndexWrite, TsMs: 1764201600000 + uint64(i),
			WriterID: "svc-index@drill", Stream: "writes", Reason: "v1 record"}
		a, err := l.Append(&rec)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, sealed{bytes.Clone(a.Record.Bytes), a.Record.Hash, bytes.Clone(a.Record.Sig[:])})
	}
	for i := range 3 {
		last := chain[len(chain)-1]
		rec := AuditRecord{V: 1, Kind: KindExportDone, Seq: uint64(len(chain) + 1), TsMs: 1764201700000 + uint64(i),
			WriterID: "svc-index@drill", Stream: "writes", Reason: "v2 record",
			Region: 7, TraceID: fmt.Sprintf("trace-%d", i), Origin: Origin{Host: "edge-3", Port: 8443},
			Prev: last.hash[:]}
		b, err := rec.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		h := canonical.RecordHash(b)
		sig := canonical.Sign(priv, h)
		chain = append(chain, sealed{b, h, sig[:]})
	}
	return chain, l.Keys()
}

// TestChainCrossesV1ToV2: the mixed chain verifies under v2 code; v1 code
// verifies its v1 prefix and refuses the first v2 record as not canonical
// for v1, at its seq.
func TestChainCrossesV1ToV2(t *testing.T) {
	chain, keys := crossingChain(t)
	if err := verifyV2(chain, drillKey().Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("v2 verifier: %v", err)
	}
	var recs []sdk.Sealed
	for _, r := range chain {
		s := sdk.Sealed{Bytes: r.bytes, Hash: r.hash, Signed: true, KeyID: sdk.KeyIDOf(drillKey().Public().(ed25519.PublicKey))}
		copy(s.Sig[:], r.sig)
		recs = append(recs, s)
	}
	res, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonNotCanonical || ve.Seq != 4 || res.Records != 3 {
		t.Fatalf("v1 verifier on the mixed chain: %d verified, %v", res.Records, err)
	}
	// Tampering is still caught under v2: flip a byte of a v2 field.
	bad := append([]sealed(nil), chain...)
	bad[4].bytes = bytes.Clone(bad[4].bytes)
	bad[4].bytes[len(bad[4].bytes)-3] ^= 1
	if err := verifyV2(bad, drillKey().Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("tampered v2 record verified")
	}
}

// TestPrevIsNotLastWithV2Pointers pins the layout fact above: prev is the
// record's last 32 bytes for v1 records and v2 records without v2 pointer
// fields, not for one with traceId set.
func TestPrevIsNotLastWithV2Pointers(t *testing.T) {
	prev := bytes.Repeat([]byte{0xab}, 32)
	plain := AuditRecord{V: 1, Kind: KindGetServed, Seq: 2, TsMs: 1, WriterID: "w", Stream: "s", Prev: prev}
	b, err := plain.AppendCanonical(nil)
	if err != nil || !bytes.Equal(b[len(b)-32:], prev) {
		t.Fatalf("prev is not last without v2 pointers: %v", err)
	}
	plain.TraceID = "trace"
	b, err = plain.AppendCanonical(nil)
	if err != nil || bytes.Equal(b[len(b)-32:], prev) {
		t.Fatalf("prev is still last with traceId set: %v", err)
	}
	if v, err := OpenAuditRecord(b); err != nil || !bytes.Equal(v.Prev(), prev) {
		t.Fatalf("prev does not read back: %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite testing/vectors/drill/evolution.json")

// render is the vector files' JSON rendering of a v2 record: every field
// by its schema name, enums by enumerant name, Data in hex, nested
// structs whole (the foreign readers render what they decode the same way).
func render(r *AuditRecord) map[string]any {
	attrs := []map[string]any{}
	for _, a := range r.Attrs {
		attrs = append(attrs, map[string]any{"key": a.Key, "value": a.Value})
	}
	return map[string]any{
		"v": r.V, "kind": r.Kind.String(), "seq": r.Seq, "tsMs": r.TsMs, "writerId": r.WriterID, "stream": r.Stream,
		"actor":   map[string]any{"capId": r.Actor.CapID, "keyFpr": r.Actor.KeyFpr, "passportId": r.Actor.PassportID, "anon": r.Actor.Anon},
		"subject": map[string]any{"contentId": r.Subject.ContentID, "ledgerTxid": r.Subject.LedgerTxid, "name": r.Subject.Name},
		"reason":  r.Reason, "attrs": attrs, "prev": hex.EncodeToString(r.Prev),
		"region": r.Region, "traceId": r.TraceID, "origin": map[string]any{"host": r.Origin.Host, "port": r.Origin.Port},
	}
}

// TestEvolutionVectors keeps testing/vectors/drill/evolution.json, the
// crossing chain for the foreign readers (read with the v2 schema), equal
// to what this drill writes; -update rewrites it.
func TestEvolutionVectors(t *testing.T) {
	chain, _ := crossingChain(t)
	type entry struct {
		Record    map[string]any `json:"record"`
		Canonical string         `json:"canonical"`
		Hash      string         `json:"hash"`
		Signature string         `json:"signature"`
	}
	doc := struct {
		Name        string  `json:"name"`
		Description string  `json:"description"`
		Schema      string  `json:"schema"`
		Chain       bool    `json:"chain"`
		PublicKey   string  `json:"publicKey"`
		Records     []entry `json:"records"`
	}{Name: "evolution", Schema: "gen/testdata/audit_v2.capnp", Chain: true,
		Description: "The evolution drill's chain: records 1-3 written by v1 code, 4-6 with v2 fields (region, traceId, origin, kind exportDone) set. Read with the v2 schema.",
		PublicKey:   hex.EncodeToString(drillKey().Public().(ed25519.PublicKey))}
	for _, r := range chain {
		v, err := OpenAuditRecord(r.bytes)
		if err != nil {
			t.Fatal(err)
		}
		rec := v.Decode()
		doc.Records = append(doc.Records, entry{render(&rec), hex.EncodeToString(r.bytes), r.hash.String(), hex.EncodeToString(r.sig)})
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := "../../../testing/vectors/drill/evolution.json"
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("%s is stale or missing (%v): go test ./gen/internal/auditv2 -run EvolutionVectors -update", path, err)
	}
}

// FuzzOpenV2: the v2 strict opener never panics, and what it accepts
// re-encodes to the same bytes (no two byte strings open as one record);
// and growth is safe both ways on every input, not only the vectors:
// whatever v1 code accepts (canonical.Open) v2 code accepts as the same
// record with the v2 fields unset, and v1 code refuses every record with
// a v2 field set. Seeds: the v1 vectors and the drill's v2 records
// (testing/vectors/drill/evolution.json).
func FuzzOpenV2(f *testing.F) {
	for _, name := range []string{"../../../testing/vectors/v1/*.json", "../../../testing/vectors/drill/*.json"} {
		files, _ := filepath.Glob(name)
		for _, path := range files {
			raw, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			var vf struct {
				Records []struct {
					Canonical string `json:"canonical"`
				} `json:"records"`
			}
			if err := json.Unmarshal(raw, &vf); err != nil {
				f.Fatal(err)
			}
			for _, r := range vf.Records {
				b, _ := hex.DecodeString(r.Canonical)
				f.Add(b)
			}
		}
	}
	// One v2 field set at a time, on a v1 record: the data field alone
	// lies in v1's padding, the pointers past v1's pointer section.
	first := v1Vectors(f)[0].Records[0].Record
	for _, set := range []func(r *AuditRecord){
		func(r *AuditRecord) { r.Region = 7 },
		func(r *AuditRecord) { r.TraceID = "t" },
		func(r *AuditRecord) { r.Origin = Origin{Host: "h"} },
	} {
		r := toV2(&first)
		set(&r)
		b, err := r.AppendCanonical(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v1, v1err := canonical.Open(b)
		v, err := OpenAuditRecord(b)
		if err != nil {
			if v1err == nil {
				t.Fatalf("v1 code accepts what v2 code refuses: %v", err)
			}
			return
		}
		rec := v.Decode()
		if rec.Region != 0 || rec.TraceID != "" || rec.Origin != (Origin{}) {
			if v1err == nil {
				t.Fatalf("v1 code accepts a record with v2 fields set: %+v", rec)
			}
		} else if v1err == nil {
			r1 := v1.Decode()
			if r2 := toV2(&r1); !reflect.DeepEqual(normV2(r2), normV2(rec)) {
				t.Fatalf("v1 and v2 code read different records:\nv1 %+v\nv2 %+v", r2, rec)
			}
		}
		re, err := rec.AppendCanonical(nil)
		if err != nil {
			t.Fatalf("accepted bytes whose record the encoder refuses: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted non-canonical input\n%x\nre-encodes as\n%x", b, re)
		}
	})
}

// normV2 makes an empty attribute list nil, so that records compare by
// content.
func normV2(r AuditRecord) AuditRecord {
	if len(r.Attrs) == 0 {
		r.Attrs = nil
	}
	if len(r.Prev) == 0 {
		r.Prev = nil
	}
	return r
}
