package checkpoint

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// VerifyKept and KeptDir: the rules VerifyDir follows, for a caller that
// verifies one chain (ronaudit checkpoint and export).

// verifiedTree verifies chain (vdWriter, vdStream) of the log in wdir with
// pubs, as sdk.VerifyDirChain does, and returns its tree and transitions.
func verifiedTree(t *testing.T, wdir string, pubs []ed25519.PublicKey) (*Tree, []sdk.Retirement) {
	t.Helper()
	tree := NewTree()
	res, err := sdk.VerifyDirChain(wdir, vdWriter, vdStream, sdk.NewKeySet(pubs...), true, func(r sdk.Sealed) { tree.Append(r.Hash) })
	if err != nil {
		t.Fatal(err)
	}
	return tree, res.Retired
}

// TestVerifyKeptAgreesWithVerifyDir: on a rotated, Keeper-sealed log whose
// kept checkpoints are tampered with in each way VerifyDir refuses or sets
// aside, VerifyKept of the chain reaches the same verdict: the same seal,
// the same unused files, the same *DirError (chain, size, file, reason,
// message). They are one rule.
func TestVerifyKeptAgreesWithVerifyDir(t *testing.T) {
	k1, k2 := rotationKey(t, "verifydir first key"), rotationKey(t, "verifydir second key")
	stranger := rotationKey(t, "someone else")
	sign := func(s *sdk.Ed25519Signer, origin string, size int64, root tlog.Hash) []byte {
		t.Helper()
		msg, err := Sign(origin, size, root, NewNoteSigner(s, KeyName(vdWriter)))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	write := func(path string, msg []byte) {
		t.Helper()
		if err := os.WriteFile(path, msg, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		tamper func(wdir string, tree *Tree) // nil: as the Keeper left it
		target error                         // nil: it holds
		seq    uint64                        // of the *DirError
		sealed int64
		unused []int64 // sizes of the kept checkpoints set aside
	}{
		{name: "as kept", sealed: 7},
		{name: "retired key past its transition", target: ErrRetiredKey, seq: 7, sealed: 6, tamper: func(wdir string, tree *Tree) {
			write(notePath(wdir, 7), sign(k1, Origin(vdWriter, vdStream), 7, tree.Root()))
		}},
		{name: "signed by a stranger", sealed: 7, unused: []int64{2}, tamper: func(wdir string, tree *Tree) {
			root, _ := tree.RootAt(2)
			write(notePath(wdir, 2), sign(stranger, Origin(vdWriter, vdStream), 2, root))
		}},
		{name: "of another chain", target: ErrOriginMismatch, seq: 5, sealed: 3, tamper: func(wdir string, tree *Tree) {
			root, _ := tree.RootAt(5)
			write(notePath(wdir, 5), sign(k2, Origin(vdWriter, "other"), 5, root))
		}},
		{name: "forked", target: ErrFork, seq: 5, sealed: 3, tamper: func(wdir string, tree *Tree) {
			write(notePath(wdir, 5), sign(k2, Origin(vdWriter, vdStream), 5, tlog.Hash{1}))
		}},
		{name: "rolled back", target: ErrRollback, seq: 9, sealed: 7, tamper: func(wdir string, tree *Tree) {
			write(notePath(wdir, 9), sign(k2, Origin(vdWriter, vdStream), 9, tlog.Hash{1}))
		}},
		{name: "bad signature", target: ErrBadSignature, seq: 6, sealed: 3, tamper: func(wdir string, tree *Tree) {
			msg, err := os.ReadFile(notePath(wdir, 6))
			if err != nil {
				t.Fatal(err)
			}
			i := len(msg) - 6 // in the base64 of the signature, past the key hash
			if msg[i] == 'A' {
				msg[i] = 'B'
			} else {
				msg[i] = 'A'
			}
			write(notePath(wdir, 6), msg)
		}},
		{name: "not a file", target: ErrFormat, seq: 6, sealed: 3, tamper: func(wdir string, tree *Tree) {
			if err := os.Remove(notePath(wdir, 6)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(notePath(wdir, 6), 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wdir := sealedLog(t, t.TempDir(), 0, 6, k2) // 7 records: checkpoints at 3 (k1), 6 and 7 (k2)
			tree, retired := verifiedTree(t, wdir, keysOf(k1))
			if c.tamper != nil {
				c.tamper(wdir, tree)
			}
			var unused []string
			for _, n := range c.unused {
				unused = append(unused, notePath(wdir, n))
			}
			sealed, gotUnused, err := VerifyKept(wdir, vdWriter, vdStream, tree, keysOf(k1), retired)
			dir, dirErr := VerifyDir(wdir, keysOf(k1), DirOptions{})
			if c.target == nil {
				if err != nil || dirErr != nil {
					t.Fatalf("VerifyKept: %v; VerifyDir: %v; want both to hold", err, dirErr)
				}
				if dir.Heads[0].SealedSeq != uint64(c.sealed) || !slices.Equal(dir.Unused, unused) {
					t.Errorf("VerifyDir sealed %d unused %v, want %d %v", dir.Heads[0].SealedSeq, dir.Unused, c.sealed, unused)
				}
			} else {
				wantDirError(t, err, c.seq, notePath(wdir, int64(c.seq)), c.target)
				wantDirError(t, dirErr, c.seq, notePath(wdir, int64(c.seq)), c.target)
				if err.Error() != dirErr.Error() {
					t.Errorf("VerifyKept says %q, VerifyDir %q", err, dirErr)
				}
			}
			if sealed != c.sealed || !slices.Equal(gotUnused, unused) {
				t.Errorf("VerifyKept sealed %d unused %v, want %d %v", sealed, gotUnused, c.sealed, unused)
			}
		})
	}
}

// TestVerifyKeptNothingToCheck: a chain with no kept checkpoint, and a log
// that keeps none, seal nothing and fail nothing; with no keys every kept
// checkpoint is unused, none checked (a forged one included).
func TestVerifyKeptNothingToCheck(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	wdir := sealedLog(t, t.TempDir(), 0, 4, nil) // checkpoints at 3 and 4
	tree, retired := verifiedTree(t, wdir, keysOf(k1))
	if sealed, unused, err := VerifyKept(wdir, vdWriter, "no such stream", NewTree(), keysOf(k1), nil); sealed != 0 || unused != nil || err != nil {
		t.Errorf("a chain without history: %d %v %v, want 0, none, nil", sealed, unused, err)
	}
	if err := os.WriteFile(notePath(wdir, 4), []byte("not a checkpoint"), 0o600); err != nil {
		t.Fatal(err)
	}
	sealed, unused, err := VerifyKept(wdir, vdWriter, vdStream, tree, nil, retired)
	if want := []string{notePath(wdir, 3), notePath(wdir, 4)}; sealed != 0 || !slices.Equal(unused, want) || err != nil {
		t.Errorf("no keys: %d %v %v, want 0, %v, nil", sealed, unused, err, want)
	}
	if _, _, err := VerifyKept(wdir, vdWriter, vdStream, tree, keysOf(k1), retired); !errors.Is(err, ErrFormat) {
		t.Errorf("with the key: %v, want the forged checkpoint refused (format)", err)
	}
	if err := os.RemoveAll(filepath.Join(wdir, "checkpoints")); err != nil {
		t.Fatal(err)
	}
	if sealed, unused, err := VerifyKept(wdir, vdWriter, vdStream, tree, keysOf(k1), retired); sealed != 0 || unused != nil || err != nil {
		t.Errorf("no checkpoints kept: %d %v %v, want 0, none, nil", sealed, unused, err)
	}
}

// TestKeptDir: dir/checkpoints when it is a directory; "" when the log
// keeps none (no such path; the log is not a directory, or not there);
// a *DirError naming it, as VerifyDir and VerifyKept fail, when it is
// there and cannot be read as a directory, a broken link to one included.
func TestKeptDir(t *testing.T) {
	k1 := rotationKey(t, "verifydir first key")
	wdir := sealedLog(t, t.TempDir(), 0, 3, nil)
	cpDir := filepath.Join(wdir, "checkpoints")
	if got, err := KeptDir(wdir); got != cpDir || err != nil {
		t.Errorf("KeptDir = %q, %v; want %q", got, err, cpDir)
	}
	seg := filepath.Join(wdir, "0000000000000001.seg")
	for _, dir := range []string{seg, filepath.Join(wdir, "none")} {
		if got, err := KeptDir(dir); got != "" || err != nil {
			t.Errorf("KeptDir(%s) = %q, %v; want none kept", dir, got, err)
		}
	}
	saved := filepath.Join(t.TempDir(), "saved")
	if err := os.Rename(cpDir, saved); err != nil {
		t.Fatal(err)
	}
	if got, err := KeptDir(wdir); got != "" || err != nil {
		t.Errorf("no checkpoints path: %q, %v; want none kept", got, err)
	}
	tree, retired := verifiedTree(t, wdir, keysOf(k1))
	for name, mk := range map[string]func() error{
		"dangling link": func() error { return os.Symlink(filepath.Join(t.TempDir(), "gone"), cpDir) },
		"regular file":  func() error { return os.WriteFile(cpDir, []byte("x"), 0o600) },
	} {
		if err := mk(); err != nil {
			t.Fatal(err)
		}
		got, err := KeptDir(wdir)
		var de *DirError
		if got != "" || !errors.As(err, &de) || de.Path != cpDir || de.WriterID != "" || de.Stream != "" ||
			!strings.Contains(err.Error(), cpDir+" is not a directory that can be read") {
			t.Errorf("%s: KeptDir = %q, %T %v; want a *DirError naming %s", name, got, err, err, cpDir)
		}
		_, _, kerr := VerifyKept(wdir, vdWriter, vdStream, tree, keysOf(k1), retired)
		_, verr := VerifyDir(wdir, keysOf(k1), DirOptions{AllowUnsealedTail: true})
		if kerr == nil || verr == nil || kerr.Error() != err.Error() || verr.Error() != err.Error() {
			t.Errorf("%s: VerifyKept: %v; VerifyDir: %v; want KeptDir's %v", name, kerr, verr, err)
		}
		if err := os.Remove(cpDir); err != nil {
			t.Fatal(err)
		}
	}
}
