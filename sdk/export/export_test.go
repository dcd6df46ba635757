package export

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

const (
	testWriter = "svc-index@inst-2"
	testStream = "index"
)

func newSigner(t testing.TB, seed byte) *sdk.Ed25519Signer {
	t.Helper()
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testRecord(i int, reason string) canonical.AuditRecord {
	return canonical.AuditRecord{Kind: canonical.KindGetServed, WriterID: testWriter, Stream: testStream, TsMs: uint64(1764201600000 + i),
		Actor: canonical.Actor{CapID: "cap:test"}, Subject: canonical.Subject{Name: "bucket/object"}, Reason: reason,
		Attrs: []canonical.Attr{{Key: "n", Value: fmt.Sprint(i)}}}
}

// genRecords returns n records of the test chain (in RAM), the i-th (0-based)
// with reason reasonOf(i).
func genRecords(t testing.TB, signer sdk.Signer, n int, reasonOf func(i int) string) []sdk.Sealed {
	t.Helper()
	l, err := sdk.New(sdk.Config{Signer: signer, DedupeWindow: -1})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]sdk.Sealed, 0, n)
	for i := range n {
		rec := testRecord(i, reasonOf(i))
		a, err := l.Append(&rec)
		if err != nil {
			t.Fatal(err)
		}
		r := a.Record
		r.Bytes = bytes.Clone(r.Bytes)
		out = append(out, r)
	}
	return out
}

func plain(int) string { return "served object to authorized reader" }

// durableLog appends n records (reasons plain) to the durable log in dir.
func durableLog(t testing.TB, dir string, signer sdk.Signer, n int) {
	t.Helper()
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer, DedupeWindow: -1},
		sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncNever, AllowNoFsync: true}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := l.Head(testWriter, testStream)
	for i := range n {
		rec := testRecord(int(h.Seq)+i, "served object to authorized reader")
		if _, err := l.Append(&rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// memSink keeps bundles in RAM.
type memSink struct {
	names []string
	data  [][]byte
}

func (m *memSink) WriteBundle(name string, data []byte) error {
	m.names = append(m.names, name)
	m.data = append(m.data, bytes.Clone(data))
	return nil
}

// treeOf builds the tree of recs.
func treeOf(recs []sdk.Sealed) *checkpoint.Tree {
	t := checkpoint.NewTree()
	for _, r := range recs {
		t.Append(r.Hash)
	}
	return t
}

// exportSplits exports recs in bundles ending at the given sizes.
func exportSplits(t testing.TB, signer sdk.Signer, recs []sdk.Sealed, ends ...int) [][]byte {
	t.Helper()
	sink := &memSink{}
	e := &Exporter{Sink: sink, Signer: signer}
	var prev *State
	start := 0
	for _, end := range ends {
		b, err := e.ExportTree(treeOf(recs[:end]), testWriter, testStream, recs[start:end], prev)
		if err != nil {
			t.Fatalf("export %d..%d: %v", start+1, end, err)
		}
		prev, start = b.State(), end
	}
	return sink.data
}

func verifiersOf(signers ...*sdk.Ed25519Signer) (note.Verifiers, *sdk.KeySet) {
	var pubs []ed25519.PublicKey
	for _, s := range signers {
		pubs = append(pubs, s.Public())
	}
	return KeyVerifiers(pubs...), sdk.NewKeySet(pubs...)
}

func wantReason(t *testing.T, err error, sentinel error, what string) *Error {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got %v, want %v", what, err, sentinel)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: %T is not *Error", what, err)
	}
	t.Logf("%s: %v", what, err)
	return e
}

func TestExportDirAndVerify(t *testing.T) {
	signer := newSigner(t, 1)
	vs, keys := verifiersOf(signer)
	dir, out := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	sink := &FileSink{Dir: out}
	var calls atomic.Int64
	e := &Exporter{Sink: sink, Signer: signer, OnExport: func(took time.Duration, records int) {
		if took <= 0 || records <= 0 {
			t.Errorf("OnExport(%v, %d)", took, records)
		}
		calls.Add(1)
	}}
	durableLog(t, dir, signer, 5)
	b1, err := e.Export(dir, testWriter, testStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b1.PrevSize != 0 || b1.Size != 5 || len(b1.Records) != 5 || len(b1.Range) != 0 || len(b1.Proof) != 0 {
		t.Fatalf("first bundle: m %d S %d records %d", b1.PrevSize, b1.Size, len(b1.Records))
	}
	if _, err := e.Export(dir, testWriter, testStream, b1.State()); err != ErrNothingToExport {
		t.Fatalf("export with nothing new: %v", err)
	}
	durableLog(t, dir, signer, 8)
	latest, err := sink.Latest(b1.Origin)
	if err != nil || latest == nil || latest.Size != 5 {
		t.Fatalf("Latest: %v %v", latest, err)
	}
	b2, err := e.Export(dir, testWriter, testStream, latest.State())
	if err != nil {
		t.Fatal(err)
	}
	if b2.PrevSize != 5 || b2.Size != 13 || len(b2.Range) != 2 || len(b2.Proof) == 0 {
		t.Fatalf("second bundle: m %d S %d range %d proof %d", b2.PrevSize, b2.Size, len(b2.Range), len(b2.Proof))
	}
	if calls.Load() != 2 {
		t.Fatalf("OnExport called %d times", calls.Load())
	}
	paths, err := sink.Bundles(b1.Origin)
	if err != nil || len(paths) != 2 {
		t.Fatalf("bundles %v %v", paths, err)
	}
	if got := filepath.Base(paths[1]); got != "00000000000000000006-00000000000000000013.bundle" {
		t.Fatalf("name %s", got)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, fi.Mode(), err)
		}
		data, _ := os.ReadFile(p)
		s, err := VerifyBundle(data, vs, keys)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if s.WriterID != testWriter || s.Stream != testStream || s.Signed != s.Records {
			t.Fatalf("summary %+v", s)
		}
	}
	seq, err := VerifyDir(filepath.Dir(paths[0]), vs, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if seq.Records != 13 || len(seq.Bundles) != 2 || seq.Head.Seq != 13 {
		t.Fatalf("sequence %+v", seq)
	}
	// The same name again is refused: a sink never overwrites a bundle.
	data, _ := os.ReadFile(paths[0])
	if err := sink.WriteBundle(b1.Name(), data); err == nil {
		t.Fatal("overwrote a bundle")
	}
}

// TestSplits exports a chain at many split points: the compact range and
// proofs of every (m, S) verify.
func TestSplits(t *testing.T) {
	signer := newSigner(t, 2)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 40, plain)
	for m := 0; m < 34; m++ {
		for _, s := range []int{m + 1, m + 2, m + 3, m + 7} {
			var ends []int
			if m > 0 {
				ends = append(ends, m)
			}
			ends = append(ends, s)
			bs := exportSplits(t, signer, recs, ends...)
			if _, err := VerifyBundle(bs[len(bs)-1], vs, keys); err != nil {
				t.Fatalf("m %d S %d: %v", m, s, err)
			}
			named := []Named{{Data: bs[0]}}
			if len(bs) > 1 {
				named = append(named, Named{Data: bs[1]})
			}
			if _, err := VerifySequence(named, vs, keys, nil); err != nil {
				t.Fatalf("sequence m %d S %d: %v", m, s, err)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	signer := newSigner(t, 3)
	recs := genRecords(t, signer, 11, plain)
	bs := exportSplits(t, signer, recs, 4, 11)
	for _, data := range bs {
		b, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	}
}

// mutate parses data, applies f, and re-encodes it (CRCs recomputed).
func mutate(t *testing.T, data []byte, f func(b *Bundle)) []byte {
	t.Helper()
	b, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	f(b)
	out, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recordOffset returns where record i's payload begins in data.
func recordOffset(t *testing.T, data []byte, i int) int {
	t.Helper()
	b, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	off := len(data)
	for j := len(b.Records) - 1; j >= i; j-- {
		off -= recordHead + len(b.Records[j].Bytes) + frameHead
	}
	return off + frameHead
}

// wantInner checks that the *sdk.VerifyError inside e names the same seq
// as e, the bundle's chain, and the count of the bundle's records
// verified before it. It named the seq the damaged record claims (seq
// 4294967304 beside "seq 8") and "0 records verified before".
func wantInner(t *testing.T, e *Error, seq uint64, verified int) {
	t.Helper()
	var ve *sdk.VerifyError
	if !errors.As(e, &ve) {
		t.Fatalf("%v: no *sdk.VerifyError inside", e)
	}
	if e.Seq != seq || ve.Seq != seq || ve.Verified != verified || ve.WriterID != testWriter || ve.Stream != testStream {
		t.Fatalf("%v: want seq %d of %s/%s, %d verified before", e, seq, testWriter, testStream, verified)
	}
}

func TestTamper(t *testing.T) {
	signer, other := newSigner(t, 4), newSigner(t, 5)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 9, plain)
	forked := genRecords(t, signer, 9, func(i int) string {
		if i == 8 {
			return "nothing to see here"
		}
		return plain(i)
	})
	bs := exportSplits(t, signer, recs, 5, 9)
	good := bs[1]
	if _, err := VerifyBundle(good, vs, keys); err != nil {
		t.Fatal(err)
	}

	t.Run("record byte", func(t *testing.T) {
		data := bytes.Clone(good)
		p := recordOffset(t, data, 2)
		data[p+recordHead+20] ^= 1
		e := wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrRecord, "flipped byte")
		if e.Seq != 8 || !strings.Contains(e.Detail, "CRC") {
			t.Fatalf("seq %d detail %q", e.Seq, e.Detail)
		}
		// The same flip with the CRC fixed: the record hash catches it.
		n := int(binary.LittleEndian.Uint32(data[p-8:]))
		binary.LittleEndian.PutUint32(data[p-4:], crc32.Checksum(data[p:p+n], castagnoli))
		e = wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrRecord, "flipped byte, CRC fixed")
		if e.Seq != 8 || !errors.Is(e, sdk.ErrHashMismatch) {
			t.Fatalf("seq %d err %v", e.Seq, e.Err)
		}
		wantInner(t, e, 8, 2)
	})
	t.Run("signature", func(t *testing.T) {
		data := mutate(t, good, func(b *Bundle) { b.Records[0].Sig[3] ^= 1 })
		e := wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrRecord, "bad signature")
		if e.Seq != 6 || !errors.Is(e, sdk.ErrBadSignature) {
			t.Fatalf("seq %d err %v", e.Seq, e.Err)
		}
		wantInner(t, e, 6, 0)
	})
	t.Run("dropped link", func(t *testing.T) {
		data := mutate(t, good, func(b *Bundle) { b.Records[1] = forked[7]; b.Records[2] = b.Records[3] })
		e := wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrRecord, "broken chain")
		wantInner(t, e, 7, 1)
	})
	t.Run("replaced record", func(t *testing.T) {
		// A validly signed record that is not the one the checkpoint covers.
		data := mutate(t, good, func(b *Bundle) { b.Records[3] = forked[8] })
		e := wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrRoot, "replaced record")
		if e.Seq != 9 {
			t.Fatalf("seq %d", e.Seq)
		}
	})
	t.Run("forged checkpoint", func(t *testing.T) {
		b, _ := Parse(good)
		tree := treeOf(recs)
		root, _ := tree.RootAt(9)
		msg, err := checkpoint.Sign(b.Origin, 9, root, checkpoint.NewNoteSigner(other, checkpoint.KeyName(testWriter)))
		if err != nil {
			t.Fatal(err)
		}
		data := mutate(t, good, func(b *Bundle) { b.Note = msg })
		wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrBadCheckpoint, "checkpoint by another key")
		edited := mutate(t, good, func(b *Bundle) { b.Note = bytes.Replace(b.Note, []byte("\n9\n"), []byte("\n8\n"), 1) })
		e := wantReason(t, func() error { _, err := VerifyBundle(edited, vs, keys); return err }(), ErrBadCheckpoint, "edited checkpoint")
		if !errors.Is(e, checkpoint.ErrBadSignature) {
			t.Fatalf("err %v", e.Err)
		}
		prev := mutate(t, good, func(b *Bundle) { b.PrevNote = msg })
		wantReason(t, func() error { _, err := VerifyBundle(prev, vs, keys); return err }(), ErrBadCheckpoint, "previous checkpoint by another key")
	})
	t.Run("wrong proof hash", func(t *testing.T) {
		data := mutate(t, good, func(b *Bundle) { b.Proof[0][0] ^= 1 })
		e := wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrConsistency, "wrong proof hash")
		if !errors.Is(e, checkpoint.ErrFork) {
			t.Fatalf("err %v", e.Err)
		}
		data = mutate(t, good, func(b *Bundle) { b.Range[0][5] ^= 1 })
		wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrConsistency, "wrong compact range hash")
	})
	t.Run("format", func(t *testing.T) {
		for name, data := range map[string][]byte{
			"empty":    nil,
			"magic":    append([]byte("RONAUDIT-BUNDLX"), good[15:]...),
			"version":  append(append([]byte(Magic), 2), good[16:]...),
			"trailing": append(bytes.Clone(good), 0),
			"header":   good[:40],
		} {
			wantReason(t, func() error { _, err := VerifyBundle(data, vs, keys); return err }(), ErrFormat, name)
		}
		wantReason(t, func() error { _, err := VerifyBundle(good[:len(good)-1], vs, keys); return err }(), ErrRecord, "cut last record")
	})
}

func TestSequence(t *testing.T) {
	signer := newSigner(t, 6)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 12, plain)
	forked := genRecords(t, signer, 12, func(i int) string {
		if i >= 6 {
			return "rewritten"
		}
		return plain(i)
	})
	bs := exportSplits(t, signer, recs, 3, 7, 12)
	fbs := exportSplits(t, signer, forked, 3, 7, 12)
	seq := func(data ...[]byte) []Named {
		var out []Named
		for i, d := range data {
			out = append(out, Named{Name: fmt.Sprintf("b%d", i+1), Data: d})
		}
		return out
	}
	trusted := func(recs []sdk.Sealed, size int) *checkpoint.Checkpoint {
		root, _ := treeOf(recs).RootAt(int64(size))
		msg, err := checkpoint.Sign(checkpoint.Origin(testWriter, testStream), int64(size), root, checkpoint.NewNoteSigner(signer, checkpoint.KeyName(testWriter)))
		if err != nil {
			t.Fatal(err)
		}
		cp, err := checkpoint.Open(msg, vs)
		if err != nil {
			t.Fatal(err)
		}
		return &cp
	}
	s, err := VerifySequence(seq(bs...), vs, keys, trusted(recs, 12))
	if err != nil || s.Records != 12 || s.Trusted == nil {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := VerifySequence(seq(bs...), vs, keys, trusted(recs, 9)); err != nil {
		t.Fatalf("trusted inside the last bundle: %v", err)
	}
	e := wantReason(t, func() error { _, err := VerifySequence(seq(bs[0], bs[2]), vs, keys, nil); return err }(), ErrGap, "missing bundle")
	if e.Bundle != "b2" || e.Seq != 4 {
		t.Fatalf("bundle %q seq %d", e.Bundle, e.Seq)
	}
	wantReason(t, func() error { _, err := VerifySequence(seq(bs[1], bs[2]), vs, keys, nil); return err }(), ErrGap, "missing first bundle")
	wantReason(t, func() error { _, err := VerifySequence(seq(bs[0], bs[1], bs[1]), vs, keys, nil); return err }(), ErrGap, "repeated bundle")
	e = wantReason(t, func() error { _, err := VerifySequence(seq(bs[0], bs[1]), vs, keys, trusted(recs, 12)); return err }(), ErrTruncated, "cut tail")
	if e.Seq != 8 {
		t.Fatalf("seq %d", e.Seq)
	}
	// A log rolled back to 7 records and rewritten after: its bundles are
	// a valid sequence of their own, but not of the history trusted.
	e = wantReason(t, func() error { _, err := VerifySequence(seq(fbs...), vs, keys, trusted(recs, 10)); return err }(), ErrFork, "forked sequence")
	if e.Seq != 10 {
		t.Fatalf("seq %d", e.Seq)
	}
	wantReason(t, func() error { _, err := VerifySequence(seq(bs[0], bs[1], fbs[2]), vs, keys, nil); return err }(), ErrFork, "spliced fork")
	// A bundle consistent with the tree whose first record does not link
	// to the previous bundle's last (the writer broke its chain).
	mixed := append(append([]sdk.Sealed{}, recs[:7]...), forked[7:]...)
	b2, _ := Parse(bs[1])
	sink := &memSink{}
	if _, err := (&Exporter{Sink: sink, Signer: signer}).ExportTree(treeOf(mixed), testWriter, testStream, mixed[7:], &State{Size: 7, Note: b2.Note}); err != nil {
		t.Fatal(err)
	}
	e = wantReason(t, func() error { _, err := VerifySequence(seq(bs[0], bs[1], sink.data[0]), vs, keys, nil); return err }(), ErrRecord, "broken link between bundles")
	if e.Seq != 8 || e.Bundle != "b3" {
		t.Fatalf("bundle %q seq %d", e.Bundle, e.Seq)
	}
	wantReason(t, func() error {
		_, err := VerifySequence(seq(bs[0], bs[1], bs[2]), vs, keys, trusted(forked, 12))
		return err
	}(), ErrFork, "trusted fork")
}

func TestExporterRefusesRollback(t *testing.T) {
	signer := newSigner(t, 7)
	recs := genRecords(t, signer, 8, plain)
	forked := genRecords(t, signer, 8, func(i int) string {
		if i == 2 {
			return "rewritten"
		}
		return plain(i)
	})
	sink := &memSink{}
	e := &Exporter{Sink: sink, Signer: signer}
	b, err := e.ExportTree(treeOf(recs[:6]), testWriter, testStream, recs[:6], nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ExportTree(treeOf(recs[:4]), testWriter, testStream, nil, b.State())
	wantReason(t, err, ErrTruncated, "export of a cut log")
	_, err = e.ExportTree(treeOf(forked), testWriter, testStream, forked[6:], b.State())
	wantReason(t, err, ErrFork, "export of a forked log")
	if len(sink.data) != 1 {
		t.Fatalf("%d bundles written", len(sink.data))
	}
}

func TestFileSinkNames(t *testing.T) {
	s := &FileSink{Dir: t.TempDir()}
	for _, name := range []string{"../x.bundle", "a//b.bundle", "./a.bundle", "/abs.bundle"} {
		if err := s.WriteBundle(name, []byte("x")); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
	if got := BundleName(checkpoint.Origin("a/b", "c d"), 1, 12); got != "a%2Fb/c%20d/00000000000000000001-00000000000000000012.bundle" {
		t.Fatal(got)
	}
}

// ExportTree given records that are not the tree's (off by one, another
// chain's) or more than it holds writes nothing: a signed checkpoint over
// other records would be a bundle no verifier accepts, stored durably.
func TestExportTreeRefusesRecordsNotTheTrees(t *testing.T) {
	signer := newSigner(t, 8)
	recs := genRecords(t, signer, 6, plain)
	other := genRecords(t, signer, 6, func(int) string { return "another history" })
	sink := &memSink{}
	e := &Exporter{Sink: sink, Signer: signer}
	e1 := wantReason(t, func() error { _, err := e.ExportTree(treeOf(recs), testWriter, testStream, other, nil); return err }(), ErrRecord, "other records")
	b, err := e.ExportTree(treeOf(recs[:3]), testWriter, testStream, recs[:3], nil)
	if err != nil {
		t.Fatal(err)
	}
	e2 := wantReason(t, func() error {
		_, err := e.ExportTree(treeOf(recs), testWriter, testStream, recs[2:5], b.State())
		return err
	}(), ErrRecord, "records off by one")
	e3 := wantReason(t, func() error { _, err := e.ExportTree(treeOf(recs[:3]), testWriter, testStream, recs, nil); return err }(), ErrRecord, "past the tree")
	if e1.Seq != 1 || e2.Seq != 4 || e3.Seq != 4 {
		t.Fatalf("seqs %d %d %d, want 1 4 4", e1.Seq, e2.Seq, e3.Seq)
	}
	if len(sink.data) != 1 {
		t.Fatalf("%d bundles written, want the one good one", len(sink.data))
	}
}

// A FileSink refuses a bundle holding records a bundle there holds already
// (an export from a stale previous state): the directory would not verify
// as a sequence.
func TestFileSinkRefusesOverlap(t *testing.T) {
	signer := newSigner(t, 9)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 8, plain)
	sink := &FileSink{Dir: t.TempDir()}
	e := &Exporter{Sink: sink, Signer: signer}
	b, err := e.ExportTree(treeOf(recs[:3]), testWriter, testStream, recs[:3], nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ExportTree(treeOf(recs[:5]), testWriter, testStream, recs[:5], nil); !errors.Is(err, ErrBundleExists) ||
		!strings.Contains(err.Error(), "00000000000000000001-00000000000000000003.bundle") {
		t.Fatalf("1..5 over 1..3: %v, want ErrBundleExists naming 1..3", err)
	}
	if _, err := sink.Prev(testWriter, testStream); err != nil { // the cached path too
		t.Fatal(err)
	}
	b2, err := e.ExportTree(treeOf(recs[:6]), testWriter, testStream, recs[3:6], b.State())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ExportTree(treeOf(recs[:8]), testWriter, testStream, recs[3:8], b.State()); !errors.Is(err, ErrBundleExists) {
		t.Fatalf("4..8 over 4..6: %v, want ErrBundleExists", err)
	}
	if _, err := e.ExportTree(treeOf(recs[:8]), testWriter, testStream, recs[6:8], b2.State()); err != nil {
		t.Fatalf("7..8: %v", err)
	}
	paths, _ := sink.Bundles(b.Origin)
	if len(paths) != 3 {
		t.Fatalf("%d bundles: %v", len(paths), paths)
	}
	if _, err := VerifyDir(filepath.Dir(paths[0]), vs, keys, nil); err != nil {
		t.Fatal(err)
	}
}

// Every *Error names the chain once the bundle's origin is read: a
// verifier of an export directory holds many chains.
func TestErrorsNameTheChain(t *testing.T) {
	signer := newSigner(t, 10)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 7, plain)
	bs := exportSplits(t, signer, recs, 3, 7)
	origin := checkpoint.Origin(testWriter, testStream)
	damaged := bytes.Clone(bs[1])
	damaged[len(damaged)-1] ^= 1
	cases := []struct {
		what string
		err  error
	}{
		{"damaged record", func() error { _, err := VerifyBundle(damaged, vs, keys); return err }()},
		{"unknown key", func() error { _, err := VerifyBundle(bs[0], KeyVerifiers(newSigner(t, 11).Public()), keys); return err }()},
		{"gap", func() error { _, err := VerifySequence([]Named{{"a", bs[1]}}, vs, keys, nil); return err }()},
		{"repeated", func() error { _, err := VerifySequence([]Named{{"a", bs[0]}, {"b", bs[0]}}, vs, keys, nil); return err }()},
		{"damaged in a sequence", func() error {
			_, err := VerifySequence([]Named{{"a", bs[0]}, {"b", damaged}}, vs, keys, nil)
			return err
		}()},
		{"export of a cut log", func() error {
			b, _ := Parse(bs[1])
			_, err := (&Exporter{Sink: &memSink{}, Signer: signer}).ExportTree(treeOf(recs[:5]), testWriter, testStream, nil, b.State())
			return err
		}()},
	}
	for _, c := range cases {
		var e *Error
		if !errors.As(c.err, &e) {
			t.Fatalf("%s: %v is not *Error", c.what, c.err)
		}
		if e.Origin != origin || !strings.Contains(e.Error(), "chain "+origin) {
			t.Errorf("%s: %v: Origin %q, want %q named", c.what, c.err, e.Origin, origin)
		}
	}
}

// A record frame longer than FORMAT.md allows (106 bytes of header and a
// record of at most canonical.MaxRecordSize) is refused by Parse, as the
// Python reader refuses it, and never written.
func TestRecordFrameLimit(t *testing.T) {
	signer := newSigner(t, 12)
	recs := genRecords(t, signer, 2, plain)
	data := exportSplits(t, signer, recs, 2)[0]
	b, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	last := b.Records[1]
	at := len(data) - (frameHead + recordHead + len(last.Bytes))
	for _, n := range []int{canonical.MaxRecordSize, canonical.MaxRecordSize + 1} {
		payload := append([]byte{recordType, 0}, make([]byte, 8+64+32)...)
		payload = append(payload, make([]byte, n)...)
		frame := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
		frame = binary.LittleEndian.AppendUint32(frame, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
		bad := append(append(bytes.Clone(data[:at]), frame...), payload...)
		_, err := Parse(bad)
		if n <= canonical.MaxRecordSize {
			if err != nil {
				t.Fatalf("frame of a %d-byte record: %v", n, err)
			}
			continue
		}
		if e := wantReason(t, err, ErrRecord, "frame too long"); e.Seq != 2 {
			t.Fatalf("seq %d", e.Seq)
		}
		big := *b
		big.Records = append([]sdk.Sealed{}, b.Records...)
		big.Records[1].Bytes = make([]byte, n)
		if _, err := big.MarshalBinary(); err == nil {
			t.Fatal("a record of more than MaxRecordSize bytes written")
		}
	}
}

// ExportTree given a record whose bytes no longer hash to its record hash
// (the hash still the tree's leaf) exports it as it is, on purpose (see
// ExportTree): the bundle carries the evidence to its verifier, which
// refuses it at that seq naming both hashes, and the next export, of the
// records after it, goes on and verifies.
func TestExportTreeShipsChangedBytesAsEvidence(t *testing.T) {
	signer := newSigner(t, 12)
	vs, keys := KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public())
	recs := genRecords(t, signer, 5, plain)
	bad := slices.Clone(recs)
	bad[1].Bytes = bytes.Clone(bad[1].Bytes)
	bad[1].Bytes[len(bad[1].Bytes)/2] ^= 0x20
	got := canonical.RecordHash(bad[1].Bytes)

	sink := &memSink{}
	e := &Exporter{Sink: sink, Signer: signer}
	b1, err := e.ExportTree(treeOf(recs[:3]), testWriter, testStream, bad[:3], nil)
	if err != nil {
		t.Fatalf("export of a record with changed bytes: %v", err)
	}
	_, err = VerifyBundle(sink.data[0], vs, keys)
	ee := wantReason(t, err, ErrRecord, "verifying the bundle")
	if !errors.Is(err, sdk.ErrHashMismatch) {
		t.Errorf("%v does not match sdk.ErrHashMismatch", err)
	}
	wantInner(t, ee, 2, 1)
	for _, want := range []string{"seq 2", "expected " + recs[1].Hash.String(), "got " + got.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err.Error(), want)
		}
	}

	if _, err := e.ExportTree(treeOf(recs), testWriter, testStream, recs[3:], b1.State()); err != nil {
		t.Fatalf("the export after it: %v", err)
	}
	if _, err := VerifyBundle(sink.data[1], vs, keys); err != nil {
		t.Fatalf("the bundle after it: %v", err)
	}
}

// An Exporter without a Sink or a signer is a configuration error
// (sdk.ErrConfig), found before the log is read or a checkpoint signed:
// before, an untyped "no Sink" came after signing.
func TestExporterConfig(t *testing.T) {
	signer := newSigner(t, 14)
	recs := genRecords(t, signer, 2, plain)
	dir := filepath.Join(t.TempDir(), "wal")
	durableLog(t, dir, signer, 2)
	for _, c := range []struct {
		what string
		e    *Exporter
	}{{"no Sink", &Exporter{Signer: signer}}, {"no signer", &Exporter{Sink: &memSink{}}}} {
		_, err := c.e.ExportTree(treeOf(recs), testWriter, testStream, recs, nil)
		if !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("ExportTree, %s: %v, want sdk.ErrConfig", c.what, err)
		}
		_, err = c.e.Export(dir, testWriter, testStream, nil)
		if !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("Export, %s: %v, want sdk.ErrConfig", c.what, err)
		}
		if s, ok := c.e.Sink.(*memSink); ok && len(s.data) != 0 {
			t.Errorf("%s: %d bundles written", c.what, len(s.data))
		}
	}
}

// A log whose chain skips a seq (a record's seq changed on disk, its CRC
// fixed) is refused by Export with an *Error ReasonRecord naming the chain
// and the seq where the record belongs: before, an untyped string.
func TestExportRefusesSeqGapTyped(t *testing.T) {
	signer := newSigner(t, 15)
	dir := filepath.Join(t.TempDir(), "wal")
	durableLog(t, dir, signer, 3)
	var pos wal.Position
	if _, err := sdk.ReadDir(dir, func(rec sdk.Sealed, p wal.Position) error {
		if v, err := canonical.OpenAuditRecord(rec.Bytes); err == nil && v.Seq() == 2 {
			pos = p
		}
		return nil
	}); err != nil || pos.File == "" {
		t.Fatalf("record 2 not found: %v", err)
	}
	f, err := os.OpenFile(pos.File, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [wal.FrameHeaderSize]byte
	f.ReadAt(hdr[:], pos.Offset)
	payload := make([]byte, binary.LittleEndian.Uint32(hdr[:4]))
	f.ReadAt(payload, pos.Offset+wal.FrameHeaderSize)
	binary.LittleEndian.PutUint64(payload[recordHead+16:], 7) // the seq, at byte 16 of the canonical bytes (checked below)
	if v, err := canonical.OpenAuditRecord(payload[recordHead:]); err != nil || v.Seq() != 7 {
		t.Fatalf("patch missed the seq: %v", err)
	}
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)))
	f.WriteAt(hdr[:], pos.Offset)
	f.WriteAt(payload, pos.Offset+wal.FrameHeaderSize)
	f.Close()

	sink := &memSink{}
	_, err = (&Exporter{Sink: sink, Signer: signer}).Export(dir, testWriter, testStream, nil)
	e := wantReason(t, err, ErrRecord, "seq gap in the log")
	if e.Seq != 2 || e.Origin != checkpoint.Origin(testWriter, testStream) || !strings.Contains(e.Error(), pos.String()) ||
		e.Expected != "seq 2" || e.Got != "seq 7" {
		t.Fatalf("%v: want seq 2 of the chain, at %s, expected seq 2, got seq 7", err, pos)
	}
	if len(sink.data) != 0 {
		t.Fatalf("%d bundles written", len(sink.data))
	}
}

// fullSink fails every write as a full disk does, with the OS's error,
// which names only the temporary file it was writing.
type fullSink struct{}

func (fullSink) WriteBundle(string, []byte) error {
	return &fs.PathError{Op: "write", Path: "/exports/w/s/.tmp-123", Err: syscall.ENOSPC}
}

// TestWriteFailureNamesBundle: a bundle the sink could not write is named
// in the error (the chain and its seqs), with the sink's error wrapped.
// Drilled on a full export disk, examples/host printed only "audit export
// stopped: write EXPORTDIR/W/S/.tmp-N: no space left on device": no seqs,
// and nothing saying it was an export.
func TestWriteFailureNamesBundle(t *testing.T) {
	signer := newSigner(t, 2)
	recs := genRecords(t, signer, 5, plain)
	e := &Exporter{Sink: fullSink{}, Signer: signer}
	_, err := e.ExportTree(treeOf(recs), testWriter, testStream, recs, nil)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC wrapped", err)
	}
	want := BundleName(checkpoint.Origin(testWriter, testStream), 1, 5)
	if !strings.Contains(err.Error(), "export: writing bundle "+want) {
		t.Fatalf("error %q does not name the bundle %s", err, want)
	}
}
