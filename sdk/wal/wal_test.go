package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestRoundTripAcrossRotations(t *testing.T) {
	dir := logDir(t)
	opts := Options{SegmentBytes: MinSegmentBytes, Fsync: FsyncBatch, MaxBatch: 8}
	l, rec := mustOpen(t, dir, opts)
	if !rec.Created || rec.Frames != 0 || rec.Segments != 1 {
		t.Fatalf("new log: %+v", rec)
	}
	const n = 3000
	for i := 1; i <= n; i++ {
		p := payloadFor(uint64(i))
		if i%500 == 0 {
			p = payloadOfSize(uint64(i), 10000) // larger than a segment: alone in one
		}
		idx, err := l.Append(p)
		if err != nil || idx != uint64(i) {
			t.Fatalf("Append %d: %d, %v", i, idx, err)
		}
	}
	if err := l.WaitDurable(n); err != nil {
		t.Fatal(err)
	}
	if got := l.DurableIndex(); got != n {
		t.Fatalf("DurableIndex %d", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	fs, rec, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Frames != n || rec.TornBytes != 0 {
		t.Fatalf("ReadDir: %+v", rec)
	}
	segs := segments(t, dir)
	if len(segs) < 100 || rec.Segments != len(segs) {
		t.Fatalf("%d segments (Recovery says %d), want many rotations", len(segs), rec.Segments)
	}
	for i, f := range fs {
		want := payloadFor(f.Index)
		if f.Index%500 == 0 {
			want = payloadOfSize(f.Index, 10000)
		}
		if f.Index != uint64(i+1) || !bytes.Equal(f.Payload, want) {
			t.Fatalf("frame %d: index %d, payload equal %v", i+1, f.Index, bytes.Equal(f.Payload, want))
		}
	}
	// Segments: headers right, sizes within the limit unless one big frame,
	// frames never span segments (each segment reads on its own).
	var next uint64 = 1
	for i, p := range segs {
		b := readFile(t, p)
		if !bytes.Equal(b[:SegmentHeaderSize], encodeHeader(uint64(i+1), next)) {
			t.Fatalf("%s: header %x", p, b[:SegmentHeaderSize])
		}
		info, err := ReadSegment(b, false, nil)
		if err != nil {
			t.Fatalf("%s alone: %v", p, err)
		}
		if int64(len(b)) > opts.SegmentBytes && info.Frames != 1 {
			t.Fatalf("%s: %d bytes with %d frames", p, len(b), info.Frames)
		}
		next += info.Frames
	}

	// Reopen and continue: indexes go on.
	l, rec = mustOpen(t, dir, opts)
	if rec.Frames != n || rec.TornBytes != 0 || rec.Created {
		t.Fatalf("reopen: %+v", rec)
	}
	for i := n + 1; i <= n+50; i++ {
		if idx, err := l.AppendDurable(payloadFor(uint64(i))); err != nil || idx != uint64(i) {
			t.Fatalf("AppendDurable %d: %d, %v", i, idx, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fs, _, err = readAll(t, dir)
	if err != nil || len(fs) != n+50 || !bytes.Equal(fs[n+49].Payload, payloadFor(n+50)) {
		t.Fatalf("after reopen: %d frames, %v", len(fs), err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	for _, pol := range []FsyncPolicy{FsyncAlways, FsyncBatch, FsyncNever} {
		t.Run(pol.String(), func(t *testing.T) {
			dir := logDir(t)
			l, _ := mustOpen(t, dir, Options{SegmentBytes: 16 << 10, Fsync: pol, MaxBatch: 8, AllowNoFsync: true})
			const workers, per = 8, 200
			got := make([][]uint64, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for s := range per {
						p := make([]byte, 6+(w*per+s)%300)
						p[0] = 1
						p[1] = byte(w)
						binary.LittleEndian.PutUint32(p[2:], uint32(s))
						idx, err := l.AppendDurable(p)
						if err != nil {
							t.Error(err)
							return
						}
						got[w] = append(got[w], idx)
					}
				})
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			fs, _, err := readAll(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != workers*per {
				t.Fatalf("%d frames, want %d", len(fs), workers*per)
			}
			for w := range workers {
				for s, idx := range got[w] {
					p := fs[idx-1].Payload
					if int(p[1]) != w || binary.LittleEndian.Uint32(p[2:]) != uint32(s) {
						t.Fatalf("index %d holds worker %d seq %d, want %d %d", idx, p[1], binary.LittleEndian.Uint32(p[2:]), w, s)
					}
					if s > 0 && idx <= got[w][s-1] {
						t.Fatalf("worker %d: index %d after %d", w, idx, got[w][s-1])
					}
				}
			}
		})
	}
}

func TestModes(t *testing.T) {
	old := syscall.Umask(0) // the log must not rely on the umask
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "a", "wal")
	l, _ := mustOpen(t, dir, Options{SegmentBytes: MinSegmentBytes, Fsync: FsyncAlways})
	for i := 1; i <= 20; i++ {
		if _, err := l.AppendDurable(payloadFor(uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, %v", fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) < 3 {
		t.Fatalf("%d files, want a LOCK and rotated segments", len(ents))
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode())
		}
	}

	for _, mode := range []os.FileMode{0o755, 0o750, 0o701, 0o720} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := Open(dir, Options{})
		if !errors.Is(err, ErrDirPermissions) || !strings.Contains(err.Error(), "chmod 700 "+dir) {
			t.Fatalf("mode %04o: %v, want ErrDirPermissions saying chmod 700", mode, err)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%T is not *Error", err)
		}
	}
	os.Chmod(dir, 0o700)
	l, _ = mustOpen(t, dir, Options{})
	l.Close()

	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, []byte("x"))
	if _, _, err := Open(file, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open of a file: %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{})
	_, _, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open in-process: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint("pid ", os.Getpid())) {
		t.Errorf("error does not name the holder: %v", err)
	}
	if out := runLockChild(t, dir); out != "locked" {
		t.Fatalf("child while locked: %q, want locked", out)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if out := runLockChild(t, dir); out != "opened" {
		t.Fatalf("child after Close: %q, want opened", out)
	}
	l, _ = mustOpen(t, dir, Options{})
	l.Close()
}

func runLockChild(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=lock", childDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lock child: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// lockChild opens dir and prints what happened.
func lockChild(dir string) {
	l, _, err := Open(dir, Options{})
	switch {
	case err == nil:
		l.Close()
		fmt.Println("opened")
	case errors.Is(err, ErrLocked):
		fmt.Println("locked")
	default:
		fmt.Println("error:", err)
	}
	os.Exit(0)
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Fsync: FsyncNever},
		{SegmentBytes: MinSegmentBytes - 1},
		{MaxBatch: 7},
		{MaxBatch: 65},
		{MaxDelay: -time.Millisecond},
		{MaxDelay: 2 * time.Second},
		{Fsync: FsyncPolicy(9)},
	} {
		if _, _, err := Open(logDir(t), o); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", o, err)
		}
	}
	for _, s := range []string{"batch", "always", "never"} {
		p, err := ParseFsyncPolicy(s)
		if err != nil || p.String() != s {
			t.Errorf("ParseFsyncPolicy(%q) = %v, %v", s, p, err)
		}
	}
	if _, err := ParseFsyncPolicy("sometimes"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseFsyncPolicy(sometimes): %v", err)
	}
}

func TestFsyncNever(t *testing.T) {
	dir := logDir(t)
	if _, _, err := Open(dir, Options{Fsync: FsyncNever}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "AllowNoFsync") {
		t.Fatalf("FsyncNever without AllowNoFsync: %v", err)
	}
	var commits atomic.Int64
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncNever, AllowNoFsync: true, OnFsync: func(_ time.Duration, frames int) {
		if frames > 0 {
			commits.Add(1)
		}
	}})
	for i := 1; i <= 100; i++ {
		if _, err := l.AppendDurable(payloadFor(uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if c := commits.Load(); c != 0 {
		t.Fatalf("%d fsyncs under FsyncNever", c)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c := commits.Load(); c != 1 {
		t.Fatalf("%d fsyncs at Close, want 1", c)
	}
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, fs, 100)
}

// fsyncCounter is an OnFsync hook counting fsyncs that made frames
// durable and the frames.
type fsyncCounter struct {
	calls, frames atomic.Int64
	delay         time.Duration
}

func (c *fsyncCounter) hook(_ time.Duration, frames int) {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	if frames > 0 {
		c.calls.Add(1)
		c.frames.Add(int64(frames))
	}
}

func TestBatchGroupsFsyncs(t *testing.T) {
	var c fsyncCounter
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncBatch, MaxBatch: 8, OnFsync: c.hook})
	const workers, per = 32, 40
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range per {
				if _, err := l.AppendDurable(payloadOfSize(1, 100)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	calls, frames := c.calls.Load(), c.frames.Load()
	t.Logf("%d frames in %d fsyncs (%.1f per fsync)", frames, calls, float64(frames)/float64(calls))
	if frames != workers*per {
		t.Fatalf("fsyncs covered %d frames, want %d (each exactly once)", frames, workers*per)
	}
	if calls*4 > frames {
		t.Fatalf("%d fsyncs for %d frames: not grouped", calls, frames)
	}
}

func TestBatchWaitsMaxDelay(t *testing.T) {
	l, _ := mustOpen(t, logDir(t), Options{Fsync: FsyncBatch, MaxBatch: 8, MaxDelay: 30 * time.Millisecond})
	defer l.Close()
	t0 := time.Now()
	if _, err := l.AppendDurable(payloadFor(1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 29*time.Millisecond {
		t.Fatalf("a lone frame was committed after %v, before MaxDelay", d)
	}
	// A full batch does not wait for MaxDelay.
	t0 = time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := l.AppendDurable(payloadFor(2)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("full batch of 8 durable after %v", time.Since(t0))
}

func TestWaitDurableAfterFsync(t *testing.T) {
	for _, pol := range []FsyncPolicy{FsyncAlways, FsyncBatch} {
		t.Run(pol.String(), func(t *testing.T) {
			// The hook runs when the fsync has returned; it sleeps so that
			// a WaitDurable returning early would be caught. Frames become
			// durable in index order, so the frames the hook has counted
			// are the durable index.
			c := fsyncCounter{delay: 2 * time.Millisecond}
			l, _ := mustOpen(t, logDir(t), Options{Fsync: pol, MaxBatch: 8, OnFsync: c.hook})
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					for range 30 {
						idx, err := l.AppendDurable(payloadFor(3))
						if err != nil {
							t.Error(err)
							return
						}
						if got := c.frames.Load(); got < int64(idx) {
							t.Errorf("WaitDurable(%d) returned when fsyncs had covered %d frames", idx, got)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// FsyncAlways with one writer: one fsync per frame, before the return.
	var c fsyncCounter
	l, _ := mustOpen(t, logDir(t), Options{Fsync: FsyncAlways, OnFsync: c.hook})
	defer l.Close()
	for i := int64(1); i <= 20; i++ {
		if _, err := l.Append(payloadFor(1)); err != nil {
			t.Fatal(err)
		}
		if c.calls.Load() != i-1 {
			t.Fatal("Append fsynced")
		}
		if err := l.WaitDurable(uint64(i)); err != nil {
			t.Fatal(err)
		}
		if c.calls.Load() != i || c.frames.Load() != i {
			t.Fatalf("after WaitDurable(%d): %d fsyncs, %d frames", i, c.calls.Load(), c.frames.Load())
		}
	}
}

func TestWaitDurableErrors(t *testing.T) {
	l, _ := mustOpen(t, logDir(t), Options{})
	if err := l.WaitDurable(0); err != nil {
		t.Fatalf("WaitDurable(0): %v", err)
	}
	if err := l.WaitDurable(1); !errors.Is(err, ErrNotAppended) {
		t.Fatalf("WaitDurable of a frame not appended: %v", err)
	}
	for _, n := range []int{0, MaxPayload + 1} {
		if _, err := l.Append(make([]byte, n)); !errors.Is(err, ErrPayloadSize) {
			t.Fatalf("Append of %d bytes: %v", n, err)
		}
	}
	if idx, err := l.AppendDurable(payloadOfSize(1, MaxPayload)); err != nil || idx != 1 {
		t.Fatalf("Append of MaxPayload bytes: %d, %v", idx, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(payloadFor(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := l.WaitDurable(1); err != nil {
		t.Fatalf("WaitDurable of a durable frame after Close: %v", err)
	}
}

func TestCloseConcurrent(t *testing.T) {
	l, _ := mustOpen(t, logDir(t), Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				l.Append(payloadFor(1))
			}
			if err := l.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestPoisonWrite: a failed write poisons the log.
func TestPoisonWrite(t *testing.T) {
	for _, pol := range []FsyncPolicy{FsyncAlways, FsyncBatch} {
		t.Run(pol.String(), func(t *testing.T) {
			dir := logDir(t)
			l, _ := mustOpen(t, dir, Options{Fsync: pol})
			if _, err := l.AppendDurable(payloadFor(1)); err != nil {
				t.Fatal(err)
			}
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skip(err)
			}
			l.mu.Lock()
			real := l.f
			l.f = full
			l.mu.Unlock()
			defer real.Close()

			idx, err := l.Append(payloadFor(2))
			if err != nil {
				t.Fatal(err)
			}
			err = l.WaitDurable(idx)
			if !errors.Is(err, ErrPoisoned) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("WaitDurable after a failed write: %v", err)
			}
			checkPoisoned(t, l, err)
			l2, rec, err := Open(dir, Options{})
			if err != nil || rec.Frames != 1 {
				t.Fatalf("reopen: %+v, %v", rec, err)
			}
			l2.Close()
		})
	}
}

// TestPoisonFsync: a failed fsync poisons the log, and nothing it would
// have covered is acknowledged.
func TestPoisonFsync(t *testing.T) {
	for _, pol := range []FsyncPolicy{FsyncAlways, FsyncBatch} {
		t.Run(pol.String(), func(t *testing.T) {
			dir := logDir(t)
			l, _ := mustOpen(t, dir, Options{Fsync: pol})
			if _, err := l.AppendDurable(payloadFor(1)); err != nil {
				t.Fatal(err)
			}
			// fsync of a pipe fails with EINVAL; writes to it succeed.
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			go func() {
				b := make([]byte, 64<<10)
				for {
					if _, err := r.Read(b); err != nil {
						return
					}
				}
			}()
			l.mu.Lock()
			real := l.f
			l.f = w
			l.mu.Unlock()
			defer real.Close()

			var wg sync.WaitGroup
			errs := make([]error, 5)
			for i := range errs {
				wg.Go(func() { _, errs[i] = l.AppendDurable(payloadFor(uint64(i + 2))) })
			}
			wg.Wait()
			for _, err := range errs {
				if !errors.Is(err, ErrPoisoned) || !errors.Is(err, syscall.EINVAL) {
					t.Fatalf("AppendDurable with a failing fsync: %v", err)
				}
			}
			if d := l.DurableIndex(); d != 1 {
				t.Fatalf("DurableIndex %d after a failed fsync, want 1", d)
			}
			checkPoisoned(t, l, errs[0])
		})
	}
}

func checkPoisoned(t *testing.T, l *Log, poison error) {
	t.Helper()
	if _, err := l.Append(payloadFor(9)); err != poison {
		t.Fatalf("Append after poison: %v, want %v", err, poison)
	}
	if d := l.DurableIndex(); d == 0 || l.WaitDurable(d) != nil {
		t.Fatalf("WaitDurable(%d) of a frame made durable before the poison: %v", d, l.WaitDurable(d))
	}
	if last := l.LastIndex(); last <= l.DurableIndex() {
		t.Fatalf("no frame past the durable ones (last %d)", last)
	} else if err := l.WaitDurable(last); err != poison {
		t.Fatalf("WaitDurable after poison: %v", err)
	}
	if err := l.Sync(); err != poison {
		t.Fatalf("Sync after poison: %v", err)
	}
	if err := l.Err(); err != poison {
		t.Fatalf("Err: %v", err)
	}
	if err := l.Close(); err != poison {
		t.Fatalf("Close after poison: %v", err)
	}
}

func TestReplay(t *testing.T) {
	dir := writeLog(t, 50, testOpts())
	var seen []uint64
	opts := testOpts()
	opts.Replay = func(f Frame) error {
		if !bytes.Equal(f.Payload, payloadFor(f.Index)) {
			return fmt.Errorf("frame %d: wrong payload", f.Index)
		}
		seen = append(seen, f.Index)
		return nil
	}
	l, rec := mustOpen(t, dir, opts)
	l.Close()
	if len(seen) != 50 || seen[49] != 50 || rec.Frames != 50 {
		t.Fatalf("Replay saw %d frames, Recovery %+v", len(seen), rec)
	}
	stop := errors.New("stop")
	opts.Replay = func(f Frame) error {
		if f.Index == 10 {
			return stop
		}
		return nil
	}
	if _, _, err := Open(dir, opts); err != stop {
		t.Fatalf("Open with a failing Replay: %v", err)
	}
	l, _ = mustOpen(t, dir, testOpts()) // the lock was released
	l.Close()
}

// TestRecoveredRefuses: a Recovered hook sees the torn tail before it is
// cut, and its error leaves every byte of the log as it was; without the
// hook's error the tail is cut as usual.
func TestRecoveredRefuses(t *testing.T) {
	dir := writeLog(t, 20, testOpts())
	seg := segments(t, dir)[0]
	b := readFile(t, seg)
	writeFile(t, seg, b[:len(b)-5]) // tear the last frame
	before := snapshot(t, dir)
	refuse := errors.New("a checkpoint vouches for frame 20")
	var seen Recovery
	opts := testOpts()
	opts.Recovered = func(rec Recovery) error {
		seen = rec
		return refuse
	}
	if _, _, err := Open(dir, opts); err != refuse {
		t.Fatalf("Open with a refusing Recovered: %v", err)
	}
	if seen.Frames != 19 || seen.TornBytes == 0 || seen.TornAt.File != seg {
		t.Fatalf("Recovered saw %+v, want 19 frames and the torn tail in %s", seen, seg)
	}
	sameSnapshot(t, before, snapshot(t, dir))
	opts.Recovered = func(Recovery) error { return nil }
	l, rec := mustOpen(t, dir, opts)
	l.Close()
	if rec.Frames != 19 || rec.TornBytes != seen.TornBytes {
		t.Fatalf("after the hook let it pass: %+v", rec)
	}
}

func TestReadDirWhileWriting(t *testing.T) {
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{SegmentBytes: 8 << 10, Fsync: FsyncBatch, MaxBatch: 8})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 2000; i++ {
			if _, err := l.Append(payloadFor(uint64(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for reads := 0; ; reads++ {
		var n uint64
		_, err := ReadDir(dir, func(f Frame) error {
			n++
			if f.Index != n || !bytes.Equal(f.Payload, payloadFor(n)) {
				return fmt.Errorf("frame %d wrong", n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ReadDir beside the writer: %v", err)
		}
		select {
		case <-done:
			l.Close()
			fs, rec, err := readAll(t, dir)
			if err != nil || rec.TornBytes != 0 {
				t.Fatal(err, rec)
			}
			checkFrames(t, fs, 2000)
			return
		default:
		}
	}
}

func TestReadDirErrors(t *testing.T) {
	if _, err := ReadDir(filepath.Join(t.TempDir(), "none"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadDir of a missing dir: %v", err)
	}
	rec, err := ReadDir(t.TempDir(), nil)
	if err != nil || rec.Frames != 0 || rec.Segments != 0 {
		t.Fatalf("ReadDir of an empty dir: %+v, %v", rec, err)
	}
	dir := writeLog(t, 10, testOpts())
	stop := errors.New("stop")
	if _, err := ReadDir(dir, func(Frame) error { return stop }); err != stop {
		t.Fatalf("callback error: %v", err)
	}
}

// TestAppendDuringFsync: while a batch commit writes and fsyncs without
// the log's lock, appends go on into the buffer (they neither wait nor
// touch the file), up to maxBufBytes; past it they wait for the fsync.
// Every frame then lands in order.
func TestAppendDuringFsync(t *testing.T) {
	entered, gate := make(chan struct{}), make(chan struct{})
	var first sync.Once
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncBatch, MaxBatch: 8, MaxDelay: time.Millisecond,
		OnFsync: func(_ time.Duration, n int) {
			if n > 0 {
				first.Do(func() { close(entered); <-gate })
			}
		}})
	if _, err := l.Append(payloadOfSize(1, 1000)); err != nil {
		t.Fatal(err)
	}
	<-entered // the syncer holds its commit open, without mu
	next := uint64(2)
	for size := int64(0); size+1008 < maxBufBytes; size += 1008 {
		if idx, err := l.Append(payloadOfSize(next, 1000)); err != nil || idx != next {
			t.Fatalf("Append %d: %d, %v", next, idx, err)
		}
		next++
	}
	if got := l.DurableIndex(); got != 0 {
		t.Fatalf("DurableIndex %d while the first fsync is held", got)
	}
	last := next
	done := make(chan error, 1)
	go func() {
		_, err := l.Append(payloadOfSize(last, 1000))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("an append past %d buffered bytes returned (%v) during the fsync", maxBufBytes, err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.WaitDurable(last); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(fs)) != last {
		t.Fatalf("%d frames, want %d", len(fs), last)
	}
	for i, f := range fs {
		if want := payloadOfSize(uint64(i+1), 1000); f.Index != uint64(i+1) || !bytes.Equal(f.Payload, want) {
			t.Fatalf("frame %d: index %d, payload differs: %v", i+1, f.Index, !bytes.Equal(f.Payload, want))
		}
	}
}

// TestChecksumIsISCSI pins the frame CRC that FORMAT.md section 3 names:
// CRC-32C as iSCSI uses it, whose check value over "123456789" is
// 0xE3069283.
func TestChecksumIsISCSI(t *testing.T) {
	if got := checksum([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("checksum(123456789) = %#08x, want 0xe3069283", got)
	}
}

// failSegmentFsyncs makes every fsync of a segment file fail with EIO
// until the test ends (the fsyncs of the directory still work).
func failSegmentFsyncs(t *testing.T) {
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	syncFile = func(f *os.File) error {
		if strings.HasSuffix(f.Name(), ".seg") {
			return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
		}
		return f.Sync()
	}
}

// TestFsyncFailureDropsUnsynced: after a failed fsync the kernel may
// keep the pages it could not write in its cache, marked clean, and
// report the error only once ("fsyncgate"). A reopen in the same boot
// would read the frames from the cache, its fsync would succeed, and
// frames that are not on disk would become part of the log, with
// acknowledged ones appended after them. The failed Log must cut every
// frame no fsync covered, so that a reopen finds exactly the durable
// frames, whether the fsync failed in a commit, a rotation or Close.
func TestFsyncFailureDropsUnsynced(t *testing.T) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"always", Options{Fsync: FsyncAlways}},
		{"batch", Options{Fsync: FsyncBatch}},
		{"rotation", Options{Fsync: FsyncNever, AllowNoFsync: true, SegmentBytes: MinSegmentBytes}},
		{"close", Options{Fsync: FsyncNever, AllowNoFsync: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := logDir(t)
			l, _ := mustOpen(t, dir, c.opts)
			const durable = 3
			for i := uint64(1); i <= durable; i++ {
				if _, err := l.Append(payloadFor(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			failSegmentFsyncs(t)
			var err error
			for i := uint64(durable + 1); i <= 40 && err == nil; i++ {
				var idx uint64
				if idx, err = l.Append(payloadFor(i)); err == nil && c.opts.Fsync != FsyncNever {
					err = l.WaitDurable(idx)
				}
			}
			if cerr := l.Close(); err == nil {
				err = cerr
			}
			if !errors.Is(err, ErrPoisoned) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("appending with failing fsyncs: %v", err)
			}
			syncFile = (*os.File).Sync
			fs, rec, err := readAll(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Frames != durable || rec.TornBytes != 0 {
				t.Fatalf("after the failed fsync the log holds %+v, want exactly the %d durable frames", rec, durable)
			}
			checkFrames(t, fs, durable)
			l2, _ := mustOpen(t, dir, c.opts)
			if idx, err := l2.AppendDurable(payloadFor(durable + 1)); err != nil || idx != durable+1 {
				t.Fatalf("append after reopen: %d, %v", idx, err)
			}
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOpenSyncsNewAncestors: Open of a log directory whose parents do not
// exist yet creates them, and must fsync each new directory's entry in its
// parent; else a crash can take the whole log, acknowledged frames and
// all, with a directory whose entry never reached the disk.
func TestOpenSyncsNewAncestors(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "wal")
	var mu sync.Mutex
	synced := map[string]bool{}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	syncFile = func(f *os.File) error {
		mu.Lock()
		synced[f.Name()] = true
		mu.Unlock()
		return f.Sync()
	}
	l, _ := mustOpen(t, dir, Options{})
	defer l.Close()
	for _, d := range []string{base, filepath.Join(base, "a"), filepath.Join(base, "a", "b"), dir} {
		if !synced[d] {
			t.Errorf("directory %s was not fsynced after an entry was created in it", d)
		}
	}
}

// TestWaitDurableAfterPoison: a frame an fsync covered stays acknowledged
// after a later failure poisons the log. Here the failure is the creation
// of the next segment, after the rotation's fsync made every frame of the
// segment durable: waiters for those frames must not be told they are
// lost (the SDK then reports records durable in the log as dropped).
func TestWaitDurableAfterPoison(t *testing.T) {
	for _, pol := range []FsyncPolicy{FsyncAlways, FsyncBatch} {
		t.Run(pol.String(), func(t *testing.T) {
			dir := logDir(t)
			l, _ := mustOpen(t, dir, Options{Fsync: pol, SegmentBytes: MinSegmentBytes})
			defer l.Close()
			// The next segment's name is taken: creating it fails.
			if err := os.Mkdir(filepath.Join(dir, SegmentName(2)), 0o700); err != nil {
				t.Fatal(err)
			}
			var last uint64
			var err error
			for i := uint64(1); err == nil; i++ {
				var idx uint64
				if idx, err = l.Append(payloadOfSize(i, 1000)); err == nil {
					last = idx
				}
			}
			if !errors.Is(err, ErrPoisoned) || !errors.Is(err, fs.ErrExist) {
				t.Fatalf("Append needing a new segment: %v", err)
			}
			if d := l.DurableIndex(); d != last {
				t.Fatalf("DurableIndex %d, want %d (the rotation fsynced the segment)", d, last)
			}
			for _, i := range []uint64{1, last} {
				if err := l.WaitDurable(i); err != nil {
					t.Fatalf("WaitDurable(%d) of a durable frame after the poison: %v", i, err)
				}
			}
			if err := l.WaitDurable(last + 1); !errors.Is(err, ErrPoisoned) {
				t.Fatalf("WaitDurable of a frame never appended after the poison: %v", err)
			}
		})
	}
}

// TestDirFsyncFailureRemovesNewSegment: when the fsync of a new segment's
// directory entry fails, the entry may not be on disk, and the kernel may
// report the error only once. A reopen in the same boot that took the
// segment in would fsync it and the directory without error and
// acknowledge frames appended to it, and a crash would then take the file,
// those frames and all. The failed creation must remove the segment, so
// that the reopen creates (and fsyncs) its own.
//
// The test models the crash: the file whose entry's fsync failed is held
// open (so its inode is not reused) and deleted, if it is still in the
// directory, before the log is read again; every acknowledged frame must
// survive.
func TestDirFsyncFailureRemovesNewSegment(t *testing.T) {
	for _, c := range []struct {
		name string
		// durable frames appended before the failure (none: Open of an
		// empty directory creates the first segment and fails)
		durable uint64
	}{
		{"open", 0},
		{"rotation", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := logDir(t)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			opts := Options{Fsync: FsyncAlways, SegmentBytes: MinSegmentBytes}
			var l *Log
			acked := c.durable // the last acknowledged frame
			if c.durable > 0 {
				l, _ = mustOpen(t, dir, opts)
				for i := uint64(1); i <= c.durable; i++ {
					if _, err := l.AppendDurable(payloadFor(i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Fail the next fsync of the directory, once, and hold the
			// segment it was for.
			var failedSeg *os.File
			t.Cleanup(func() {
				syncFile = (*os.File).Sync
				if failedSeg != nil {
					failedSeg.Close()
				}
			})
			syncFile = func(f *os.File) error {
				if f.Name() != dir || failedSeg != nil {
					return f.Sync()
				}
				segs := segments(t, dir)
				sf, err := os.Open(segs[len(segs)-1])
				if err != nil {
					t.Error(err)
					return f.Sync()
				}
				failedSeg = sf
				return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
			}
			var err error
			if l == nil {
				_, _, err = Open(dir, opts)
			} else {
				for err == nil && acked < c.durable+200 {
					if _, err = l.AppendDurable(payloadFor(acked + 1)); err == nil {
						acked++
					}
				}
				if cerr := l.Close(); !errors.Is(cerr, ErrPoisoned) {
					t.Errorf("Close after the failure: %v, want the poison", cerr)
				}
				if !errors.Is(err, ErrPoisoned) {
					t.Errorf("append after the failed creation: %v, want ErrPoisoned", err)
				}
			}
			if failedSeg == nil {
				t.Fatalf("no directory fsync failed (err %v)", err)
			}
			seg := filepath.Base(failedSeg.Name())
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), seg) {
				t.Errorf("error %v: want EIO, naming %s and %s", err, dir, seg)
			}
			if _, serr := os.Stat(failedSeg.Name()); !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("segment %s whose directory entry is not durable is still there (%v)", seg, serr)
			}

			// Reopen in the same boot, the fsyncs working again, and
			// acknowledge more frames, enough to rotate.
			syncFile = (*os.File).Sync
			l2, _ := mustOpen(t, dir, opts)
			const more = 100
			for i := acked + 1; i <= acked+more; i++ {
				if idx, err := l2.AppendDurable(payloadFor(i)); err != nil || idx != i {
					t.Fatalf("append %d after reopen: %d, %v", i, idx, err)
				}
			}
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}

			// The crash takes the entry whose fsync failed.
			fi, err := failedSeg.Stat()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range segments(t, dir) {
				if pi, err := os.Stat(p); err == nil && os.SameFile(pi, fi) {
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
				}
			}
			frames, rec, err := readAll(t, dir)
			if err != nil || rec.Frames != acked+more {
				t.Fatalf("after the crash the log holds %+v (%v), want the %d acknowledged frames", rec, err, acked+more)
			}
			checkFrames(t, frames, int(acked+more))
		})
	}
}

// TestFailedHeaderRecoveryRemovesSegment: Open finds an interrupted
// segment creation (a prefix of the header, then zeros) and writes the
// header again. When the fsync of the rewritten header, or of the
// directory, fails, the header (or the entry) may not be on disk, and the
// kernel may report the error only once: a reopen in the same boot that
// took the segment in would fsync it without error and acknowledge frames
// appended after a header a crash can still take away. The failed Open
// must remove the segment, so that the reopen creates (and fsyncs) its own.
//
// The crash is modelled as in TestDirFsyncFailureRemovesNewSegment: the
// file whose fsync failed is held open, and if it is still in the log when
// the log is read again, it loses what the failed fsync was for (its
// header goes back to the torn bytes, or its directory entry goes).
func TestFailedHeaderRecoveryRemovesSegment(t *testing.T) {
	for _, c := range []struct {
		name  string
		dir   bool // the directory's fsync fails, not the segment's
		first bool // the interrupted segment is the first one
	}{
		{"header", false, false},
		{"directory", true, false},
		{"first-header", false, true},
		{"first-directory", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{Fsync: FsyncAlways, SegmentBytes: MinSegmentBytes}
			var acked uint64 // the last acknowledged frame
			dir := logDir(t)
			if c.first {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				acked = 50
				dir = writeLog(t, int(acked), opts)
			}
			num := uint64(len(segments(t, dir)) + 1)
			seg := filepath.Join(dir, SegmentName(num))
			torn := append(bytes.Clone(encodeHeader(num, acked+1)[:11]), make([]byte, 40)...)
			writeFile(t, seg, torn)

			var failed *os.File
			t.Cleanup(func() {
				syncFile = (*os.File).Sync
				if failed != nil {
					failed.Close()
				}
			})
			syncFile = func(f *os.File) error {
				target := seg
				if c.dir {
					target = dir
				}
				if f.Name() != target || failed != nil {
					return f.Sync()
				}
				sf, err := os.Open(seg)
				if err != nil {
					t.Error(err)
					return f.Sync()
				}
				failed = sf
				return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
			}
			_, _, err := Open(dir, opts)
			if failed == nil {
				t.Fatalf("no fsync failed (Open: %v)", err)
			}
			where := seg
			if c.dir {
				where = dir
			}
			if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), where) ||
				!strings.Contains(err.Error(), SegmentName(num)) {
				t.Errorf("Open: %v: want EIO, naming %s and segment %s", err, where, SegmentName(num))
			}
			if _, serr := os.Stat(seg); !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("segment %s whose rewritten header is not durable is still there (%v)", seg, serr)
			}

			// Reopen in the same boot, the fsyncs working again, and
			// acknowledge more frames, enough to rotate.
			syncFile = (*os.File).Sync
			l, _ := mustOpen(t, dir, opts)
			const more = 100
			for i := acked + 1; i <= acked+more; i++ {
				if idx, err := l.AppendDurable(payloadFor(i)); err != nil || idx != i {
					t.Fatalf("append %d after reopen: %d, %v", i, idx, err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			// The crash takes what the failed fsync was for.
			fi, err := failed.Stat()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range segments(t, dir) {
				pi, err := os.Stat(p)
				if err != nil || !os.SameFile(pi, fi) {
					continue
				}
				if c.dir {
					err = os.Remove(p)
				} else {
					var w *os.File
					if w, err = os.OpenFile(p, os.O_WRONLY, 0); err == nil {
						_, err = w.WriteAt(torn[:SegmentHeaderSize], 0)
						if cerr := w.Close(); err == nil {
							err = cerr
						}
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			frames, rec, err := readAll(t, dir)
			if err != nil || rec.Frames != acked+more {
				t.Fatalf("after the crash the log holds %+v (%v), want the %d acknowledged frames", rec, err, acked+more)
			}
			checkFrames(t, frames, int(acked+more))
		})
	}
}

// TestRecoveredAfterFramesDurable: Recovered is where a caller writes
// what vouches for the frames the scan found (sdk.OpenDurable's
// checkpoint.Keeper writes the checkpoints a crash kept it from writing,
// in CheckReplay). After a crash of the process, not of the machine, the
// last segment's frames may be in the page cache only: a checkpoint
// written and fsynced before they are would survive a power loss that
// takes them, and vouch for frames the log no longer holds. So Open must
// have fsynced the last segment (every earlier one was fsynced by the
// rotation that ended it) before it calls Recovered, torn tail or not.
func TestRecoveredAfterFramesDurable(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprintf("torn=%v", torn), func(t *testing.T) {
			dir := writeLog(t, 200, Options{Fsync: FsyncNever, AllowNoFsync: true, SegmentBytes: MinSegmentBytes})
			segs := segments(t, dir)
			last := segs[len(segs)-1]
			if torn {
				b := readFile(t, last)
				writeFile(t, last, b[:len(b)-5])
			}
			var events []string
			t.Cleanup(func() { syncFile = (*os.File).Sync })
			syncFile = func(f *os.File) error {
				events = append(events, "fsync "+f.Name())
				return f.Sync()
			}
			opts := testOpts()
			opts.Recovered = func(Recovery) error {
				events = append(events, "recovered")
				return nil
			}
			l, _ := mustOpen(t, dir, opts)
			l.Close()
			synced := false
			for _, e := range events {
				if e == "fsync "+last {
					synced = true
				}
				if e == "recovered" {
					if !synced {
						t.Fatalf("Recovered was called before the last segment %s was fsynced: %q", last, events)
					}
					return
				}
			}
			t.Fatalf("Recovered was not called: %q", events)
		})
	}
}

// TestSyncDir: SyncDir fsyncs the last segment, the only one a writer can
// have left frames in the page cache only (an earlier one was fsynced by
// the rotation that ended it), and the directory, and changes nothing.
func TestSyncDir(t *testing.T) {
	dir := writeLog(t, 200, Options{Fsync: FsyncNever, AllowNoFsync: true, SegmentBytes: MinSegmentBytes})
	segs := segments(t, dir)
	before := snapshot(t, dir)
	var synced []string
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	syncFile = func(f *os.File) error {
		synced = append(synced, f.Name())
		return f.Sync()
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if want := []string{segs[len(segs)-1], dir}; !slices.Equal(synced, want) {
		t.Errorf("SyncDir fsynced %q, want %q", synced, want)
	}
	sameSnapshot(t, before, snapshot(t, dir))
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("SyncDir of a directory without segments: %v", err)
	}
}
