package wal

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
)

// Position is a place in a log: a segment file and a byte offset in it.
type Position struct {
	File   string
	Offset int64
}

func (p Position) String() string { return p.File + ":" + strconv.FormatInt(p.Offset, 10) }

// Recovery is what scanning a log found. Open returns it after repairing
// the log; ReadDir returns what Open would find, without repairing
// anything.
type Recovery struct {
	// Segments is the number of segment files (after Open: including one
	// it created).
	Segments int
	// Frames is the number of good frames; they have indexes 1..Frames.
	Frames uint64
	// TornBytes is the size of the torn tail of the last segment, which
	// Open cut (ReadDir: which Open would cut); 0 when the log ends
	// cleanly. TornAt is where it started and TornReason what it was.
	TornBytes  int64
	TornAt     Position
	TornReason string
	// Created: Open found no segment and started a new log.
	Created bool
}

// scanResult is a Recovery plus what Open needs about the last segment.
type scanResult struct {
	rec  Recovery
	last SegmentInfo // of the last segment; File "" when there is none
	num  uint64      // its number
}

// ReadDir reads the log in dir without locking or changing it and calls
// fn with every good frame in index order; Frame.Payload is only valid
// during the call. It checks what Open checks: segment headers, segment
// numbers and first frame indexes continuous, every frame's checksum. A
// torn tail at the end of the last segment is reported in the Recovery
// (as what Open would cut), not as an error; damage that is not a torn
// tail is a *CorruptError, returned after fn has seen every good frame
// before it. An error from fn stops the read and is returned as is.
//
// ReadDir may run while a writer appends: it then reads the frames
// written so far, and a frame being written shows as a torn tail.
func ReadDir(dir string, fn func(Frame) error) (Recovery, error) {
	res, err := scanDir(dir, fn)
	return res.rec, err
}

// SyncDir makes durable every frame a reader of the log in dir can have
// read, whatever the writer has fsynced: it fsyncs the last segment and
// the directory, without the lock and without changing a byte. A reader
// that signs or hands out what it read (a checkpoint, an export bundle)
// calls it after reading and before it writes that: a writer beside it
// writes frames before its fsync covers them, and a writer killed
// (SIGKILL) leaves its last frames in the page cache only, where a power
// loss takes them away from under the durable checkpoint that vouches
// for them. Every earlier segment was fsynced by the rotation that ended
// it, before the next segment existed, so the last segment now is the
// only one that can hold frames not on disk, even if the writer rotated
// since the read. A log with no segment is not an error. Not on Windows,
// where a file opened for reading cannot be flushed.
//
// After a failed write or fsync the writer cuts what it had not made durable
// (FORMAT.md, "Failure"): frames read before such a failure may be gone
// whatever SyncDir returns; the writer's error is the report of it.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	nums, err := listSegments(dir)
	if err != nil || len(nums) == 0 {
		return err
	}
	path := filepath.Join(dir, SegmentName(nums[len(nums)-1]))
	// Read-only: a reader may not be allowed to write the log, and Linux
	// fsyncs a file opened for reading all the same.
	f, _, err := fsutil.OpenRegular(path)
	if err != nil {
		return &Error{Op: "fsync", Path: path, Err: err}
	}
	err = syncFile(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &Error{Op: "fsync", Path: path, Err: err}
	}
	if err := syncDir(dir); err != nil {
		return &Error{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// listSegments returns the segment numbers in dir, sorted.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{Op: "read", Path: dir, Err: err}
	}
	var nums []uint64
	for _, e := range ents {
		if n, ok := parseSegmentName(e.Name()); ok {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	return nums, nil
}

func scanDir(dir string, fn func(Frame) error) (scanResult, error) {
	var res scanResult
	nums, err := listSegments(dir)
	if err != nil {
		return res, err
	}
	res.rec.Segments = len(nums)
	var prev uint64 // index of the last good frame so far
	for i, n := range nums {
		path := filepath.Join(dir, SegmentName(n))
		if want := uint64(i) + 1; n != want {
			if n == 0 {
				return res, &CorruptError{File: path, Reason: "segment number 0 is invalid (numbers start at 1)", LastIndex: prev}
			}
			return res, &CorruptError{
				File:      filepath.Join(dir, SegmentName(want)),
				Reason:    fmt.Sprintf("segment %d is missing (the next segment file is %s)", want, SegmentName(n)),
				LastIndex: prev,
			}
		}
		last := i == len(nums)-1
		info, err := scanSegmentFile(path, last, encodeHeader(n, prev+1), prev, fn)
		if err != nil {
			return res, err
		}
		prev += info.Frames
		if last {
			res.last = info
			res.num = n
			if info.TornBytes > 0 || info.HeaderTorn {
				res.rec.TornBytes = info.TornBytes
				res.rec.TornAt = Position{File: path, Offset: info.End}
				res.rec.TornReason = info.TornReason
			}
		}
	}
	res.rec.Frames = prev
	return res, nil
}
