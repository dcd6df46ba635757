package synctrace

import (
	"os"
	"path/filepath"
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
