package export

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/testvectors"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

var update = flag.Bool("update", false, "rewrite the bundle vectors of the current schema version, testing/vectors/v<canonical.SchemaVersion>/bundles/bundles.json (never an earlier version's)")

// The bundle vectors: valid sequences and copies damaged in one way each,
// with the verdict FORMAT.md gives them. Those of released schema version
// N are testing/vectors/vN/bundles/bundles.json (canonical/SPEC.md section
// 8). Those of the current version, canonical.SchemaVersion, are what this
// package makes: written by go test ./sdk/export -run TestBundleVectors
// -update, which never writes an earlier version's (they are frozen), and
// checked by TestBundleVectors. Every released version's cases keep their
// verdicts under the current code (TestBundleVectorsVerify), and the Rust
// and Python readers check them too (testing/vectors/v1/bundles/README.md).

// vectorsRoot holds one directory per released schema version, vN.
const vectorsRoot = "../../testing/vectors"

// bundleVectorPath is schema version v's bundle vector file under root.
func bundleVectorPath(root string, v int) string {
	return filepath.Join(testvectors.Dir(root, v), "bundles", "bundles.json")
}

// bundleVectorFile is the current schema version's.
var bundleVectorFile = bundleVectorPath(vectorsRoot, canonical.SchemaVersion)

const (
	vecWriter = "svc-export@inst-1"
	vecStream = "caps"
	// The keys' Ed25519 seeds are SHA-256 of these.
	vecSeedA     = "ron-audit bundle vectors v1 key a"
	vecSeedB     = "ron-audit bundle vectors v1 key b"
	vecSeedOther = "ron-audit bundle vectors v1 other key"
)

type bundleVectorFileJSON struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Writer      string            `json:"writerId"`
	Stream      string            `json:"stream"`
	Keys        map[string]string `json:"keys"`
	Cases       []bundleCase      `json:"cases"`
}

type bundleCase struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Trusted     []string `json:"trusted"`              // hex Ed25519 public keys the verifier is given
	Bundles     []string `json:"bundles"`              // hex bundle bytes, one chain's sequence in order
	Checkpoint  string   `json:"checkpoint,omitempty"` // the trusted checkpoint (signed note), if any
	Want        string   `json:"want"`                 // "ok" or the FORMAT.md reason label
	Detail      string   `json:"detail,omitempty"`     // retired_key, unknown_key, bad_key_transition
	Seq         uint64   `json:"seq,omitempty"`        // the record a `record` failure names
}

func vecKey(t *testing.T, text string) *sdk.Ed25519Signer {
	t.Helper()
	seed := sha256.Sum256([]byte(text))
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// vrec describes one record of a hand-built chain: its seq and prev
// follow the record before unless set, by signs it (nil: unsigned), next
// makes it a key transition naming that key.
type vrec struct {
	reason string
	seq    uint64
	prev   []byte
	stream string
	by     *sdk.Ed25519Signer
	next   *sdk.Ed25519Signer
	value  func(string) string // edits the transition's attr value, if set
}

func vecChain(t *testing.T, specs []vrec) []sdk.Sealed {
	t.Helper()
	var out []sdk.Sealed
	prev := make([]byte, 32)
	for i, s := range specs {
		rec := canonical.AuditRecord{V: 1, Kind: canonical.KindCapIssued, Seq: uint64(i + 1), TsMs: 1764201600000 + uint64(i),
			WriterID: vecWriter, Stream: vecStream, Actor: canonical.Actor{CapID: "cap-" + fmt.Sprint(i+1)}, Reason: s.reason, Prev: prev}
		if s.seq != 0 {
			rec.Seq = s.seq
		}
		if s.prev != nil {
			rec.Prev = s.prev
		}
		if s.stream != "" {
			rec.Stream = s.stream
		}
		if s.next != nil {
			rec.Kind = canonical.KindPolicyChanged
			rec.Attrs = []canonical.Attr{{Key: sdk.KeyTransitionAttr, Value: "ed25519:" + hex.EncodeToString(s.next.Public())}}
			if s.value != nil {
				rec.Attrs[0].Value = s.value(rec.Attrs[0].Value)
			}
		}
		b, err := canonical.AppendRecord(nil, &rec, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		r := sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
		if s.by != nil {
			r.Signed, r.KeyID = true, s.by.KeyID()
			m := canonical.SignedMessage(r.Hash)
			if err := s.by.Sign(m[:], &r.Sig); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, r)
		prev = r.Hash[:]
	}
	return out
}

func signedBy(n int, by *sdk.Ed25519Signer, reason string) []vrec {
	out := make([]vrec, n)
	for i := range out {
		out[i] = vrec{reason: fmt.Sprintf("%s %d", reason, i+1), by: by}
	}
	return out
}

// vecBundles cuts recs into bundles ending at the given sizes, the i-th
// checkpoint signed by cpBy[i] (the last one repeats), built directly
// (not by an Exporter, which refuses records that do not link).
func vecBundles(t *testing.T, recs []sdk.Sealed, cpBy []*sdk.Ed25519Signer, ends ...int) []*Bundle {
	t.Helper()
	return vecBundlesOf(t, vecStream, recs, cpBy, ends...)
}

// vecBundlesOf is vecBundles for the chain of stream.
func vecBundlesOf(t *testing.T, stream string, recs []sdk.Sealed, cpBy []*sdk.Ed25519Signer, ends ...int) []*Bundle {
	t.Helper()
	tree := treeOf(recs)
	origin := checkpoint.Origin(vecWriter, stream)
	var out []*Bundle
	var prevNote []byte
	m := 0
	for i, end := range ends {
		by := cpBy[min(i, len(cpBy)-1)]
		root, err := tree.RootAt(int64(end))
		if err != nil {
			t.Fatal(err)
		}
		note, err := checkpoint.Sign(origin, int64(end), root, checkpoint.NewNoteSigner(by, checkpoint.KeyName(vecWriter)))
		if err != nil {
			t.Fatal(err)
		}
		proof, err := tree.ConsistencyProof(int64(m), int64(end))
		if err != nil {
			t.Fatal(err)
		}
		rng, err := compactRange(tree, int64(m))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &Bundle{Origin: origin, Size: int64(end), Note: note, PrevSize: int64(m), PrevNote: prevNote,
			Proof: proof, Range: rng, Records: recs[m:end]})
		prevNote, m = note, end
	}
	return out
}

func vecNote(t *testing.T, recs []sdk.Sealed, size int, by *sdk.Ed25519Signer) string {
	t.Helper()
	root, err := treeOf(recs).RootAt(int64(size))
	if err != nil {
		t.Fatal(err)
	}
	note, err := checkpoint.Sign(checkpoint.Origin(vecWriter, vecStream), int64(size), root, checkpoint.NewNoteSigner(by, checkpoint.KeyName(vecWriter)))
	if err != nil {
		t.Fatal(err)
	}
	return string(note)
}

func marshalAll(t *testing.T, bs []*Bundle) [][]byte {
	t.Helper()
	out := make([][]byte, len(bs))
	for i, b := range bs {
		data, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = data
	}
	return out
}

// makeBundleVectors builds the vector file. Each damaged case fails one
// check only, so its reason label is the one FORMAT.md gives it whatever
// order a verifier checks in.
func makeBundleVectors(t *testing.T) []byte {
	a, b, other := vecKey(t, vecSeedA), vecKey(t, vecSeedB), vecKey(t, vecSeedOther)
	hexKey := func(s *sdk.Ed25519Signer) string { return hex.EncodeToString(s.Public()) }
	onlyA := []string{hexKey(a)}
	var cases []bundleCase
	add := func(name, desc string, trusted []string, data [][]byte, want string) *bundleCase {
		c := bundleCase{Name: name, Description: desc, Trusted: trusted, Want: want}
		for _, d := range data {
			c.Bundles = append(c.Bundles, hex.EncodeToString(d))
		}
		cases = append(cases, c)
		return &cases[len(cases)-1]
	}
	clone := func(data [][]byte) [][]byte {
		out := make([][]byte, len(data))
		for i, d := range data {
			out[i] = bytes.Clone(d)
		}
		return out
	}
	edit := func(data [][]byte, i int, f func(b *Bundle)) [][]byte {
		out := clone(data)
		out[i] = mutate(t, data[i], f)
		return out
	}

	// The main history: 8 records signed by a, bundles 1..3, 4..5, 6..8.
	recs := vecChain(t, signedBy(8, a, "main"))
	good := marshalAll(t, vecBundles(t, recs, []*sdk.Ed25519Signer{a}, 3, 5, 8))
	add("ok-sequence", "three bundles of one chain, records and checkpoints signed by key a", onlyA, good, "ok")
	c := add("ok-trusted-checkpoint", "the sequence with the trusted checkpoint at 8 (by key a)", onlyA, good, "ok")
	c.Checkpoint = vecNote(t, recs, 8, a)
	c = add("ok-trusted-checkpoint-earlier", "the sequence with a trusted checkpoint at 5, which it passes", onlyA, good, "ok")
	c.Checkpoint = vecNote(t, recs, 5, a)

	unsigned := vecChain(t, signedBy(4, nil, "sealed"))
	add("ok-unsigned", "one bundle of unsigned records (checkpoint-sealed policy); the checkpoint by key a vouches for them", onlyA,
		marshalAll(t, vecBundles(t, unsigned, []*sdk.Ed25519Signer{a}, 4)), "ok")

	// Rotation: 1..3 by a, 4 the transition a -> b (signed by a), 5..6 by b;
	// the checkpoints at 2 by a, at 4 and 6 by b.
	rspec := append(signedBy(3, a, "before"), vrec{reason: "rotate", by: a, next: b})
	rspec = append(rspec, signedBy(2, b, "after")...)
	rot := vecChain(t, rspec)
	rotated := marshalAll(t, vecBundles(t, rot, []*sdk.Ed25519Signer{a, b, b}, 2, 4, 6))
	add("ok-rotation", "a key rotation at seq 4 (a -> b): a verifier given key a only follows it", onlyA, rotated, "ok")
	c = add("ok-rotation-trusted-by-new-key", "the rotation with a trusted checkpoint at 6 signed by key b, learned from the transition", onlyA, rotated, "ok")
	c.Checkpoint = vecNote(t, rot, 6, b)

	// format
	add("format-magic", "the first bundle's magic changed", onlyA, edit0(good, func(d []byte) []byte { d[14] = 'X'; return d }), "format")
	add("format-version", "the second bundle's version byte is 2", onlyA, editN(good, 1, func(d []byte) []byte { d[15] = 2; return d }), "format")
	add("format-trailing", "a byte after the last record of the last bundle", onlyA, editN(good, 2, func(d []byte) []byte { return append(d, 0) }), "format")
	add("format-record-count", "the first bundle's record count is one more than S - m", onlyA, editN(good, 0, func(d []byte) []byte {
		p := recordCountOffset(t, d)
		d[p]++
		return d
	}), "format")

	add("format-proof-first-bundle", "the first bundle (m = 0) with a consistency proof of one hash", onlyA,
		editN(good, 0, func(d []byte) []byte {
			// (MarshalBinary refuses to write it.)
			b, err := Parse(d)
			if err != nil {
				t.Fatal(err)
			}
			off := len(Magic) + 1 + 2 + len(b.Origin) + 8 + 4 + len(b.Note) + 8 + 4 + len(b.PrevNote)
			if d[off] != 0 {
				t.Fatalf("proof count %d at %d", d[off], off)
			}
			d[off] = 1
			return slices.Concat(d[:off+1], b.Records[0].Hash[:], d[off+1:])
		}), "format")
	otherSpec := signedBy(3, a, "other")
	for i := range otherSpec {
		otherSpec[i].stream = "audit"
	}
	otherChain := marshalAll(t, vecBundlesOf(t, "audit", vecChain(t, otherSpec), []*sdk.Ed25519Signer{a}, 3))
	add("format-other-chain", "the second bundle is of another chain (stream audit): the sequence's first bundle, then another chain's", onlyA,
		[][]byte{good[0], otherChain[0]}, "format")

	// record
	// set sets byte at of record rec's payload to v and fixes the frame's
	// CRC-32C; flip XORs it with 1, fixing the CRC or not.
	set := func(d []byte, rec, at int, v byte) []byte {
		p := recordOffset(t, d, rec)
		d[p+at] = v
		n := int(binary.LittleEndian.Uint32(d[p-8:]))
		binary.LittleEndian.PutUint32(d[p-4:], crc32.Checksum(d[p:p+n], castagnoli))
		return d
	}
	flip := func(d []byte, rec, at int, fixCRC bool) []byte {
		p := recordOffset(t, d, rec)
		d[p+at] ^= 1
		if fixCRC {
			n := int(binary.LittleEndian.Uint32(d[p-8:]))
			binary.LittleEndian.PutUint32(d[p-4:], crc32.Checksum(d[p:p+n], castagnoli))
		}
		return d
	}
	c = add("record-crc", "a byte of record 2's canonical bytes flipped, the CRC-32C left", onlyA, editN(good, 0, func(d []byte) []byte { return flip(d, 1, recordHead+40, false) }), "record")
	c.Seq = 2
	c = add("record-hash", "a byte of record 2's canonical bytes flipped, the CRC-32C fixed: the record hash differs", onlyA, editN(good, 0, func(d []byte) []byte { return flip(d, 1, recordHead+40, true) }), "record")
	c.Seq = 2
	c = add("record-flags", "record 2's flags byte is 3 (a bit other than bit 0 set; CRC fixed)", onlyA,
		editN(good, 0, func(d []byte) []byte { return set(d, 1, 1, 3) }), "record")
	c.Seq = 2
	c = add("record-type", "record 2's payload type byte is 2, not 1 (CRC fixed)", onlyA,
		editN(good, 0, func(d []byte) []byte { return set(d, 1, 0, 2) }), "record")
	c.Seq = 2
	c = add("record-unsigned-with-key-id", "record 3's signed flag cleared, its key id and signature left (CRC fixed)", onlyA,
		editN(good, 0, func(d []byte) []byte { return set(d, 2, 1, 0) }), "record")
	c.Seq = 3
	c = add("record-signature", "a byte of record 5's signature flipped (CRC fixed)", onlyA, edit(good, 1, func(b *Bundle) { b.Records[1].Sig[7] ^= 1 }), "record")
	c.Seq = 5
	c = add("record-unknown-key", "record 4 signed by a key the verifier does not trust", onlyA,
		marshalAll(t, vecBundles(t, vecChain(t, append(signedBy(3, a, "main"), append([]vrec{{reason: "main 4", by: other}}, signedBy(4, a, "more")...)...)),
			[]*sdk.Ed25519Signer{a}, 3, 5, 8)), "record")
	c.Seq = 4
	badPrev := bytes.Repeat([]byte{0x5a}, 32)
	c = add("record-prev", "record 3's prev is not record 2's hash; the checkpoints are signed over these records", onlyA,
		marshalAll(t, vecBundles(t, vecChain(t, append(signedBy(2, a, "main"), append([]vrec{{reason: "main 3", by: a, prev: badPrev}}, signedBy(5, a, "more")...)...)),
			[]*sdk.Ed25519Signer{a}, 3, 5, 8)), "record")
	c.Seq = 3
	c = add("record-genesis", "record 1's prev is not the genesis hash", onlyA,
		marshalAll(t, vecBundles(t, vecChain(t, append([]vrec{{reason: "main 1", by: a, prev: badPrev}}, signedBy(7, a, "more")...)),
			[]*sdk.Ed25519Signer{a}, 3, 5, 8)), "record")
	c.Seq = 1
	c = add("record-seq", "the 7th record says seq 8 (linked and signed)", onlyA,
		marshalAll(t, vecBundles(t, vecChain(t, append(signedBy(6, a, "main"), vrec{reason: "main 7", by: a, seq: 8}, vrec{reason: "main 8", by: a})),
			[]*sdk.Ed25519Signer{a}, 3, 5, 8)), "record")
	c.Seq = 7
	c = add("record-stream", "record 2 is of another stream (linked and signed)", onlyA,
		marshalAll(t, vecBundles(t, vecChain(t, append(signedBy(1, a, "main"), append([]vrec{{reason: "main 2", by: a, stream: "other"}}, signedBy(6, a, "more")...)...)),
			[]*sdk.Ed25519Signer{a}, 3, 5, 8)), "record")
	c.Seq = 2
	// The second bundle of a history whose record 4 does not link to
	// record 3 (so its tree at 3 is the main one's): only the link across
	// the bundles shows it.
	unlinked := vecChain(t, append(signedBy(3, a, "main"), append([]vrec{{reason: "main 4", by: a, prev: badPrev}}, signedBy(4, a, "main tail")...)...))
	ub := marshalAll(t, vecBundles(t, unlinked, []*sdk.Ed25519Signer{a}, 3, 5, 8))
	c = add("record-link-across-bundles", "the second bundle's first record (seq 4) does not link to the first bundle's last", onlyA,
		[][]byte{good[0], ub[1], ub[2]}, "record")
	c.Seq = 4
	// Its checkpoints by key a: with the transition refused, key b is
	// never learned, and this is the bundles' only failure.
	rotA := marshalAll(t, vecBundles(t, rot, []*sdk.Ed25519Signer{a}, 2, 4))
	c = add("record-unsigned-transition", "the rotation's transition record (seq 4) with its signature cleared (checkpoints at 2 and 4 by key a)", onlyA,
		edit(rotA, 1, func(b *Bundle) { r := &b.Records[1]; r.Signed, r.KeyID, r.Sig = false, sdk.KeyID{}, sdk.Signature{} }), "record")
	c.Seq, c.Detail = 4, "bad_key_transition"
	// A signed transition whose value is not exactly "ed25519:" and 64
	// lower-case hex digits names no key (sdk.KeyTransition): refused,
	// not followed, whatever a lenient pattern would make of it.
	for _, v := range []struct {
		name, desc string
		edit       func(string) string
	}{
		{"record-transition-value-newline", "a newline after its 64 hex digits", func(s string) string { return s + "\n" }},
		{"record-transition-value-upper-hex", "its hex digits in upper case", func(s string) string { return "ed25519:" + strings.ToUpper(s[len("ed25519:"):]) }},
	} {
		bad := vecChain(t, append(rspec[:3:3], vrec{reason: "rotate", by: a, next: b, value: v.edit}))
		c = add(v.name, "the rotation's transition record (seq 4), signed by key a, with "+v.desc+" (checkpoints at 2 and 4 by key a)", onlyA,
			marshalAll(t, vecBundles(t, bad, []*sdk.Ed25519Signer{a}, 2, 4)), "record")
		c.Seq, c.Detail = 4, "bad_key_transition"
	}
	c = add("record-retired-key", "after the rotation at 4, record 5 signed by the retired key a", onlyA,
		marshalAll(t, vecBundles(t, vecChain(t, append(rspec[:4:4], vrec{reason: "after 1", by: a}, vrec{reason: "after 2", by: b})),
			[]*sdk.Ed25519Signer{a, b, b}, 2, 4, 6)), "record")
	c.Seq, c.Detail = 5, "retired_key"

	// checkpoints
	add("bad-checkpoint-other-key", "the second bundle's checkpoint signed by a key the verifier does not trust", onlyA,
		marshalAll(t, vecBundles(t, recs, []*sdk.Ed25519Signer{a, other, a}, 3, 5, 8)), "bad_checkpoint")
	add("bad-checkpoint-edited", "the first bundle's checkpoint text edited (its signature no longer verifies)", onlyA,
		edit(good, 0, func(b *Bundle) { b.Note = bytes.Replace(b.Note, []byte("\n3\n"), []byte("\n4\n"), 1) }), "bad_checkpoint")
	c = add("bad-checkpoint-retired-key", "the rotation's last checkpoint (size 6, past the transition at 4) signed by the retired key a", onlyA,
		marshalAll(t, vecBundles(t, rot, []*sdk.Ed25519Signer{a, b, a}, 2, 4, 6)), "bad_checkpoint")
	c.Detail = "retired_key"
	c = add("bad-checkpoint-trusted-retired-key", "the rotation with a trusted checkpoint at 6 signed by the retired key a", onlyA, rotated, "bad_checkpoint")
	c.Checkpoint, c.Detail = vecNote(t, rot, 6, a), "retired_key"
	// The key named at 4 vouches for sizes 4 and up only, learned from
	// the transition or given (checkpoint.InForce).
	bothAB := []string{hexKey(a), hexKey(b)}
	c = add("ok-rotation-trusted-at-transition-by-old-key", "the rotation with a trusted checkpoint at 4, the transition's seq, signed by the retired key a", onlyA, rotated, "ok")
	c.Checkpoint = vecNote(t, rot, 4, a)
	c = add("bad-checkpoint-trusted-new-key-early", "the rotation with a trusted checkpoint at 3, below the transition at 4, signed by key b, which the transition named", onlyA, rotated, "bad_checkpoint")
	c.Checkpoint, c.Detail = vecNote(t, rot, 3, b), "unknown_key"
	c = add("bad-checkpoint-trusted-given-new-key-early", "as bad-checkpoint-trusted-new-key-early with key b given too: the chain did not have it in force at 3", bothAB, rotated, "bad_checkpoint")
	c.Checkpoint, c.Detail = vecNote(t, rot, 3, b), "unknown_key"
	c = add("bad-checkpoint-previous-given-new-key-early", "the rotation with keys a and b given, its first checkpoint (size 2) signed by key b: the second bundle's transition at 4 shows b was not in force at 2", bothAB,
		marshalAll(t, vecBundles(t, rot, []*sdk.Ed25519Signer{b, b, b}, 2, 4, 6)), "bad_checkpoint")
	c.Detail = "unknown_key"

	// consistency
	add("consistency-proof-hash", "a byte of the third bundle's consistency proof flipped", onlyA, edit(good, 2, func(b *Bundle) { b.Proof[0][0] ^= 1 }), "consistency")
	add("consistency-proof-extra", "the third bundle's consistency proof with one hash too many", onlyA, edit(good, 2, func(b *Bundle) { b.Proof = append(b.Proof, b.Proof[len(b.Proof)-1]) }), "consistency")
	add("consistency-range", "a byte of the third bundle's compact range flipped", onlyA, edit(good, 2, func(b *Bundle) { b.Range[0][5] ^= 1 }), "consistency")

	// root
	forked := vecChain(t, append(signedBy(7, a, "main"), vrec{reason: "forked 8", by: a}))
	fb := marshalAll(t, vecBundles(t, forked, []*sdk.Ed25519Signer{a}, 3, 5, 8))
	add("root", "the last record replaced by another, signed and linked: the records do not give the checkpoint's root", onlyA,
		edit(good, 2, func(b *Bundle) { p, _ := Parse(fb[2]); b.Records[2] = p.Records[2] }), "root")

	// sequences
	add("gap", "the middle bundle missing", onlyA, [][]byte{good[0], good[2]}, "gap")
	add("gap-overlap", "the second bundle twice", onlyA, [][]byte{good[0], good[1], good[1]}, "gap")
	add("gap-first", "a sequence that does not start at seq 1", onlyA, good[1:], "gap")
	other5 := vecChain(t, append(signedBy(4, a, "main"), signedBy(4, a, "rewritten")...))
	ob := marshalAll(t, vecBundles(t, other5, []*sdk.Ed25519Signer{a}, 3, 5, 8))
	add("fork", "the third bundle is of another history (record 5 differs): its previous checkpoint is not the second bundle's", onlyA,
		[][]byte{good[0], good[1], ob[2]}, "fork")
	c = add("truncated", "the sequence stops at 5, the trusted checkpoint is at 8", onlyA, good[:2], "truncated")
	c.Checkpoint = vecNote(t, recs, 8, a)
	c = add("fork-trusted-checkpoint", "a trusted checkpoint at 8 of another history (record 5 on differs)", onlyA, good, "fork")
	c.Checkpoint = vecNote(t, other5, 8, a)

	out, err := json.MarshalIndent(bundleVectorFileJSON{
		Name: "bundles",
		Description: "export bundle vectors (sdk/export/FORMAT.md): valid sequences of one chain and copies damaged in one way each, " +
			"with the verdict: \"ok\" or the reason label (and the record's seq, and the detail where FORMAT.md names one)",
		Writer: vecWriter, Stream: vecStream,
		Keys:  map[string]string{"a": hexKey(a), "b": hexKey(b), "other": hexKey(other)},
		Cases: cases,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func edit0(data [][]byte, f func([]byte) []byte) [][]byte { return editN(data, 0, f) }

func editN(data [][]byte, i int, f func([]byte) []byte) [][]byte {
	out := make([][]byte, len(data))
	copy(out, data)
	out[i] = f(bytes.Clone(data[i]))
	return out
}

// recordCountOffset returns where a bundle's record count begins: right
// before its first record frame.
func recordCountOffset(t *testing.T, data []byte) int {
	return recordOffset(t, data, 0) - frameHead - 8
}

// updateBundleVectors is -update: it writes b as the bundle vectors of
// schema version current, under root, and nowhere else. A file already
// there keeps every case's bundles and verdict (only descriptions and new
// cases at the end may change): a change to them is the code changing
// released vectors, and is refused rather than baked in.
func updateBundleVectors(root string, current int, b []byte) error {
	path := bundleVectorPath(root, current)
	return testvectors.Update(filepath.Dir(path), map[string][]byte{filepath.Base(path): b}, testvectors.Frozen)
}

// TestBundleVectors writes (with -update) or checks the current schema
// version's bundle vectors: the file must be what this package makes
// today. When it is not, the message says whether the code changed what
// the vectors released (never right) or only prose.
func TestBundleVectors(t *testing.T) {
	want := makeBundleVectors(t)
	if *update {
		if err := updateBundleVectors(vectorsRoot, canonical.SchemaVersion, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(bundleVectorFile)
	if err != nil {
		t.Fatalf("%v: the bundle vectors of schema version %d (canonical.SchemaVersion) are written by go test ./sdk/export -run TestBundleVectors -update", err, canonical.SchemaVersion)
	}
	if bytes.Equal(got, want) {
		return
	}
	d, err := testvectors.Frozen(bundleVectorFile, got, want)
	switch {
	case err != nil:
		t.Errorf("%s: %v", bundleVectorFile, err)
	case d != "":
		t.Errorf("%s: %s in what the package makes now: the code changes bundle vectors of released schema version %d, which are frozen (canonical/SPEC.md section 8); fix the code, do not update the vectors", bundleVectorFile, d, canonical.SchemaVersion)
	default:
		t.Errorf("%s: only descriptions or new cases differ from what the package makes now (go test ./sdk/export -run TestBundleVectors -update)", bundleVectorFile)
	}
}

// TestBundleVectorsVerify: every case of every released schema version's
// bundle vectors gets its verdict from the current code's
// VerifySequenceTrusted.
func TestBundleVectorsVerify(t *testing.T) {
	for v := 1; v <= canonical.SchemaVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			got, err := os.ReadFile(bundleVectorPath(vectorsRoot, v))
			if err != nil {
				t.Fatal(err)
			}
			checkBundleCases(t, got)
		})
	}
}

// checkBundleCases runs every case of a bundle vector file.
func checkBundleCases(t *testing.T, got []byte) {
	var f bundleVectorFileJSON
	if err := json.Unmarshal(got, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 20 {
		t.Fatalf("%d cases", len(f.Cases))
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			var pubs []ed25519.PublicKey
			for _, k := range c.Trusted {
				p, err := hex.DecodeString(k)
				if err != nil {
					t.Fatal(err)
				}
				pubs = append(pubs, p)
			}
			var named []Named
			for i, h := range c.Bundles {
				d, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				named = append(named, Named{Name: fmt.Sprintf("#%d", i+1), Data: d})
			}
			var note []byte
			if c.Checkpoint != "" {
				note = []byte(c.Checkpoint)
			}
			_, err := VerifySequenceTrusted(named, KeyVerifiers(pubs...), sdk.NewKeySet(pubs...), note)
			if c.Want == "ok" {
				if err != nil {
					t.Fatalf("want ok: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || string(e.Reason) != c.Want {
				t.Fatalf("want %s: %v", c.Want, err)
			}
			if c.Seq != 0 && e.Seq != c.Seq {
				t.Errorf("seq %d, want %d: %v", e.Seq, c.Seq, err)
			}
			switch c.Detail {
			case "":
			case "retired_key":
				if !errors.Is(err, sdk.ErrRetiredKey) && !errors.Is(err, checkpoint.ErrRetiredKey) {
					t.Errorf("want retired_key: %v", err)
				}
			case "unknown_key":
				if !errors.Is(err, checkpoint.ErrUnknownKey) {
					t.Errorf("want unknown_key: %v", err)
				}
			case "bad_key_transition":
				if !errors.Is(err, sdk.ErrBadTransition) {
					t.Errorf("want bad_key_transition: %v", err)
				}
			default:
				t.Fatalf("unknown detail %q", c.Detail)
			}
			if !strings.Contains(err.Error(), c.Want) {
				t.Errorf("message does not name %s: %v", c.Want, err)
			}
		})
	}
}

// TestBundleVectorsUpdateLeavesEarlierVersions walks -update at the
// release of the next schema version, on a copy of the vectors: it writes
// the new version's bundles/bundles.json and leaves every earlier
// version's as it was (canonical/SPEC.md section 8: their bytes are
// frozen).
func TestBundleVectorsUpdateLeavesEarlierVersions(t *testing.T) {
	root := t.TempDir()
	next := canonical.SchemaVersion + 1
	var marked []string
	for v := 1; v <= canonical.SchemaVersion; v++ {
		b, err := os.ReadFile(filepath.Join(testvectors.Dir(vectorsRoot, v), "bundles", "bundles.json"))
		if err != nil {
			t.Fatal(err)
		}
		// Marked so that a rewrite shows.
		b = bytes.Replace(b, []byte(`"description": "`), []byte(`"description": "frozen: `), 1)
		dst := filepath.Join(testvectors.Dir(root, v), "bundles", "bundles.json")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		marked = append(marked, dst)
	}
	want := makeBundleVectors(t)
	if err := updateBundleVectors(root, next, want); err != nil {
		t.Fatal(err)
	}
	for _, p := range marked {
		if b, _ := os.ReadFile(p); !bytes.Contains(b, []byte(`"frozen: `)) {
			t.Errorf("-update at schema version %d rewrote %s", next, p)
		}
	}
	path := filepath.Join(testvectors.Dir(root, next), "bundles", "bundles.json")
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("-update at schema version %d did not write %s: %v", next, path, err)
	}
	// Once written, a case's bundles and verdict are released too: -update
	// refuses to change them rather than bake the change in.
	changed := bytes.Replace(want, []byte(`"want": "ok"`), []byte(`"want": "gap"`), 1)
	if err := updateBundleVectors(root, next, changed); err == nil {
		t.Error("-update wrote a case with another verdict over a written one")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, want) {
		t.Errorf("-update changed %s", path)
	}
}
