package export

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/dirtest"
	"github.com/rustyonions/ron-audit-go/internal/fuzzchoice"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// autoFuzzBase is what a closed log with a Keeper and an Auto left, as
// relative path -> bytes (the lock left out): chain w/s of 12 records
// and w/o of 8, a checkpoint and a bundle every 4 records.
type autoFuzzBase struct {
	files   map[string][]byte
	bundles []string // the relative paths of every bundle, sorted
	notes   [][]byte // w/s's checkpoints at 4, 8, 12
}

func appendChain(tb testing.TB, l *sdk.Log, stream string, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		r := canonical.AuditRecord{WriterID: "w", Stream: stream, TsMs: uint64(i + 1), Reason: stream + strconv.Itoa(i)}
		if _, err := l.Append(&r); err != nil {
			tb.Fatal(err)
		}
	}
}

func newAutoFuzzBase(tb testing.TB, signer sdk.Signer) *autoFuzzBase {
	dir := tb.TempDir()
	sink := &FileSink{Dir: filepath.Join(dir, "exports")}
	auto := &Auto{Exporter: &Exporter{Sink: sink}, Prev: sink.Prev}
	k, err := checkpoint.NewKeeper(filepath.Join(dir, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 4, Interval: -1, OnCheckpoint: auto.Checkpointed})
	if err != nil {
		tb.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(filepath.Join(dir, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	auto.Log, auto.Keeper = l, k
	auto.Start()
	appendChain(tb, l, "s", 0, 12)
	appendChain(tb, l, "o", 0, 8)
	if err := errors.Join(l.Close(), k.Close(), auto.Close()); err != nil {
		tb.Fatal(err)
	}
	base := &autoFuzzBase{files: dirtest.Read(tb, dir)}
	for rel := range base.files {
		if filepath.Ext(rel) == ".bundle" {
			base.bundles = append(base.bundles, rel)
		}
	}
	slices.Sort(base.bundles)
	if base.notes, err = checkpoint.LoadHistory(filepath.Join(dir, "checkpoints"), "w", "s"); err != nil || len(base.notes) != 3 || len(base.bundles) != 5 {
		tb.Fatalf("base: %d checkpoints of w/s, %d bundles (%v), %v", len(base.notes), len(base.bundles), base.bundles, err)
	}
	return base
}

// FuzzAutoRestart: an Auto restarted over w/s's bundle directory as
// the input leaves it (bundles deleted, damaged, cut, copied under
// another name, another chain's moved in, files of any name and content
// added), then 5 more records of w/s (checkpoints at 16 and, at Close,
// 17). The Auto never panics, fails only with the errors its doc names
// (an *Error, ErrBundleExists, ErrBundleName, the file system's), and when Close
// returns nil, what it wrote this run is the truth: bundles that each
// verify, one after the other, from a size whose checkpoint text is the
// log's (the records before it are the log's) to all 17 records.
// A directory Auto cannot continue from is a failure, never exports
// stopped without one (TestAutoRefusesBundleBeyondLog).
//
// The input is a byte per choice: per change (up to 4), the operation
// (c%6: delete, flip a byte, cut, copy a bundle to a name, write the
// input's bytes to a name, make a directory at a name), a bundle (c%5),
// two bytes of position, and, for the names, a first and last seq byte.
// Seeds: testdata/fuzz/FuzzAutoRestart.
func FuzzAutoRestart(f *testing.F) {
	signer := newSigner(f, 41)
	base := newAutoFuzzBase(f, signer)
	f.Add([]byte{})
	for op := range 6 {
		for b := range 5 {
			f.Add([]byte{byte(op), byte(b), 0, 40, 9, 12})
		}
	}
	f.Add([]byte{3, 4, 0, 0, 13, 20}) // w/o's 5-8 as w/s's 13-20
	f.Add([]byte{3, 3, 0, 0, 9, 12, 0, 2})
	f.Add([]byte{0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}) // w/s's last two deleted
	work := f.TempDir()
	execs := 0
	verifiers, keys := KeyVerifiers(signer.Public()), sdk.NewKeySet(signer.Public())
	f.Fuzz(func(t *testing.T, in []byte) {
		next := fuzzchoice.New(in).Next
		execs++
		root := filepath.Join(work, strconv.Itoa(execs))
		defer os.RemoveAll(root)
		dirtest.Write(t, root, base.files)
		chainDir := filepath.Join(root, "exports", "w", "s")
		for range 4 {
			if len(in) == 0 {
				break
			}
			op, bi, hi, lo := next()%6, next()%len(base.bundles), next(), next()
			src := filepath.Join(root, base.bundles[bi])
			name := filepath.Join(chainDir, filepath.Base(BundleName("w/s", uint64(1+next()%32), uint64(1+next()%32))))
			switch op {
			case 0:
				os.Remove(src)
			case 1, 2:
				b, err := os.ReadFile(src)
				if err != nil || len(b) == 0 {
					continue
				}
				if op == 1 {
					b[(hi<<8|lo)%len(b)] ^= byte(1 + hi%255)
				} else {
					b = b[:(hi<<8|lo)%len(b)]
				}
				if err := os.WriteFile(src, b, 0o600); err != nil {
					t.Fatal(err)
				}
			case 3:
				if err := os.WriteFile(name, base.files[base.bundles[bi]], 0o600); err != nil {
					t.Fatal(err)
				}
			case 4:
				if hi%2 == 1 { // a name of the input's own
					name = filepath.Join(chainDir, string(bytes.Map(func(r rune) rune {
						if r == '/' || r == 0 {
							return '_'
						}
						return r
					}, in[:min(len(in), lo%24+1)])))
					if filepath.Base(name) == "." || filepath.Base(name) == ".." {
						continue
					}
				}
				if err := os.WriteFile(name, bytes.Clone(in), 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
					var pe *fs.PathError
					if errors.As(err, &pe) {
						continue // a name the file system refuses
					}
					t.Fatal(err)
				}
			case 5:
				_ = os.Mkdir(name, 0o700)
			}
		}
		before := map[string]bool{}
		if ents, err := os.ReadDir(chainDir); err == nil {
			for _, e := range ents {
				before[e.Name()] = true
			}
		}

		sink := &FileSink{Dir: filepath.Join(root, "exports")}
		auto := &Auto{Exporter: &Exporter{Sink: sink}, Prev: sink.Prev}
		k, err := checkpoint.NewKeeper(filepath.Join(root, "checkpoints"), signer, checkpoint.KeeperOptions{Every: 4, Interval: -1, OnCheckpoint: auto.Checkpointed})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(filepath.Join(root, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
		if err != nil {
			t.Fatal(err) // the log and its checkpoints are untouched
		}
		auto.Log, auto.Keeper = l, k
		auto.Start()
		appendChain(t, l, "s", 12, 5)
		if err := errors.Join(l.Close(), k.Close()); err != nil {
			t.Fatal(err)
		}
		err = auto.Close()
		if err != nil {
			var e *Error
			var pe *fs.PathError
			var bl *checkpoint.BrokenLinkError
			if !errors.As(err, &e) && !errors.Is(err, ErrBundleExists) && !errors.As(err, &pe) && !errors.As(err, &bl) {
				t.Fatalf("Auto.Close: %v (%T): none of the errors Auto's doc names", err, err)
			}
			return
		}
		var written []string
		ents, err := os.ReadDir(chainDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if !before[e.Name()] {
				written = append(written, e.Name())
			}
		}
		slices.Sort(written)
		if len(written) == 0 {
			t.Fatalf("Auto.Close nil and no bundle written of w/s's records 13-17; the directory holds %v", slices.Sorted(func(yield func(string) bool) {
				for n := range before {
					if !yield(n) {
						return
					}
				}
			}))
		}
		var size int64 = -1
		for i, n := range written {
			data, err := os.ReadFile(filepath.Join(chainDir, n))
			if err != nil {
				t.Fatal(err)
			}
			s, err := VerifyBundle(data, verifiers, keys)
			if err != nil {
				t.Fatalf("Auto wrote %s, which fails: %v", n, err)
			}
			if i == 0 {
				b, _ := Parse(data)
				if b.PrevSize%4 != 0 || b.PrevSize > 12 {
					t.Fatalf("Auto's first bundle %s continues from size %d, which no checkpoint of the log has", n, b.PrevSize)
				}
				if b.PrevSize > 0 && !bytes.Equal(noteText(b.PrevNote), noteText(base.notes[b.PrevSize/4-1])) {
					t.Fatalf("Auto's first bundle %s continues from a checkpoint at %d that is not the log's", n, b.PrevSize)
				}
			} else if s.PrevSize != size {
				t.Fatalf("Auto's bundle %s starts after %d, the one before ended at %d", n, s.PrevSize, size)
			}
			size = s.Size
		}
		if size != 17 {
			t.Fatalf("Auto.Close nil, its bundles %v end at %d of w/s's 17 records", written, size)
		}
	})
}

// noteText is a signed note's text, its signatures left out.
func noteText(msg []byte) []byte {
	text, _, _ := bytes.Cut(msg, []byte("\n\n"))
	return text
}
