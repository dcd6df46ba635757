package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/dirtest"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestKeeperRefusesNewestOfAnotherOrigin: the newest checkpoint in a
// chain's directory whose origin line names another chain (w/b's origin
// over w/a's root at 10, signed by a key the Keeper does not hold, so
// that its signature is not checked) would pass for w/a's newest: its
// size and root are w/a's. Newest would then report it as a checkpoint
// of w/b, which export.Auto's Start catches up with (a bundle of w/b
// queued up to a root that is not w/b's, and w/a's own newest not
// queued). So it is refused before the log opens, as checkpoint.VerifyDir refuses a kept
// checkpoint of another chain (ReasonOriginMismatch).
func TestKeeperRefusesNewestOfAnotherOrigin(t *testing.T) {
	signer := testSigner(t, "keeper origin")
	base := newReplayFuzzBase(t, signer)
	root := t.TempDir()
	dirtest.Write(t, root, base.files)
	kdir := filepath.Join(root, "checkpoints")
	newest := filepath.Join(kdir, "w", "a", noteFile(10))
	cp, err := Open(base.files[filepath.Join("checkpoints", "w", "a", noteFile(10))], KeyVerifiers(signer.Public()))
	if err != nil {
		t.Fatal(err)
	}
	other := testSigner(t, "not the keeper's key")
	msg, err := Sign(Origin("w", "b"), cp.Size, cp.Root, NewNoteSigner(other, KeyName("w")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newest, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := NewKeeper(kdir, signer, KeeperOptions{Every: 4, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(filepath.Join(root, "wal"), sdk.Config{Signer: signer, Observer: k}, sdk.DurableOptions{})
	if err == nil {
		held := k.Newest()
		l.Close()
		t.Fatalf("OpenDurable accepted %s, of origin w/b, as w/a's newest checkpoint; the Keeper's newest: %+v", newest, held)
	}
	var e *Error
	if !errors.As(err, &e) || e.Reason != ReasonOriginMismatch || !errors.Is(err, ErrOriginMismatch) {
		t.Fatalf("OpenDurable: %v; want a *checkpoint.Error of ReasonOriginMismatch, as VerifyDir says", err)
	}
}
