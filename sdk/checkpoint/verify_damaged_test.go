package checkpoint

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestVerifyDirDamagedOwnLine: the writer's side (Keeper, OpenDurable,
// MaySign) refuses a kept checkpoint whose signature line is its key's
// with the key name or key hash damaged (damagedOwn) as bad_signature
// naming the file. VerifyDir and VerifyKept listed the same note as
// signed by none of the keys (Unused), and the chain's records then
// failed as an unsealed tail, which does not name the damaged file. A
// line that is a trusted key's (given, or named by a verified transition
// of the chain) damaged is bad_signature naming the file in both; a note
// signed only by a key not trusted, its line damaged or not, stays
// unused; and one co-signed by a witness key the verifier does not have
// holds by the trusted signature.
func TestVerifyDirDamagedOwnLine(t *testing.T) {
	k1, k2 := rotationKey(t, "verifydir first key"), rotationKey(t, "verifydir second key")
	stranger, witness := rotationKey(t, "someone else"), rotationKey(t, "a witness")
	flipName := func(name string, raw []byte) (string, []byte) {
		return strings.Replace(name, "ron-audit/", "ron-aFdit/", 1), raw
	}
	flipHash := func(name string, raw []byte) (string, []byte) { raw[1] ^= 0x10; return name, raw }
	flipNameAndSig := func(name string, raw []byte) (string, []byte) {
		raw[4+10] ^= 0x01
		return flipName(name, raw)
	}
	// resign replaces the kept checkpoint of size n with one of the same
	// text signed by signers, in that order.
	resign := func(t *testing.T, wdir string, n int64, signers ...*sdk.Ed25519Signer) {
		t.Helper()
		b, err := os.ReadFile(notePath(wdir, n))
		if err != nil {
			t.Fatal(err)
		}
		text, _, _ := strings.Cut(string(b), "\n\n")
		var ns []note.Signer
		for _, s := range signers {
			ns = append(ns, NewNoteSigner(s, KeyName(vdWriter)))
		}
		msg, err := note.Sign(&note.Note{Text: text + "\n"}, ns...)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(notePath(wdir, n), msg, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, wdir string)
		seq    uint64 // of the bad_signature *DirError; 0: it holds
		says   string
		unused []int64 // when it holds
		sealed uint64
	}{
		{name: "key name of the given key", seq: 3, says: `signature line of key "ron-aFdit/svc@inst-1"`, tamper: func(t *testing.T, wdir string) {
			editSigLine(t, notePath(wdir, 3), flipName)
		}},
		{name: "key hash of the given key", seq: 3, says: "its signature verifies by key " + k1.KeyID().String(), tamper: func(t *testing.T, wdir string) {
			editSigLine(t, notePath(wdir, 3), flipHash)
		}},
		{name: "key name and signature of the given key", seq: 3, says: "key hash of key " + k1.KeyID().String(), tamper: func(t *testing.T, wdir string) {
			editSigLine(t, notePath(wdir, 3), flipNameAndSig)
		}},
		{name: "key name of the key the transition named, newest", seq: 7, says: "its signature verifies by key " + k2.KeyID().String(), tamper: func(t *testing.T, wdir string) {
			editSigLine(t, notePath(wdir, 7), flipName)
		}},
		{name: "key name of the given key, witness co-signed", seq: 3, says: "its signature verifies by key " + k1.KeyID().String(), tamper: func(t *testing.T, wdir string) {
			resign(t, wdir, 3, k1, witness)
			editSigLine(t, notePath(wdir, 3), flipName)
		}},
		{name: "co-signed by a witness not given", sealed: 7, tamper: func(t *testing.T, wdir string) {
			resign(t, wdir, 3, k1, witness)
		}},
		{name: "witness only", sealed: 7, unused: []int64{3}, tamper: func(t *testing.T, wdir string) {
			resign(t, wdir, 3, witness)
		}},
		{name: "key name of a stranger", sealed: 7, unused: []int64{3}, tamper: func(t *testing.T, wdir string) {
			resign(t, wdir, 3, stranger)
			editSigLine(t, notePath(wdir, 3), flipName)
		}},
		{name: "key name and signature of a stranger", sealed: 7, unused: []int64{3}, tamper: func(t *testing.T, wdir string) {
			resign(t, wdir, 3, stranger)
			editSigLine(t, notePath(wdir, 3), flipNameAndSig)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wdir := sealedLog(t, t.TempDir(), 0, 6, k2) // 7 records: checkpoints at 3 (k1), 6 and 7 (k2)
			tree, retired := verifiedTree(t, wdir, keysOf(k1))
			c.tamper(t, wdir)
			dir, dirErr := VerifyDir(wdir, keysOf(k1), DirOptions{})
			_, unused, keptErr := VerifyKept(wdir, vdWriter, vdStream, tree, keysOf(k1), retired)
			if c.seq == 0 {
				var want []string
				for _, n := range c.unused {
					want = append(want, notePath(wdir, n))
				}
				if dirErr != nil || keptErr != nil {
					t.Fatalf("VerifyDir: %v; VerifyKept: %v; want both to hold", dirErr, keptErr)
				}
				if dir.Heads[0].SealedSeq != c.sealed || !slices.Equal(dir.Unused, want) || !slices.Equal(unused, want) {
					t.Errorf("VerifyDir sealed %d unused %v, VerifyKept unused %v; want %d %v", dir.Heads[0].SealedSeq, dir.Unused, unused, c.sealed, want)
				}
				return
			}
			for _, got := range []struct {
				what string
				err  error
			}{{"VerifyDir", dirErr}, {"VerifyKept", keptErr}} {
				t.Logf("%s: %v", got.what, got.err)
				if errors.Is(got.err, sdk.ErrUnsealedTail) {
					t.Fatalf("%s: %v; want bad_signature naming %s, not an unsealed tail", got.what, got.err, notePath(wdir, int64(c.seq)))
				}
				wantDirError(t, got.err, c.seq, notePath(wdir, int64(c.seq)), ErrBadSignature)
				if msg := got.err.Error(); !strings.Contains(msg, "is damaged or was tampered with, not another key's") || !strings.Contains(msg, c.says) {
					t.Errorf("%s: %q does not say the line is damaged, nor %q", got.what, msg, c.says)
				}
			}
			if dirErr.Error() != keptErr.Error() {
				t.Errorf("VerifyDir says %q, VerifyKept %q", dirErr, keptErr)
			}
		})
	}
}
