package checkpoint

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// editSigLine rewrites the first signature line of the note at path:
// edit gets its key name and its decoded key hash and signature, and
// returns the name and bytes written back (in the one base64 spelling).
func editSigLine(t *testing.T, path string, edit func(name string, raw []byte) (string, []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text, sigs, ok := strings.Cut(string(b), "\n\n")
	line, rest, _ := strings.Cut(sigs, "\n")
	body, isSig := strings.CutPrefix(line, "\u2014 ")
	sp := strings.LastIndexByte(body, ' ')
	if !ok || !isSig || sp < 0 {
		t.Fatalf("%s: not a signed note: %q", path, b)
	}
	raw, err := base64.StdEncoding.DecodeString(body[sp+1:])
	if err != nil || len(raw) != 4+64 {
		t.Fatalf("%s: signature line %q: %v", path, line, err)
	}
	name, raw := edit(body[:sp], raw)
	out := text + "\n\n\u2014 " + name + " " + base64.StdEncoding.EncodeToString(raw) + "\n" + rest
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedNewestIsNotAnotherKeys: since a checkpoint-sealed chain's
// newest kept checkpoint says which key holds it (see Keeper), one that
// bears no signature by the Keeper's key reads as another key's:
// OpenDurable's Append refuses with sdk.ErrConfig, "sealed by a key
// other than ...: open the log with the key that sealed it". A byte
// flipped in that checkpoint's signature line (its key name, or its key
// hash) read the same, sending the operator after a key that does not
// exist. A signature line that is the Keeper's key's all the same (its
// Ed25519 signature verifies by that key, or its key hash is that key's
// under the Keeper's key name) is damage: the open is refused with
// ErrBadSignature naming the file, as for a signature by the key's hash
// that does not verify, and sdk.MaySign (checkpoint, export) and
// OpenDurable with no Keeper as Observer (which reads the checkpoints
// kept with the log as MaySign does) refuse the same. A note by another
// key, intact, still reads as that key's.
func TestDamagedNewestIsNotAnotherKeys(t *testing.T) {
	const writer, stream = "svc@inst-1", "caps"
	signer, other := keeperSigner(t), rotationKey(t, "damaged newest other")
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, path string)
		want error // nil: intact, another key's (sdk.ErrConfig at Append)
		says string
	}{
		{"key name", func(t *testing.T, path string) {
			editSigLine(t, path, func(name string, raw []byte) (string, []byte) {
				return strings.Replace(name, "ron-audit/", "ron-aFdit/", 1), raw
			})
		}, ErrBadSignature, `"ron-aFdit/svc@inst-1"`},
		{"key hash", func(t *testing.T, path string) {
			editSigLine(t, path, func(name string, raw []byte) (string, []byte) {
				raw[1] ^= 0x10
				return name, raw
			})
		}, ErrBadSignature, "its signature verifies by key " + signer.KeyID().String()},
		{"key name and signature", func(t *testing.T, path string) {
			editSigLine(t, path, func(name string, raw []byte) (string, []byte) {
				raw[4+10] ^= 0x01
				return strings.Replace(name, "ron-audit/", "ron-aFdit/", 1), raw
			})
		}, ErrBadSignature, `key hash of key ` + signer.KeyID().String() + ` under "ron-audit/svc@inst-1"`},
		{"signature", func(t *testing.T, path string) { flipNoteSig(t, path) }, ErrBadSignature, "signature by key"},
		{"truncated", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b[:len(b)-12], 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrFormat, "not a signed note"},
		{"another key", func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := Open(b, KeyVerifiers(signer.Public()))
			if err != nil {
				t.Fatal(err)
			}
			msg, err := Sign(cp.Origin, cp.Size, cp.Root, NewNoteSigner(other, KeyName(writer)))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, msg, 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil, "sealed by a key other than " + signer.KeyID().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wdir := filepath.Join(t.TempDir(), "wal")
			cdir := filepath.Join(wdir, "checkpoints")
			open := func() (*Keeper, *sdk.Log, error) {
				k, err := NewKeeper(cdir, signer, KeeperOptions{Every: 1000, Interval: -1})
				if err != nil {
					t.Fatal(err)
				}
				l, _, err := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, Observer: k, SealEvery: 1000}, sdk.DurableOptions{})
				return k, l, err
			}
			k, l, err := open()
			if err != nil {
				t.Fatal(err)
			}
			keeperAppend(t, l, 0, 3)
			if err := errors.Join(l.Close(), k.Close()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(cdir, dirName(writer), dirName(stream), noteFile(3))
			tc.edit(t, path)
			before, _ := os.ReadFile(path)

			mayErr := sdk.MaySign(wdir, signer.Public(), nil, writer, stream)
			k, l, err = open()
			if err == nil {
				r := keeperRecord(3)
				_, err = l.Append(&r)
				_ = errors.Join(l.Close(), k.Close())
			}
			// With no Keeper as Observer OpenDurable reads the newest
			// checkpoint kept in wdir/checkpoints, as MaySign does.
			l, _, bareErr := sdk.OpenDurable(wdir, sdk.Config{Signer: signer, SealEvery: 1000}, sdk.DurableOptions{})
			if bareErr == nil {
				r := keeperRecord(3)
				_, bareErr = l.Append(&r)
				_ = l.Close()
			}
			for _, got := range []struct {
				what string
				err  error
			}{{"OpenDurable, Append", err}, {"MaySign", mayErr}, {"OpenDurable with no Keeper, Append", bareErr}} {
				t.Logf("%s: %v", got.what, got.err)
				switch {
				case tc.want == nil && (!errors.Is(got.err, sdk.ErrConfig) || !strings.Contains(got.err.Error(), tc.says)):
					t.Errorf("%s: %v; want sdk.ErrConfig saying %q", got.what, got.err, tc.says)
				case tc.want != nil && (!errors.Is(got.err, tc.want) || errors.Is(got.err, sdk.ErrConfig) ||
					!strings.Contains(got.err.Error(), path) || !strings.Contains(got.err.Error(), tc.says)):
					t.Errorf("%s: %v; want %v (not sdk.ErrConfig) naming %s and saying %q", got.what, got.err, tc.want, path, tc.says)
				}
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the newest checkpoint was replaced: %q", after)
			}
			if paths, err := HistoryPaths(cdir, writer, stream); err != nil || len(paths) != 1 {
				t.Errorf("history %v, %v; want the one checkpoint, nothing signed on top of it", paths, err)
			}
		})
	}
}
