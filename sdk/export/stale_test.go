package export

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// A crash between a FileSink's temporary file and its link leaves a
// ".tmp-" file in the chain's directory. The next FileSink's first write
// there removes it and counts it; a fresh one (another exporter's, being
// written now), other names, and an entry of a temporary name that is not
// a regular file (a directory, a symbolic link) stay, as does the file a
// link points to. Reading (Prev, Latest, VerifyDir) removes nothing.
// Before, nothing ever removed one.
func TestFileSinkRemovesStaleTemps(t *testing.T) {
	signer := newSigner(t, 13)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 6, plain)
	out := t.TempDir()
	first := &FileSink{Dir: out}
	b, err := (&Exporter{Sink: first, Signer: signer}).ExportTree(treeOf(recs[:3]), testWriter, testStream, recs[:3], nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := first.TempStats(); st != (TempStats{}) {
		t.Fatalf("first sink: %+v", st)
	}
	chain := filepath.Join(out, filepath.FromSlash(chainDir(checkpoint.Origin(testWriter, testStream))))
	old := time.Now().Add(-2 * time.Hour)
	put := func(dir, name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("half a bundle"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := []string{put(chain, ".tmp-123", old), put(chain, ".tmp-4294967295", old)}
	kept := []string{put(chain, ".tmp-456", time.Now()), put(chain, "README", old), put(chain, ".tmp-123.bundle", old)}
	sub := filepath.Join(chain, ".tmp-789")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(sub, old, old)
	target := put(t.TempDir(), "elsewhere", old)
	link := filepath.Join(chain, ".tmp-790")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, sub, link, target)
	bundles, _ := ListDir(chain)
	kept = append(kept, bundles...)

	second := &FileSink{Dir: out}
	if _, err := second.Prev(testWriter, testStream); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyDir(chain, vs, keys, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("reading removed %s: %v", p, err)
		}
	}
	if _, err := (&Exporter{Sink: second, Signer: signer}).ExportTree(treeOf(recs), testWriter, testStream, recs[3:], b.State()); err != nil {
		t.Fatal(err)
	}
	if st := second.TempStats(); st.Removed != int64(len(stale)) || st.Failed != 0 || st.Err != nil {
		t.Fatalf("TempStats %+v, want %d removed", st, len(stale))
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s touched: %v", p, err)
		}
	}
	if s, err := VerifyDir(chain, vs, keys, nil); err != nil || s.Records != 6 {
		t.Fatalf("after the sweep: %d records, %v", s.Records, err)
	}
}
