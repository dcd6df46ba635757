package wal

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
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
// moments. The child appends from 4 goroutines with FsyncBatch and prints
// each frame's index only once WaitDurable has returned; after each kill
// the log must reopen with every printed frame, every frame's payload
// must be payloadFor(index), and the log must read cleanly.
//
// SIGKILL leaves the page cache alone, so this proves that what is
// acknowledged has left the process and that recovery copes with any
// moment of a writer's life (rotations included); it cannot prove the
// fsync reached the disk, which only a power cut can.
func TestCrashRecovery(t *testing.T) {
	dir := logDir(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds", seed, *crashRounds)
	rng := rand.New(rand.NewPCG(seed, 1))
	var acked, torn int
	for round := range *crashRounds {
		idxs, stderr := runCrashChild(t, dir, time.Duration(5+rng.IntN(96))*time.Millisecond)
		acked += len(idxs)
		var maxAcked uint64
		for _, i := range idxs {
			maxAcked = max(maxAcked, i)
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
	t.Logf("%d frames acknowledged over %d rounds; %d torn tails cut; %d segments", acked, *crashRounds, torn, len(segments(t, dir)))
	if acked == 0 {
		t.Fatal("the child never acknowledged a frame")
	}
}

// runCrashChild starts a crash child on dir, kills it after d from its
// first report, and returns the indexes it printed and its stderr.
func runCrashChild(t *testing.T, dir string, d time.Duration) ([]uint64, string) {
	t.Helper()
	c := crashtest.Start(t, os.Args[0], []string{childEnv + "=crash", childDirEnv + "=" + dir}, "-test.run=^$")
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
	l, rec, err := Open(dir, Options{Fsync: FsyncBatch, MaxBatch: 8, SegmentBytes: crashSegBytes})
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
