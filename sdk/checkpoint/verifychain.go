package checkpoint

import (
	"crypto/ed25519"
	"fmt"
	"math"
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
// (ErrFork), and its key must have been in force at its size (InForce:
// ErrRetiredKey, ErrUnknownKey). The records up to the largest checkpoint
// are sealed by it;
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
// signature was not checked (Pub nil: no keys) names no key. These keys
// open a checkpoint of any size; InForce then judges its key by the
// chain's history: a retired key vouches for no size past its
// transition, a named key for none below the transition that named it
// (given to the verifier or not). VerifyDir and VerifyKept open kept
// checkpoints with these.
func ChainVerifiers(pubs []ed25519.PublicKey, retired []sdk.Retirement, writerID, stream string) note.Verifiers {
	return followRotations(KeyVerifiers(pubs...), retired, writerID, stream)
}

// followRotations returns verifiers that also trust the keys the chain's
// verified key transitions named, as ChainVerifiers, besides verifiers
// (nil: none).
func followRotations(verifiers note.Verifiers, retired []sdk.Retirement, writer, stream string) note.Verifiers {
	next := namedKeys(retired, writer, stream)
	if len(next) == 0 {
		return verifiers
	}
	return rotationVerifiers{base: verifiers, next: next}
}

// namedKeys returns the keys the verified key transitions of chain
// (writer, stream) in retired named: those followRotations trusts.
func namedKeys(retired []sdk.Retirement, writer, stream string) keyVerifiers {
	var next keyVerifiers
	for _, r := range retired {
		if r.WriterID == writer && r.Stream == stream && r.Pub != nil && len(r.Next) == ed25519.PublicKeySize {
			next = append(next, r.Next)
		}
	}
	return next
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
// had in force at cp.Size, by the chain's own history (retired: its
// transitions, sdk.Result.Retired or sdk.Summary.Retired; those of other
// chains are ignored). A transition at seq T retires the key that signed
// it and names the next: the retired key vouches for sizes up to T, the
// named key for sizes T and up (at T both, as the Keeper signs the
// checkpoint at T with either). So
//
//   - a checkpoint larger than T, signed by no key in force at its size
//     but by a key retired at T, is an *Error of ReasonRetiredKey: anyone
//     holding an old key could otherwise vouch for records its successor
//     never signed;
//   - a checkpoint smaller than T, signed by no key in force at its size
//     but by the key named at T, is an *Error of ReasonUnknownKey: that key
//     did not sign the chain there, given to the verifier or learned from
//     the transition alike, and every verifier, whether it reads the chain
//     before its checkpoints or in order (export bundles), must judge it
//     the same.
//
// A key that no transition of the chain names nor retires (a key given
// to the verifier, for example a note key apart from the record keys)
// counts at every size. A retirement without its public key (signatures
// were not checked) cannot be matched and counts for nothing.
func InForce(cp Checkpoint, retired []sdk.Retirement) error {
	if cp.Note == nil {
		return newErr(ReasonFormat, "checkpoint of "+cp.Origin+" was not opened (no note)", nil)
	}
	var stale []string
	reason := ReasonUnknownKey
	for _, sig := range cp.Note.Sigs {
		// The key hash covers the name and the key: a key is matched under
		// whatever name its signature claims, so a verifier that trusts it
		// under a second name does not let it vouch again.
		from, until := uint64(0), uint64(math.MaxUint64)
		var retiredID, namedBy sdk.KeyID
		var named ed25519.PublicKey
		isRetired, isNamed := false, false
		for _, r := range retired {
			if r.WriterID != cp.WriterID || r.Stream != cp.Stream || r.Pub == nil {
				continue
			}
			if sig.Hash == noteKeyHash(sig.Name, r.Pub) && (!isRetired || r.Seq < until) {
				until, isRetired, retiredID = r.Seq, true, r.KeyID
			}
			if len(r.Next) == ed25519.PublicKeySize && sig.Hash == noteKeyHash(sig.Name, r.Next) && (!isNamed || r.Seq < from) {
				from, isNamed, namedBy, named = r.Seq, true, r.KeyID, r.Next
			}
		}
		size := uint64(cp.Size)
		switch {
		case size < from:
			// The key id, as keygen and the rest of the errors name keys;
			// the note's key hash too, which the checkpoint file shows.
			stale = append(stale, fmt.Sprintf("key %s (note key hash %08x), named at seq %d by the transition of key %s",
				sdk.KeyIDOf(named), sig.Hash, from, namedBy))
		case size > until:
			stale = append(stale, fmt.Sprintf("key %s (note key hash %08x), retired at seq %d", retiredID, sig.Hash, until))
			reason = ReasonRetiredKey
		default:
			return nil
		}
	}
	return newErr(reason, fmt.Sprintf("checkpoint of %s at size %d is signed only by %s", cp.Origin, cp.Size, strings.Join(stale, "; ")), nil)
}
