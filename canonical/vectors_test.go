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

	"github.com/rustyonions/ron-audit-go/internal/testvectors"
)

// The vectors of released schema version N are testing/vectors/vN (SPEC.md
// section 8). Those of the current version, SchemaVersion, are what this
// code writes: TestVectors checks them against buildVectors, and -update
// writes them. Those of every earlier version are frozen: -update never
// writes them, and TestVectorsVerify still reads them, like every
// version's, as a foreign reader would, so each released record keeps
// opening, hashing, verifying and linking under the current code. The
// foreign readers (testing/interop) check them too.

// vectorsRoot holds one directory per released schema version, vN.
const vectorsRoot = "../testing/vectors"

// vectorDir is the current schema version's.
var vectorDir = testvectors.Dir(vectorsRoot, SchemaVersion)

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

func marshalVectorFile(f vectorFile) ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

// frozenChange names the first record of old whose canonical bytes, hash,
// signature or dedupe key cur does not keep, or is "".
func frozenChange(old, cur vectorFile) string {
	type frozen struct{ canonical, hash, sig, dedupe string }
	for i, o := range old.Records {
		if i >= len(cur.Records) {
			return fmt.Sprintf("record %d is gone", i)
		}
		c := cur.Records[i]
		if (frozen{o.Canonical, o.Hash, o.Signature, o.DedupeKey}) != (frozen{c.Canonical, c.Hash, c.Signature, c.DedupeKey}) {
			return fmt.Sprintf("record %d's canonical bytes, hash, signature or dedupe key changed", i)
		}
	}
	return ""
}

// updateVectors is -update: it writes files as the vectors of schema
// version current, in root/v<current>, and nowhere else, so an earlier
// version's vectors are never rewritten. A record already written there
// keeps its canonical bytes, hash, signature and dedupe key: a change to
// them is the code changing released records, and is refused rather than
// baked in. New files and records, descriptions and the rendering may
// change. Every file is checked before any is written.
func updateVectors(root string, current int, files []vectorFile) error {
	byName := map[string][]byte{}
	for _, f := range files {
		b, err := marshalVectorFile(f)
		if err != nil {
			return err
		}
		byName[f.Name+".json"] = b
	}
	return testvectors.Update(testvectors.Dir(root, current), byName, func(_ string, old, new []byte) (string, error) {
		var o, n vectorFile
		if err := json.Unmarshal(old, &o); err != nil {
			return "", err
		}
		if err := json.Unmarshal(new, &n); err != nil {
			return "", err
		}
		return frozenChange(o, n), nil
	})
}

// TestVectors: the current schema version's vectors are what the code
// writes. When they are not, the message says whether the code changed
// released records (never right) or only their JSON (the schema grew: that
// is the next version's vectors, not an update of these).
func TestVectors(t *testing.T) {
	files := buildVectors(t)
	if *update {
		must(t, updateVectors(vectorsRoot, SchemaVersion, files))
		return
	}
	for _, f := range files {
		b, err := marshalVectorFile(f)
		must(t, err)
		path := filepath.Join(vectorDir, f.Name+".json")
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v: the vectors of schema version %d (canonical.SchemaVersion) are written by go test ./canonical -update", err, SchemaVersion)
			continue
		}
		if bytes.Equal(b, want) {
			continue
		}
		var old vectorFile
		if err := json.Unmarshal(want, &old); err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if d := frozenChange(old, f); d != "" {
			t.Errorf("%s: %s in what the code writes: the code changes records of released schema version %d, whose bytes are frozen (canonical/SPEC.md section 8); fix the code, do not update the vectors", path, d, SchemaVersion)
			continue
		}
		t.Errorf("%s: the code writes these records with the same bytes, hashes and signatures but other JSON. "+
			"If the schema grew (json.go renders new fields), release it as version %d (canonical/SPEC.md section 8: bump canonical.SchemaVersion, record its layout); "+
			"-update then writes testing/vectors/v%d and leaves these as they are. If only a description changed: go test ./canonical -run TestVectors -update",
			path, SchemaVersion+1, SchemaVersion+1)
	}
	// No stale vector files.
	if paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json")); len(paths) != len(files) {
		t.Errorf("%d vector files in %s, %d written by the code", len(paths), vectorDir, len(files))
	}
}

// TestVectorsVerify reads the files of every released schema version as a
// foreign reader would: from the JSON alone, with no help from the code
// that wrote them. The current code must still open each record strictly,
// write it back to the same bytes, and recompute its hash, signature check,
// dedupe key and chain links. The rendering is compared through the record
// it reads as, not byte for byte: a file of an earlier version lacks the
// fields added since, which read as empty, as the decoded record has them.
func TestVectorsVerify(t *testing.T) {
	var paths []string
	for v := 1; v <= SchemaVersion; v++ {
		p, err := filepath.Glob(filepath.Join(testvectors.Dir(vectorsRoot, v), "*.json"))
		if err != nil || len(p) == 0 {
			t.Fatalf("no vector files of schema version %d: %v", v, err)
		}
		paths = append(paths, p...)
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
			dec := view.Decode()
			got, _ := json.Marshal(dec)
			want, _ := json.Marshal(vr.Record)
			if !bytes.Equal(got, want) {
				t.Errorf("%s[%d]: decoded %s\nrendering %s", path, i, got, want)
			}
			if again, err := AppendRecord(nil, &dec, DefaultLimits); err != nil || !bytes.Equal(again, b) {
				t.Errorf("%s[%d]: the code no longer writes this record with its bytes (%v)", path, i, err)
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

// TestVectorVersions: testing/vectors/vN exists for every released schema
// version and for no other. vN is reserved for version N's vectors (SPEC.md
// section 8): anything else there before N is released would be taken for
// them.
func TestVectorVersions(t *testing.T) {
	for v := 1; v <= SchemaVersion; v++ {
		if _, err := os.Stat(testvectors.Dir(vectorsRoot, v)); err != nil {
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

// TestVectorsUpdateLeavesEarlierVersions walks -update at the release of
// the next schema version, on a copy of the vectors: it writes the new
// version's directory and leaves every earlier version's files as they
// were (SPEC.md section 8: their bytes are frozen).
func TestVectorsUpdateLeavesEarlierVersions(t *testing.T) {
	root := t.TempDir()
	next := SchemaVersion + 1
	// Copies of the released versions' vectors, each marked so that a
	// rewrite shows.
	var marked []string
	for v := 1; v <= SchemaVersion; v++ {
		dir := testvectors.Dir(root, v)
		must(t, os.MkdirAll(dir, 0o755))
		paths, _ := filepath.Glob(filepath.Join(testvectors.Dir(vectorsRoot, v), "*.json"))
		for _, p := range paths {
			b, err := os.ReadFile(p)
			must(t, err)
			b = bytes.Replace(b, []byte(`"description": "`), []byte(`"description": "frozen: `), 1)
			dst := filepath.Join(dir, filepath.Base(p))
			must(t, os.WriteFile(dst, b, 0o644))
			marked = append(marked, dst)
		}
	}
	if len(marked) < SchemaVersion {
		t.Fatalf("copied %d vector files of %d released versions", len(marked), SchemaVersion)
	}
	files := buildVectors(t)
	must(t, updateVectors(root, next, files))
	for _, p := range marked {
		if b, _ := os.ReadFile(p); !bytes.Contains(b, []byte(`"frozen: `)) {
			t.Errorf("-update at schema version %d rewrote %s", next, p)
		}
	}
	written, _ := filepath.Glob(filepath.Join(testvectors.Dir(root, next), "*.json"))
	if len(written) != len(files) {
		t.Errorf("-update at schema version %d wrote %d files in v%d, want %d", next, len(written), next, len(files))
	}
	// Once written, a record's bytes, hash and signature are released too:
	// -update refuses to change them rather than bake the change in.
	path := filepath.Join(testvectors.Dir(root, next), files[0].Name+".json")
	before, err := os.ReadFile(path)
	must(t, err)
	changed := buildVectors(t)
	changed[0].Records[0].Canonical = strings.Replace(changed[0].Records[0].Canonical, "0", "1", 1)
	if err := updateVectors(root, next, changed); err == nil {
		t.Error("-update wrote a record with other canonical bytes over a written one")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("-update changed %s", path)
	}
}
