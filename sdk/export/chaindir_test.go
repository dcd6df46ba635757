package export_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// TestChainDir: ChainDir is the directory a FileSink writes a chain's
// bundles to (escaped as the origin is, "." and ".." included), whether
// or not the chain has bundles; for one that has none, the auditor of
// ExampleAuto gets ErrNoBundles from VerifyDir (taking the directory
// from the first of sink.Bundles(origin) would index an empty list).
func TestChainDir(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct{ writer, stream, rel string }{
		{"svc-index@inst-2", "index", "svc-index@inst-2/index"},
		{"w", "b/c", "w/b%2Fc"},
		{"..", ".", "%2E%2E/%2E"},
	} {
		want := filepath.Join(root, filepath.FromSlash(c.rel))
		if got := export.ChainDir(root, c.writer, c.stream); got != want {
			t.Errorf("ChainDir(%q, %q) = %s; want %s", c.writer, c.stream, got, want)
		}
		name := export.BundleName(checkpoint.Origin(c.writer, c.stream), 1, 2)
		if got := filepath.Dir(filepath.Join(root, filepath.FromSlash(name))); got != want {
			t.Errorf("FileSink's bundle of %q/%q is in %s, not ChainDir's %s", c.writer, c.stream, got, want)
		}
	}
	// A chain without bundles: no panic, ErrNoBundles.
	sink := &export.FileSink{Dir: root}
	names, err := sink.Bundles(checkpoint.Origin("w", "none"))
	if err != nil || len(names) != 0 {
		t.Fatalf("Bundles of a chain without bundles: %q, %v", names, err)
	}
	_, err = export.VerifyDir(export.ChainDir(root, "w", "none"), export.KeyVerifiers(), sdk.NewKeySet(), nil)
	if !errors.Is(err, export.ErrNoBundles) {
		t.Fatalf("VerifyDir of a chain without bundles: %v; want ErrNoBundles", err)
	}
}
