package wal

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRotationWaitersShareTheNewSegment: FORMAT.md says the writer
// rotates when a frame would take the segment past its size. Appenders
// whose frames did not fit while an fsync was under way each waited for
// it and then rotated, the first from the full segment, every later one
// from the segment the one before had just started with a single frame:
// under concurrent load a rotation left a trail of one-frame segments (a
// probe of 16 appenders over 64 KiB segments: 506 segments where about
// 75 hold the frames, 388 of them with one or two frames), each costing
// two fsyncs of a file and one of the directory. After the wait, an
// appender must look again whether its frame fits.
func TestRotationWaitersShareTheNewSegment(t *testing.T) {
	entered, gate := make(chan struct{}), make(chan struct{})
	var hold sync.Once
	holding := false
	dir := logDir(t)
	l, _ := mustOpen(t, dir, Options{Fsync: FsyncAlways, SegmentBytes: MinSegmentBytes,
		OnFsync: func(_ time.Duration, n int) {
			if n > 0 && holding {
				hold.Do(func() { close(entered); <-gate })
			}
		}})
	// Fill the first segment up to 1000 bytes before its end.
	if _, err := l.Append(payloadOfSize(1, MinSegmentBytes-SegmentHeaderSize-FrameHeaderSize-1000)); err != nil {
		t.Fatal(err)
	}
	holding = true
	synced := make(chan error, 1)
	go func() { synced <- l.Sync() }()
	<-entered // the commit is under way, without mu

	// Two frames that do not fit in what is left, but together fit in a
	// new segment.
	var wg sync.WaitGroup
	idx := make([]uint64, 2)
	for i := range idx {
		wg.Go(func() {
			var err error
			if idx[i], err = l.Append(payloadOfSize(uint64(2+i), 1500)); err != nil {
				t.Error(err)
			}
		})
	}
	// Until both wait for the commit.
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		waiting := 0
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "sync.(*Cond).Wait") && strings.Contains(g, "(*Log).Append") {
				waiting++
			}
		}
		if waiting == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 {
		t.Fatalf("%d frames, want 3", len(fs))
	}
	if segs := segments(t, dir); len(segs) != 2 || fs[1].Segment != 2 || fs[2].Segment != 2 {
		t.Fatalf("%d segments, frames 2 and 3 in segments %d and %d: want both in segment 2, the second fitting there",
			len(segs), fs[1].Segment, fs[2].Segment)
	}
}
