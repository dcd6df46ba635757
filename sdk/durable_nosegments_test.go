package sdk_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// TestVerifyDirNoSegments: a directory with no segment file is no log
// Open wrote (it creates segment 1 at once): a wrong path, or a log whose
// segments are all gone. VerifyDir and VerifyDirChain said it held
// nothing wrong (0 records, no error), so a caller that did not look at
// Summary.WAL.Segments took a log with every record deleted for a good
// one; they now fail with a *DurableError wrapping a *wal.CorruptError
// naming the missing first segment.
func TestVerifyDirNoSegments(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o700); err != nil {
		t.Fatal(err)
	}
	seg1 := filepath.Join(dir, wal.SegmentName(1))
	check := func(what string, err error) {
		t.Helper()
		var ce *wal.CorruptError
		if !errors.Is(err, sdk.ErrDurable) || !errors.As(err, &ce) || ce.File != seg1 || !strings.Contains(err.Error(), "no segment files") {
			t.Fatalf("%s of a directory without segments: %v, want a *DurableError naming %s", what, err, seg1)
		}
	}
	_, err := sdk.VerifyDir(dir, nil, true, nil)
	check("VerifyDir", err)
	_, err = sdk.VerifyDirChain(dir, "w", "s", nil, true, nil)
	check("VerifyDirChain", err)

	// A log Open made, with no record yet, holds segment 1 and verifies.
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: coreSigner(t)}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if sum, err := sdk.VerifyDir(dir, nil, false, nil); err != nil || sum.WAL.Segments != 1 || sum.Records != 0 {
		t.Fatalf("an empty log: %+v %v", sum, err)
	}
}
