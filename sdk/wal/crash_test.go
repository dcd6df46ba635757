package wal

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/crashtest"
)

var crashRounds = flag.Int("wal.crashrounds", 50, "rounds of TestCrashRecovery (each kills a writer with SIGKILL)")

// crashSegBytes is small so that kills also land in rotations.
const crashSegBytes = 64 << 10

// TestCrashRecovery kills a writing child process with SIGKILL at random
// moments. The child appends from 4 goroutines with FsyncBatch (a random
// MaxBatch) or, in a quarter of the rounds, FsyncAlways, and prints
// each frame's index only once WaitDurable has returned; after each kill
// the log must reopen with every printed frame, every frame's payload
// must be payloadFor(index), and the log must read cleanly.
//
// SIGKILL leaves the page cache alone, so this proves that what is
// acknowledged has left the process and that recovery copes with any
// moment of a writer's life (rotations included); it cannot prove the
// fsync reached the disk, which only a power cut can.
//
// A SIGKILL never tears a frame either: the kernel finishes the write(2)
// under way, so the killed writer's log ends at a frame boundary (500
// rounds cut no torn tail). Half the rounds therefore tear the tail as a
// power cut may leave it (tearTail), past the last acknowledged frame,
// and recovery must cut exactly the torn bytes: keep every whole frame
// before the tear, and no frame after it.
func TestCrashRecovery(t *testing.T) {
	dir := logDir(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds", seed, *crashRounds)
	rng := rand.New(rand.NewPCG(seed, 1))
	var acked, torn, tears, flips int
	for round := range *crashRounds {
		policy := []string{"batch", "batch", "batch", "always"}[rng.IntN(4)]
		maxBatch := []int{MinMaxBatch, 8, 32, MaxMaxBatch}[rng.IntN(4)]
		idxs, stderr := runCrashChild(t, dir, policy, maxBatch, time.Duration(5+rng.IntN(96))*time.Millisecond)
		stderr += fmt.Sprintf("\n(the child's policy: %s, MaxBatch %d)", policy, maxBatch)
		acked += len(idxs)
		var maxAcked uint64
		for _, i := range idxs {
			maxAcked = max(maxAcked, i)
		}
		want := int64(-1) // the frames recovery must keep after a tear
		if rng.IntN(2) == 0 {
			tears++
			var how string
			want, how = tearTail(t, dir, maxAcked, rng)
			stderr += "\n(the parent tore the tail: " + how + ")"
		} else if rng.IntN(2) == 0 {
			flips++
			flipRefused(t, round, dir, rng)
		}
		l, rec, err := Open(dir, Options{SegmentBytes: crashSegBytes, Replay: func(f Frame) error {
			if !bytes.Equal(f.Payload, payloadFor(f.Index)) {
				return fmt.Errorf("frame %d: wrong payload", f.Index)
			}
			return nil
		}})
		if err != nil {
			t.Fatalf("round %d: reopen: %v\nchild stderr:\n%s", round, err, stderr)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if rec.Frames < maxAcked {
			t.Fatalf("round %d: the child acknowledged frame %d, the log has %d frames", round, maxAcked, rec.Frames)
		}
		if want >= 0 && rec.Frames != uint64(want) {
			t.Fatalf("round %d: recovery kept %d frames, the tear left %d whole ones (%+v)\n%s", round, rec.Frames, want, rec, stderr)
		}
		if rec.TornBytes > 0 {
			torn++
			t.Logf("round %d: cut %d torn bytes at %v (%s)", round, rec.TornBytes, rec.TornAt, rec.TornReason)
		}
		fs, rrec, err := readAll(t, dir)
		if err != nil || rrec.TornBytes != 0 {
			t.Fatalf("round %d: after recovery: %+v, %v", round, rrec, err)
		}
		checkFrames(t, fs, int(rec.Frames))
	}
	t.Logf("%d frames acknowledged over %d rounds; %d tails torn by the test, %d torn tails cut; %d flipped bits refused; %d segments", acked, *crashRounds, tears, torn, flips, len(segments(t, dir)))
	if acked == 0 {
		t.Fatal("the child never acknowledged a frame")
	}
}

// tearTail leaves the last segment of the killed writer's log in dir as a
// power cut may (FORMAT.md section 6: what the writer wrote, cut anywhere,
// possibly followed by zero bytes): cut at a random offset past the end of
// frame maxAcked (acknowledged, so fsynced: no power cut takes it), even
// inside the segment's header when no acknowledged frame is in it, and in
// half the tears followed by zero bytes. Only the last segment can tear:
// a rotation fsyncs a segment before the next exists. It returns how many
// frames end at or before the cut (what recovery must keep) and what it
// did.
func tearTail(t *testing.T, dir string, maxAcked uint64, rng *rand.Rand) (int64, string) {
	t.Helper()
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatalf("reading the killed writer's log: %v", err)
	}
	segs := segments(t, dir)
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	size, lo := fi.Size(), int64(0)
	for _, f := range fs {
		if f.Index == maxAcked && f.File == last {
			lo = f.Offset + FrameHeaderSize + int64(len(f.Payload))
		}
	}
	cut := lo + rng.Int64N(size-lo+1)
	var keep int64
	for _, f := range fs {
		if f.File != last || f.Offset+FrameHeaderSize+int64(len(f.Payload)) <= cut {
			keep++
		}
	}
	end := cut
	if rng.IntN(2) == 0 {
		end += rng.Int64N(8 << 10) // a zeroed page, or part of one
	}
	if err := os.Truncate(last, cut); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, end); err != nil { // zeros from cut to end
		t.Fatal(err)
	}
	return keep, fmt.Sprintf("%s cut from %d to %d bytes (frame %d ends at %d there), then zeros to %d", filepath.Base(last), size, cut, maxAcked, lo, end)
}

// flipRefused flips one random bit of the killed writer's log anywhere
// but in the final frame of the last segment (damage there looks exactly
// like a torn append: FORMAT.md section 6), checks that Open refuses the
// log as corrupt and changes no byte of it, and flips the bit back. Only
// the bytes of a last segment with no frame are spared too: zeroing the
// last non-zero byte of its header can make it an interrupted creation,
// which recovery rewrites, losing nothing.
//
// A last segment the kill left with a torn tail (a write the kill cut) is
// flipped too: rule 3 of FORMAT.md section 6 finds the intact frames a
// damaged length hides though a torn append follows them.
func flipRefused(t *testing.T, round int, dir string, rng *rand.Rand) {
	t.Helper()
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatalf("round %d: reading the killed writer's log: %v", round, err)
	}
	segs := segments(t, dir)
	last := segs[len(segs)-1]
	final := int64(-1) // the offset of the last segment's final frame
	for _, f := range fs {
		if f.File == last {
			final = f.Offset
		}
	}
	if final < 0 {
		segs = segs[:len(segs)-1]
	}
	if len(segs) == 0 {
		return
	}
	path := segs[rng.IntN(len(segs))]
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if path == last {
		b = b[:final] // the header and every frame before the final one
	}
	if len(b) == 0 {
		return
	}
	at, bit := rng.IntN(len(b)), byte(1)<<rng.IntN(8)
	flip := func() {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{b[at] ^ bit}, int64(at)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		b[at] ^= bit
	}
	flip()
	before := snapshot(t, dir)
	l, rec, err := Open(dir, Options{SegmentBytes: crashSegBytes})
	if err == nil {
		l.Close()
		t.Fatalf("round %d: bit %02x of byte %d of %s flipped, and the log opened: %+v", round, bit, at, filepath.Base(path), rec)
	}
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
		t.Fatalf("round %d: bit %02x of byte %d of %s flipped: %v, want ErrCorrupt", round, bit, at, filepath.Base(path), err)
	}
	sameSnapshot(t, before, snapshot(t, dir))
	flip()
}

// runCrashChild starts a crash child on dir, kills it after d from its
// first report, and returns the indexes it printed and its stderr.
func runCrashChild(t *testing.T, dir, policy string, maxBatch int, d time.Duration) ([]uint64, string) {
	t.Helper()
	c := crashtest.Start(t, os.Args[0], []string{childEnv + "=crash", childDirEnv + "=" + dir,
		"WAL_CRASH_FSYNC=" + policy, "WAL_CRASH_MAXBATCH=" + strconv.Itoa(maxBatch)}, "-test.run=^$")
	line, err := c.Line(30 * time.Second)
	if err == nil && !strings.HasPrefix(line, "ready ") {
		err = fmt.Errorf("child's first line %q", line)
	}
	if err == nil {
		time.Sleep(d)
	}
	var idxs []uint64
	for _, s := range c.Kill(t, err) {
		i, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", s)
		}
		idxs = append(idxs, i)
	}
	return idxs, c.Stderr()
}

// crashChild appends payloadFor(i) from 4 goroutines as fast as it can,
// printing i once frame i is durable, until it is killed.
func crashChild(dir string) {
	fail := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, f+"\n", a...)
		os.Exit(3)
	}
	policy, err := ParseFsyncPolicy(os.Getenv("WAL_CRASH_FSYNC"))
	if err != nil || policy == FsyncNever {
		fail("WAL_CRASH_FSYNC %q: %v", os.Getenv("WAL_CRASH_FSYNC"), err)
	}
	maxBatch, err := strconv.Atoi(os.Getenv("WAL_CRASH_MAXBATCH"))
	if err != nil {
		fail("WAL_CRASH_MAXBATCH: %v", err)
	}
	l, rec, err := Open(dir, Options{Fsync: policy, MaxBatch: maxBatch, SegmentBytes: crashSegBytes})
	if err != nil {
		fail("open: %v", err)
	}
	os.Stdout.WriteString("ready " + strconv.FormatUint(rec.Frames, 10) + "\n")
	var mu sync.Mutex
	next := rec.Frames + 1
	for range 4 {
		go func() {
			for {
				// The payload depends on the index, so take the index and
				// append under one lock; the waits run concurrently.
				mu.Lock()
				i := next
				next++
				got, err := l.Append(payloadFor(i))
				mu.Unlock()
				if err != nil || got != i {
					fail("append %d: got %d, %v", i, got, err)
				}
				if err := l.WaitDurable(i); err != nil {
					fail("wait %d: %v", i, err)
				}
				// One write per line: lines from several goroutines do
				// not interleave.
				os.Stdout.WriteString(strconv.FormatUint(i, 10) + "\n")
			}
		}()
	}
	time.Sleep(time.Minute) // the parent kills us long before
	fail("not killed")
}
