package synctrace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParse: fds resolve to the paths they were opened with (a call split
// across threads by strace -f too), failed calls are dropped, and an entry
// counts as synced only once its parent directory is fsynced after it.
func TestParse(t *testing.T) {
	trace := `100 mkdirat(AT_FDCWD, "d", 0700) = 0
100 openat(AT_FDCWD, "d/.tmp-1", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600 <unfinished ...>
101 openat(AT_FDCWD, "missing", O_RDONLY) = -1 ENOENT (No such file or directory)
100 <... openat resumed>) = 3
100 write(3, "x", 1) = 1
100 fsync(3) = 0
100 close(3) = 0
100 linkat(AT_FDCWD, "d/.tmp-1", AT_FDCWD, "d/f", 0) = 0
100 unlinkat(AT_FDCWD, "d/.tmp-1", 0) = 0
100 openat(AT_FDCWD, "d", O_RDONLY|O_CLOEXEC) = 3
100 fsync(3) = 0
100 close(3) = 0
100 write(1, "done\n", 5) = 5
`
	p := filepath.Join(t.TempDir(), "trace.txt")
	if err := os.WriteFile(p, []byte(trace), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := Parse(f, "/r")
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := tr.First(func(e Event) bool { return e.Call == "write" && e.FD == 3 }); !ok || e.Path != "/r/d/.tmp-1" {
		t.Errorf("write to fd 3: %+v, want /r/d/.tmp-1", e)
	}
	en := tr.Entries("/r")
	if len(en) != 2 || en[0].Path != "/r/d" || en[1].Path != "/r/d/f" {
		t.Fatalf("entries %+v, want /r/d and /r/d/f (the temporary file was removed)", en)
	}
	bad := tr.UnsyncedEntries("/r", 0)
	if len(bad) != 1 || bad[0].Path != "/r/d" {
		t.Errorf("unsynced %+v, want only /r/d (/r was never fsynced)", bad)
	}
	ack, _ := tr.First(func(e Event) bool { return e.Call == "write" && e.FD == 1 })
	if bad := tr.UnsyncedEntries("/r", 11); len(bad) != 2 {
		t.Errorf("before line 11 (the directory's fsync) %+v, want both unsynced (ack at %d)", bad, ack.Line)
	}
}

func parseText(t *testing.T, trace, cwd string) (*Trace, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trace.txt")
	if err := os.WriteFile(p, []byte(trace), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, cwd)
}

// TestParseDirFD: a path relative to a directory fd (unlinkat(3, "f"),
// renameat, linkat, mkdirat, openat: os.RemoveAll and os.Root make such
// calls) is relative to that directory, not to the working directory, as
// it was read; and the fd of a file opened on one thread resolves on
// another (strace -f prints thread ids: Go's threads share one fd
// table).
func TestParseDirFD(t *testing.T) {
	trace := `100 openat(AT_FDCWD, "/r/d", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 3
100 mkdirat(3, "sub", 0700) = 0
101 openat(3, "sub/.tmp", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 4
102 fsync(4) = 0
100 linkat(3, "sub/.tmp", AT_FDCWD, "x/f, g", 0) = 0
100 renameat(3, "sub/.tmp", 3, "sub/t2") = 0
100 unlinkat(3, "sub/t2", 0) = 0
100 renameat2(AT_FDCWD, "/abs/a", 3, "b", RENAME_NOREPLACE) = 0
`
	tr, err := parseText(t, trace, "/cwd")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ call, path, path2 string }{
		{"openat", "/r/d", ""},
		{"mkdirat", "/r/d/sub", ""},
		{"openat", "/r/d/sub/.tmp", ""},
		{"fsync", "/r/d/sub/.tmp", ""},
		{"linkat", "/r/d/sub/.tmp", "/cwd/x/f, g"},
		{"renameat", "/r/d/sub/.tmp", "/r/d/sub/t2"},
		{"unlinkat", "/r/d/sub/t2", ""},
		{"renameat2", "/abs/a", "/r/d/b"},
	}
	if len(tr.Events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(tr.Events), len(want), tr.Events)
	}
	for i, w := range want {
		if e := tr.Events[i]; e.Call != w.call || e.Path != w.path || e.Path2 != w.path2 {
			t.Errorf("event %d: %s %q %q, want %s %q %q", i, e.Call, e.Path, e.Path2, w.call, w.path, w.path2)
		}
	}

	// A directory fd the trace never showed opened resolves nowhere: the
	// trace cannot be checked, which Parse says rather than guess.
	if _, err := parseText(t, "100 unlinkat(7, \"f\", 0) = 0\n", "/cwd"); err == nil || !strings.Contains(err.Error(), "fd 7") {
		t.Errorf("unlinkat on an unknown directory fd: %v, want an error naming fd 7", err)
	}
}
