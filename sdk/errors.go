package sdk

import (
	"errors"
	"strconv"

	"github.com/rustyonions/ron-audit-go/internal/chaindir"
	"github.com/rustyonions/ron-audit-go/internal/names"
)

// Reason names why a verification failed. The values are stable: metrics
// and logs use them as labels.
type Reason string

// Verification failure reasons.
const (
	ReasonHashMismatch  Reason = "hash_mismatch"      // the stored hash is not the hash of the bytes
	ReasonPrevMismatch  Reason = "prev_mismatch"      // prev is not the hash of the record before (or another chain's record)
	ReasonSeqGap        Reason = "seq_gap"            // seq is not one more than the record before
	ReasonBadSignature  Reason = "bad_signature"      // the signature does not verify
	ReasonNotCanonical  Reason = "not_canonical"      // the bytes are not a canonical record
	ReasonUnknownKey    Reason = "unknown_key"        // no key in the key set has the signature's key id
	ReasonUnsealedTail  Reason = "unsealed_tail"      // records after the last signature: nothing vouches for them
	ReasonRetiredKey    Reason = "retired_key"        // signed by a key a transition retired earlier in the chain
	ReasonBadTransition Reason = "bad_key_transition" // a key transition that is unsigned or names no Ed25519 key
)

// Sentinels for errors.Is, one per Reason.
var (
	ErrHashMismatch  = errors.New(string(ReasonHashMismatch))
	ErrPrevMismatch  = errors.New(string(ReasonPrevMismatch))
	ErrSeqGap        = errors.New(string(ReasonSeqGap))
	ErrBadSignature  = errors.New(string(ReasonBadSignature))
	ErrNotCanonical  = errors.New(string(ReasonNotCanonical))
	ErrUnknownKey    = errors.New(string(ReasonUnknownKey))
	ErrUnsealedTail  = errors.New(string(ReasonUnsealedTail))
	ErrRetiredKey    = errors.New(string(ReasonRetiredKey))
	ErrBadTransition = errors.New(string(ReasonBadTransition))
)

var reasonErrs = map[Reason]error{
	ReasonHashMismatch: ErrHashMismatch, ReasonPrevMismatch: ErrPrevMismatch, ReasonSeqGap: ErrSeqGap,
	ReasonBadSignature: ErrBadSignature, ReasonNotCanonical: ErrNotCanonical, ReasonUnknownKey: ErrUnknownKey,
	ReasonUnsealedTail: ErrUnsealedTail, ReasonRetiredKey: ErrRetiredKey, ReasonBadTransition: ErrBadTransition,
}

// VerifyError is the first failure of a verification: what failed, where,
// and the evidence.
type VerifyError struct {
	WriterID string
	Stream   string
	Seq      uint64 // seq of the failing record: in a chain, the seq its place holds (for seq_gap, the one expected; Got has the one found)
	Reason   Reason
	Expected string // what the verifier expected, e.g. a hash in hex
	Got      string // what it found
	Verified int    // records that verified before this one
	Err      error  // the underlying error, if any (e.g. from canonical.Open)
}

func (e *VerifyError) Error() string {
	s := "verify " + names.Chain(e.WriterID, e.Stream) + " seq " + strconv.FormatUint(e.Seq, 10) + ": " + string(e.Reason)
	switch {
	case e.WriterID == "" && e.Stream == "" && e.Seq == 0:
		s = "verify: " + string(e.Reason) // bytes that name no chain (a *DurableError says where they are)
	case e.WriterID == "" && e.Stream == "":
		// A place in a chain nothing names (a first record whose bytes
		// cannot be read): `""/""` told the reader nothing.
		s = "verify seq " + strconv.FormatUint(e.Seq, 10) + " (no chain named): " + string(e.Reason)
	}
	if e.Expected != "" || e.Got != "" {
		s += ": expected " + e.Expected + ", got " + e.Got
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + " (" + strconv.Itoa(e.Verified) + " records verified before)"
}

// Unwrap returns the underlying error.
func (e *VerifyError) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's Reason.
func (e *VerifyError) Is(target error) bool { return reasonErrs[e.Reason] == target }

// Errors of appending. Each is returned wrapped with context; the chain is
// exactly as before the failed call.
var (
	// ErrChainConflict: the record's seq or prev is set and is not the
	// chain's next seq or current head.
	ErrChainConflict = errors.New("sdk: record conflicts with the chain head")
	// ErrSign: the signer failed.
	ErrSign = errors.New("sdk: signing failed")
	// ErrStore: the store failed to keep the record.
	ErrStore = errors.New("sdk: store failed")
	// ErrEvicted: the records asked for are older than the oldest a
	// MemStore still keeps: its bound made it forget them (with ErrStore).
	ErrEvicted = errors.New("sdk: records evicted from the store")
	// ErrRange: an invalid range of seqs (Log.Records with from 0, or to
	// more than one before from).
	ErrRange = errors.New("sdk: invalid range of seqs")
	// ErrConfig: the configuration is invalid.
	ErrConfig = errors.New("sdk: invalid configuration")
	// ErrEmitting: Append, AppendPending and RotateKey refuse to run while
	// an Emitter owns the log's appends (they would race its chain order);
	// emit through it, or Close it first.
	ErrEmitting = errors.New("sdk: an Emitter owns the log's appends")
	// ErrSealIncomplete: Seal, SealAll or Close could not seal a chain to
	// its head. Under the checkpoint-sealed policy with a Sealer, records
	// appended past a chain's key transition can be vouched for only by
	// the new key, which the Sealer gets from the rotation's FollowKey; a
	// seal in between covers the chain up to its transition (none of a
	// chain started with the new key, which RotateKey's Retired of the
	// old key at seq 0 tells the Sealer: see RetireObserver). The records
	// are durable, and the Sealer seals them once it has the key (its next
	// checkpoint, or a Keeper's Close). The error names the chain, the seq
	// sealed and the head.
	ErrSealIncomplete = errors.New("sdk: the seal does not reach the chain's head")
)

// MaxChainName is the longest a writer id or stream may be, in bytes of
// the directory name its chain gets under a Keeper's checkpoints/ and a
// FileSink's export directory: e(name), each byte but A-Z a-z 0-9 '-'
// '.' '_' '~' '@' written %XX (checkpoint.Origin's escaping), and "."
// and ".." as "%2E" and "%2E%2E". It is NAME_MAX on Linux and macOS:
// a longer name can be no directory, so its chain could never be
// checkpointed or exported (nor verified against its checkpoints).
// The limit is the SDK's, not the record format's: canonical records
// with longer names decode and verify as records. Nothing is added to
// a chain's directory name (temporary files are inside it), so the
// whole limit is the name's.
const MaxChainName = 255

// ErrChainName: a writer id or stream too long to name its chain's
// directory (*ChainNameError).
var ErrChainName = errors.New("sdk: chain name too long")

// ChainNameError reports a writer id or stream whose escaped directory
// name is longer than MaxChainName. Append, AppendPending and the
// Emitter return it before any state changes. It matches ErrChainName.
type ChainNameError struct {
	Field string // "writerId" or "stream"
	Len   int    // bytes of its escaped directory name
	Limit int    // MaxChainName
}

func (e *ChainNameError) Error() string {
	return "sdk: " + e.Field + " is " + strconv.Itoa(e.Len) + " bytes escaped as a directory name, limit " +
		strconv.Itoa(e.Limit) + ": its chain could not be checkpointed or exported"
}

// Is makes errors.Is(err, ErrChainName) true.
func (e *ChainNameError) Is(target error) bool { return target == ErrChainName }

// checkChainName returns a *ChainNameError when name, the record's field,
// escapes to a directory name longer than MaxChainName.
func checkChainName(field, name string) error {
	// Each byte escapes to at most 3: a shorter name fits without
	// counting (the common case, on the append path).
	if len(name) <= MaxChainName/3 {
		return nil
	}
	if n := chaindir.NameLen(name); n > MaxChainName {
		return &ChainNameError{Field: field, Len: n, Limit: MaxChainName}
	}
	return nil
}
