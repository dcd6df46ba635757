package wal

// Tests that pin promises of the godoc that no other test checked.

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestZeroOptionsAreTheDefaults: "The zero value is the default: 128 MiB
// segments, FsyncBatch starting an fsync once 32 frames wait or 2 ms pass".
func TestZeroOptionsAreTheDefaults(t *testing.T) {
	o, err := Options{}.check("dir")
	if err != nil {
		t.Fatal(err)
	}
	if o.SegmentBytes != 128<<20 || o.Fsync != FsyncBatch || o.MaxBatch != 32 || o.MaxDelay != 2*time.Millisecond {
		t.Fatalf("zero Options resolve to %+v", o)
	}
	if DefaultSegmentBytes != 128<<20 || DefaultMaxBatch != 32 || DefaultMaxDelay != 2*time.Millisecond {
		t.Fatal("the default constants are not what Options' doc says")
	}
}

// TestClosedLogCalls: after Close, appends fail with ErrClosed itself;
// Sync and WaitDurable of an appended frame return nil (Close fsynced every
// frame), WaitDurable of one never appended is ErrNotAppended; Close again
// returns the first's result (nil), and Err stays nil.
func TestClosedLogCalls(t *testing.T) {
	l, rec := mustOpen(t, logDir(t), Options{})
	if !rec.Created || rec.Segments != 1 || rec.Frames != 0 || l.LastIndex() != 0 || l.DurableIndex() != 0 {
		t.Fatalf("new log: %+v, last %d, durable %d", rec, l.LastIndex(), l.DurableIndex())
	}
	if _, err := l.AppendDurable(payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	idx, err := l.Append(payloadFor(2)) // not waited for: Close makes it durable
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(payloadFor(3)); err != ErrClosed {
		t.Errorf("Append after Close: %v, want ErrClosed itself", err)
	}
	if _, err := l.AppendDurable(payloadFor(3)); err != ErrClosed {
		t.Errorf("AppendDurable after Close: %v, want ErrClosed itself", err)
	}
	if err := l.Sync(); err != nil {
		t.Errorf("Sync after Close: %v", err)
	}
	if err := l.WaitDurable(idx); err != nil || l.DurableIndex() != idx || l.LastIndex() != idx {
		t.Errorf("WaitDurable(%d) after Close: %v (durable %d, last %d)", idx, err, l.DurableIndex(), l.LastIndex())
	}
	if err := l.WaitDurable(idx + 1); !errors.Is(err, ErrNotAppended) {
		t.Errorf("WaitDurable of a frame never appended, after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Err(); err != nil {
		t.Errorf("Err after a clean Close: %v", err)
	}
}

// TestOpenEmptyDirRefused: Open("") cleaned "" to "." and opened (or,
// in a directory of mode 0700, made) a log in the process's current
// directory: an unset setting put the audit log wherever the service
// happened to run. package checkpoint refuses "" (ErrNoDir) for the same
// reason. Open refuses it with ErrConfig and writes nothing.
func TestOpenEmptyDirRefused(t *testing.T) {
	cwd := t.TempDir()
	if err := os.Chmod(cwd, 0o700); err != nil { // a mode Open takes
		t.Fatal(err)
	}
	t.Chdir(cwd)
	l, _, err := Open("", Options{})
	if err == nil {
		l.Close()
	}
	var we *Error
	if !errors.Is(err, ErrConfig) || !errors.As(err, &we) {
		t.Fatalf("Open(\"\"): %v; want an *Error matching ErrConfig", err)
	}
	if ents, err := os.ReadDir(cwd); err != nil || len(ents) != 0 {
		t.Fatalf("Open(\"\") wrote to the current directory: %v (%v)", ents, err)
	}
}

// TestOpenRefusesDirNotALog: Open of an existing directory that held
// other files and none of a log's (`ronaudit append --wal keys`, the
// directory of the private key) made a log inside it, beside the key,
// and every copy or archive of the log then carried the secret. Open
// refuses a directory that holds something but no segment and no LOCK
// (other than the checkpoints directory node.Open makes first), naming
// an entry found, with ErrConfig, and writes nothing there; an empty
// directory, a log, a log whose only segment a crash left empty, and a
// directory with only LOCK (a first Open that died before its segment)
// still open.
func TestOpenRefusesDirNotALog(t *testing.T) {
	mk := func(t *testing.T, files ...string) string {
		dir := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			p := filepath.Join(dir, f)
			if strings.HasSuffix(f, "/") {
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, e := range ents {
			s = append(s, e.Name())
		}
		return s
	}
	for _, tc := range []struct {
		files []string
		named string
	}{
		{[]string{"id.key", "id.pub"}, "id.key"},
		{[]string{"notes/"}, "notes"},
		{[]string{"checkpoints/", "id.key"}, "id.key"},
		{[]string{"checkpoints"}, "checkpoints"}, // a file, not node.Open's directory
		{[]string{"0000000000000001.seg.bak"}, "0000000000000001.seg.bak"},
	} {
		dir := mk(t, tc.files...)
		before := names(dir)
		l, _, err := Open(dir, Options{})
		if err == nil {
			l.Close()
		}
		var we *Error
		if !errors.Is(err, ErrConfig) || !errors.As(err, &we) || !strings.Contains(err.Error(), dir) ||
			!strings.Contains(err.Error(), tc.named) {
			t.Errorf("Open of a directory holding %q: %v; want an *Error matching ErrConfig naming %s and %s", tc.files, err, dir, tc.named)
		}
		if after := names(dir); !slices.Equal(before, after) {
			t.Errorf("Open of a directory holding %q changed it: %q, now %q", tc.files, before, after)
		}
	}

	// What still opens.
	log := mk(t)
	l, _, err := Open(log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendDurable([]byte{1, 'x'}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(log, "README"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for what, dir := range map[string]string{
		"a directory that does not exist":     filepath.Join(t.TempDir(), "new"),
		"an empty directory":                  mk(t),
		"node.Open's checkpoints only":        mk(t, "checkpoints/"),
		"LOCK only":                           mk(t, "LOCK"),
		"LOCK and checkpoints":                mk(t, "LOCK", "checkpoints/"),
		"a segment a crash left empty":        mk(t, "0000000000000001.seg"),
		"a log with a file of its user's too": log,
	} {
		l, _, err := Open(dir, Options{})
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if err := l.Close(); err != nil {
			t.Errorf("%s: Close: %v", what, err)
		}
	}
}
