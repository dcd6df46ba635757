//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestMkdirAllBrokenLink: a directory to create that is a symbolic link
// to nothing (a volume unmounted, a target removed) is not created
// "already" (os.Mkdir's EEXIST): MkdirAll refuses it with a
// *BrokenLinkError naming the link, so that no writer goes on as if the
// directory were there and empty.
func TestMkdirAllBrokenLink(t *testing.T) {
	base := t.TempDir()
	link := filepath.Join(base, "cp")
	if err := os.Symlink(filepath.Join(base, "gone"), link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{link, filepath.Join(link, "w", "s")} {
		err := MkdirAll(dir)
		var bl *BrokenLinkError
		if !errors.As(err, &bl) || bl.Path != link || errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("MkdirAll(%s) under a link to nothing: %v, want a *BrokenLinkError naming %s", dir, err, link)
		}
		if err := WriteFileNew(dir, "f", nil); !errors.As(err, &bl) {
			t.Fatalf("WriteFileNew into %s: %v", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the link's target was created")
	}
	// A link to a directory is followed, as before.
	if err := os.Mkdir(filepath.Join(base, "real"), 0o700); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(base, "good")
	if err := os.Symlink(filepath.Join(base, "real"), good); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(good, "w")); err != nil {
		t.Fatal(err)
	}
}

// TestBrokenLink: BrokenLink tells a path that is not there from one
// reached through a symbolic link to nothing, at any level.
func TestBrokenLink(t *testing.T) {
	base := t.TempDir()
	if err := BrokenLink(filepath.Join(base, "a", "b")); err != nil {
		t.Fatalf("a path that is not there: %v", err)
	}
	link := filepath.Join(base, "l")
	if err := os.Symlink("nowhere", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, filepath.Join(link, "x"), filepath.Join(link, "x", "y")} {
		var bl *BrokenLinkError
		if err := BrokenLink(p); !errors.As(err, &bl) || bl.Path != link || bl.Target != "nowhere" {
			t.Fatalf("BrokenLink(%s): %v", p, err)
		}
	}
	// A chain of links ending nowhere.
	l2 := filepath.Join(base, "l2")
	if err := os.Symlink(link, l2); err != nil {
		t.Fatal(err)
	}
	var bl *BrokenLinkError
	if err := BrokenLink(filepath.Join(l2, "x")); !errors.As(err, &bl) || bl.Path != l2 {
		t.Fatalf("a link to a link to nothing: %v", err)
	}
}
