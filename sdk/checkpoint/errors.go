package checkpoint

import (
	"errors"
	"fmt"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
)

// BrokenLinkError reports a directory reached through a symbolic link to
// nothing (a volume unmounted, a target removed): Path is the link,
// Target what it points to. The history readers (HistoryChains,
// HistoryPaths, LoadHistory, Keeper.History, NewKeeper, a Keeper's
// reading of a chain's newest checkpoint) return it where the plain
// fs.ErrNotExist would have read as "no checkpoints kept"; it does not
// match fs.ErrNotExist.
type BrokenLinkError = fsutil.BrokenLinkError

// ErrNoDir is what the functions that take a directory return, wrapped
// with the function's name, for the directory "": KeptDir (of a log),
// NewKeeper, HistoryChains, HistoryPaths and LoadHistory (of kept
// checkpoints). "" would be the current directory to the file system: a
// Keeper would keep its checkpoints there, and a reader would read
// whatever is there as the history (KeptDir's "" for a log that keeps
// none, given on to LoadHistory, say). Give "." for the current
// directory.
var ErrNoDir = errors.New(`checkpoint: the directory is "" (give "." for the current directory)`)

// ErrClosed matches the *Error (of ReasonSign, so ErrSign matches it
// too) of a Keeper's SealChain or Checkpoint after its Close, which
// writes no checkpoint: a host tells a Keeper it closed too early (before
// the Log, under the checkpoint-sealed policy) from one that could not
// sign or write, which matches ErrSign alone. The Log's Seal or Close
// that met it wraps it.
var ErrClosed = errors.New("the Keeper is closed: it writes no checkpoint after Close")

// noDir is ErrNoDir for a call of fn.
func noDir(fn string) error { return fmt.Errorf("%w: %s", ErrNoDir, fn) }

// Reason names why a checkpoint or proof was refused. The values are
// stable: metrics and logs use them as labels.
type Reason string

// Failure reasons.
const (
	// ReasonFormat: the signed note or the checkpoint text in it is not
	// exactly the format of this package (see Open), or a value given to
	// Sign is not one it can write.
	ReasonFormat Reason = "format"
	// ReasonBadSignature: a signature by a known key does not verify.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonUnknownKey: no signature of the note is by a key the verifier
	// trusts.
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonSign: the signer failed, or its name or public key cannot
	// make a note signature; from a Keeper also a checkpoint it could not
	// write, or one asked of it (SealChain, Checkpoint) after its Close
	// (which also matches ErrClosed).
	ReasonSign Reason = "sign"
	// ReasonRange: an index or tree size outside what the tree or the
	// checkpoint covers.
	ReasonRange Reason = "out_of_range"
	// ReasonNotIncluded: an inclusion proof does not show the record hash
	// at that index under the checkpoint's root.
	ReasonNotIncluded Reason = "not_included"
	// ReasonOriginMismatch: two checkpoints compared are of different
	// chains (different origin lines).
	ReasonOriginMismatch Reason = "origin_mismatch"
	// ReasonRollback: the newer checkpoint has fewer records than the
	// older one: the log was cut or rolled back.
	ReasonRollback Reason = "rollback"
	// ReasonFork: the consistency proof does not show the newer tree
	// extending the older one (or equal sizes with different roots): the
	// log forked or rewrote history, or the proof is wrong. A signed
	// checkpoint pair plus a correct proof never gives it.
	ReasonFork Reason = "fork"
	// ReasonRetiredKey: every signature of the checkpoint that a verifier
	// knows is by a key its chain retired before the checkpoint's size.
	ReasonRetiredKey Reason = "retired_key"
)

// Sentinels for errors.Is, one per Reason.
var (
	ErrFormat         = errors.New(string(ReasonFormat))
	ErrBadSignature   = errors.New(string(ReasonBadSignature))
	ErrUnknownKey     = errors.New(string(ReasonUnknownKey))
	ErrSign           = errors.New(string(ReasonSign))
	ErrRange          = errors.New(string(ReasonRange))
	ErrNotIncluded    = errors.New(string(ReasonNotIncluded))
	ErrOriginMismatch = errors.New(string(ReasonOriginMismatch))
	ErrRollback       = errors.New(string(ReasonRollback))
	ErrFork           = errors.New(string(ReasonFork))
	ErrRetiredKey     = errors.New(string(ReasonRetiredKey))
)

var reasonErrs = map[Reason]error{
	ReasonFormat: ErrFormat, ReasonBadSignature: ErrBadSignature, ReasonUnknownKey: ErrUnknownKey,
	ReasonSign: ErrSign, ReasonRange: ErrRange, ReasonNotIncluded: ErrNotIncluded,
	ReasonOriginMismatch: ErrOriginMismatch, ReasonRollback: ErrRollback, ReasonFork: ErrFork,
	ReasonRetiredKey: ErrRetiredKey,
}

// Error is every error of this package about a checkpoint, a proof or
// signing (see the package doc for those of files and records): why
// (Reason, matched by errors.Is against the sentinel of the same name),
// what (Detail), and the underlying error if any (Err: from the note or
// tlog package, or a signer), reachable with errors.Unwrap, errors.Is and
// errors.As — for example errors.As(err, new(*note.InvalidSignatureError)).
type Error struct {
	Reason Reason
	Detail string
	Err    error
}

func (e *Error) Error() string {
	s := "checkpoint: " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
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

func newErr(r Reason, detail string, err error) *Error {
	return &Error{Reason: r, Detail: detail, Err: err}
}
