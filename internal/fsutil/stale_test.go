package fsutil

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// makeFIFO creates a named pipe (set where there are named pipes).
var makeFIFO func(t testing.TB, path string)

func TestIsTempName(t *testing.T) {
	for name, want := range map[string]bool{
		".tmp-0": true, ".tmp-4294967295": true,
		".tmp-": false, ".tmp-12a": false, ".tmp-key.pem-123": false, "tmp-123": false,
		".tmp-123.bundle": false, "x.tmp-123": false, ".TMP-1": false,
	} {
		if got := IsTempName(name); got != want {
			t.Errorf("IsTempName(%q) = %v, want %v", name, got, want)
		}
	}
	// The names WriteTemp gives with the writers' pattern are temp names.
	dir := t.TempDir()
	p, err := WriteTemp(dir, ".tmp-*", []byte("x"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if !IsTempName(filepath.Base(p)) {
		t.Fatalf("WriteTemp named its file %q, which IsTempName refuses", filepath.Base(p))
	}
}

// A crash's leftover is removed; a temporary file being written now, a
// file of another name (however old), and an old entry of the same name
// that is not a regular file (a directory, a symbolic link, a named pipe)
// are not, nor is the file a stale link points to.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	old := time.Now().Add(-2 * StaleTempAge)
	write := func(d, name string, mtime time.Time) string {
		t.Helper()
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte("leftover"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := write(dir, ".tmp-123", old)
	stale2 := write(dir, ".tmp-7", old)
	fresh := write(dir, ".tmp-456", time.Now())
	future := write(dir, ".tmp-9", time.Now().Add(StaleTempAge)) // a clock ahead of ours
	keep := []string{fresh, future,
		write(dir, "00000000000000000001-00000000000000000003.bundle", old),
		write(dir, ".tmp-key.pem-123", old),
		write(dir, ".tmp-123.bundle", old),
		write(dir, "tmp-123", old),
	}
	sub := filepath.Join(dir, ".tmp-11")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(sub, old, old)
	keep = append(keep, sub)
	target := write(outside, "evidence", old)
	link := filepath.Join(dir, ".tmp-12")
	if err := os.Symlink(target, link); err == nil {
		os.Chtimes(target, old, old) // through the link: the link is old to a sweep that follows it
		keep = append(keep, link, target)
	} else if runtime.GOOS != "windows" {
		t.Fatal(err)
	}
	if makeFIFO != nil {
		fifo := filepath.Join(dir, ".tmp-13")
		makeFIFO(t, fifo)
		os.Chtimes(fifo, old, old)
		keep = append(keep, fifo)
	}

	var removed []string
	err := RemoveStaleTemps(dir, time.Now().Add(-StaleTempAge), func(p string, err error) {
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		removed = append(removed, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{stale, stale2}; !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	for _, p := range removed {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
	// Nothing left to do the second time; a missing directory is empty.
	if err := RemoveStaleTemps(dir, time.Now().Add(-StaleTempAge), func(p string, _ error) { t.Errorf("again: %s", p) }); err != nil {
		t.Fatal(err)
	}
	if err := RemoveStaleTemps(filepath.Join(dir, "missing"), time.Now(), nil); err != nil {
		t.Fatalf("missing directory: %v", err)
	}
}

// A removal that fails is reported to found with its error, and the
// sweep goes on to the next file.
func TestRemoveStaleTempsReportsFailure(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a directory whose entries its owner cannot remove (not root)")
	}
	dir := t.TempDir()
	old := time.Now().Add(-2 * StaleTempAge)
	for _, n := range []string{".tmp-1", ".tmp-2"} {
		p := filepath.Join(dir, n)
		os.WriteFile(p, nil, 0o600)
		os.Chtimes(p, old, old)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	var failed int
	err := RemoveStaleTemps(dir, time.Now().Add(-StaleTempAge), func(p string, err error) {
		if err == nil {
			t.Errorf("%s: removed from a read-only directory", p)
		}
		failed++
	})
	if err != nil || failed != 2 {
		t.Fatalf("err %v, %d failures reported, want 2", err, failed)
	}
}

// TestWriteFileNewTempSweptAfterLink: a sweep that takes a live temporary
// file for a stale one (its file server's clock an hour or more behind, or
// its writer stopped that long) and removes it after WriteFileNew linked
// it into place has done what WriteFileNew was about to do: the file is
// written, and WriteFileNew says so and makes it durable. It returned the
// removal's "no such file or directory" for a file in place, and skipped
// the directory's fsync: its caller took the write for failed (an
// exporter retrying the bundle then found it exists).
func TestWriteFileNewTempSweptAfterLink(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	syncedDir = func(d string) { synced = append(synced, d) }
	afterLink = func(tmp string) {
		if err := RemoveStaleTemps(dir, time.Now().Add(time.Hour), nil); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { syncedDir, afterLink = nil, nil })
	if err := WriteFileNew(dir, "f", []byte("data")); err != nil {
		t.Fatalf("WriteFileNew with its temporary file swept after the link: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "data" {
		t.Fatalf("file: %q %v", b, err)
	}
	if !slices.Contains(synced, dir) {
		t.Errorf("directory not fsynced: synced %v", synced)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Errorf("entries left: %v", left)
	}
}
