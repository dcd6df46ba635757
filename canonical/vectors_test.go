package canonical

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The test vectors in testing/vectors/v1 are written by this test with
// -update and checked by it otherwise; the foreign readers check them too.

const vectorDir = "../testing/vectors/v1"

// VectorKey is the Ed25519 key that signs the vectors: a test key whose
// seed is SHA-256("ron-audit test vectors v1"). Never use it for anything else.
func vectorKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("ron-audit test vectors v1"))
	return ed25519.NewKeyFromSeed(seed[:])
}

type vectorFile struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Chain       bool           `json:"chain"`
	PublicKey   string         `json:"publicKey"`
	Records     []vectorRecord `json:"records"`
}

type vectorRecord struct {
	Input     *AuditRecord `json:"input,omitempty"`
	Record    AuditRecord  `json:"record"`
	Canonical string       `json:"canonical"`
	Hash      string       `json:"hash"`
	DedupeKey string       `json:"dedupeKey"`
	Signature string       `json:"signature"`
}

type vectorSpec struct {
	name, description string
	chain             bool
	records           []AuditRecord
}

func clone(r AuditRecord) AuditRecord {
	r.Attrs = append([]Attr(nil), r.Attrs...)
	r.Prev = bytes.Clone(r.Prev)
	return r
}

// padReason grows r.Reason until the record is exactly size canonical bytes.
func padReason(t testing.TB, r AuditRecord, size int) AuditRecord {
	for n := 0; n < size; n++ {
		c := clone(r)
		c.Reason = r.Reason + strings.Repeat("r", n)
		if c.Prev == nil {
			c.Prev = make([]byte, 32)
		}
		b, err := AppendRecord(nil, &c, Limits{MaxRecord: MaxRecordSize, MaxAttrs: MaxRecordSize})
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == size {
			r.Reason = c.Reason
			return r
		}
	}
	t.Fatalf("cannot pad to %d bytes", size)
	return r
}

// Record1KiB is the benchmark record: typical fields, eight attrs, and a
// reason padded so the canonical bytes are exactly 1,024.
func record1KiB(t testing.TB) AuditRecord {
	r := AuditRecord{
		Kind: KindGetServed, Seq: 1, TsMs: 1764201600123,
		WriterID: "svc-gateway@inst-1", Stream: "reads",
		Actor:   Actor{CapID: "cap:01JD9X7Q4M2R5T8V3W6Y", KeyFpr: "ed25519:7f3a9c21b0e4d5f6a8b9c0d1e2f3a4b5", PassportID: "passport:eu:4f1c2a"},
		Subject: Subject{ContentID: "b3:9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c1b3d5f7e9a2c4b6d8f0e1a3c5b7d9f2e", LedgerTxid: "tx:00000000000a3f21", Name: "bucket/photos/2026/11/27/img_0412.jpg"},
		Reason:  "served object to authorized reader; ",
		Attrs: []Attr{
			{Key: "bytes", Value: "482113"}, {Key: "cache", Value: "miss"}, {Key: "client_ip", Value: "203.0.113.0/24"},
			{Key: "method", Value: "GET"}, {Key: "region", Value: "eu-central-1"}, {Key: "route", Value: "/o/{bucket}/{key}"},
			{Key: "status", Value: "200"}, {Key: "trace_id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"},
		},
	}
	return padReason(t, r, 1024)
}

func vectorSpecs(t testing.TB) []vectorSpec {
	worked := AuditRecord{Kind: KindCapIssued, Seq: 1, TsMs: 1764201600000, WriterID: "svc-gateway@inst-1", Stream: "caps",
		Actor: Actor{CapID: "cap-7"}, Reason: "issued", Attrs: []Attr{{Key: "ip", Value: "203.0.113.0/24"}}}
	base := AuditRecord{WriterID: "svc-index@inst-2", Stream: "index"}
	var chain []AuditRecord
	for i, k := range []Kind{KindCapIssued, KindIndexWrite, KindGetServed, KindQuotaReject, KindCapRevoked, KindPolicyChanged, KindUnknown} {
		r := clone(base)
		r.Kind = k
		r.TsMs = 1764201600000 + uint64(i)*1500
		r.Reason = k.String() + " event"
		if i%2 == 0 {
			r.Actor = Actor{CapID: "cap-" + k.String(), KeyFpr: "fpr-12", Anon: i == 4}
		}
		if i%3 == 0 {
			r.Subject = Subject{ContentID: "b3:00ff", Name: "object " + k.String()}
		}
		if i > 0 {
			r.Attrs = []Attr{{Key: "n", Value: strings.Repeat("x", i)}, {Key: "attempt", Value: "1"}}
		}
		chain = append(chain, r)
	}
	// attrs: key sizes chosen so the list is exactly 1,024 canonical bytes.
	var maxAttrs []Attr
	for i := 0; i < 8; i++ {
		maxAttrs = append(maxAttrs, Attr{Key: "attr-0" + string(rune('0'+i)), Value: strings.Repeat(string(rune('a'+i)), 95)})
	}
	maxAttrs = append(maxAttrs, Attr{Key: "attr-09", Value: strings.Repeat("z", 31)})
	maximal := AuditRecord{Kind: KindQuotaReject, Seq: math.MaxUint64, TsMs: math.MaxUint64,
		WriterID: strings.Repeat("w", 100), Stream: strings.Repeat("s", 100),
		Actor:   Actor{CapID: strings.Repeat("c", 100), KeyFpr: strings.Repeat("k", 100), PassportID: strings.Repeat("p", 100), Anon: true},
		Subject: Subject{ContentID: strings.Repeat("i", 100), LedgerTxid: strings.Repeat("l", 100), Name: strings.Repeat("n", 100)},
		Attrs:   maxAttrs, Prev: bytes.Repeat([]byte{0xff}, 32)}
	maximal = padReason(t, maximal, DefaultMaxRecord)

	return []vectorSpec{
		{"worked-example", "the worked example of canonical/SPEC.md", true, []AuditRecord{worked}},
		{"chain-basic", "a chain of seven records, one of each kind, fields present and absent in turn", true, chain},
		{"edge-minimal", "only the required fields: every optional field absent", true,
			[]AuditRecord{{WriterID: "w", Stream: "s"}}},
		{"edge-attrs-out-of-order", "attrs given out of order are sorted bytewise by key: digits < upper case < lower case < non-ASCII", true,
			[]AuditRecord{{WriterID: "w", Stream: "s", Attrs: []Attr{{"zeta", "1"}, {"é", "2"}, {"alpha", "3"}, {"Alpha", "4"}, {"9", "5"}, {"10", "6"}, {"a", ""}}}}},
		{"edge-non-ascii", "non-ASCII text stored as given: CJK, emoji, right-to-left, and a non-NFC é (e + U+0301) next to the NFC one", true,
			[]AuditRecord{{Kind: KindPolicyChanged, WriterID: "svc-政策@節點-1", Stream: "política",
				Actor:   Actor{PassportID: "Zoë-😀"},
				Subject: Subject{Name: "שלום عالم"}, Reason: "caf\u00e9 vs cafe\u0301",
				Attrs: []Attr{{"emoji", "🔐🗝️"}, {"nfc", "\u00e9"}, {"nfd", "e\u0301"}}}}},
		{"edge-empty-values", "empty attr values, an actor that is only anonymous, a subject with only a ledger txid, tsMs 0", true,
			[]AuditRecord{{Kind: KindGetServed, WriterID: "w", Stream: "s", Actor: Actor{Anon: true},
				Subject: Subject{LedgerTxid: "tx-1"}, Attrs: []Attr{{"empty", ""}, {"k", "v"}}}}},
		{"edge-maximal", "the largest record the default limits allow: 4,096 canonical bytes with 1,024 bytes of attrs, seq and tsMs at 2^64-1", false,
			[]AuditRecord{maximal}},
		{"record-1kib", "the benchmark record: exactly 1,024 canonical bytes", true, []AuditRecord{record1KiB(t)}},
	}
}

func buildVectors(t testing.TB) []vectorFile {
	key := vectorKey()
	var files []vectorFile
	for _, spec := range vectorSpecs(t) {
		f := vectorFile{Name: spec.name, Description: spec.description, Chain: spec.chain,
			PublicKey: hex.EncodeToString(key.Public().(ed25519.PublicKey))}
		prev := Genesis
		for i, in := range spec.records {
			in = clone(in)
			in.V = Version
			rec := clone(in)
			if spec.chain {
				rec.Seq, rec.Prev = uint64(i+1), bytes.Clone(prev[:])
				in.Seq, in.Prev = rec.Seq, rec.Prev
			}
			b, err := AppendRecord(nil, &rec, DefaultLimits)
			if err != nil {
				t.Fatalf("%s[%d]: %v", spec.name, i, err)
			}
			view, err := Open(b)
			if err != nil {
				t.Fatalf("%s[%d]: %v", spec.name, i, err)
			}
			h := RecordHash(b)
			dk, err := DedupeKey(&rec)
			if err != nil {
				t.Fatal(err)
			}
			sig := Sign(key, h)
			vr := vectorRecord{Record: view.Decode(), Canonical: hex.EncodeToString(b), Hash: h.String(),
				DedupeKey: dk.String(), Signature: hex.EncodeToString(sig[:])}
			ij, _ := json.Marshal(in)
			rj, _ := json.Marshal(vr.Record)
			if !bytes.Equal(ij, rj) {
				vr.Input = &in
			}
			f.Records = append(f.Records, vr)
			prev = h
		}
		files = append(files, f)
	}
	return files
}

func TestVectors(t *testing.T) {
	files := buildVectors(t)
	for _, f := range files {
		b, err := json.MarshalIndent(f, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, '\n')
		path := filepath.Join(vectorDir, f.Name+".json")
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./canonical -update)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from what the code writes: the format changed (or run -update)", path)
		}
	}
	// No stale vector files.
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if len(paths) != len(files) && !*update {
		t.Errorf("%d vector files on disk, %d written by the code", len(paths), len(files))
	}
}

// TestVectorsVerify reads the files as a foreign reader would: from the
// JSON alone, with no help from the code that wrote them.
func TestVectorsVerify(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil || len(paths) < 8 {
		t.Fatalf("found %d vector files: %v", len(paths), err)
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pub, _ := hex.DecodeString(f.PublicKey)
		prev := Genesis
		for i, vr := range f.Records {
			b, _ := hex.DecodeString(vr.Canonical)
			view, err := Open(b)
			if err != nil {
				t.Fatalf("%s[%d]: %v", path, i, err)
			}
			got, _ := json.Marshal(view.Decode())
			want, _ := json.Marshal(vr.Record)
			if !bytes.Equal(got, want) {
				t.Errorf("%s[%d]: decoded %s\nrendering %s", path, i, got, want)
			}
			h := RecordHash(b)
			if h.String() != vr.Hash {
				t.Errorf("%s[%d]: hash %s, vector says %s", path, i, h, vr.Hash)
			}
			sig, _ := hex.DecodeString(vr.Signature)
			if !VerifySignature(pub, h, sig) {
				t.Errorf("%s[%d]: bad signature", path, i)
			}
			rec := vr.Record
			if vr.Input != nil {
				rec = *vr.Input
			}
			dk, err := DedupeKey(&rec)
			if err != nil || dk.String() != vr.DedupeKey {
				t.Errorf("%s[%d]: dedupe key %s (%v), vector says %s", path, i, dk, err, vr.DedupeKey)
			}
			if f.Chain {
				if view.Seq() != uint64(i+1) || !bytes.Equal(view.Prev(), prev[:]) {
					t.Errorf("%s[%d]: chain link broken", path, i)
				}
			}
			prev = h
		}
	}
}

// vectorsRoot holds one directory per released schema version, vN.
const vectorsRoot = "../testing/vectors"

// versionDir is the directory of schema version v's vectors.
func versionDir(v int) string { return filepath.Join(vectorsRoot, fmt.Sprintf("v%d", v)) }

// TestVectorVersions: testing/vectors/vN exists for every released schema
// version and for no other. vN is reserved for version N's vectors (SPEC.md
// section 8): anything else there before N is released would be taken for
// them.
func TestVectorVersions(t *testing.T) {
	for v := 1; v <= SchemaVersion; v++ {
		if _, err := os.Stat(versionDir(v)); err != nil {
			t.Errorf("schema version %d is released but its vectors are missing: %v", v, err)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(vectorsRoot, "v*"))
	for _, d := range dirs {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "v"))
		if err != nil || n < 1 || n > SchemaVersion {
			t.Errorf("%s is not the vectors of a released schema version (canonical.SchemaVersion is %d): vN holds only version N's vectors", d, SchemaVersion)
		}
	}
}
