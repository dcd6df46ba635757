package canonical

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"capnproto.org/go/capnp/v3"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
	"github.com/rustyonions/ron-audit-go/internal/testvectors"
)

// The negative vectors in testing/vectors/v<SchemaVersion>/invalid: byte
// strings and chains every reader must refuse. Each schema version has its
// own: a record that a reader of one version refuses for a field it does
// not know may be a record of a later one. Each record carries the right
// hash of its bytes and a valid signature by the vector key, so a reader that
// checks only hashes, signatures and what a Cap'n Proto library decodes
// accepts them: only the rules of SPEC.md refuse them. Written by
// TestInvalidVectors with -update, which never changes a released record
// (updateInvalid), and checked by it otherwise; an earlier version's are
// frozen and checked as far as is sound (checkInvalidVersions). The
// foreign readers (testing/interop) and sdk's tests check them too.

var invalidDir = vectorDir + "/invalid"

type invalidRecord struct {
	Name string `json:"name"`
	Rule string `json:"rule"`
	// Refusal is how Open refuses the bytes: "invalid" (ErrInvalid, a
	// field rule of SPEC.md section 3), "not_canonical"
	// (ErrNotCanonical: layout, empty is null, text, enum, unknown fields)
	// or "too_large" (ErrTooLarge: more than MaxRecordSize bytes, section 4).
	Refusal string `json:"refusal"`
	// CapnpCanonical: the Cap'n Proto reference implementation finds the
	// bytes canonical (capnp convert canonical:canonical accepts them), so
	// only this format's own rules refuse them.
	CapnpCanonical bool   `json:"capnpCanonical"`
	Canonical      string `json:"canonical"`
	Hash           string `json:"hash"`
	Signature      string `json:"signature"`
}

type invalidRecordsFile struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	PublicKey   string          `json:"publicKey"`
	Records     []invalidRecord `json:"records"`
}

type invalidChain struct {
	Name string `json:"name"`
	Rule string `json:"rule"`
	// FailsAt is the index of the first record a chain check refuses;
	// every record before it, and every record on its own, is valid.
	FailsAt int `json:"failsAt"`
	// Reason is sdk.VerifyChain's reason (seq_gap, prev_mismatch).
	Reason  string         `json:"reason"`
	Records []vectorRecord `json:"records"`
}

type invalidChainsFile struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	PublicKey   string         `json:"publicKey"`
	Chains      []invalidChain `json:"chains"`
}

// worked is the record of SPEC.md's worked example, the base of the
// invalid records.
func worked() AuditRecord {
	return AuditRecord{V: Version, Kind: KindCapIssued, Seq: 1, TsMs: 1764201600000, WriterID: "svc-gateway@inst-1", Stream: "caps",
		Actor: Actor{CapID: "cap-7"}, Reason: "issued", Attrs: []Attr{{Key: "ip", Value: "203.0.113.0/24"}}, Prev: make([]byte, 32)}
}

// rawBytes encodes r as it is (no Normalize, no checks): the encoder's
// layout with any field values.
func rawBytes(t testing.TB, r AuditRecord) []byte {
	t.Helper()
	b, err := r.AppendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// capnpBytes builds r with capnp-go, lets edit change the message, and
// returns capnp.Canonicalize of the root: Cap'n Proto canonical bytes that
// need not follow this format's extra rules (a non-null empty value).
func capnpBytes(t testing.TB, r AuditRecord, edit func(seg *capnp.Segment, root capnp.Struct) capnp.Struct) []byte {
	t.Helper()
	_, root, err := capnptest.Message(auditDecl(t), &r)
	if err != nil {
		t.Fatal(err)
	}
	root = edit(root.Segment(), root)
	b, err := capnp.Canonicalize(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wider copies root into a struct with larger sections (the fields a newer
// schema would add), which edit then sets.
func wider(t testing.TB, seg *capnp.Segment, root capnp.Struct, dataWords, ptrs int) capnp.Struct {
	t.Helper()
	w, err := capnp.NewStruct(seg, capnp.ObjectSize{DataSize: capnp.Size(8 * dataWords), PointerCount: uint16(ptrs)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		w.SetUint64(capnp.DataOffset(8*i), root.Uint64(capnp.DataOffset(8*i)))
	}
	for i := uint16(0); i < 7; i++ {
		p, err := root.Ptr(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.SetPtr(i, p); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// patchText returns the worked example's bytes with the reason "issued"
// replaced by repl, a byte string of the same length.
func patchText(t testing.TB, repl string) []byte {
	t.Helper()
	b := rawBytes(t, worked())
	i := bytes.Index(b, []byte("issued\x00"))
	if i < 0 || len(repl) != len("issued") {
		t.Fatalf("patchText(%q)", repl)
	}
	copy(b[i:], repl)
	return b
}

func buildInvalidRecords(t testing.TB) invalidRecordsFile {
	key := vectorKey()
	with := func(mut func(*AuditRecord)) []byte {
		r := worked()
		mut(&r)
		return rawBytes(t, r)
	}
	type spec struct {
		name, rule, refusal string
		capnpCanonical      bool
		bytes               []byte
	}
	specs := []spec{
		// SPEC.md section 3: field rules. The bytes are canonical Cap'n
		// Proto and follow section 2; the values break a rule.
		{"v-0", "v is 1 (section 3)", "invalid", true, with(func(r *AuditRecord) { r.V = 0 })},
		{"v-2", "v is 1 (section 3)", "invalid", true, with(func(r *AuditRecord) { r.V = 2 })},
		{"seq-0", "seq >= 1 (section 3)", "invalid", true, with(func(r *AuditRecord) { r.Seq = 0 })},
		{"writerId-empty", "writerId is non-empty (section 3)", "invalid", true, with(func(r *AuditRecord) { r.WriterID = "" })},
		{"stream-empty", "stream is non-empty (section 3)", "invalid", true, with(func(r *AuditRecord) { r.Stream = "" })},
		{"prev-absent", "prev is 32 bytes (section 3)", "invalid", true, with(func(r *AuditRecord) { r.Prev = nil })},
		{"prev-31-bytes", "prev is 32 bytes (section 3)", "invalid", true, with(func(r *AuditRecord) { r.Prev = make([]byte, 31) })},
		{"prev-33-bytes", "prev is 32 bytes (section 3)", "invalid", true, with(func(r *AuditRecord) { r.Prev = make([]byte, 33) })},
		{"attrs-unsorted", "attrs sorted by key bytewise: \"B\" < \"a\" (section 3)", "invalid", true,
			with(func(r *AuditRecord) { r.Attrs = []Attr{{"a", "1"}, {"B", "2"}} })},
		{"attrs-utf16-order", "attrs sorted by the UTF-8 bytes of the key, not UTF-16 code units: U+FF21 < U+1F600 (section 3)", "invalid", true,
			with(func(r *AuditRecord) { r.Attrs = []Attr{{"\U0001F600", "1"}, {"\uFF21", "2"}} })},
		{"attrs-repeated-key", "attr keys are unique (section 3)", "invalid", true,
			with(func(r *AuditRecord) { r.Attrs = []Attr{{"ip", "1"}, {"ip", "2"}} })},
		{"attrs-empty-key", "attr keys are non-empty (section 3)", "invalid", true,
			with(func(r *AuditRecord) { r.Attrs = []Attr{{"", "1"}, {"ip", "2"}} })},

		// Section 3: text and enum values.
		{"text-nul", "text holds no NUL (section 3)", "not_canonical", true, patchText(t, "iss\x00ed")},
		{"text-trailing-nul", "text holds no NUL, also as its last character (section 3)", "not_canonical", true, patchText(t, "issue\x00")},
		{"text-invalid-utf8", "text is valid UTF-8 (section 3)", "not_canonical", true, patchText(t, "iss\xffed")},
		{"text-surrogate", "text is valid UTF-8: no encoded surrogate (section 3)", "not_canonical", true, patchText(t, "is\xed\xa0\x80d")},
		{"text-overlong", "text is valid UTF-8: no overlong encoding (section 3)", "not_canonical", true, patchText(t, "iss\xc0\xafd")},
		{"kind-7", "kind is one of the 7 kinds (section 1)", "not_canonical", true, func() []byte {
			b := rawBytes(t, worked())
			b[10] = 7
			return b
		}()},

		// Section 2 rule 6: empty is null. Canonical Cap'n Proto, but a
		// second byte string for the same record.
		{"reason-empty-not-null", "an empty text is a null pointer (section 2, rule 6)", "not_canonical", true,
			capnpBytes(t, func() AuditRecord { r := worked(); r.Reason = ""; return r }(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				l, err := capnp.NewText(seg, "")
				must(t, err)
				must(t, root.SetPtr(4, l.ToPtr()))
				return root
			})},
		{"attr-value-empty-not-null", "an empty attr value is a null pointer (section 2, rule 6)", "not_canonical", true,
			capnpBytes(t, func() AuditRecord { r := worked(); r.Attrs[0].Value = ""; return r }(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				p, err := root.Ptr(5)
				must(t, err)
				l, err := capnp.NewText(seg, "")
				must(t, err)
				must(t, p.List().Struct(0).SetPtr(1, l.ToPtr()))
				return root
			})},
		{"actor-empty-not-null", "an actor with no ids and anon false is a null pointer (section 2, rule 6)", "not_canonical", true,
			capnpBytes(t, func() AuditRecord { r := worked(); r.Actor = Actor{}; return r }(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				s, err := capnp.NewStruct(seg, capnp.ObjectSize{PointerCount: 3})
				must(t, err)
				must(t, root.SetPtr(2, s.ToPtr()))
				return root
			})},
		{"attrs-empty-not-null", "an empty attrs list is a null pointer (section 2, rule 6)", "not_canonical", true,
			capnpBytes(t, func() AuditRecord { r := worked(); r.Attrs = nil; return r }(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				l, err := capnp.NewCompositeList(seg, capnp.ObjectSize{PointerCount: 2}, 0)
				must(t, err)
				must(t, root.SetPtr(5, l.ToPtr()))
				return root
			})},

		// Section 7: fields this version does not know (nor the v2 drill
		// schema) are refused, not skipped.
		{"unknown-data-bit", "data bits outside every field are zero: actor data bit 1 (sections 2 and 7)", "not_canonical", true,
			capnpBytes(t, worked(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				p, err := root.Ptr(2)
				must(t, err)
				p.Struct().SetBit(1, true)
				return root
			})},
		{"unknown-data-word", "no data word past the schema's 3 (section 7)", "not_canonical", true,
			capnpBytes(t, worked(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				w := wider(t, seg, root, 4, 7)
				w.SetUint64(24, 1)
				return w
			})},
		{"unknown-pointer", "no pointer past the schema's 7: a text at pointer 9 (section 7)", "not_canonical", true,
			capnpBytes(t, worked(), func(seg *capnp.Segment, root capnp.Struct) capnp.Struct {
				w := wider(t, seg, root, 3, 10)
				l, err := capnp.NewText(seg, "x")
				must(t, err)
				must(t, w.SetPtr(9, l.ToPtr()))
				return w
			})},

		// Section 2: Cap'n Proto's own canonical form.
		{"trailing-word", "nothing after the last object (section 2, rule 2)", "not_canonical", false,
			append(rawBytes(t, worked()), make([]byte, 8)...)},
		{"text-padding", "byte lists are zero-padded (section 2, rule 4)", "not_canonical", false, func() []byte {
			b := rawBytes(t, worked())
			b[bytes.Index(b, []byte("issued\x00"))+7] = 'x'
			return b
		}()},
		{"gap-after-root", "no gaps: the root struct at offset 1 (section 2, rule 1)", "not_canonical", false, func() []byte {
			b := rawBytes(t, worked())
			m := append(append(bytes.Clone(b[:8]), make([]byte, 8)...), b[8:]...)
			binary.LittleEndian.PutUint64(m, binary.LittleEndian.Uint64(m)+4)
			return m
		}()},
		{"trailing-zero-data-word", "a data section ends at its last non-zero word (section 2, rule 3)", "not_canonical", false, func() []byte {
			b := rawBytes(t, worked())
			binary.LittleEndian.PutUint64(b[24:], 0) // tsMs 0, section not cut
			return b
		}()},
		// Section 4: no record is larger than MaxRecordSize, however
		// canonical its bytes: Open refuses it before reading it.
		{"record-too-large", "a record is at most 65,536 canonical bytes: 65,544 here (section 4)", "too_large", true,
			with(func(r *AuditRecord) { r.Reason = strings.Repeat("x", 65327) })},
	}
	f := invalidRecordsFile{Name: "invalid-records",
		Description: "records every reader must refuse; each has the hash of its bytes and a valid signature by publicKey, so only the rule it breaks refuses it",
		PublicKey:   hex.EncodeToString(key.Public().(ed25519.PublicKey))}
	for _, s := range specs {
		h := RecordHash(s.bytes)
		sig := Sign(key, h)
		f.Records = append(f.Records, invalidRecord{Name: s.name, Rule: s.rule, Refusal: s.refusal, CapnpCanonical: s.capnpCanonical,
			Canonical: hex.EncodeToString(s.bytes), Hash: h.String(), Signature: hex.EncodeToString(sig[:])})
	}
	return f
}

func buildInvalidChains(t testing.TB) invalidChainsFile {
	key := vectorKey()
	f := invalidChainsFile{Name: "invalid-chains",
		Description: "chains every reader must refuse at record failsAt; every record is valid and validly signed on its own, and the records before failsAt form a valid chain",
		PublicKey:   hex.EncodeToString(key.Public().(ed25519.PublicKey))}
	// link describes one record: its seq, its stream, and the index of the
	// record whose hash is its prev (-1: genesis, -2: 32 bytes of 0x11).
	type link struct {
		seq    uint64
		stream string
		prevOf int
	}
	add := func(name, rule string, failsAt int, reason string, links ...link) {
		c := invalidChain{Name: name, Rule: rule, FailsAt: failsAt, Reason: reason}
		var hashes []Hash
		for i, l := range links {
			r := AuditRecord{V: Version, Kind: KindIndexWrite, Seq: l.seq, TsMs: 1764201600000 + uint64(i)*1000,
				WriterID: "w", Stream: l.stream, Reason: name}
			switch l.prevOf {
			case -1:
				r.Prev = make([]byte, 32)
			case -2:
				r.Prev = bytes.Repeat([]byte{0x11}, 32)
			default:
				r.Prev = bytes.Clone(hashes[l.prevOf][:])
			}
			b, err := AppendRecord(nil, &r, DefaultLimits)
			if err != nil {
				t.Fatalf("%s[%d]: %v", name, i, err)
			}
			v, err := Open(b)
			if err != nil {
				t.Fatalf("%s[%d]: %v", name, i, err)
			}
			h := RecordHash(b)
			dk, err := DedupeKey(&r)
			if err != nil {
				t.Fatal(err)
			}
			sig := Sign(key, h)
			c.Records = append(c.Records, vectorRecord{Record: v.Decode(), Canonical: hex.EncodeToString(b), Hash: h.String(),
				DedupeKey: dk.String(), Signature: hex.EncodeToString(sig[:])})
			hashes = append(hashes, h)
		}
		f.Chains = append(f.Chains, c)
	}
	add("first-seq-2", "a chain starts at seq 1", 0, "seq_gap", link{2, "s", -1})
	add("first-prev-not-genesis", "the first record's prev is 32 zero bytes", 0, "prev_mismatch", link{1, "s", -2})
	add("seq-gap", "each seq is one more than the one before (prev links right)", 1, "seq_gap",
		link{1, "s", -1}, link{3, "s", 0})
	add("seq-repeated", "each seq is one more than the one before (prev links right)", 1, "seq_gap",
		link{1, "s", -1}, link{1, "s", 0})
	add("prev-skips-a-record", "prev is the hash of the record just before (seq counts right)", 2, "prev_mismatch",
		link{1, "s", -1}, link{2, "s", 0}, link{3, "s", 0})
	add("prev-genesis-later", "prev is the hash of the record just before, not the genesis value", 1, "prev_mismatch",
		link{1, "s", -1}, link{2, "s", -1})
	add("other-stream", "a chain is the records of one (writerId, stream) pair", 1, "prev_mismatch",
		link{1, "s", -1}, link{2, "s2", 0})
	return f
}

// writeOrCompare writes v as JSON to path with -update (updateInvalid),
// and otherwise fails if the file differs from it.
func writeOrCompare(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		must(t, updateInvalid(path, b))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./canonical -update)", err)
	}
	if bytes.Equal(b, want) {
		return
	}
	d, err := testvectors.Frozen(path, want, b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d != "" {
		t.Errorf("%s: %s in what the code writes: the code changes negative vectors of released schema version %d, which are frozen (SPEC.md section 8); fix the code, do not update the vectors", path, d, SchemaVersion)
		return
	}
	t.Errorf("%s: only descriptions or new items at the end differ from what the code writes (go test ./canonical -update)", path)
}

// updateInvalid is -update of a negative vector file of the current
// schema version: a file already written keeps every value but
// descriptions (its records' bytes, hashes, signatures, rules and
// verdicts), and may gain records at the end.
func updateInvalid(path string, b []byte) error {
	return testvectors.Update(filepath.Dir(path), map[string][]byte{filepath.Base(path): b}, testvectors.Frozen)
}

// TestInvalidVectorsUpdateKeepsReleased: -update refuses to change the
// bytes of a negative record already written (or its verdict), as it does
// for the vectors (SPEC.md section 8), rather than bake the change in.
func TestInvalidVectorsUpdateKeepsReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1", "invalid", "records.json")
	f := buildInvalidRecords(t)
	b, err := json.MarshalIndent(f, "", "  ")
	must(t, err)
	must(t, updateInvalid(path, b))
	f.Records[0].Canonical = strings.Replace(f.Records[0].Canonical, "0", "1", 1)
	changed, err := json.MarshalIndent(f, "", "  ")
	must(t, err)
	if err := updateInvalid(path, changed); err == nil {
		t.Error("-update wrote a negative record with other bytes over a written one")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
		t.Errorf("-update changed %s", path)
	}
}

// TestInvalidVectors keeps the current schema version's invalid/ up to date
// and reads it as a foreign reader would: every record has the right hash
// and a valid signature, and Open refuses it in the way the vector says;
// every chain record opens, and the chain breaks at failsAt and nowhere
// before.
func TestInvalidVectors(t *testing.T) {
	writeOrCompare(t, filepath.Join(invalidDir, "records.json"), buildInvalidRecords(t))
	writeOrCompare(t, filepath.Join(invalidDir, "chains.json"), buildInvalidChains(t))
	if paths, _ := filepath.Glob(filepath.Join(invalidDir, "*")); len(paths) != 2 {
		t.Errorf("%d files in %s, the code writes 2", len(paths), invalidDir)
	}
	checkInvalidVersions(t, vectorsRoot, SchemaVersion)
}

// checkInvalidVersions reads the invalid/ of every released schema version
// under root with the current code. Every record must carry its hash and a
// valid signature, and every chain break where it says (chain rules do not
// change with the schema). Only the current version's records must be
// refused by Open: an earlier version's are what its rules refuse, and one
// refused for a field it does not know may be a valid record now (SPEC.md
// section 8); its readers (testing/interop) refuse them.
func checkInvalidVersions(t testing.TB, root string, current int) {
	for v := 1; v <= current; v++ {
		checkInvalidDir(t, filepath.Join(testvectors.Dir(root, v), "invalid"), v == current)
	}
}

// checkInvalidDir checks the negative vectors in dir; refuse: Open must
// refuse each record as it says (they are the current version's).
func checkInvalidDir(t testing.TB, dir string, refuse bool) {
	path := filepath.Join(dir, "records.json")
	var rf invalidRecordsFile
	readJSON(t, path, &rf)
	pub, _ := hex.DecodeString(rf.PublicKey)
	if len(rf.Records) == 0 {
		t.Fatalf("%s: no invalid records", path)
	}
	for _, r := range rf.Records {
		b, _ := hex.DecodeString(r.Canonical)
		h := RecordHash(b)
		sig, _ := hex.DecodeString(r.Signature)
		if h.String() != r.Hash || !VerifySignature(pub, h, sig) {
			t.Errorf("%s: %s: hash or signature does not verify: the vector would be refused for that", path, r.Name)
		}
		if !refuse {
			continue
		}
		want := map[string]error{"invalid": ErrInvalid, "not_canonical": ErrNotCanonical, "too_large": ErrTooLarge}[r.Refusal]
		if want == nil {
			t.Errorf("%s: %s: refusal %q", path, r.Name, r.Refusal)
			continue
		}
		if _, err := Open(b); !errors.Is(err, want) {
			t.Errorf("%s: %s: Open: %v, want %v", path, r.Name, err, want)
		}
	}

	path = filepath.Join(dir, "chains.json")
	var cf invalidChainsFile
	readJSON(t, path, &cf)
	pub, _ = hex.DecodeString(cf.PublicKey)
	if len(cf.Chains) == 0 {
		t.Fatalf("%s: no invalid chains", path)
	}
	for _, c := range cf.Chains {
		broken := -1
		var prev Hash
		var head AuditRecordView
		for i, vr := range c.Records {
			b, _ := hex.DecodeString(vr.Canonical)
			v, err := Open(b)
			if err != nil {
				t.Fatalf("%s: %s[%d]: %v", path, c.Name, i, err)
			}
			h := RecordHash(b)
			sig, _ := hex.DecodeString(vr.Signature)
			if h.String() != vr.Hash || !VerifySignature(pub, h, sig) {
				t.Errorf("%s: %s[%d]: hash or signature does not verify", path, c.Name, i)
			}
			ok := v.Seq() == uint64(i+1) && bytes.Equal(v.Prev(), prev[:]) &&
				(i == 0 || string(v.WriterID()) == string(head.WriterID()) && string(v.Stream()) == string(head.Stream()))
			if !ok && broken < 0 {
				broken = i
			}
			if i == 0 {
				head = v
			}
			prev = h
		}
		if broken != c.FailsAt {
			t.Errorf("%s: %s: the chain breaks at record %d, the vector says %d", path, c.Name, broken, c.FailsAt)
		}
	}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestCxxInvalidVectors: the C++ reference implementation finds the
// invalid records canonical exactly when the vector says so, so those
// that are refused only by this format's rules are Cap'n Proto canonical.
func TestCxxInvalidVectors(t *testing.T) {
	var rf invalidRecordsFile
	readJSON(t, filepath.Join(invalidDir, "records.json"), &rf)
	for _, r := range rf.Records {
		b, _ := hex.DecodeString(r.Canonical)
		out, err := capnptest.Convert("canonical", "canonical", schemaFile, "AuditRecord", b)
		if errors.Is(err, capnptest.ErrNoCapnp) {
			t.Skip("skipping the C++ check: ", err)
		}
		if got := err == nil && bytes.Equal(out, b); got != r.CapnpCanonical {
			t.Errorf("%s: C++ finds it canonical: %v (%v), the vector says %v", r.Name, got, err, r.CapnpCanonical)
		}
	}
}

// TestVerifySignatureIsCofactorless pins SPEC.md section 5 as the foreign
// readers check it (testing/interop: the Rust reader's verify_ed25519, the
// Python reader's verify_signature): the identity as public key with R =
// the identity and S = 0 verifies any record hash, since [0]B - [k]A
// encodes to R; S at the group order does not verify.
func TestVerifySignatureIsCofactorless(t *testing.T) {
	identity := make([]byte, 32)
	identity[0] = 1
	sig := make([]byte, 64)
	sig[0] = 1
	var h Hash
	for i := range h {
		h[i] = byte(i)
	}
	if !VerifySignature(identity, h, sig) {
		t.Error("identity key, R = identity, S = 0: refused")
	}
	order, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	copy(sig[32:], order)
	if VerifySignature(identity, h, sig) {
		t.Error("S = L: accepted")
	}
}

// failures is a testing.TB that records what a check reports instead of
// failing the test; Fatalf ends the check's goroutine, as t.Fatalf does.
type failures struct {
	testing.TB
	msgs []string
}

func (f *failures) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *failures) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}
func (f *failures) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// run runs check with f in a goroutine of its own, so that Fatalf ends
// only the check.
func (f *failures) run(check func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(f)
	}()
	<-done
}

// TestInvalidVectorsEarlierVersions: once schema version N+1 is released,
// version N's invalid/ stays checked with the current code, as far as it
// is sound: each record still carries its hash and signature (a reader of
// version N refuses it for its rules alone), each chain still breaks where
// it says (chain rules do not change with the schema). Whether the current
// code refuses N's records is not asked: one refused for a field N does
// not know may be a valid record of N+1 (SPEC.md section 8); the current
// version's invalid/ holds what the current rules refuse.
func TestInvalidVectorsEarlierVersions(t *testing.T) {
	root := t.TempDir()
	next := SchemaVersion + 1
	copyInvalid := func(from, to int, edit func(name string, b []byte) []byte) {
		dir := filepath.Join(testvectors.Dir(root, to), "invalid")
		must(t, os.MkdirAll(dir, 0o755))
		for _, name := range []string{"records.json", "chains.json"} {
			b, err := os.ReadFile(filepath.Join(testvectors.Dir(vectorsRoot, from), "invalid", name))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dir, name), edit(name, b), 0o644))
		}
	}
	copyInvalid(SchemaVersion, next, func(_ string, b []byte) []byte { return b })
	// Each released version's copy, an earlier version's at next: its
	// first record a valid one (a record of a later version, say), its
	// second's signature broken, its first chain said to break elsewhere.
	valid := buildVectors(t)[0].Records[0]
	var want []string
	var valids []string
	for v := 1; v <= SchemaVersion; v++ {
		copyInvalid(v, v, func(name string, b []byte) []byte {
			dir := filepath.Join(testvectors.Dir(root, v), "invalid")
			var out any
			if name == "records.json" {
				var f invalidRecordsFile
				must(t, json.Unmarshal(b, &f))
				f.Records[0].Canonical, f.Records[0].Hash, f.Records[0].Signature = valid.Canonical, valid.Hash, valid.Signature
				f.Records[1].Signature = strings.Repeat("0", len(f.Records[1].Signature))
				want = append(want, filepath.Join(dir, name)+": "+f.Records[1].Name+": hash or signature does not verify")
				valids = append(valids, filepath.Join(dir, name)+": "+f.Records[0].Name+":")
				out = f
			} else {
				var f invalidChainsFile
				must(t, json.Unmarshal(b, &f))
				f.Chains[0].FailsAt++
				want = append(want, filepath.Join(dir, name)+": "+f.Chains[0].Name+": the chain breaks at")
				out = f
			}
			b, err := json.Marshal(out)
			must(t, err)
			return b
		})
	}
	var f failures
	f.TB = t
	f.run(func(t testing.TB) { checkInvalidVersions(t, root, next) })
	got := strings.Join(f.msgs, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("a broken invalid/ of a released schema version went unnoticed (%q): reported %q", w, got)
		}
	}
	for _, v := range valids {
		if strings.Contains(got, v) {
			t.Errorf("a record of an earlier version's invalid/ was required to be refused by the current rules: %s", got)
		}
	}
	if len(f.msgs) != len(want) {
		t.Errorf("reported %d problems, want %d: %s", len(f.msgs), len(want), got)
	}
}
