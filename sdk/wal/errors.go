package wal

import (
	"errors"
	"io/fs"
	"strconv"
)

// Categories of error, for errors.Is. Every error of this package is one of
// *Error, *CorruptError or *VersionError (or ErrClosed itself); each
// matches one of these sentinels and, where an OS call failed, also wraps
// the OS error, so errors.Is(err, fs.ErrNotExist) and the like work.
var (
	// ErrLocked matches an Open of a directory whose LOCK another writer
	// (in this process or another) holds.
	ErrLocked = errors.New("wal: log is locked by another writer")
	// ErrDirPermissions matches an Open of an existing directory whose mode
	// lets group or others access it (mode&0o077 != 0).
	ErrDirPermissions = errors.New("wal: log directory is accessible by group or others")
	// ErrConfig matches invalid Options, a log directory "", and an Open
	// of an existing directory that is not a log's: it holds entries but
	// no segment and no LOCK (other than the checkpoints directory the
	// SDK's node.Open makes first), so a log made there would mix with
	// files of another use (a private key, say). The error names the
	// directory and an entry found; Open writes nothing there.
	ErrConfig = errors.New("wal: invalid options")
	// ErrCorrupt matches a *CorruptError: the log holds damage that is not
	// a torn tail. Open truncates nothing when it returns it.
	ErrCorrupt = errors.New("wal: corrupt log")
	// ErrVersion matches a *VersionError: a segment of a format version this
	// reader does not know.
	ErrVersion = errors.New("wal: unsupported segment format version")
	// ErrPoisoned matches the error of a failed write or fsync. The Log
	// that hit it acknowledges nothing more: every later call returns the
	// same error, but WaitDurable of a frame an fsync covered before the
	// failure, which returns nil.
	ErrPoisoned = errors.New("wal: log failed a write or fsync and accepts no more")
	// ErrPayloadSize matches an Append of an empty payload or one larger
	// than MaxPayload. The log is unchanged and stays usable.
	ErrPayloadSize = errors.New("wal: payload size out of range")
	// ErrNotAppended matches WaitDurable of an index that was never
	// appended.
	ErrNotAppended = errors.New("wal: no frame with that index was appended")
	// ErrClosed is returned, as is, by Append and AppendDurable on a
	// closed Log. Sync and WaitDurable of a frame appended before Close
	// return nil then (Close made every frame durable), or the poison
	// error of a log that failed.
	ErrClosed = errors.New("wal: log is closed")
)

// Error reports a failure of the log's files or options: opening,
// locking, reading, writing, syncing. It matches the sentinel of its
// category (ErrLocked, ErrDirPermissions, ErrConfig, ErrPoisoned,
// ErrPayloadSize, ErrNotAppended; none for a plain I/O failure while
// opening or reading) and wraps the OS error, if any.
type Error struct {
	Op     string // what the log was doing: "open", "lock", "read", "write", "fsync", "create", "truncate", "append", ...
	Path   string // the file or directory, if any
	Reason string // what went wrong, in words; may be empty
	Err    error  // the underlying error, if any
	kind   error  // category for Is
}

func (e *Error) Error() string {
	s := "wal: " + e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if pe, ok := e.Err.(*fs.PathError); ok && e.Path != "" && pe.Path == e.Path {
		// The OS's error names the same file: say it once.
		if pe.Op != e.Op {
			s += ": " + pe.Op
		}
		return s + ": " + pe.Err.Error()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is match the error's category.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// CorruptError reports damage to the log that is not a torn tail (see
// FORMAT.md, "Recovery"): a bad frame in a segment other than the last, a
// bad frame followed by more data, a bad segment header, a missing
// segment. It matches ErrCorrupt. Open fails with it and changes nothing;
// ReadDir has handed every good frame before the damage to its callback
// when it returns it.
type CorruptError struct {
	File   string // the segment file ("" for ReadSegment of bytes); for a missing segment, the name it should have
	Offset int64  // byte offset in File where the damage starts (a frame's or the header's first byte)
	Reason string
	// LastIndex is the index of the last good frame before the damage (0:
	// none). When the damage is a frame, that frame's index would have
	// been LastIndex+1.
	LastIndex uint64
}

func (e *CorruptError) Error() string {
	file := e.File
	if file == "" {
		file = "segment"
	}
	return "wal: corrupt log: " + file + " at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason +
		" (last good frame " + strconv.FormatUint(e.LastIndex, 10) + ")"
}

// Is matches ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// VersionError reports a segment whose header has the right magic but a
// format version this reader does not know. It matches ErrVersion.
type VersionError struct {
	File    string
	Version uint32
}

func (e *VersionError) Error() string {
	s := "wal: "
	if e.File != "" {
		s += e.File + ": "
	}
	return s + "segment format version " + strconv.FormatUint(uint64(e.Version), 10) +
		" is not supported (this reader knows version " + strconv.Itoa(FormatVersion) + ")"
}

// Is matches ErrVersion.
func (e *VersionError) Is(target error) bool { return target == ErrVersion }
