//go:build unix

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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

// TestBrokenLinkErrorOneLine: a link's target, and its name, are
// whoever made the tree's (checkpoints/w2 a link to "x\nok: ..."): the
// message says them on one line, quoted when not printable
// (names.Path), and the fields keep them as they are.
func TestBrokenLinkErrorOneLine(t *testing.T) {
	base := t.TempDir()
	const evil = "x\nok: every record verified\u202e\x1b[2J"
	link := filepath.Join(base, "a\u2028"+evil)
	if err := os.Symlink(evil, link); err != nil {
		t.Fatal(err)
	}
	var bl *BrokenLinkError
	if err := BrokenLink(link); !errors.As(err, &bl) || bl.Path != link || bl.Target != evil {
		t.Fatalf("BrokenLink(%q): %v, want a *BrokenLinkError of the link and its target as they are", link, err)
	}
	want := strconv.Quote(link) + " is a symbolic link to " + strconv.Quote(evil) + ", which does not exist"
	if msg := bl.Error(); msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	plain := &BrokenLinkError{Path: "/data/é log/checkpoints", Target: "../gone dir"}
	if msg := plain.Error(); msg != "/data/é log/checkpoints is a symbolic link to ../gone dir, which does not exist" {
		t.Errorf("message %q: printable names not as they are", msg)
	}
}
