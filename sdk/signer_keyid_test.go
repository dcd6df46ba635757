package sdk_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// lyingSigner is a Signer whose KeyID is not the id of its Public key: an
// HSM or KMS adapter with a bug.
type lyingSigner struct {
	sdk.Signer
	id sdk.KeyID
}

func (s lyingSigner) KeyID() sdk.KeyID { return s.id }

// wantKeyIDMismatch fails unless err is ErrConfig naming both the id s
// claims and the id of its public key.
func wantKeyIDMismatch(t *testing.T, what string, err error, s sdk.Signer) {
	t.Helper()
	if !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("%s with a Signer whose KeyID is not its Public key's: %v, want ErrConfig", what, err)
		return
	}
	for _, id := range []sdk.KeyID{s.KeyID(), sdk.KeyIDOf(s.Public())} {
		if !strings.Contains(err.Error(), id.String()) {
			t.Errorf("%s: %q does not name key id %s", what, err, id)
		}
	}
}

// TestSignerKeyIDMismatchRefused: nothing checked that a Signer's KeyID
// is the id of its Public key. Records carry KeyID and are verified by
// looking it up, while a rotation's transition names Public: a Signer
// whose two disagree wrote records no verifier could check, and could
// bring a retired key back under another id. New and OpenDurable now
// refuse it before the log directory is touched, and RotateKey before
// any transition is written.
func TestSignerKeyIDMismatchRefused(t *testing.T) {
	good := rotateSigner(t, "keyid good")
	liar := lyingSigner{Signer: rotateSigner(t, "keyid liar"), id: good.KeyID()}

	nl, err := sdk.New(sdk.Config{Signer: liar})
	if nl != nil {
		nl.Close()
	}
	wantKeyIDMismatch(t, "New", err, liar)

	dir := filepath.Join(t.TempDir(), "wal")
	dl, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: liar}, sdk.DurableOptions{})
	if dl != nil {
		dl.Close()
	}
	wantKeyIDMismatch(t, "OpenDurable", err, liar)
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenDurable with that Signer made %s: %v", dir, err)
	}

	// RotateKey: next claims a fresh id but holds the key it retires,
	// which the retired-key rule, checking KeyID, would have let sign
	// the chain again.
	l, err := sdk.New(sdk.Config{Signer: good})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	coreAppend(t, l, 3)
	back := lyingSigner{Signer: good, id: rotateSigner(t, "keyid fresh").KeyID()}
	_, err = l.RotateKey(back)
	wantKeyIDMismatch(t, "RotateKey", err, back)
	if h, _ := l.Head("svc-gateway@inst-1", "reads"); h.Seq != 3 {
		t.Errorf("refused RotateKey left the chain at seq %d, want 3 (no transition)", h.Seq)
	}
	if l.Keys().Len() != 1 {
		t.Errorf("refused RotateKey left %d keys in Keys, want 1", l.Keys().Len())
	}
}

// countingSigner counts the calls to Public: the KeyID check hashes it.
type countingSigner struct {
	sdk.Signer
	public *atomic.Int64
}

func (s countingSigner) Public() ed25519.PublicKey { s.public.Add(1); return s.Signer.Public() }

// TestSignerKeyIDCheckedOncePerConfig: the check costs a hash of the
// public key per New or RotateKey, never one per Append.
func TestSignerKeyIDCheckedOncePerConfig(t *testing.T) {
	var n atomic.Int64
	l, err := sdk.New(sdk.Config{Signer: countingSigner{rotateSigner(t, "keyid count"), &n}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := n.Load()
	coreAppend(t, l, 100)
	if got := n.Load() - before; got != 0 {
		t.Errorf("100 appends called Public %d times, want 0", got)
	}
}
