package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := WriteFileAtomic(dir, "f", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(dir, "f", []byte("two")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || string(b) != "two" {
		t.Fatalf("%q %v", b, err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "f"))
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes %v %v", fi.Mode(), di.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left %d files", len(entries))
	}
	if err := WriteFileAtomic(filepath.Join(dir, "f"), "g", nil); err == nil {
		t.Fatal("a file as directory accepted")
	}
}

// recordSyncs hooks SyncDir for the test and returns the directories
// synced, in order.
func recordSyncs(t *testing.T) *[]string {
	t.Helper()
	var synced []string
	syncedDir = func(dir string) { synced = append(synced, dir) }
	t.Cleanup(func() { syncedDir = nil })
	return &synced
}

// TestWriteFileSyncsNewDirectories: a file written into directories
// created for it survives a crash only if each new directory's entry in
// its parent does: the parent of every directory created is fsynced (only
// the file's own directory was; a crash could take a/ or a/b/ away, and the
// fsynced checkpoint or bundle in it with them).
func TestWriteFileSyncsNewDirectories(t *testing.T) {
	for _, write := range []struct {
		name string
		fn   func(dir, name string, data []byte) error
	}{{"WriteFileAtomic", WriteFileAtomic}, {"WriteFileNew", WriteFileNew}} {
		t.Run(write.name, func(t *testing.T) {
			root := t.TempDir()
			synced := recordSyncs(t)
			dir := filepath.Join(root, "a", "b")
			if err := write.fn(dir, "f", []byte("one")); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, d := range *synced {
				got[d] = true
			}
			for _, want := range []string{root, filepath.Join(root, "a"), dir} {
				if !got[want] {
					t.Errorf("%s not fsynced (synced: %q): the entry of a directory created in it may not survive a crash", want, *synced)
				}
			}
			// A second file in the same, existing directory syncs only it.
			*synced = nil
			if err := write.fn(dir, "g", []byte("two")); err != nil {
				t.Fatal(err)
			}
			if len(*synced) != 1 || (*synced)[0] != dir {
				t.Errorf("synced %q for a file in an existing directory, want only %s", *synced, dir)
			}
		})
	}
}

// TestMkdirAllRefusesFile: a file where a directory should be is an error
// naming it.
func TestMkdirAllRefusesFile(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := MkdirAll(filepath.Join(root, "f", "g"))
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != filepath.Join(root, "f") {
		t.Fatalf("MkdirAll under a file: %v, want a *PathError naming the file", err)
	}
	if err := MkdirAll(filepath.Join(root, "d", "e")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, "d", "e")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("MkdirAll: %v %v", fi, err)
	}
}

// TestWriteFileNewNeverReplaces: of writers racing for one name exactly
// one succeeds and the file holds its bytes; the others get fs.ErrExist,
// an existing file is never replaced, and no temporary file is left.
func TestWriteFileNewNeverReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := WriteFileNew(dir, "old", []byte("evidence")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileNew(dir, "old", []byte("forgery")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteFileNew over an existing file: %v, want fs.ErrExist", err)
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = WriteFileNew(dir, "race", []byte{byte('0' + i)})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("writer %d: %v, want fs.ErrExist", i, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "race"))
	if winner < 0 || string(b) != string(rune('0'+winner)) {
		t.Errorf("file holds %q, winner %d", b, winner)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "old")); string(b) != "evidence" {
		t.Errorf("existing file now %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("left %d files, want 2 (no temporary file)", len(entries))
	}
}
