//go:build unix

package export

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestChainDirBrokenLink: a chain directory that is a symbolic link to
// nothing (its target moved, a volume unmounted) holds bundles nobody can
// see. Taken for a directory not there, it would make the sink's Latest,
// Bundles and Prev say "no bundles" (an Auto would start the chain over)
// and VerifyDir say it holds none; so each fails with a
// *checkpoint.BrokenLinkError naming the link, which does not match
// fs.ErrNotExist. A chain directory simply not there still has none.
func TestChainDirBrokenLink(t *testing.T) {
	out := t.TempDir()
	sink := &FileSink{Dir: out}
	origin := checkpoint.Origin(testWriter, testStream)
	if st, err := sink.Prev(testWriter, testStream); st != nil || err != nil {
		t.Fatalf("Prev of a chain not there: %v %v", st, err)
	}
	if paths, err := sink.Bundles(origin); paths != nil || err != nil {
		t.Fatalf("Bundles of a chain not there: %v %v", paths, err)
	}
	chain := filepath.Join(out, filepath.FromSlash(chainDir(origin)))
	if err := os.MkdirAll(filepath.Dir(chain), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone"), chain); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		var bl *checkpoint.BrokenLinkError
		if !errors.As(err, &bl) || bl.Path != chain || errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s of a chain directory linked to nothing: %v, want a *BrokenLinkError naming %s", what, err, chain)
		}
	}
	_, err := ListDir(chain)
	check("ListDir", err)
	_, err = sink.Bundles(origin)
	check("Bundles", err)
	_, err = sink.Latest(origin)
	check("Latest", err)
	_, err = sink.Prev(testWriter, testStream)
	check("Prev", err)
	_, err = VerifyDir(chain, nil, nil, nil)
	check("VerifyDir", err)
}
