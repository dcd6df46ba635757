package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
)

// FsyncPolicy says when the Log fsyncs appended frames.
type FsyncPolicy int

const (
	// FsyncBatch (the default) is group commit: the log fsyncs once
	// MaxBatch frames are waiting, or MaxDelay after the oldest of them
	// was appended, whichever comes first; one fsync covers every frame
	// appended before it. WaitDurable waits for that fsync.
	FsyncBatch FsyncPolicy = iota
	// FsyncAlways fsyncs as soon as someone waits: WaitDurable fsyncs at
	// once, unless an fsync is under way, which it waits for and then
	// fsyncs if its frame still needs it. Concurrent waiters share fsyncs.
	FsyncAlways
	// FsyncNever does not fsync appended frames (only at rotation and
	// Close): WaitDurable returns at once. A crash can lose acknowledged
	// frames, so Open refuses it unless Options.AllowNoFsync is set: for
	// tests only.
	FsyncNever
)

func (p FsyncPolicy) String() string {
	switch p {
	case FsyncBatch:
		return "batch"
	case FsyncAlways:
		return "always"
	case FsyncNever:
		return "never"
	}
	return "FsyncPolicy(" + strconv.Itoa(int(p)) + ")"
}

// ParseFsyncPolicy parses "batch", "always" or "never" (what String
// returns), for flags.
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	for _, p := range []FsyncPolicy{FsyncBatch, FsyncAlways, FsyncNever} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, &Error{Op: "parse", Reason: "fsync policy " + strconv.Quote(s) + " is not batch, always or never", kind: ErrConfig}
}

// Group-commit bounds of FsyncBatch.
const (
	DefaultMaxBatch = 32
	MinMaxBatch     = 8
	MaxMaxBatch     = 64
	DefaultMaxDelay = 2 * time.Millisecond
	// MaxMaxDelay is the largest MaxDelay Open accepts.
	MaxMaxDelay = time.Second
)

// Options configure Open. The zero value is the default: 128 MiB
// segments, FsyncBatch starting an fsync once 32 frames wait or 2 ms pass
// (each fsync covers every frame appended before it).
type Options struct {
	// SegmentBytes is the size at which the writer starts a new segment:
	// a frame that would take its segment past it goes to the next one.
	// (A segment exceeds it only when it holds a single larger frame.)
	// 0 means DefaultSegmentBytes; the least is MinSegmentBytes (less is
	// ErrConfig).
	SegmentBytes int64
	// Fsync is the fsync policy.
	Fsync FsyncPolicy
	// MaxBatch (FsyncBatch) is how many waiting frames trigger an fsync
	// at once: MinMaxBatch..MaxMaxBatch, 0 means DefaultMaxBatch.
	MaxBatch int
	// MaxDelay (FsyncBatch) is how long after its append a frame waits at
	// most for its batch to fill before the fsync: up to MaxMaxDelay, 0
	// means DefaultMaxDelay.
	MaxDelay time.Duration
	// AllowNoFsync lets Open accept FsyncNever. Tests only.
	AllowNoFsync bool
	// OnFsync, if set, is called after every successful fsync of a
	// segment file the Log does, with how long the fsync took and how
	// many frames it made durable: 0 for the fsyncs of a new segment's
	// header and of recovery, and for a commit or rotation that found
	// every frame durable already. Fsyncs of the directory are not
	// reported. A latency metric of appends counts only frames > 0, as
	// metrics.Metrics.OnFsync does for wal_fsync_seconds. Calls come one
	// at a time, from the goroutine that synced, before the waiters the
	// fsync releases return. It must be quick and must not call the Log's
	// methods.
	//
	// A panic of OnFsync goes on up the goroutine that synced, with the
	// Log's state and locks consistent and the fsync it reported
	// accounted all the same (the frames it covered are durable,
	// WaitDurable says so, and no later call reports them again). On a
	// caller's goroutine the caller can recover it: after Append (at a
	// rotation), WaitDurable or Sync the Log goes on; a Close that
	// panicked has not closed the Log, and the next Close does (see
	// Close); an Open that panicked has released the directory. Under
	// FsyncBatch most fsyncs are on the Log's own syncer goroutine, where
	// a panic ends the process, as any goroutine's unrecovered panic
	// does: the Log has no caller to hand it to.
	OnFsync func(d time.Duration, frames int)
	// Replay, if set, is called by Open with every good frame of the log
	// in index order while it recovers (Frame.Payload is only valid during
	// the call), so a caller rebuilds its state in the same pass that
	// checks the log. An error from Replay makes Open fail with it.
	Replay func(Frame) error
	// Recovered, if set, is called by Open once the scan is done and
	// before Open changes anything (cutting a torn tail, writing a torn
	// segment header again, creating the first segment), with what the
	// scan found. An error from it makes Open fail with it and leave the
	// log as it was: a caller that knows more about the log (say, that a
	// checkpoint vouches for more frames than are left) refuses it before
	// a torn tail that held them is cut or a new frame is written. Every
	// frame the scan found is durable by then (Open fsyncs the last
	// segment first, which changes no byte of it): a frame that survived
	// a crash of the process in the page cache only is on disk before
	// Recovered writes anything that vouches for it (a checkpoint).
	Recovered func(Recovery) error
}

func (o Options) check(dir string) (Options, error) {
	bad := func(reason string) (Options, error) {
		return o, &Error{Op: "open", Path: dir, Reason: reason, kind: ErrConfig}
	}
	switch {
	case o.SegmentBytes == 0:
		o.SegmentBytes = DefaultSegmentBytes
	case o.SegmentBytes < MinSegmentBytes:
		return bad(fmt.Sprintf("SegmentBytes %d is below the minimum %d", o.SegmentBytes, MinSegmentBytes))
	}
	switch o.Fsync {
	case FsyncBatch:
		switch {
		case o.MaxBatch == 0:
			o.MaxBatch = DefaultMaxBatch
		case o.MaxBatch < MinMaxBatch || o.MaxBatch > MaxMaxBatch:
			return bad(fmt.Sprintf("MaxBatch %d is outside %d..%d", o.MaxBatch, MinMaxBatch, MaxMaxBatch))
		}
		switch {
		case o.MaxDelay == 0:
			o.MaxDelay = DefaultMaxDelay
		case o.MaxDelay < 0 || o.MaxDelay > MaxMaxDelay:
			return bad(fmt.Sprintf("MaxDelay %v is outside (0, %v]", o.MaxDelay, MaxMaxDelay))
		}
	case FsyncAlways:
	case FsyncNever:
		if !o.AllowNoFsync {
			return bad("FsyncNever can lose acknowledged frames in a crash; it needs AllowNoFsync (tests only)")
		}
	default:
		return bad("unknown fsync policy " + o.Fsync.String())
	}
	return o, nil
}

// flushBytes is how much the write buffer holds before Append writes it
// out without waiting for an fsync.
const flushBytes = 256 << 10

// maxBufBytes bounds the frames buffered while an fsync is under way;
// appenders past it wait for the fsync.
const maxBufBytes = 4 * flushBytes

// lockName is the lock file in the log directory.
const lockName = "LOCK"

// Log is the writer of a write-ahead log directory. It holds the
// directory's lock from Open to Close. All methods are safe for concurrent
// use.
type Log struct {
	dir   string
	opts  Options
	lockf *os.File

	mu   sync.Mutex
	cond *sync.Cond // broadcast when durable, err, syncing or the file change

	f         *os.File // current segment; nil once closed
	segNum    uint64
	segPath   string
	segSize   int64  // bytes of the segment, the buffered ones included
	segFrames uint64 // frames in the segment
	// syncedEnd is the offset in the segment up to which an fsync
	// succeeded: the end of frame durable, when it is in this segment.
	syncedEnd int64
	buf       []byte // frames appended but not yet written to f
	spare     []byte // the buffer the last commit wrote, for the next to give the appenders (nil once given)

	next    uint64 // index of the next frame
	durable uint64 // every frame up to here is fsynced
	// durableAt mirrors durable, for the FsyncBatch waiters an fsync
	// wakes: they check it without mu, so a batch of waiters does not
	// queue on mu just to learn they are done.
	durableAt    atomic.Uint64
	covered      uint64    // every frame up to here is covered by an fsync done or under way
	pendingSince time.Time // append time of frame covered+1 (FsyncBatch)
	syncing      bool      // an fsync is under way without mu
	err          error     // poison: set by the first failed write or fsync
	closed       bool

	// FsyncBatch waiters sleep on one of two channels, so that an fsync
	// wakes only the appenders it made durable (not every waiter): curDone
	// is closed when the fsync under way (covering up to covered) ends,
	// nextDone when the one after it does.
	curDone, nextDone chan struct{}

	// FsyncBatch: the syncer goroutine.
	wake     chan struct{}
	stop     chan struct{}
	loopDone chan struct{}

	// closeMu serializes Close; closeDone (under it) says a close
	// finished, with closeErr. Not a sync.Once: a Close whose commit
	// panicked (the OnFsync hook) must leave the close to the next Close,
	// not have it return nil with the file open and the lock held.
	closeMu   sync.Mutex
	closeDone bool
	closeErr  error
}

// Open opens the log in dir, creating the directory (mode 0700) and the
// first segment if needed, takes the directory's lock, recovers, and
// returns the Log positioned to append after the last good frame.
// A dir "" is refused (ErrConfig), not taken as the current directory:
// give "." for that.
//
// Open refuses an existing directory that holds entries but no segment
// and no LOCK, other than a checkpoints directory (ErrConfig naming an
// entry found): it is some other directory, the one of a private key
// say, and a log made there would carry its files in every copy; an
// empty directory is a new log's. It refuses an existing directory
// whose mode lets group or others access it (ErrDirPermissions; chmod
// 700 fixes it), a directory whose lock another Log holds, in this
// process or another (ErrLocked), a LOCK that is not a regular file
// (a symbolic link is not followed), and a last segment that is a
// symbolic link (an *Error naming it: Open would cut and append to the
// file it points to, outside the log directory).
//
// Recovery checks every segment and every frame (FORMAT.md, "Recovery").
// A torn tail at the end of the last segment, which an interrupted append
// leaves, is cut: the file is truncated to its last good frame and
// fsynced, and the Recovery says what was cut. Any other damage makes
// Open fail with a *CorruptError (ErrCorrupt) naming the file and offset,
// and Open changes nothing. If Open's fsync of what it recovered fails,
// retry it only after the machine restarts: the kernel may have served
// frames from its cache that are not on disk (FORMAT.md, "Failure"). The
// exception is an interrupted segment creation, whose header Open writes
// again: if that write or its fsync (or the directory's) fails, Open
// removes the segment, which holds no frame, and a later Open creates it
// anew; the error names the segment. Options.Replay sees every good frame
// during the scan, and Options.Recovered can refuse the log before Open
// changes it. If Replay, Recovered or OnFsync panics, Open closes what it
// opened and releases the lock before the panic goes on.
func Open(dir string, opts Options) (*Log, Recovery, error) {
	if dir == "" {
		// Clean makes "" ".": an unset setting would put the log
		// wherever the process happens to run.
		return nil, Recovery{}, &Error{Op: "open", Reason: `the log directory is "" (give "." for the current directory)`, kind: ErrConfig}
	}
	dir = filepath.Clean(dir)
	o, err := opts.check(dir)
	if err != nil {
		return nil, Recovery{}, err
	}
	if err := prepareDir(dir); err != nil {
		return nil, Recovery{}, err
	}
	lockf, err := lockDir(dir)
	if err != nil {
		return nil, Recovery{}, err
	}
	l := &Log{dir: dir, opts: o, lockf: lockf}
	l.cond = sync.NewCond(&l.mu)
	l.curDone, l.nextDone = make(chan struct{}), make(chan struct{})
	close(l.curDone)
	// Deferred, so that a panic of the host's code recovery calls
	// (Replay, Recovered, OnFsync) releases the segment and the lock too:
	// a Log no one holds would keep the directory locked.
	opened := false
	defer func() {
		if !opened {
			if l.f != nil {
				l.f.Close()
			}
			unlock(lockf)
			lockf.Close()
		}
	}()
	rec, err := l.recover()
	if err != nil {
		return nil, Recovery{}, err
	}
	if o.Fsync == FsyncBatch {
		l.wake = make(chan struct{}, 1)
		l.stop = make(chan struct{})
		l.loopDone = make(chan struct{})
		go l.syncLoop()
	}
	opened = true
	return l, rec, nil
}

// prepareDir creates dir with mode 0700 or checks the existing one.
func prepareDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// top is the highest directory MkdirAll creates: each new entry,
		// from dir's up to top's, must reach the disk in its parent.
		top := dir
		for p := filepath.Dir(top); p != top; p = filepath.Dir(top) {
			if _, err := os.Lstat(p); err == nil {
				break
			}
			top = p
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return &Error{Op: "open", Path: dir, Reason: "creating the log directory", Err: err}
		}
		// Exactly 0700, whatever the umask.
		if err := os.Chmod(dir, 0o700); err != nil {
			return &Error{Op: "open", Path: dir, Reason: "creating the log directory", Err: err}
		}
		for d := dir; ; d = filepath.Dir(d) {
			if err := syncDir(filepath.Dir(d)); err != nil {
				return &Error{Op: "fsync", Path: filepath.Dir(d), Err: err}
			}
			if d == top {
				return nil
			}
		}
	}
	if err != nil {
		return &Error{Op: "open", Path: dir, Err: err}
	}
	if !fi.IsDir() {
		return &Error{Op: "open", Path: dir, Reason: "not a directory (mode " + fi.Mode().String() + ")"}
	}
	// Before the mode: "chmod 700" is no advice for a directory that is
	// not a log.
	if err := checkIsLog(dir); err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &Error{
			Op:   "open",
			Path: dir,
			Reason: fmt.Sprintf("log directory has mode %04o, which lets group or others access it; "+
				"restrict it to the owner with: chmod 700 %s", perm, dir),
			kind: ErrDirPermissions,
		}
	}
	return nil
}

// keptName is the directory the SDK's node.Open (package checkpoint's
// Keeper) makes in the log directory before it opens the log
// (FORMAT.md, section 1): the only entry a new log's directory may hold.
const keptName = "checkpoints"

// checkIsLog refuses an existing directory that holds entries but none
// of a log's own (LOCK, a segment), other than the checkpoints
// directory: it is some other directory (the one holding the private
// key, say), and a log made there would mix with its files, which every
// copy or archive of the log would then carry. An empty directory, and
// one with only LOCK (a first Open that died before its segment), are a
// new log's.
func checkIsLog(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return &Error{Op: "open", Path: dir, Err: err}
	}
	other := ""
	for _, e := range ents {
		name := e.Name()
		if _, seg := parseSegmentName(name); seg || name == lockName {
			return nil
		}
		if other == "" && !(name == keptName && e.IsDir()) {
			other = name
		}
	}
	if other == "" {
		return nil
	}
	return &Error{Op: "open", Path: dir, kind: ErrConfig,
		Reason: fmt.Sprintf("not a log directory: it holds %q and no segment or LOCK; "+
			"give a new or empty directory for a new log", other)}
}

// lockTaken, if set (by a test), is called by lockDir once it holds the
// flock of the file it opened, before it checks that the file is still
// dir/LOCK.
var lockTaken func(path string)

// lockDir creates or opens dir/LOCK and takes its flock. LOCK must be a
// regular file: a symbolic link is not followed (the writer would
// truncate, and write its pid into, the file it points to, or share its
// lock with another log's LOCK), and a named pipe or anything else is
// refused. The lock is on the file lockDir opened; if LOCK was replaced
// meanwhile (removed and created again by another Open), lockDir locks
// the new one instead.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	for attempt := 1; ; attempt++ {
		f, fi, err := openLockFile(path)
		if err != nil {
			return nil, err
		}
		if held, err := tryLock(f); err != nil {
			f.Close()
			if held {
				reason := "another writer holds the lock"
				if b, _, rerr := fsutil.ReadRegular(path, 32); rerr == nil {
					if pid := strings.TrimSpace(string(b)); pid != "" {
						reason += " (the last to take it was pid " + pid + ")"
					}
				}
				return nil, &Error{Op: "lock", Path: path, Reason: reason, Err: err, kind: ErrLocked}
			}
			return nil, &Error{Op: "lock", Path: path, Err: err}
		}
		if lockTaken != nil {
			lockTaken(path)
		}
		// The file locked must be the one at path now: a lock on a file
		// removed since it was opened excludes no one.
		if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, fi) {
			unlock(f)
			f.Close()
			if attempt < 3 {
				continue
			}
			return nil, &Error{Op: "lock", Path: path, Reason: "LOCK was replaced while it was being locked, 3 times; another process is removing it"}
		}
		// Our pid, for the next writer's error message. Best effort.
		if f.Truncate(0) == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return f, nil
	}
}

// openLockFile creates or opens the lock file path, which must be a
// regular file (see lockDir).
func openLockFile(path string) (*os.File, fs.FileInfo, error) {
	notRegular := func(mode fs.FileMode, err error) error {
		return &Error{Op: "lock", Path: path, Err: err,
			Reason: "not a regular file (mode " + mode.String() + "): LOCK must be the file the writer creates; remove it"}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|lockOpenFlags, 0o600)
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, nil, notRegular(fi.Mode(), err)
		}
		return nil, nil, &Error{Op: "lock", Path: path, Err: err}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, &Error{Op: "lock", Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(fi.Mode(), nil)
	}
	return f, fi, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = syncFile(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncFile is f.Sync: a variable so that tests can make an fsync fail
// (nothing else can, short of a failing disk).
var syncFile = (*os.File).Sync

// fsync syncs f and returns how long it took, for report. It does not
// call OnFsync itself: the caller first accounts what the fsync made
// durable, so that a panic of the hook leaves nothing half done.
func (l *Log) fsync(f *os.File) (time.Duration, error) {
	t0 := time.Now()
	if err := syncFile(f); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// report tells OnFsync of a successful fsync.
func (l *Log) report(d time.Duration, frames int) {
	if l.opts.OnFsync != nil {
		l.opts.OnFsync(d, frames)
	}
}

// recover scans the log, repairs a torn tail, and opens the segment to
// append to. It runs before the Log is shared.
func (l *Log) recover() (Recovery, error) {
	res, err := scanDir(l.dir, l.opts.Replay)
	if err != nil {
		return Recovery{}, err
	}
	rec := res.rec
	last := res.last
	path := last.File
	if path != "" {
		// Not through a symbolic link: the writer would cut and append
		// to the file it points to, outside the log directory (readers,
		// which change nothing, follow it).
		f, err := os.OpenFile(path, os.O_RDWR|noFollow, 0)
		if err != nil {
			if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
				target, _ := os.Readlink(path)
				return Recovery{}, &Error{Op: "open", Path: path, Err: err,
					Reason: "the last segment is a symbolic link (to " + target + "); the writer appends only to " +
						"a segment file in the log directory: put the file there in place of the link"}
			}
			return Recovery{}, &Error{Op: "open", Path: path, Err: err}
		}
		l.f = f // Open closes it if recovery fails
	}
	// The frames the scan found must be durable before Recovered sees
	// them: after a crash of the process (not of the machine) the last
	// segment's frames may be in the page cache only, and a caller writes
	// what vouches for them there (sdk.OpenDurable's checkpoint.Keeper
	// writes the checkpoints a crash kept it from writing), which a power
	// loss must not outlive them. Every earlier segment was fsynced by the
	// rotation that ended it, and the directory entry of a segment holding
	// a frame by its creation. An fsync changes no byte of the log: a
	// refusing Recovered still leaves it as it was.
	synced := false
	if last.Frames > 0 {
		d, err := l.fsync(l.f)
		if err != nil {
			return Recovery{}, &Error{Op: "fsync", Path: path, Reason: "the fsync of the frames found failed", Err: err}
		}
		synced = true
		l.report(d, 0)
	}
	if l.opts.Recovered != nil {
		if err := l.opts.Recovered(rec); err != nil {
			return Recovery{}, err
		}
	}
	l.next, l.durable, l.covered = rec.Frames+1, rec.Frames, rec.Frames
	l.durableAt.Store(rec.Frames)
	if path == "" {
		if err := l.createSegment(1, 1); err != nil {
			return Recovery{}, err
		}
		rec.Created = true
		rec.Segments = 1
		return rec, nil
	}

	f := l.f
	end := last.End
	// fail reports a failed step of the recovery. A segment whose header
	// recovery rewrote (an interrupted creation, which holds no frame) is
	// then removed, as createSegment removes a segment whose creation
	// fails: the kernel may report a failed fsync only once, so an Open in
	// the same boot would trust the rewritten header (and the directory
	// entry) that a crash can still take away, fsync them without error,
	// and acknowledge frames appended after them. Without the file, that
	// Open creates the segment anew. The log without it is the log as it
	// was before the rotation that created it.
	fail := func(op, where, what string, err error) error {
		if !last.HeaderTorn {
			return &Error{Op: op, Path: where, Reason: what + " failed", Err: err}
		}
		f.Close()
		l.f = nil
		reason := what + " of interrupted segment " + SegmentName(res.num) + " failed; the segment was removed"
		if rerr := removeSegment(l.dir, path); rerr != nil {
			reason = what + " of interrupted segment " + SegmentName(res.num) + " failed"
			err = fmt.Errorf("%w; removing the segment failed too (%w): reopening the log before the machine "+
				"restarts may append to a segment header that is not on disk", err, rerr)
		}
		return &Error{Op: op, Path: where, Reason: reason, Err: err}
	}
	switch {
	case last.HeaderTorn:
		// An interrupted segment creation: write the header again.
		if err := f.Truncate(0); err != nil {
			return Recovery{}, fail("truncate", path, "truncating the header", err)
		}
		if _, err := f.WriteAt(encodeHeader(res.num, rec.Frames+1), 0); err != nil {
			return Recovery{}, fail("write", path, "rewriting the header", err)
		}
		end = SegmentHeaderSize
		synced = false
	case last.TornBytes > 0:
		if err := f.Truncate(end); err != nil {
			return Recovery{}, fail("truncate", path, "cutting the torn tail", err)
		}
		synced = false
	}
	// Make what recovery changed durable before building on it (the cut
	// before a new frame is acknowledged after it), and what it found, if
	// no fsync above did yet: a segment of a header alone may be in the
	// page cache only too.
	if !synced {
		// Say which: the same Op and Path for each.
		what := "the fsync of the segment's header" // a header alone, unchanged
		switch {
		case last.HeaderTorn:
			what = "the fsync of the rewritten header"
		case last.TornBytes > 0:
			what = "the fsync after cutting the torn tail"
		}
		d, err := l.fsync(f)
		if err != nil {
			return Recovery{}, fail("fsync", path, what, err)
		}
		l.report(d, 0)
	}
	if err := syncDir(l.dir); err != nil {
		return Recovery{}, fail("fsync", l.dir, "the fsync of the directory entry", err)
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return Recovery{}, &Error{Op: "open", Path: path, Err: err}
	}
	l.segNum, l.segPath, l.segSize, l.segFrames, l.syncedEnd = res.num, path, end, last.Frames, end
	return rec, nil
}

// createSegment creates segment num, whose first frame will be first,
// makes its header and directory entry durable, and makes it current.
//
// If any step after the file's creation fails, the file is removed: its
// header or its directory entry may not be on disk, though the page cache
// shows both. After a failed fsync the kernel may report the error only
// once, so a Log opened on the directory in the same boot would take the
// segment in, fsync it and the directory without error, and acknowledge
// frames appended to a file that a crash can still take away. Without the
// file, that Log creates the segment again and fsyncs it anew.
func (l *Log) createSegment(num, first uint64) error {
	path := filepath.Join(l.dir, SegmentName(num))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &Error{Op: "create", Path: path, Err: err}
	}
	fail := func(op, where, what string, err error) error {
		f.Close()
		reason := what + " of new segment " + SegmentName(num) + " failed; the segment was removed"
		if rerr := removeSegment(l.dir, path); rerr != nil {
			reason = what + " of new segment " + SegmentName(num) + " failed"
			err = fmt.Errorf("%w; removing the segment failed too (%w): reopening the log before the machine "+
				"restarts may append to a segment that is not on disk", err, rerr)
		}
		return &Error{Op: op, Path: where, Reason: reason, Err: err}
	}
	// Exactly 0600, whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		return fail("create", path, "setting the mode", err)
	}
	if _, err := f.Write(encodeHeader(num, first)); err != nil {
		return fail("write", path, "writing the header", err)
	}
	d, err := l.fsync(f)
	if err != nil {
		return fail("fsync", path, "the fsync of the header", err)
	}
	if err := syncDir(l.dir); err != nil {
		return fail("fsync", l.dir, "the fsync of the directory entry", err)
	}
	l.f, l.segNum, l.segPath, l.segSize, l.segFrames, l.syncedEnd = f, num, path, SegmentHeaderSize, 0, SegmentHeaderSize
	// Once the segment is the Log's: a panic of the hook must not leave
	// it made but not taken, with no current segment.
	l.report(d, 0)
	return nil
}

// removeSegment removes the segment file path of a failed creation and
// fsyncs dir, best effort: the fsync of dir may be what failed.
func removeSegment(dir, path string) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	_ = syncDir(dir)
	return nil
}

// Dir returns the log directory.
func (l *Log) Dir() string { return l.dir }

// LastIndex returns the index of the last appended frame (0: none).
func (l *Log) LastIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// DurableIndex returns the index up to which every frame is fsynced.
func (l *Log) DurableIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// Err returns the error that poisoned the log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Append frames payload, whose first byte is the frame type, and queues
// it for writing; it returns the frame's global index. It does not wait
// for durability (WaitDurable does; AppendDurable is both). payload must
// hold 1..MaxPayload bytes (else ErrPayloadSize, and the log is
// unchanged); Append copies it. Concurrent appends are serialized: indexes
// follow the order in which they took the log's lock.
//
// After a failed write or fsync every call returns that error (matching
// ErrPoisoned); after Close, ErrClosed.
func (l *Log) Append(payload []byte) (uint64, error) {
	n := len(payload)
	if n == 0 || n > MaxPayload {
		return 0, &Error{Op: "append", Reason: fmt.Sprintf("payload of %d bytes, want 1..%d", n, MaxPayload), kind: ErrPayloadSize}
	}
	var fh [FrameHeaderSize]byte
	le.PutUint32(fh[:4], uint32(n))
	le.PutUint32(fh[4:], checksum(payload))
	size := int64(FrameHeaderSize + n)

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	for l.segFrames > 0 && l.segSize+size > l.opts.SegmentBytes {
		if l.syncing {
			// The committer owns the file. Look again once it is done:
			// another appender may have rotated meanwhile, and the frame
			// then fits in the segment it started.
			l.cond.Wait()
			if err := l.usableLocked(); err != nil {
				return 0, err
			}
			continue
		}
		if err := l.rotateLocked(); err != nil {
			return 0, err
		}
	}
	l.buf = append(l.buf, fh[:]...)
	l.buf = append(l.buf, payload...)
	l.segSize += size
	l.segFrames++
	idx := l.next
	l.next++
	if l.opts.Fsync == FsyncBatch {
		switch idx - l.covered {
		case 1:
			l.pendingSince = time.Now()
			l.kick()
		case uint64(l.opts.MaxBatch):
			l.kick()
		}
	}
	if len(l.buf) >= flushBytes {
		// While an fsync is under way, its committer owns the file (it
		// writes its buffer without mu): leave the frames to the next
		// commit, unless they pile up, then wait for the file.
		for l.syncing && len(l.buf) >= maxBufBytes {
			l.cond.Wait()
		}
		if l.err != nil {
			return 0, l.err
		}
		if !l.syncing && l.f != nil { // (Close may have written it meanwhile)
			if err := l.flushLocked(); err != nil {
				return 0, err
			}
		}
	}
	return idx, nil
}

// AppendDurable is Append then WaitDurable: it returns once the frame is
// durable.
func (l *Log) AppendDurable(payload []byte) (uint64, error) {
	idx, err := l.Append(payload)
	if err != nil {
		return 0, err
	}
	if err := l.WaitDurable(idx); err != nil {
		return 0, err
	}
	return idx, nil
}

// WaitDurable blocks until frame index (and so every frame before it) is
// fsynced, as the policy says: FsyncAlways fsyncs now (or shares an fsync
// under way), FsyncBatch waits for the group commit, FsyncNever returns at
// once. It returns an error, and never nil, if the fsync that would have
// covered the frame failed; after a failed write or fsync it returns that
// error for every frame no fsync covered before the failure (a frame one
// did cover stays durable: WaitDurable returns nil for it).
// WaitDurable(0) returns at once; an index not yet appended is an error
// matching ErrNotAppended.
func (l *Log) WaitDurable(index uint64) error {
	if l.opts.Fsync == FsyncBatch && index <= l.durableAt.Load() {
		return nil // durable already: most frames of a batch, once it is
	}
	for {
		ch, err := l.waitStep(index)
		if ch == nil {
			return err
		}
		<-ch
		// The common wake-up: the fsync made index durable. Say so
		// without mu, which every waiter of the batch would queue on.
		if l.durableAt.Load() >= index {
			return nil
		}
	}
}

// waitStep is WaitDurable's look under mu: frame index is durable (nil,
// nil), or cannot become so (nil, the error), or becomes so with the
// fsync whose channel it returns. Under FsyncAlways it fsyncs itself.
func (l *Log) waitStep(index uint64) (chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case index < l.next && index <= l.durable:
		return nil, nil // durable, whatever happened since
	case l.err != nil:
		return nil, l.err
	case index >= l.next:
		return nil, &Error{Op: "wait", Reason: fmt.Sprintf("frame %d was not appended (last is %d)", index, l.next-1), kind: ErrNotAppended}
	case l.opts.Fsync == FsyncNever:
		return nil, nil
	case l.opts.Fsync == FsyncAlways:
		return nil, l.syncToLocked(index)
	case l.f == nil:
		return nil, ErrClosed
	case index <= l.covered:
		return l.curDone, nil
	}
	return l.nextDone, nil
}

// release closes ch unless it is closed already. Channels are closed only
// under mu, so the check cannot race.
func release(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// releaseAllLocked wakes every FsyncBatch waiter: what they wait for
// happened, or the log failed or closed.
func (l *Log) releaseAllLocked() {
	release(l.curDone)
	release(l.nextDone)
	l.nextDone = make(chan struct{})
}

// Sync fsyncs every frame appended so far now, whatever the policy.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return l.syncToLocked(l.next - 1)
}

// syncToLocked returns once frame i is durable, fsyncing if no fsync
// under way covers it.
func (l *Log) syncToLocked(i uint64) error {
	for l.durable < i {
		switch {
		case l.err != nil:
			return l.err
		case l.syncing:
			l.cond.Wait()
		case l.f == nil:
			return ErrClosed
		default:
			l.commitLocked()
		}
	}
	return nil
}

// usableLocked returns why the log takes no appends, if it does not.
func (l *Log) usableLocked() error {
	if l.err != nil {
		return l.err
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// failLocked poisons the log with the failure of op on path, if it is
// not poisoned yet, and returns the poison.
func (l *Log) failLocked(op, path string, err error) error {
	if l.err == nil {
		var e *Error
		if errors.As(err, &e) && e.kind == nil {
			e.kind = ErrPoisoned
			l.err = e
		} else {
			l.err = &Error{Op: op, Path: path, Err: err, kind: ErrPoisoned}
		}
		l.releaseAllLocked()
		l.cond.Broadcast()
		l.kick()
	}
	return l.err
}

// flushLocked writes the buffered frames to the segment file.
func (l *Log) flushLocked() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.f.Write(l.buf)
	l.buf = l.buf[:0]
	if cap(l.buf) > maxBufBytes {
		l.buf = nil
	}
	if err != nil {
		// What the write put in the file before it failed is not
		// durable, and its callers are told so: cut it, as after a
		// failed fsync, lest a reopen replay frames reported failed.
		return l.failLocked("write", l.segPath, l.dropUnsynced(l.f, err))
	}
	return nil
}

// commitLocked writes the buffered frames and fsyncs the segment, both
// without mu, so appenders only wait for mu while frames are copied; the
// fsync then covers every frame appended before it started. The caller
// checked that no fsync is under way and the log is not poisoned.
func (l *Log) commitLocked() {
	target := l.next - 1
	buf := l.buf
	// The appenders get the spare, which is theirs alone from now on:
	// were it kept as the spare too (a buffer too big to keep below is
	// not, and the spare would stay), the next commit would hand it out
	// again while writing it, and appends would overwrite the frames it
	// writes.
	l.buf, l.spare = l.spare[:0], nil
	l.syncing = true
	l.covered = target
	done := l.nextDone // waiters for frames up to target wait on it now
	l.curDone, l.nextDone = done, make(chan struct{})
	f, path, frames := l.f, l.segPath, int(target-l.durable)
	end := l.segSize // the file's size once buf is written
	l.mu.Unlock()
	op := "write"
	var err error
	synced := false
	// Deferred, so that it runs if the OnFsync hook (the host's code,
	// called without mu) panics too: the panic then goes on with mu
	// held, as the caller's deferred unlock expects (unlocking a mutex
	// not held is a fatal error, which no recover catches), and with the
	// fsync accounted and the commit no longer under way.
	defer func() {
		l.mu.Lock()
		if cap(buf) <= maxBufBytes {
			l.spare = buf[:0]
		}
		l.syncing = false
		switch {
		case err != nil:
			// Failed write or fsync alike: every frame after syncedEnd is
			// reported failed, so none may stay for a reopen to replay.
			l.failLocked(op, path, l.dropUnsynced(f, err))
		case !synced:
			// The write or the fsync itself panicked: what reached the
			// file is unknown, and its frames are not in buf any more.
			l.failLocked(op, path, l.dropUnsynced(f, errCommitPanicked))
		case target > l.durable:
			l.durable, l.syncedEnd = target, end
			l.durableAt.Store(target)
		}
		release(done)
		l.cond.Broadcast()
	}()
	if len(buf) > 0 {
		_, err = f.Write(buf)
	}
	if err != nil {
		return
	}
	op = "fsync"
	var d time.Duration
	if d, err = l.fsync(f); err != nil {
		return
	}
	synced = true
	l.report(d, frames)
}

// errCommitPanicked poisons a Log whose write or fsync panicked.
var errCommitPanicked = errors.New("the write or fsync panicked")

// dropUnsynced is called with mu held once a write or an fsync of f,
// the current segment, failed with err: it cuts f back to syncedEnd,
// dropping every frame that no fsync covered (none of them was
// acknowledged, and the poisoned Log reports each failed to its waiter),
// and returns err, or err with the failure of the cut.
//
// After a failed fsync the kernel may keep the pages it could not write
// in its cache, marked clean, and report the error only once: a Log
// opened on the directory in the same boot would read the lost frames
// from the cache, fsync without error, and append after them frames it
// acknowledges, which a crash (or the cache's eviction) then strands
// behind a hole. Truncating drops those pages from the cache. After a
// failed write (a full disk) the frames it and earlier unsynced writes
// put in the file are read back just as well: a reopen would replay, and
// make durable, frames whose callers were told they failed (the SDK
// counted their records dropped; a caller that retried one would find
// it twice).
func (l *Log) dropUnsynced(f *os.File, err error) error {
	if terr := f.Truncate(l.syncedEnd); terr != nil {
		return fmt.Errorf("%w; cutting the frames it did not make durable failed too (%w): "+
			"reopening the log before the machine restarts may take in frames that are not on disk", err, terr)
	}
	_ = syncFile(f) // best effort: a reopen appends to, and fsyncs, the cut file anyway
	return err
}

// rotateLocked makes the current segment durable, closes it and starts
// the next. Appenders wait meanwhile (once per segment). The caller
// checked that no fsync is under way and the log is usable.
func (l *Log) rotateLocked() error {
	if err := l.flushLocked(); err != nil {
		return err
	}
	target := l.next - 1
	d, err := l.fsync(l.f)
	if err != nil {
		return l.failLocked("fsync", l.segPath, l.dropUnsynced(l.f, err))
	}
	func() {
		// Deferred: the fsync is accounted even if the hook panics
		// (the next rotation then starts from this fsync, reporting no
		// frame twice). The synced end too: the segment stays current
		// then, a frame that fits goes on in it, and a failed write or
		// fsync of that frame cuts the segment back to syncedEnd, which
		// must not take the frames this fsync made durable.
		defer func() {
			l.durable, l.covered, l.syncedEnd = target, target, l.segSize
			l.durableAt.Store(target)
			l.releaseAllLocked()
			l.cond.Broadcast()
		}()
		l.report(d, int(target-l.durable))
	}()
	err = l.f.Close()
	l.f = nil
	if err != nil {
		return l.failLocked("close", l.segPath, err)
	}
	if err := l.createSegment(l.segNum+1, l.next); err != nil {
		return l.failLocked("create", "", err)
	}
	return nil
}

// kick wakes the syncer, if there is one.
func (l *Log) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// syncLoop is the FsyncBatch committer.
func (l *Log) syncLoop() {
	defer close(l.loopDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			return
		}
		for l.batchStep(timer) {
		}
	}
}

// batchStep commits if a batch is due, or waits until one may be. It
// returns false when nothing is pending (or the log is done).
func (l *Log) batchStep(timer *time.Timer) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.closed {
		return false
	}
	pending := l.next - 1 - l.covered
	if pending == 0 {
		return false
	}
	if pending < uint64(l.opts.MaxBatch) {
		if wait := time.Until(l.pendingSince.Add(l.opts.MaxDelay)); wait > 0 {
			l.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.wake:
				timer.Stop()
			case <-l.stop:
				timer.Stop()
			}
			l.mu.Lock()
			return true
		}
	}
	if l.syncing { // a Sync call's fsync
		l.cond.Wait()
		return true
	}
	l.commitLocked()
	return true
}

// Close writes and fsyncs every appended frame, closes the segment and
// releases the lock. It returns the poison error if the log failed (still
// releasing the lock). Calls after the first return the first's result.
//
// If the OnFsync hook panics in Close's fsync, the panic reaches Close's
// caller and the close is not done: the Log takes no appends, the frames
// the fsync covered are durable, but the segment is open and the lock
// held. The next Close finishes the close and returns its result.
func (l *Log) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if !l.closeDone {
		l.closeErr = l.close()
		l.closeDone = true
	}
	return l.closeErr
}

// close is Close's work. A Close after one that panicked runs it again.
func (l *Log) close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	if l.stop != nil {
		select {
		case <-l.stop: // a Close that panicked stopped the syncer
		default:
			close(l.stop)
		}
		<-l.loopDone
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.cond.Wait()
	}
	if l.err == nil && l.f != nil && (l.durable < l.next-1 || len(l.buf) > 0) {
		l.commitLocked()
	}
	err := l.err
	if l.f != nil {
		if cerr := l.f.Close(); cerr != nil && err == nil {
			err = &Error{Op: "close", Path: l.segPath, Err: cerr}
		}
		l.f = nil
		l.releaseAllLocked()
	}
	unlock(l.lockf)
	if cerr := l.lockf.Close(); cerr != nil && err == nil {
		err = &Error{Op: "close", Path: filepath.Join(l.dir, lockName), Err: cerr}
	}
	l.cond.Broadcast()
	return err
}
