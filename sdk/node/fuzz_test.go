package node_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/dirtest"
	"github.com/rustyonions/ron-audit-go/internal/fuzzchoice"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// fuzzTree is what a closed Node left (log, kept checkpoints, bundles),
// as relative path -> bytes, with the heads VerifyDir gives it.
type fuzzTree struct {
	files map[string][]byte
	paths []string // sorted
	pub   ed25519.PublicKey
	sum   node.Summary
}

// newFuzzTree runs a Node with key A over three segments: chains w/a
// and w/b of 10 records, a checkpoint every 4 and a record signature
// every 3 records, a rotation to key B (the transition record is seq 11),
// 4 more records each, Close: 19 files, 15 records a chain.
func newFuzzTree(t testing.TB) *fuzzTree {
	root := t.TempDir()
	dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
	a, b := nodeCrashKey(t, 0), nodeCrashKey(t, 1)
	opts := node.Options{SealEvery: 3, Every: 4, Interval: -1, ExportDir: exports}
	opts.Durable.WAL = wal.Options{SegmentBytes: wal.MinSegmentBytes}
	n, _, err := node.Open(dir, a, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 14 {
		if i == 10 {
			if _, err := n.Log().RotateKey(b); err != nil {
				t.Fatal(errors.Join(err, n.Close()))
			}
		}
		for _, s := range []string{"a", "b"} {
			if _, err := n.Log().Append(record("w", s, i)); err != nil {
				t.Fatal(errors.Join(err, n.Close()))
			}
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	ft := &fuzzTree{files: dirtest.Read(t, root), pub: a.Public()}
	ft.paths = slices.Sorted(maps.Keys(ft.files))
	ft.sum, err = node.VerifyDir(dir, exports, []ed25519.PublicKey{ft.pub}, checkpoint.DirOptions{})
	if err != nil {
		t.Fatalf("the untouched tree: %v", err)
	}
	if ft.sum.Records != 30 || len(ft.sum.Heads) != 2 || len(ft.sum.Retired) != 2 || ft.sum.WAL.Segments < 2 {
		t.Fatalf("the untouched tree: %+v", ft.sum)
	}
	return ft
}

// FuzzNodeVerifyDir: node.VerifyDir (checkpoint.VerifyDir over the
// segments and the kept checkpoints, then export.VerifyDirTrusted over
// each chain's bundles) on a copy of what a closed Node left, with up to
// three files damaged: a byte flipped, the file cut, deleted, or replaced
// by another file's bytes. It never panics, fails only with the errors
// its doc names (*sdk.DurableError, *wal.VersionError, *checkpoint.DirError,
// *node.ExportError), and what it accepts is the truth: the chains' heads
// (seq and hash of the last record) and record count are the untouched
// tree's, and every record is in a bundle. A Node that was closed left
// every record under a checkpoint and in a bundle, so no damage can be
// accepted as a shorter or different history.
//
// The input is a byte per choice: per damage, the file (c%files), how
// (c%4: flip, cut, delete, replace), two bytes of position (flip, cut)
// or the other file (replace), and the xor byte (flip).
// Seeds: testdata/fuzz/FuzzNodeVerifyDir.
func FuzzNodeVerifyDir(f *testing.F) {
	ft := newFuzzTree(f)
	f.Add([]byte{})
	for i := range ft.paths {
		f.Add([]byte{byte(i), 0, 0, 40, 1})  // a byte flipped at 40
		f.Add([]byte{byte(i), 1, 0, 100, 0}) // cut at 100
		f.Add([]byte{byte(i), 2, 0, 0, 0})   // deleted
	}
	work := f.TempDir()
	execs := 0
	f.Fuzz(func(t *testing.T, choices []byte) {
		in := fuzzchoice.New(choices)
		next := in.Next
		files := make(map[string][]byte, len(ft.files))
		for k, v := range ft.files {
			files[k] = v
		}
		damaged := false
		for range 3 {
			if in.Len() == 0 {
				break
			}
			p := ft.paths[next()%len(ft.paths)]
			op, hi, lo, x := next()%4, next(), next(), next()
			b, ok := files[p]
			if !ok {
				continue
			}
			switch op {
			case 0:
				if len(b) > 0 && x != 0 {
					b = bytes.Clone(b)
					b[(hi<<8|lo)%len(b)] ^= byte(x)
					files[p], damaged = b, true
				}
			case 1:
				if at := (hi<<8 | lo) % (len(b) + 1); at < len(b) {
					files[p], damaged = b[:at], true
				}
			case 2:
				delete(files, p)
				damaged = true
			case 3:
				if o := ft.files[ft.paths[(hi<<8|lo)%len(ft.paths)]]; !bytes.Equal(o, b) {
					files[p], damaged = o, true
				}
			}
		}
		execs++
		root := filepath.Join(work, strconv.Itoa(execs))
		defer os.RemoveAll(root)
		dirtest.Write(t, root, files)
		dir, exports := filepath.Join(root, "wal"), filepath.Join(root, "exports")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		sum, err := node.VerifyDir(dir, exports, []ed25519.PublicKey{ft.pub}, checkpoint.DirOptions{})
		if err != nil {
			var de *sdk.DurableError
			var ce *checkpoint.DirError
			var ee *node.ExportError
			var ve *wal.VersionError
			if !errors.As(err, &de) && !errors.As(err, &ce) && !errors.As(err, &ee) && !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is none of *sdk.DurableError, *wal.VersionError, *checkpoint.DirError, *node.ExportError", err, err)
			}
			if !damaged {
				t.Fatalf("the untouched tree: %v", err)
			}
			return
		}
		if sum.Records != ft.sum.Records || len(sum.Heads) != len(ft.sum.Heads) {
			t.Fatalf("accepted %d records in %d chains; the Node wrote %d in %d", sum.Records, len(sum.Heads), ft.sum.Records, len(ft.sum.Heads))
		}
		for i, h := range sum.Heads {
			w := ft.sum.Heads[i]
			if h.WriterID != w.WriterID || h.Stream != w.Stream || h.Seq != w.Seq || h.Hash != w.Hash {
				t.Fatalf("accepted head %s/%s seq %d %x; the Node wrote %s/%s seq %d %x", h.WriterID, h.Stream, h.Seq, h.Hash, w.WriterID, w.Stream, w.Seq, w.Hash)
			}
			if e := sum.Exports[i]; e.Records != int64(h.Seq) {
				t.Fatalf("accepted %s/%s with %d of its %d records in bundles", h.WriterID, h.Stream, e.Records, h.Seq)
			}
		}
	})
}
