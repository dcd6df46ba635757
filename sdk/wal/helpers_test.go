package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Child processes: the test binary re-executes itself with childEnv set to
// a role; TestMain runs the role instead of the tests.
const (
	childEnv    = "WAL_TEST_CHILD"
	childDirEnv = "WAL_TEST_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "lock":
		lockChild(os.Getenv(childDirEnv))
	case "crash":
		crashChild(os.Getenv(childDirEnv))
	case "synctrace":
		syncTraceChild(os.Getenv(childDirEnv))
	default:
		fmt.Fprintln(os.Stderr, "unknown child role", os.Getenv(childEnv))
		os.Exit(2)
	}
}

// mix is splitmix64.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// payloadFor is the deterministic payload of frame index i: type byte,
// the index, pseudo-random filler; 9..1208 bytes.
func payloadFor(i uint64) []byte {
	n := 9 + int(mix(i)%1200)
	return payloadOfSize(i, n)
}

func payloadOfSize(i uint64, n int) []byte {
	p := make([]byte, n)
	p[0] = 1
	if i%7 == 0 {
		p[0] = 2
	}
	if n >= 9 {
		binary.LittleEndian.PutUint64(p[1:], i)
	}
	s := i * 0x100000001b3
	for j := 9; j < n; j += 8 {
		s = mix(s)
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], s)
		copy(p[j:], w[:])
	}
	return p
}

func testOpts() Options { return Options{Fsync: FsyncNever, AllowNoFsync: true} }

func mustOpen(t testing.TB, dir string, opts Options) (*Log, Recovery) {
	t.Helper()
	l, rec, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l, rec
}

// logDir returns a not yet existing directory for a log.
func logDir(t testing.TB) string { return filepath.Join(t.TempDir(), "wal") }

// writeLog creates a log in a new directory with frames payloadFor(1..n)
// and closes it.
func writeLog(t testing.TB, n int, opts Options) string {
	t.Helper()
	dir := logDir(t)
	l, _ := mustOpen(t, dir, opts)
	for i := 1; i <= n; i++ {
		idx, err := l.Append(payloadFor(uint64(i)))
		if err != nil || idx != uint64(i) {
			t.Fatalf("Append %d: %d, %v", i, idx, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

type frameCopy struct {
	Index   uint64
	Segment uint64
	File    string
	Offset  int64
	Type    byte
	Payload []byte
}

func readAll(t testing.TB, dir string) ([]frameCopy, Recovery, error) {
	t.Helper()
	var fs []frameCopy
	rec, err := ReadDir(dir, func(f Frame) error {
		if f.Type != f.Payload[0] {
			t.Errorf("frame %d: Type %d, Payload[0] %d", f.Index, f.Type, f.Payload[0])
		}
		fs = append(fs, frameCopy{f.Index, f.Segment, f.File, f.Offset, f.Type, bytes.Clone(f.Payload)})
		return nil
	})
	return fs, rec, err
}

// checkFrames checks that frames are payloadFor(1..n).
func checkFrames(t testing.TB, fs []frameCopy, n int) {
	t.Helper()
	if len(fs) != n {
		t.Fatalf("%d frames, want %d", len(fs), n)
	}
	for i, f := range fs {
		if f.Index != uint64(i+1) {
			t.Fatalf("frame %d has index %d", i+1, f.Index)
		}
		if !bytes.Equal(f.Payload, payloadFor(f.Index)) {
			t.Fatalf("frame %d: wrong payload", f.Index)
		}
	}
}

// segments returns the segment paths of dir in order.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// snapshot returns the contents of the segment files of dir.
func snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	s := map[string][]byte{}
	for _, p := range segments(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s[filepath.Base(p)] = b
	}
	return s
}

func sameSnapshot(t testing.TB, a, b map[string][]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("segment files changed: %d before, %d after", len(a), len(b))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("segment %s changed", k)
		}
	}
}

// frameAt returns the offset and total size of the frame with index idx.
func frameAt(t testing.TB, dir string, idx uint64) (file string, off, size int64) {
	t.Helper()
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Index == idx {
			return f.File, f.Offset, int64(FrameHeaderSize + len(f.Payload))
		}
	}
	t.Fatalf("no frame %d", idx)
	return
}

// wantCorrupt checks err is a *CorruptError at file and offset.
func wantCorrupt(t testing.TB, err error, file string, off int64, lastIndex uint64, reason string) *CorruptError {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want a *CorruptError", err)
	}
	if ce.File != file || ce.Offset != off || ce.LastIndex != lastIndex {
		t.Fatalf("corruption at %s:%d (last good %d), want %s:%d (last good %d): %v", ce.File, ce.Offset, ce.LastIndex, file, off, lastIndex, err)
	}
	if reason != "" && !strings.Contains(ce.Reason, reason) {
		t.Fatalf("reason %q does not mention %q", ce.Reason, reason)
	}
	return ce
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncTraceChild opens the log in dir with 4 KiB segments and the fsync
// policy WAL_TEST_FSYNC names (always, batch), appends WAL_TEST_FRAMES frames of 900 bytes, printing "ack N"
// once AppendDurable returned N (each line is one write to fd 1, the
// acknowledgment the trace is checked against), and closes it.
func syncTraceChild(dir string) {
	n, _ := strconv.Atoi(os.Getenv("WAL_TEST_FRAMES"))
	policy, err := ParseFsyncPolicy(os.Getenv("WAL_TEST_FSYNC"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, _, err := Open(dir, Options{Fsync: policy, SegmentBytes: MinSegmentBytes})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; i < n; i++ {
		idx, err := l.AppendDurable(payloadOfSize(uint64(i+1), 900))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", idx)
	}
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
