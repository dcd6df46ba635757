package export

import (
	"errors"
	"strconv"

	"github.com/rustyonions/ron-audit-go/internal/names"
)

// Reason names why a bundle or a sequence of bundles was refused. The
// values are stable: metrics and logs use them as labels.
type Reason string

// Failure reasons.
const (
	// ReasonFormat: the bytes are not a bundle of this format (magic,
	// version, lengths, counts, trailing data), or a value in it
	// contradicts another (the checkpoint's origin or size and the
	// header's).
	ReasonFormat Reason = "format"
	// ReasonBadCheckpoint: a signed checkpoint in the bundle (or the
	// trusted one given) does not open: bad or unknown signature, or a
	// malformed note.
	ReasonBadCheckpoint Reason = "bad_checkpoint"
	// ReasonRecord: a record fails: its CRC-32C, its hash, its canonical
	// bytes, its signature, its chain, seq or link to the record before.
	ReasonRecord Reason = "record"
	// ReasonRoot: the root recomputed from the compact range and the
	// bundle's record hashes is not the signed checkpoint's root.
	ReasonRoot Reason = "root"
	// ReasonConsistency: the compact range does not hash to the previous
	// checkpoint's root, or the consistency proof does not show the
	// checkpoint extending the previous one.
	ReasonConsistency Reason = "consistency"
	// ReasonGap: in a sequence, a bundle does not start where the one
	// before ended (a bundle is missing, or bundles overlap).
	ReasonGap Reason = "gap"
	// ReasonTruncated: the sequence (or log) stops short of the trusted
	// checkpoint: its tail was cut or rolled back.
	ReasonTruncated Reason = "truncated"
	// ReasonFork: the sequence (or log) disagrees with a checkpoint it
	// should extend: history was rewritten.
	ReasonFork Reason = "fork"
)

// Sentinels for errors.Is, one per Reason.
var (
	ErrFormat        = errors.New(string(ReasonFormat))
	ErrBadCheckpoint = errors.New(string(ReasonBadCheckpoint))
	ErrRecord        = errors.New(string(ReasonRecord))
	ErrRoot          = errors.New(string(ReasonRoot))
	ErrConsistency   = errors.New(string(ReasonConsistency))
	ErrGap           = errors.New(string(ReasonGap))
	ErrTruncated     = errors.New(string(ReasonTruncated))
	ErrFork          = errors.New(string(ReasonFork))
)

// ErrNothingToExport is returned by Export when the chain has no record
// after the previous export.
var ErrNothingToExport = errors.New("export: no new records since the previous export")

// ErrNoBundles is what VerifyDir and VerifyDirTrusted return, wrapped with
// the directory, for a directory that holds no *.bundle file: nothing was
// verified (a wrong path, or an exporter that never ran), which is not a
// verified empty chain.
var ErrNoBundles = errors.New("export: no *.bundle files")

// ErrBundleName is wrapped by the ReasonFormat *Error that ListDir (and so
// FileSink.Latest, Prev, Bundles, WriteBundle, VerifyDir) returns for a
// *.bundle file whose name is not one the format gives a bundle
// (FORMAT.md, "Files"); the *Error's Bundle is the file name.
var ErrBundleName = errors.New("export: not a bundle file name (<first>-<last>.bundle, 20 decimal digits each, 1 <= first <= last < 2^63)")

var reasonErrs = map[Reason]error{
	ReasonFormat: ErrFormat, ReasonBadCheckpoint: ErrBadCheckpoint, ReasonRecord: ErrRecord,
	ReasonRoot: ErrRoot, ReasonConsistency: ErrConsistency, ReasonGap: ErrGap,
	ReasonTruncated: ErrTruncated, ReasonFork: ErrFork,
}

// Error is every verification error of this package. Bundle names the
// bundle (its file name, or "#i" for the i-th of a sequence; empty for a
// single bundle given as bytes); Origin the chain, as its checkpoint
// origin line (the bundle's; for a bundle whose bytes fail before its
// origin is read, the sequence's so far, else empty); Seq the
// record concerned, 0 if none;
// Expected and Got what was expected and found, when they say more than
// Reason; Err the underlying error (a *checkpoint.Error, a
// *sdk.VerifyError), reachable with errors.Is and errors.As.
//
// The fields keep what was found as it was; Error says it on one line
// that reads as its bytes, for some of it is not the verifier's: a
// bundle's file name and the directories in Detail come from a tree
// someone else made, and Expected may quote a previous export's
// checkpoint text, read from the sink unverified. Bundle is quoted if
// it is not printable (names.Path); in Detail, Expected and Got each
// unprintable character (a newline, a terminal escape, a right-to-left
// override) is written as its Go escape (names.Line). Printable text,
// é included, is as it is.
type Error struct {
	Bundle   string
	Origin   string
	Reason   Reason
	Seq      uint64
	Detail   string
	Expected string
	Got      string
	Err      error
}

func (e *Error) Error() string {
	s := "export: " + string(e.Reason)
	if e.Bundle != "" {
		s += ": bundle " + names.Path(e.Bundle)
	}
	if e.Origin != "" {
		s += ": chain " + e.Origin
	}
	if e.Seq != 0 {
		s += ": seq " + strconv.FormatUint(e.Seq, 10)
	}
	if e.Detail != "" {
		s += ": " + names.Line(e.Detail)
	}
	if e.Expected != "" || e.Got != "" {
		s += ": expected " + names.Line(e.Expected) + ", got " + names.Line(e.Got)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's Reason.
func (e *Error) Is(target error) bool { return reasonErrs[e.Reason] == target }

func newErr(r Reason, seq uint64, detail string) *Error {
	return &Error{Reason: r, Seq: seq, Detail: detail}
}
