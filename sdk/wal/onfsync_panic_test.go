package wal

import (
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// errHookPanic is what panicHook panics with.
var errHookPanic = errors.New("OnFsync panicked (test)")

// panicHook is an OnFsync hook that counts the calls and the frames
// reported and panics at call number at (0: never).
type panicHook struct {
	calls, frames, at atomic.Int64
}

func (h *panicHook) hook(_ time.Duration, frames int) {
	n := h.calls.Add(1)
	h.frames.Add(int64(frames))
	if n == h.at.Load() {
		panic(errHookPanic)
	}
}

// armNext makes the next call panic.
func (h *panicHook) armNext() { h.at.Store(h.calls.Load() + 1) }

// wantHookPanic runs f and fails t unless it panicked with errHookPanic.
func wantHookPanic(t *testing.T, what string, f func()) {
	t.Helper()
	var v any
	func() {
		defer func() { v = recover() }()
		f()
	}()
	if v != errHookPanic {
		t.Fatalf("%s: recovered %v, want the OnFsync hook's panic to reach the caller", what, v)
	}
}

// wantReopen opens dir again, checks that it holds
// frames 1..n exactly, and closes it.
func wantReopen(t *testing.T, dir string, n int) {
	t.Helper()
	l, rec, err := Open(dir, Options{Fsync: FsyncAlways})
	if err != nil {
		t.Fatalf("Open after the recovered panic: %v (the Log's lock or file still held)", err)
	}
	if rec.Frames != uint64(n) {
		t.Errorf("reopened with %d frames, want %d", rec.Frames, n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkFrames(t, fs, n)
}

// A panicking OnFsync hook (the host's metrics callback) in Close's
// commit ran without the Log's mutex, which close()'s deferred unlock
// then unlocked again: "fatal error: sync: unlock of unlocked mutex",
// which no recover catches, killed the process. The panic must reach
// Close's caller as a panic, the fsync it reported be accounted (the
// frame durable, reported once), and the next Close finish the close:
// close the file and release the lock, so that the log opens again.
func TestOnFsyncPanicInClose(t *testing.T) {
	var h panicHook
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncAlways, OnFsync: h.hook})
	if _, err := l.Append(payloadFor(1)); err != nil { // FsyncAlways: Close fsyncs it
		t.Fatal(err)
	}
	h.armNext()
	wantHookPanic(t, "Close", func() { _ = l.Close() })
	if d := l.DurableIndex(); d != 1 {
		t.Errorf("DurableIndex after the panicking hook reported the fsync of frame 1: %d, want 1", d)
	}
	if _, err := l.Append(payloadFor(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after the Close that panicked: %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close again: %v, want nil (the close finished)", err)
	}
	if f := h.frames.Load(); f != 1 {
		t.Errorf("the hook was told of %d frames made durable, want 1 (each once)", f)
	}
	wantReopen(t, dir, 1)
	if err := l.Close(); err != nil {
		t.Errorf("a third Close: %v, want nil", err)
	}
}

// The same in a commit on the caller's goroutine (WaitDurable under
// FsyncAlways, through waitStep's deferred unlock): the panic reaches the
// caller, the frames the fsync covered are durable, and the Log goes on
// (no fsync left marked under way, which would hang every later commit).
func TestOnFsyncPanicInWaitDurable(t *testing.T) {
	var h panicHook
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncAlways, OnFsync: h.hook})
	for i := uint64(1); i <= 2; i++ {
		if _, err := l.Append(payloadFor(i)); err != nil {
			t.Fatal(err)
		}
	}
	h.armNext()
	wantHookPanic(t, "WaitDurable", func() { _ = l.WaitDurable(2) })
	if d := l.DurableIndex(); d != 2 {
		t.Errorf("DurableIndex after the panic: %d, want 2", d)
	}
	if err := l.WaitDurable(2); err != nil {
		t.Errorf("WaitDurable(2) again: %v", err)
	}
	h.armNext()
	if _, err := l.Append(payloadFor(3)); err != nil {
		t.Fatal(err)
	}
	wantHookPanic(t, "Sync", func() { _ = l.Sync() })
	done := make(chan error, 1)
	go func() {
		_, err := l.AppendDurable(payloadFor(4))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("AppendDurable after the panics: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("AppendDurable after the panics hung: the commit that panicked was left under way")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if f := h.frames.Load(); f != 4 {
		t.Errorf("the hook was told of %d frames made durable, want 4 (each once)", f)
	}
	wantReopen(t, dir, 4)
}

// A rotation's two fsyncs, each reporting to the hook with the Log's
// mutex held: the full segment's, whose panic left its frames durable
// but not counted so, and the new segment's header's, whose panic left
// the new segment made but not taken (the old one closed, no current
// file): the next append then failed on the closed file and poisoned the
// Log. Either way the Log must go on, losing and repeating no frame.
func TestOnFsyncPanicInRotation(t *testing.T) {
	for _, c := range []struct {
		name string
		skip int64 // hook calls of the rotation before the one that panics
	}{{"segment", 0}, {"new segment header", 1}} {
		t.Run(c.name, func(t *testing.T) {
			var h panicHook
			dir := logDir(t)
			l, _ := mustOpen(t, dir, Options{Fsync: FsyncAlways, SegmentBytes: MinSegmentBytes, OnFsync: h.hook})
			big := MinSegmentBytes/2 - FrameHeaderSize - 100
			for i := uint64(1); i <= 2; i++ {
				if _, err := l.Append(payloadOfSize(i, big)); err != nil {
					t.Fatal(err)
				}
			}
			h.at.Store(h.calls.Load() + 1 + c.skip)
			wantHookPanic(t, "the Append that rotates", func() { _, _ = l.Append(payloadOfSize(3, big)) })
			if d := l.DurableIndex(); d != 2 {
				t.Errorf("DurableIndex after the panic: %d, want 2 (the rotation's fsync covered both frames)", d)
			}
			for i := uint64(3); i <= 5; i++ {
				if _, err := l.AppendDurable(payloadOfSize(i, big)); err != nil {
					t.Fatalf("AppendDurable %d after the panic: %v", i, err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if f := h.frames.Load(); f != 5 {
				t.Errorf("the hook was told of %d frames made durable, want 5 (each once)", f)
			}
			fs, _, err := readAll(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 5 {
				t.Fatalf("%d frames after reopening, want 5", len(fs))
			}
			for i, f := range fs {
				if f.Index != uint64(i+1) || len(f.Payload) != big {
					t.Errorf("frame %d: index %d, %d bytes; want index %d, %d bytes", i, f.Index, len(f.Payload), i+1, big)
				}
			}
		})
	}
}

// Open's recovery fsyncs the last segment and reports it to the hook;
// a panic there (or in Replay or Recovered, the host's code too) left
// the segment open and the lock held by a Log no one has: every later
// Open of the directory in the process failed with ErrLocked.
func TestOnFsyncPanicInOpen(t *testing.T) {
	dir := writeLog(t, 3, Options{Fsync: FsyncAlways})
	var h panicHook
	h.armNext()
	wantHookPanic(t, "Open", func() { _, _, _ = Open(dir, Options{Fsync: FsyncAlways, OnFsync: h.hook}) })
	wantReopen(t, dir, 3)
	wantHookPanic(t, "Open with a panicking Recovered", func() {
		_, _, _ = Open(dir, Options{Fsync: FsyncAlways, Recovered: func(Recovery) error { panic(errHookPanic) }})
	})
	wantReopen(t, dir, 3)
}

// A panic of the hook in a rotation's fsync of the full segment left the
// frames durable (WaitDurable returns nil for them) but not the segment's
// synced end, which a failed write or fsync cuts the segment back to. A
// frame small enough to fit in that segment goes there after the panic;
// when its fsync then failed, the cut went back to the end the last
// commit had made durable, and took the frames the rotation's fsync had
// made durable, and acknowledged, with it.
func TestOnFsyncPanicInRotationThenFailedFsync(t *testing.T) {
	var h panicHook
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncAlways, SegmentBytes: MinSegmentBytes, OnFsync: h.hook})
	big := MinSegmentBytes/2 - FrameHeaderSize - 100
	for i := uint64(1); i <= 2; i++ {
		if _, err := l.Append(payloadOfSize(i, big)); err != nil {
			t.Fatal(err)
		}
	}
	h.armNext()
	wantHookPanic(t, "the Append that rotates", func() { _, _ = l.Append(payloadOfSize(3, big)) })
	if err := l.WaitDurable(2); err != nil {
		t.Fatalf("WaitDurable(2) after the rotation's fsync: %v", err)
	}
	// Frame 3 is small: it fits in the segment the rotation did not leave.
	if _, err := l.Append(payloadOfSize(3, 20)); err != nil {
		t.Fatal(err)
	}
	failSegmentFsyncs(t)
	if err := l.WaitDurable(3); err == nil {
		t.Fatal("WaitDurable(3) with a failing fsync: nil")
	}
	syncFile = (*os.File).Sync
	if err := l.WaitDurable(2); err != nil {
		t.Errorf("WaitDurable(2) after the failed fsync of frame 3: %v (frame 2 was durable)", err)
	}
	l.Close()
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("%d frames after the failed fsync of frame 3, want the 2 acknowledged", len(fs))
	}
}
