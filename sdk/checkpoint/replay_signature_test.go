package checkpoint

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// flipNoteSig flips a bit of the Ed25519 signature (past the 4-byte key
// hash) of the first signature line of the note at path, in its one
// base64 spelling: the note still parses, and its signature by the key
// hash's key no longer verifies.
func flipNoteSig(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text, sigs, ok := strings.Cut(string(b), "\n\n")
	if !ok {
		t.Fatalf("%s: not a signed note", path)
	}
	line, rest, _ := strings.Cut(sigs, "\n")
	sp := strings.LastIndexByte(line, ' ')
	raw, err := base64.StdEncoding.DecodeString(line[sp+1:])
	if err != nil || len(raw) != 4+64 {
		t.Fatalf("%s: signature line %q: %v", path, line, err)
	}
	raw[4+10] ^= 0x01
	out := text + "\n\n" + line[:sp+1] + base64.StdEncoding.EncodeToString(raw) + "\n" + rest
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenDurableRefusesBadNewestSignature: a newest kept checkpoint whose
// signature by the key in force at its size (held by the Keeper) does not
// verify is refused when the log is opened (ErrBadSignature, naming the
// file), as VerifyDir refuses it, instead of being extended and signed on
// top of; the log and the history stay as they were.
func TestOpenDurableRefusesBadNewestSignature(t *testing.T) {
	signer := keeperSigner(t)
	dir := t.TempDir()
	wdir := filepath.Join(dir, "wal")
	cdir := filepath.Join(wdir, "checkpoints") // where VerifyDir reads them
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
	newest := filepath.Join(cdir, dirName("svc@inst-1"), "caps", noteFile(7))
	flipNoteSig(t, newest)
	if _, err := VerifyDir(wdir, []ed25519.PublicKey{signer.Public()}, DirOptions{}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyDir of the flipped note: %v", err)
	}

	k2, _ := NewKeeper(cdir, signer, KeeperOptions{Every: 5, Interval: -1})
	l2, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k2}, sdk.DurableOptions{})
	var e *Error
	if !errors.Is(err, ErrBadSignature) || !errors.As(err, &e) || !strings.Contains(err.Error(), newest) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("OpenDurable on a newest checkpoint with a bad signature: %v, want ErrBadSignature naming %s", err, newest)
	}
	if err := k2.Close(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Keeper.Close after the refusal: %v, want ErrBadSignature (nothing signed on top)", err)
	}
	if paths, _ := HistoryPaths(cdir, "svc@inst-1", "caps"); len(paths) != 2 {
		t.Fatalf("history %v: want the 2 checkpoints, nothing added", paths)
	}
}

// TestOpenDurableOldKeyNoteAfterRotation: after a rotation, a Keeper
// given only the new key opens a log whose newest checkpoint, at a size
// up to the transition, is by the old key, which it does not hold: no
// signature check it cannot make, no refusal; and it signs on top of it.
func TestOpenDurableOldKeyNoteAfterRotation(t *testing.T) {
	k1, k2 := rotationKey(t, "keeper test key"), rotationKey(t, "the next key")
	dir := t.TempDir()
	wdir := filepath.Join(dir, "wal")
	cdir := filepath.Join(wdir, "checkpoints") // where VerifyDir reads them
	keys := sdk.NewKeySet(k1.Public(), k2.Public())

	// Records 1..3 and their checkpoint at 3 by k1; a rotation to k2 (its
	// transition at seq 4) with no Keeper watching, so the newest kept
	// checkpoint is k1's at 3.
	k, _ := NewKeeper(cdir, k1, KeeperOptions{Every: 100, Interval: -1})
	l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1, Observer: k}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	keeperAppend(t, l, 0, 3)
	l.Close()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	bare, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k1}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.RotateKey(k2); err != nil {
		t.Fatal(err)
	}
	bare.Close()

	kn, _ := NewKeeper(cdir, k2, KeeperOptions{Every: 100, Interval: -1})
	ln, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: k2, Observer: kn}, sdk.DurableOptions{Keys: keys})
	if err != nil {
		t.Fatalf("reopened with only the new key: %v", err)
	}
	if s := kn.SignerAt("svc@inst-1", "caps", 3); s != nil {
		t.Fatalf("the Keeper holds the key in force at 3 (%v): the test checks nothing", s.KeyID())
	}
	keeperAppend(t, ln, 3, 2)
	ln.Close()
	if err := kn.Close(); err != nil {
		t.Fatalf("Keeper.Close: %v", err)
	}
	if paths, _ := HistoryPaths(cdir, "svc@inst-1", "caps"); len(paths) != 2 || !strings.HasSuffix(paths[1], noteFile(6)) {
		t.Fatalf("history %v: want the checkpoints at 3 (k1) and 6 (k2)", paths)
	}
	if _, err := VerifyDir(wdir, []ed25519.PublicKey{k1.Public()}, DirOptions{}); err != nil {
		t.Fatalf("VerifyDir: %v", err)
	}
}
