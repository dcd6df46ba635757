//go:build linux

package wal

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/synctrace"
)

// TestSyncOrderTraced runs the writer under strace (skipped without it)
// and checks the order of its real system calls against what a power
// loss, unlike the SIGKILL of the crash tests, takes away: the page
// cache and every directory entry not fsynced in its parent. Before each
// acknowledgment ("ack N" on stdout), every byte written to a segment and
// every cut of one (the torn tail's) must be fsynced, and every directory
// and file the log made must have its entry fsynced in its parent; a new
// segment takes no frame before its header and directory entry are
// fsynced. Three runs: a new log two directories deep, rotating segments;
// a reopen that cuts a torn tail; a reopen that rewrites the header of an
// interrupted segment creation; then group commit (FsyncBatch).
func TestSyncOrderTraced(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "wal")
	policy := "always"
	run := func(frames int) *synctrace.Trace {
		t.Helper()
		return synctrace.Run(t, root, []string{childEnv + "=synctrace", childDirEnv + "=" + dir,
			"WAL_TEST_FRAMES=" + strconv.Itoa(frames), "WAL_TEST_FSYNC=" + policy}, os.Args[0])
	}

	tr := run(30)
	checkSyncOrder(t, "new log", tr, root, 30)
	if segs := segments(t, dir); len(segs) < 3 {
		t.Fatalf("%d segments, want rotations", len(segs))
	}

	segs := segments(t, dir)
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0x84, 0x03, 0, 0, 1}) // a frame header cut short: a torn tail
	f.Close()
	tr = run(5)
	checkSyncOrder(t, "torn tail", tr, root, 5)
	if _, ok := tr.First(func(e synctrace.Event) bool { return e.Call == "ftruncate" && e.Path == last }); !ok {
		t.Errorf("torn tail: no ftruncate of %s in the trace", last)
	}

	segs = segments(t, dir)
	num := uint64(len(segs) + 1)
	_, rec, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(dir, SegmentName(num))
	writeFile(t, torn, append(encodeHeader(num, rec.Frames+1)[:11], make([]byte, 20)...))
	tr = run(3)
	checkSyncOrder(t, "torn header", tr, root, 3)
	if _, ok := tr.First(func(e synctrace.Event) bool { return e.Call == "pwrite64" && e.Path == torn }); !ok {
		t.Errorf("torn header: the header of %s was not written again", torn)
	}

	// Group commit, appends one at a time (each ack waits for the fsync
	// its frame needs, so every write before it is that frame's or an
	// earlier one's), rotating on.
	policy = "batch"
	tr = run(20)
	checkSyncOrder(t, "batch", tr, root, 20)
}

// checkSyncOrder checks one run's trace (see TestSyncOrderTraced).
func checkSyncOrder(t *testing.T, name string, tr *synctrace.Trace, root string, acks int) {
	t.Helper()
	seg := func(p string) bool { return strings.HasSuffix(p, ".seg") }
	n := 0
	for _, a := range tr.Events {
		if a.Call != "write" || a.FD != 1 {
			continue
		}
		n++
		// Every write to, and cut of, a segment before the ack is fsynced
		// before it.
		lastChange := map[string]synctrace.Event{}
		for _, e := range tr.Events {
			if e.Line >= a.Line {
				break
			}
			if (e.Call == "write" || e.Call == "pwrite64" || e.Call == "ftruncate") && seg(e.Path) {
				lastChange[e.Path] = e
			}
		}
		for p, e := range lastChange {
			if _, ok := tr.SyncedAfter(p, e.Line, a.Line); !ok {
				t.Errorf("%s: %s (line %d: %s) is not fsynced before the ack at line %d", name, p, e.Line, e.Text, a.Line)
			}
		}
		for _, en := range tr.UnsyncedEntries(root, a.Line) {
			t.Errorf("%s: the entry of %s (line %d: %s) is not fsynced in its parent before the ack at line %d", name, en.Path, en.At.Line, en.At.Text, a.Line)
		}
	}
	if n != acks {
		t.Errorf("%s: %d acks in the trace, want %d", name, n, acks)
	}
	// A new segment takes its first frame only once its header and its
	// directory entry are fsynced.
	for _, c := range tr.Events {
		if c.Call != "openat" || !strings.Contains(c.Flags, "O_CREAT") || !seg(c.Path) {
			continue
		}
		var header, frame synctrace.Event
		for _, e := range tr.Events {
			if e.Line > c.Line && e.Call == "write" && e.Path == c.Path {
				if header.Line == 0 {
					header = e
				} else {
					frame = e
					break
				}
			}
		}
		if header.Line == 0 || frame.Line == 0 {
			continue
		}
		if _, ok := tr.SyncedAfter(c.Path, header.Line, frame.Line); !ok {
			t.Errorf("%s: a frame is written to %s (line %d) before its header is fsynced", name, c.Path, frame.Line)
		}
		if _, ok := tr.SyncedAfter(filepath.Dir(c.Path), c.Line, frame.Line); !ok {
			t.Errorf("%s: a frame is written to %s (line %d) before its directory entry is fsynced", name, c.Path, frame.Line)
		}
	}
}
