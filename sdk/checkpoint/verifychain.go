package checkpoint

import (
	"crypto/ed25519"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// VerifyChain verifies a chain as sdk.VerifyChain does (hashes, canonical
// bytes, links, signatures, key transitions) and takes its checkpoints as
// seals: each note must be a checkpoint of this chain signed by a key of
// verifiers or, with keys given, by a key one of the chain's verified
// transitions named (a verifier holding the first key follows a rotation,
// as for record signatures), and the chain must extend it (same root at
// its size), else the chain was cut or rolled back (ErrRollback) or forked
// (ErrFork). The records up to the largest checkpoint are sealed by it;
// records past it and past the last record signature are an unsealed tail
// (sdk.ReasonUnsealedTail) unless opts.AllowUnsealedTail. An error about
// one of the checkpoints names it by its index ("checkpoints[i]"). This
// is how a chain written under the checkpoint-sealed policy with a Keeper
// verifies.
func VerifyChain(it sdk.Iterator, keys *sdk.KeySet, verifiers note.Verifiers, checkpoints [][]byte, opts sdk.VerifyOptions) (sdk.Result, error) {
	if opts.Start != nil && opts.Start.Seq > 0 {
		// Checkpoints count leaves from seq 1: the tree needs every record.
		return sdk.Result{}, newErr(ReasonRange, "VerifyChain with checkpoints needs the chain from seq 1", nil)
	}
	tree := NewTree()
	var recs int
	tee := &teeIterator{it: it, each: func(r sdk.Sealed) { tree.Append(r.Hash); recs++ }}
	inner := opts
	inner.AllowUnsealedTail = true
	res, err := sdk.VerifyChain(tee, keys, inner)
	if err != nil {
		return res, err
	}
	verifiers = followRotations(verifiers, res.Retired, res.Head.WriterID, res.Head.Stream)
	sealed := res.Head.SealedSeq
	for i, msg := range checkpoints {
		cp, err := Open(msg, verifiers)
		if err != nil {
			return res, atCheckpoint(err, i)
		}
		// An empty chain without a Start names no chain: its checkpoints
		// say which it was, and that it held records (Vouches: ErrRollback).
		writer, stream, named := res.Head.WriterID, res.Head.Stream, res.Records > 0
		if !named && opts.Start != nil {
			writer, stream, named = opts.Start.WriterID, opts.Start.Stream, true
		}
		if named && (cp.WriterID != writer || cp.Stream != stream) {
			return res, newErr(ReasonOriginMismatch, "checkpoints["+strconv.Itoa(i)+"] is of "+cp.Origin+", not of "+Origin(writer, stream), nil)
		}
		if err := tree.Vouches(cp, res.Retired); err != nil {
			return res, atCheckpoint(err, i)
		}
		sealed = max(sealed, uint64(cp.Size))
	}
	res.Head.SealedSeq = sealed
	if res.Records > 0 && sealed < res.Head.Seq && !opts.AllowUnsealedTail {
		return res, &sdk.VerifyError{WriterID: res.Head.WriterID, Stream: res.Head.Stream, Seq: sealed + 1, Reason: sdk.ReasonUnsealedTail,
			Expected: "a checkpoint or signature covering seq " + strconv.FormatUint(res.Head.Seq, 10),
			Got:      "none after seq " + strconv.FormatUint(sealed, 10), Verified: int(sealed)}
	}
	return res, nil
}

// atCheckpoint names checkpoints[i] in the Detail of err, a failure of
// that checkpoint, keeping its Reason and underlying error.
func atCheckpoint(err error, i int) error {
	where := "checkpoints[" + strconv.Itoa(i) + "]"
	e, ok := err.(*Error)
	if !ok {
		return fmt.Errorf("%s: %w", where, err)
	}
	c := *e
	if c.Detail == "" {
		c.Detail = where
	} else {
		c.Detail = where + ": " + c.Detail
	}
	return &c
}

// ChainVerifiers returns the note verifiers of the checkpoints of chain
// (writerID, stream): KeyVerifiers of pubs and of the keys the chain's
// verified key transitions named (sdk.Retirement.Next, from
// sdk.Result.Retired or sdk.Summary.Retired; those of other chains are
// ignored), so that a verifier holding the first key follows the
// rotations for checkpoints as for record signatures. A transition whose
// signature was not checked (Pub nil: no keys) names no key. A retired
// key still opens its checkpoints: InForce refuses those past its
// transition. VerifyDir and VerifyKept open kept checkpoints with these.
func ChainVerifiers(pubs []ed25519.PublicKey, retired []sdk.Retirement, writerID, stream string) note.Verifiers {
	return followRotations(KeyVerifiers(pubs...), retired, writerID, stream)
}

// followRotations returns verifiers that also trust the keys the chain's
// verified key transitions named, as ChainVerifiers, besides verifiers
// (nil: none).
func followRotations(verifiers note.Verifiers, retired []sdk.Retirement, writer, stream string) note.Verifiers {
	var next keyVerifiers
	for _, r := range retired {
		if r.WriterID == writer && r.Stream == stream && r.Pub != nil && len(r.Next) == ed25519.PublicKeySize {
			next = append(next, r.Next)
		}
	}
	if len(next) == 0 {
		return verifiers
	}
	return rotationVerifiers{base: verifiers, next: next}
}

type rotationVerifiers struct {
	base note.Verifiers
	next keyVerifiers
}

func (r rotationVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	var err error = &note.UnknownVerifierError{Name: name, KeyHash: hash}
	if r.base != nil {
		var v note.Verifier
		if v, err = r.base.Verifier(name, hash); err == nil {
			return v, nil
		}
	}
	if v, nerr := r.next.Verifier(name, hash); nerr == nil {
		return v, nil
	}
	return nil, err
}

type teeIterator struct {
	it   sdk.Iterator
	each func(sdk.Sealed)
}

func (t *teeIterator) Next() bool {
	if !t.it.Next() {
		return false
	}
	t.each(t.it.Entry())
	return true
}
func (t *teeIterator) Entry() sdk.Sealed { return t.it.Entry() }
func (t *teeIterator) Err() error        { return t.it.Err() }

// Vouches checks that cp vouches for the first cp.Size records of the
// chain whose tree t is: t extends cp (Extends: ErrRollback, ErrFork) and
// cp is signed by a key the chain had in force at its size (InForce,
// with the chain's retirements).
func (t *Tree) Vouches(cp Checkpoint, retired []sdk.Retirement) error {
	if err := t.Extends(cp); err != nil {
		return err
	}
	return InForce(cp, retired)
}

// InForce checks that a verified signature of cp is by a key its chain
// still had in force at cp.Size. A key that a transition retired at seq T
// signs no record after T in that chain, so its checkpoint vouches for at
// most T records: a checkpoint larger than that, signed by no other key
// the verifier knows, is an *Error of ReasonRetiredKey. Anyone holding an
// old key could otherwise vouch for records its successor never signed.
// retired is the chain's transitions (sdk.Result.Retired or
// sdk.Summary.Retired; those of other chains are ignored). A retirement
// without its public key (signatures were not checked) cannot be matched
// and counts for nothing.
func InForce(cp Checkpoint, retired []sdk.Retirement) error {
	if cp.Note == nil {
		return newErr(ReasonFormat, "checkpoint of "+cp.Origin+" was not opened (no note)", nil)
	}
	var stale []string
	for _, sig := range cp.Note.Sigs {
		// The key hash covers the name and the key: a retired key is
		// matched under whatever name its signature claims, so a verifier
		// that trusts it under a second name does not let it vouch again.
		at, isRetired, id := uint64(0), false, sdk.KeyID{}
		for _, r := range retired {
			if r.WriterID == cp.WriterID && r.Stream == cp.Stream && r.Pub != nil &&
				sig.Hash == NoteKeyHash(sig.Name, r.Pub) {
				at, isRetired, id = r.Seq, true, r.KeyID
				break
			}
		}
		if !isRetired || uint64(cp.Size) <= at {
			return nil
		}
		// The key id, as keygen and the rest of the errors name keys; the
		// note's key hash too, which the checkpoint file shows.
		stale = append(stale, fmt.Sprintf("key %s (note key hash %08x), retired at seq %d", id, sig.Hash, at))
	}
	return newErr(ReasonRetiredKey, fmt.Sprintf("checkpoint of %s at size %d is signed only by %s", cp.Origin, cp.Size, strings.Join(stale, "; ")), nil)
}
