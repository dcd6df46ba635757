//go:build unix

package export

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyDirVerdictBeforeLaterUnreadable: VerifyDir verifies a chain's
// bundles one at a time, in order, reading each when its turn comes. A
// damaged first bundle is its verdict (ErrRecord, naming it), even when a
// later bundle cannot be read (a symbolic link to nothing: no verdict,
// exit 3 in ronaudit): evidence of tampering is not hidden behind an I/O
// error about a later file. Reading every bundle before verifying the
// first also held them all in memory at once, the whole history of a
// chain, where one at a time holds one.
func TestVerifyDirVerdictBeforeLaterUnreadable(t *testing.T) {
	signer := newSigner(t, 1)
	vs, keys := verifiersOf(signer)
	recs := genRecords(t, signer, 6, plain)
	bundles := exportSplits(t, signer, recs, 3, 6)
	dir := t.TempDir()
	first := bytes.Clone(bundles[0])
	off := recordOffset(t, first, 1)
	first[off+recordHead] ^= 1 // a canonical byte of seq 2: its CRC-32C fails
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000001-00000000000000000003.bundle"), first, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone"), filepath.Join(dir, "00000000000000000004-00000000000000000006.bundle")); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyDir(dir, vs, keys, nil)
	e := wantReason(t, err, ErrRecord, "VerifyDir")
	if e.Bundle != "00000000000000000001-00000000000000000003.bundle" || e.Seq != 2 {
		t.Fatalf("VerifyDir: %v, want the record seq 2 of the first bundle", err)
	}
}
