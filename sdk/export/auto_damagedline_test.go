package export

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestAutoRefusesPrevWithDamagedKeyLine: the newest bundle of a chain,
// whose checkpoint Auto's next bundle carries as its previous one, has
// the Keeper's signature line with its key name or key hash damaged on
// disk. That line reads as a key nobody holds, so Auto took the note for
// one signed by keys it does not hold and continued from it: the next
// bundle carried a checkpoint no verifier accepts, with Close nil. The
// Keeper refuses such a kept checkpoint as bad_signature (damagedOwn);
// Auto must refuse the bundle as it refuses a signature that does not
// verify. A previous bundle whose note is signed only by another key (a
// NoteSigner's, a stranger's) is left to the verifier, as before.
func TestAutoRefusesPrevWithDamagedKeyLine(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "someone else")
	stranger, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	flipName := func(name string, raw []byte) (string, []byte) {
		return strings.Replace(name, "ron-audit/", "ron-aFdit/", 1), raw
	}
	for _, c := range []struct {
		name string
		edit func(t *testing.T, msg []byte) []byte
		bad  bool // Auto must refuse it
	}{
		{name: "key name", bad: true, edit: func(t *testing.T, msg []byte) []byte { return editLine(t, msg, flipName) }},
		{name: "key hash", bad: true, edit: func(t *testing.T, msg []byte) []byte {
			return editLine(t, msg, func(name string, raw []byte) (string, []byte) { raw[1] ^= 0x10; return name, raw })
		}},
		{name: "key name and signature", bad: true, edit: func(t *testing.T, msg []byte) []byte {
			return editLine(t, msg, func(name string, raw []byte) (string, []byte) { raw[4+10] ^= 0x01; return flipName(name, raw) })
		}},
		{name: "signed by a stranger", edit: func(t *testing.T, msg []byte) []byte {
			text, _, _ := strings.Cut(string(msg), "\n\n")
			out, err := note.Sign(&note.Note{Text: text + "\n"}, checkpoint.NewNoteSigner(stranger, checkpoint.KeyName("w")))
			if err != nil {
				t.Fatal(err)
			}
			return out
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			signer := restartSigner(t)
			l, k, auto, sink := openWithAuto(t, dir, signer, 5, 0)
			appendN(t, l, 0, 5, 0) // checkpoint and bundle 1-5
			l.Close()
			k.Close()
			if err := auto.Close(); err != nil {
				t.Fatal(err)
			}
			paths, err := sink.Bundles(checkpoint.Origin("w", "s"))
			if err != nil || len(paths) != 1 {
				t.Fatalf("bundles %v, %v", paths, err)
			}
			data := mutate(t, mustRead(t, paths[0]), func(b *Bundle) { b.Note = c.edit(t, bytes.Clone(b.Note)) })
			if err := os.WriteFile(paths[0], data, 0o600); err != nil {
				t.Fatal(err)
			}

			l, k, auto, _ = openWithAuto(t, dir, signer, 5, 0)
			appendN(t, l, 5, 5, 0) // checkpoint at 10: a bundle 6-10 would carry the edited checkpoint
			l.Close()
			k.Close()
			err = auto.Close()
			if !c.bad {
				if err != nil {
					t.Fatalf("Auto.Close: %v; want nil for a previous bundle signed by another key (left to the verifier)", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Origin != checkpoint.Origin("w", "s") || e.Reason != ReasonBadCheckpoint || !errors.Is(err, checkpoint.ErrBadSignature) {
				t.Fatalf("Auto.Close: %v (%T); want an *export.Error of reason bad_checkpoint naming w/s, a bad signature; w/s bundles: %v", err, err, mustBundles(t, sink, "w", "s"))
			}
		})
	}
}

// editLine returns msg, a signed note, with its first signature line's
// key name and raw (key hash and signature) replaced by edit's.
func editLine(t *testing.T, msg []byte, edit func(name string, raw []byte) (string, []byte)) []byte {
	t.Helper()
	text, sigs, ok := strings.Cut(string(msg), "\n\n")
	line, rest, _ := strings.Cut(sigs, "\n")
	body, isSig := strings.CutPrefix(line, "\u2014 ")
	sp := strings.LastIndexByte(body, ' ')
	if !ok || !isSig || sp < 0 {
		t.Fatalf("not a signed note: %q", msg)
	}
	raw, err := base64.StdEncoding.DecodeString(body[sp+1:])
	if err != nil || len(raw) != 4+64 {
		t.Fatalf("signature line %q: %v", line, err)
	}
	name, raw := edit(body[:sp], raw)
	return []byte(text + "\n\n\u2014 " + name + " " + base64.StdEncoding.EncodeToString(raw) + "\n" + rest)
}
