//go:build unix

package sdk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// otherUID owns the files and directories these tests give away: nobody.
const otherUID = 65534

// TestSecretOwnedByAnotherUser: a private key or salt file another user
// owns is theirs to read and to replace, whatever its mode (0600 keeps
// out group and others, not the owner), and so is one in a directory
// another user owns (they can put their own file in its place): loading
// refuses both, as it refuses a file group or others may read. Only
// root can give a file away, so only root runs it.
func TestSecretOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	chown := func(p string, uid int) {
		t.Helper()
		if err := os.Lchown(p, uid, -1); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	privPath, pubPath, _, err := GenerateKeyFiles(dir, "k")
	if err != nil {
		t.Fatal(err)
	}
	saltPath := filepath.Join(dir, "salt")
	if err := GenerateSalt(saltPath); err != nil {
		t.Fatal(err)
	}
	load := map[string]struct {
		load func(string) error
		perm error
	}{
		"key":  {func(p string) error { _, err := LoadSigner(p); return err }, ErrKeyPermissions},
		"salt": {func(p string) error { _, err := LoadSalt(p); return err }, ErrSaltPermissions},
	}
	paths := map[string]string{"key": privPath, "salt": saltPath}

	// The file itself.
	for kind, l := range load {
		p := paths[kind]
		chown(p, otherUID)
		err := l.load(p)
		var fe *FileError
		if !errors.Is(err, l.perm) || !errors.As(err, &fe) || fe.Path != p {
			t.Errorf("%s owned by uid %d: %v, want a *FileError for %s matching %v", kind, otherUID, err, p, l.perm)
		} else if msg := err.Error(); !strings.Contains(msg, "owned by uid 65534") || !strings.Contains(msg, "chown") {
			t.Errorf("%s owned by another user: message %q should name the owner and chown", kind, msg)
		}
		// Through a symbolic link of ours, too.
		link := p + ".link"
		if err := os.Symlink(p, link); err != nil {
			t.Fatal(err)
		}
		if err := l.load(link); !errors.Is(err, l.perm) {
			t.Errorf("%s owned by another user, through a link: %v", kind, err)
		}
		chown(p, 0)
		if err := l.load(p); err != nil {
			t.Errorf("%s owned by root again: %v", kind, err)
		}
	}
	// A public key is not a secret: anyone may own it.
	chown(pubPath, otherUID)
	if _, err := LoadPublicKey(pubPath); err != nil {
		t.Errorf("public key owned by another user: %v", err)
	}

	// A directory on the way, owned by another user, even mode 0700.
	theirs := filepath.Join(dir, "theirs")
	if err := os.Mkdir(theirs, 0o700); err != nil {
		t.Fatal(err)
	}
	inner := filepath.Join(theirs, "in")
	if err := os.Mkdir(inner, 0o700); err != nil {
		t.Fatal(err)
	}
	ip, _, _, err := GenerateKeyFiles(inner, "k")
	if err != nil {
		t.Fatal(err)
	}
	is := filepath.Join(inner, "salt")
	if err := GenerateSalt(is); err != nil {
		t.Fatal(err)
	}
	chown(theirs, otherUID)
	for kind, p := range map[string]string{"key": ip, "salt": is} {
		l := load[kind]
		err := l.load(p)
		if !errors.Is(err, l.perm) || !strings.Contains(err.Error(), "directory "+theirs) || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("%s under a directory another user owns: %v", kind, err)
		}
		link := filepath.Join(dir, kind+".via")
		if err := os.Symlink(p, link); err != nil {
			t.Fatal(err)
		}
		if err := l.load(link); !errors.Is(err, l.perm) {
			t.Errorf("%s under a directory another user owns, through a link: %v", kind, err)
		}
	}
	// Nor are new ones written there.
	if err := GenerateSalt(filepath.Join(inner, "salt2")); !errors.Is(err, ErrSaltPermissions) {
		t.Errorf("GenerateSalt under a directory another user owns: %v", err)
	}
	if _, _, _, err := GenerateKeyFiles(inner, "k2"); !errors.Is(err, ErrKeyPermissions) {
		t.Errorf("GenerateKeyFiles under a directory another user owns: %v", err)
	}
	chown(theirs, 0)
	if _, err := LoadSigner(ip); err != nil {
		t.Errorf("directory owned by root again: %v", err)
	}
}
