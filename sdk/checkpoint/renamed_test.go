package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyDirRefusesRenamedCheckpoint: a kept checkpoint's file name
// is its size (the Keeper reads the newest by name, and signs nothing
// up to it). The name is not signed: the newest checkpoint renamed to a
// larger size verified (its content holds), and a Keeper reopened on it
// took the chain as checkpointed up to the name's size, writing no
// checkpoint below it. VerifyDir now refuses a file whose name is not
// its checkpoint's size (ReasonFormat, naming the file), and so does
// the Keeper when the log is opened.
func TestVerifyDirRefusesRenamedCheckpoint(t *testing.T) {
	signer := keeperSigner(t)
	wdir := filepath.Join(t.TempDir(), "wal")
	cdir := filepath.Join(wdir, "checkpoints")
	k, _ := NewKeeper(cdir, signer, KeeperOptions{Every: 5, Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 7)
	l.Close()
	if err := k.Close(); err != nil { // checkpoints at 5 and 7
		t.Fatal(err)
	}
	pubs := []ed25519.PublicKey{signer.Public()}
	if _, err := VerifyDir(wdir, pubs, DirOptions{}); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	chainDir := filepath.Join(cdir, dirName("svc@inst-1"), "caps")
	renamed := filepath.Join(chainDir, noteFile(999))
	if err := os.Rename(filepath.Join(chainDir, noteFile(7)), renamed); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyDir(wdir, pubs, DirOptions{})
	var de *DirError
	if !errors.Is(err, ErrFormat) || !errors.As(err, &de) || de.Path != renamed {
		t.Fatalf("VerifyDir with the checkpoint at 7 named for 999: %v; want ErrFormat naming %s", err, renamed)
	}
	t.Log(err)

	k2, _ := NewKeeper(cdir, signer, KeeperOptions{Every: 5, Interval: -1})
	l2, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k2}, sdk.DurableOptions{})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), renamed) {
		if l2 != nil {
			l2.Close()
		}
		k2.Close()
		t.Fatalf("OpenDurable with the newest checkpoint named for 999: %v; want ErrFormat naming %s", err, renamed)
	}
	k2.Close()
}
