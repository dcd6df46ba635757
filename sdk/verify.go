package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
)

// VerifyOptions tune VerifyChain.
type VerifyOptions struct {
	// Start, when set, is the trusted head the chain continues from (for a
	// store that no longer keeps the first records); otherwise the chain
	// must start at seq 1 with prev = canonical.Genesis. Its SealedSeq
	// counts as the last signature before the records read: the records
	// after it are the unsealed tail unless one read is signed, those up to
	// Start.Seq included. A Start with SealedSeq 0 thus reports a tail from
	// seq 1 (VerifyError.Verified 0: no record read comes before it); set
	// SealedSeq to Start.Seq when whatever makes the head trusted also
	// vouches for the records up to it. A SealedSeq past Start.Seq counts
	// as Start.Seq: it vouches for no record read. Start names its chain
	// (WriterID and Stream, as every record does): one that does not is
	// refused (ErrConfig) before any record is read.
	Start *Head
	// Retired are the chain's key transitions up to Start (Result.Retired
	// of the verification that reached Start). The records before Start
	// are not read, so without them a key their transitions retired
	// verifies again after Start if keys holds it (as it does for a
	// verifier given the old and the new key of a rotation); with them
	// its signatures are refused (ReasonRetiredKey) and the keys their
	// transitions named are trusted. Those of other chains are ignored.
	Retired []Retirement
	// AllowUnsealedTail accepts records after the last signature (a
	// checkpoint-sealed chain that is still being written). Otherwise they
	// fail with ReasonUnsealedTail.
	AllowUnsealedTail bool
}

// Result sums up a verification that passed, or how far one got.
type Result struct {
	Records int  // records verified
	Head    Head // the last verified record
	// Retired lists the chain's key transitions, oldest first, once the
	// whole chain is read: a checkpoint by a retired key vouches for no
	// record after its transition (checkpoint.InForce).
	Retired []Retirement
}

// VerifyHash is the self-hash check alone: the stored hash is the BLAKE3
// record hash of the bytes. It does not parse the record (VerifyRecord
// does); it is what a reader runs to prove bytes unchanged since hashing.
//
//ronaudit:hot
func VerifyHash(rec Sealed) error {
	if h := canonical.RecordHash(rec.Bytes); h != rec.Hash {
		v, _ := canonical.OpenAuditRecord(rec.Bytes) // best effort, for names
		return fail(v, ReasonHashMismatch, rec.Hash.String(), h.String(), 0)
	}
	return nil
}

// VerifyRecord checks one sealed record on its own: the stored hash is the
// hash of the bytes, the bytes are the canonical bytes of a valid record,
// and a signature, if any, is valid under a key of keys. It returns the
// record's view. Failures are *VerifyError with Verified 0.
//
//ronaudit:hot
func VerifyRecord(rec Sealed, keys *KeySet) (canonical.AuditRecordView, error) {
	if h := canonical.RecordHash(rec.Bytes); h != rec.Hash {
		v, _ := canonical.OpenAuditRecord(rec.Bytes) // best effort, for names
		return v, fail(v, ReasonHashMismatch, rec.Hash.String(), h.String(), 0)
	}
	v, err := canonical.Open(rec.Bytes)
	if err != nil {
		// Names and seq as far as the bytes still give them (only the
		// Cap'n Proto form checked, not this format's rules).
		b, _ := canonical.OpenAuditRecord(rec.Bytes)
		e := fail(b, ReasonNotCanonical, "", "", 0)
		e.Err = err
		return v, e
	}
	if rec.Signed {
		if err := verifySig(v, rec, keys); err != nil {
			return v, err
		}
	}
	return v, nil
}

// hasTransition reports whether any record holds a key transition.
func hasTransition(recs []Sealed) bool {
	key := []byte(KeyTransitionAttr)
	for _, r := range recs {
		if !bytes.Contains(r.Bytes, key) { // cheap test first
			continue
		}
		if v, err := canonical.OpenAuditRecord(r.Bytes); err == nil {
			if _, ok, _ := KeyTransition(v); ok {
				return true
			}
		}
	}
	return false
}

// verify checks a record's signature with the keys in force at its seq.
func (ks *keyState) verify(v canonical.AuditRecordView, rec Sealed, keys *KeySet) error {
	pub, err := ks.lookup(v, rec.KeyID, keys)
	if err != nil {
		return err
	}
	if !canonical.VerifySignature(pub, rec.Hash, rec.Sig[:]) {
		return fail(v, ReasonBadSignature, "a signature by key "+rec.KeyID.String(), hexOrEmpty(rec.Sig[:8])+"...", 0)
	}
	return nil
}

func verifySig(v canonical.AuditRecordView, rec Sealed, keys *KeySet) error {
	pub, ok := keys.Lookup(rec.KeyID)
	if !ok {
		return fail(v, ReasonUnknownKey, "a key in the key set", "key id "+rec.KeyID.String(), 0)
	}
	if !canonical.VerifySignature(pub, rec.Hash, rec.Sig[:]) {
		return fail(v, ReasonBadSignature, "a signature by key "+rec.KeyID.String(), hexOrEmpty(rec.Sig[:8])+"...", 0)
	}
	return nil
}

func fail(v canonical.AuditRecordView, r Reason, expected, got string, verified int) *VerifyError {
	return &VerifyError{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: v.Seq(),
		Reason: r, Expected: expected, Got: got, Verified: verified}
}

// VerifyLink checks that the record v (with stored hash) follows prev in
// the same chain: same writer and stream, seq one more, prev equal to the
// head's hash.
func VerifyLink(prev Head, v canonical.AuditRecordView) error {
	if string(v.WriterID()) != prev.WriterID || string(v.Stream()) != prev.Stream {
		// Both names as every message spells them (internal/names): the
		// record's come from bytes anyone may have written.
		return fail(v, ReasonPrevMismatch, "a record of "+names.Chain(prev.WriterID, prev.Stream),
			"a record of "+names.Chain(string(v.WriterID()), string(v.Stream())), 0)
	}
	if v.Seq() != prev.Seq+1 {
		return fail(v, ReasonSeqGap, "seq "+strconv.FormatUint(prev.Seq+1, 10), "seq "+strconv.FormatUint(v.Seq(), 10), 0)
	}
	if !bytes.Equal(v.Prev(), prev.Hash[:]) {
		return fail(v, ReasonPrevMismatch, prev.Hash.String(), hexOrEmpty(v.Prev()), 0)
	}
	return nil
}

// VerifyChain verifies one chain record by record: each record on its own
// (VerifyRecord), each link (VerifyLink), and that signatures cover the
// chain up to its end. It stops at the first failure and returns it as a
// *VerifyError whose Verified counts the records that passed before. The
// failure names the chain verified (the first record's, or Start's) and
// the seq of the place the failing record holds in it, whatever the
// record claims: a record of another chain there (streams interleaved in
// one iterator) is a prev_mismatch whose Got names the record's chain.
//
// What the records alone cannot show: records cut after a signed one
// (any record, under the default policy), or every record gone (an
// empty chain verifies, with 0 records). A head or checkpoint kept
// elsewhere shows those (checkpoint.VerifyChain, ronaudit verify
// --checkpoint). And keys is not bound to writers: a signature by any of
// its keys holds in any chain that has not retired that key, so verify
// each writer's chains with that writer's keys when writers must not be
// able to vouch for one another's records.
//
// An iterator that fails (it.Err: a store's I/O error) ends the
// verification with its error wrapped (errors.Is holds), naming the chain
// and the seq after which reading stopped: no *VerifyError, since nothing
// read was found wrong. Result counts the records verified before.
func VerifyChain(it Iterator, keys *KeySet, opts VerifyOptions) (Result, error) {
	if err := checkStart(opts); err != nil {
		return Result{}, err
	}
	h := canonical.GetHasher() // the package's pool: a Hasher is about 24 KiB
	defer canonical.PutHasher(h)
	var res Result
	var head Head
	var ks keyState
	started := false
	if opts.Start != nil {
		head, started = *opts.Start, true
		// A signature before the records read vouches for none of them:
		// a SealedSeq past Start.Seq would seal records read unsigned.
		head.SealedSeq = min(head.SealedSeq, head.Seq)
		ks.resume(head.WriterID, head.Stream, opts.Retired)
	}
	for it.Next() {
		rec := it.Entry()
		expect := head.Seq + 1
		// The hash first: a changed byte is a hash mismatch whatever it
		// breaks in the record. Failures are reported at the position the
		// record holds in the chain (expect), not at the seq it claims.
		if got := h.RecordHash(rec.Bytes); got != rec.Hash {
			e := &VerifyError{WriterID: head.WriterID, Stream: head.Stream, Seq: expect, Reason: ReasonHashMismatch,
				Expected: rec.Hash.String(), Got: got.String(), Verified: res.Records}
			if !started {
				v, _ := canonical.OpenAuditRecord(rec.Bytes)
				e.WriterID, e.Stream = string(v.WriterID()), string(v.Stream())
			}
			return res, e
		}
		v, err := canonical.Open(rec.Bytes)
		if err != nil {
			e := &VerifyError{WriterID: head.WriterID, Stream: head.Stream, Seq: expect,
				Reason: ReasonNotCanonical, Err: err, Verified: res.Records}
			if !started {
				b, _ := canonical.OpenAuditRecord(rec.Bytes) // best effort, as above
				e.WriterID, e.Stream = string(b.WriterID()), string(b.Stream())
			}
			return res, e
		}
		if !started { // a chain from its genesis
			head, started = Head{WriterID: string(v.WriterID()), Stream: string(v.Stream())}, true
		}
		if err := VerifyLink(head, v); err != nil {
			var ve *VerifyError
			if errors.As(err, &ve) {
				// The place in the chain verified, named as every other
				// failure there is: a record of another chain (streams
				// interleaved in one iterator) names its own in Got.
				ve.WriterID, ve.Stream, ve.Seq = head.WriterID, head.Stream, expect
			}
			return res, withCount(err, res.Records)
		}
		if rec.Signed {
			if err := ks.verify(v, rec, keys); err != nil {
				return res, withCount(err, res.Records)
			}
			head.SealedSeq = v.Seq()
		}
		if err := ks.follow(v, rec, keys); err != nil {
			return res, withCount(err, res.Records)
		}
		head.Seq, head.Hash = v.Seq(), rec.Hash
		res.Records++
		res.Head = head
	}
	if err := it.Err(); err != nil {
		// Not a verdict (no *VerifyError): the records were not all read.
		// Where the reading stopped, for the caller to resume or report.
		if !started {
			return res, fmt.Errorf("sdk: verify: reading the chain's first record: %w", err)
		}
		return res, fmt.Errorf("sdk: verify %s: reading the record after seq %d (%d records verified): %w",
			names.Chain(head.WriterID, head.Stream), head.Seq, res.Records, err)
	}
	res.Retired = ks.retirements(head.WriterID, head.Stream)
	if res.Records > 0 && head.SealedSeq < head.Seq && !opts.AllowUnsealedTail {
		return res, &VerifyError{WriterID: head.WriterID, Stream: head.Stream, Seq: head.SealedSeq + 1,
			Reason: ReasonUnsealedTail, Expected: "a signature at or after seq " + strconv.FormatUint(head.SealedSeq+1, 10),
			Got: "no signature after seq " + strconv.FormatUint(head.SealedSeq, 10), Verified: max(0, int(head.SealedSeq)-int(firstSeq(opts)))}
	}
	return res, nil
}

// checkStart refuses a Start that names no chain: each record read would
// fail as "a record of another chain", hiding the caller's mistake.
func checkStart(opts VerifyOptions) error {
	if st := opts.Start; st != nil && (st.WriterID == "" || st.Stream == "") {
		return fmt.Errorf("%w: verify: VerifyOptions.Start (seq %d) names no chain: writer %s, stream %s",
			ErrConfig, st.Seq, names.Name(st.WriterID), names.Name(st.Stream))
	}
	return nil
}

func firstSeq(opts VerifyOptions) uint64 {
	if opts.Start != nil {
		return opts.Start.Seq
	}
	return 0
}

func withCount(err error, n int) error {
	var ve *VerifyError
	if errors.As(err, &ve) {
		ve.Verified = n
	}
	return err
}

// VerifyChainParallel verifies the same as VerifyChain over records held
// in memory, on up to workers goroutines: 0 or less means GOMAXPROCS, and
// at most 4 * GOMAXPROCS run (more segments than that only cost memory).
// Segments hold at least 2 records: fewer records than 2 * workers are
// verified in order. The count never changes the verdict. Hashes and
// signatures are checked in parallel segments; links, including those
// across segments, are checked against the stored hashes, which the
// segments prove. The error is the one at the lowest seq, as VerifyChain
// would report it.
func VerifyChainParallel(recs []Sealed, keys *KeySet, opts VerifyOptions, workers int) (Result, error) {
	return verifyChainParallel(recs, keys, opts, workers, nil)
}

// verifyChainParallel is VerifyChainParallel. With inOrder (tests), pass
// 1 runs its segments one after another, in order, on the caller's
// goroutine, and counts in *inOrder the records they read: what stops
// early is then deterministic.
func verifyChainParallel(recs []Sealed, keys *KeySet, opts VerifyOptions, workers int, inOrder *int) (Result, error) {
	if err := checkStart(opts); err != nil {
		return Result{}, err
	}
	// A few segments per core even out segments of unequal cost (signed
	// records, a core busy elsewhere); each costs a goroutine and a
	// 24 KiB hasher, so a count past that (or one that overflows
	// 2*workers below) is cut, not honoured.
	procs := runtime.GOMAXPROCS(0)
	if workers <= 0 {
		workers = procs
	}
	workers = min(workers, 4*procs)
	if workers == 1 || len(recs) < 2*workers || hasTransition(recs) || (opts.Start != nil && len(opts.Retired) > 0) {
		// Key transitions change which keys hold for the rest of the chain:
		// a chain with any (here or before Start) is verified in order.
		return VerifyChain(NewSliceIterator(recs), keys, opts)
	}
	// Pass 1, parallel: each record on its own, and links inside a segment
	// (each segment's first record links to the stored hash before it).
	type failure struct {
		index int
		err   error
	}
	fails := make([]failure, workers)
	// The lowest segment that failed so far: a segment after it stops
	// reading, since the failure reported is that one's or one before
	// it, all at lower seqs than its records. No segment stops for a
	// later one, so the lowest failing segment reads to its failure and
	// fails as if none stopped.
	var failed atomic.Int64
	failed.Store(int64(workers))
	per := (len(recs) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(recs))
		fails[w].index = -1
		if lo >= hi {
			continue
		}
		wg.Add(1)
		segment := func(w, lo, hi int) {
			defer wg.Done()
			start := opts.Start
			if lo > 0 {
				v, err := canonical.Open(recs[lo-1].Bytes)
				if err != nil {
					return // the segment before reports it
				}
				start = &Head{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: v.Seq(), Hash: recs[lo-1].Hash}
			}
			it := &segmentIter{SliceIterator: SliceIterator{recs: recs[lo:hi], i: -1}, w: int64(w), failed: &failed, read: inOrder}
			_, err := VerifyChain(it, keys, VerifyOptions{Start: start, AllowUnsealedTail: true})
			if err != nil {
				var ve *VerifyError
				idx := lo
				if errors.As(err, &ve) {
					idx = lo + ve.Verified
				}
				fails[w] = failure{idx, err}
				for f := failed.Load(); int64(w) < f; f = failed.Load() {
					if failed.CompareAndSwap(f, int64(w)) {
						break
					}
				}
			}
		}
		if inOrder != nil {
			segment(w, lo, hi)
		} else {
			go segment(w, lo, hi)
		}
	}
	wg.Wait()
	for _, f := range fails {
		if f.index >= 0 {
			// Re-run sequentially up to the failure for the exact error and
			// count (the segment only knew its own start).
			return VerifyChain(NewSliceIterator(recs[:f.index+1]), keys, opts)
		}
	}
	// Pass 2: the tail must be sealed, as in VerifyChain.
	last, lastSigned := len(recs)-1, -1
	for i := last; i >= 0; i-- {
		if recs[i].Signed {
			lastSigned = i
			break
		}
	}
	v, _ := canonical.Open(recs[last].Bytes)
	head := Head{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: v.Seq(), Hash: recs[last].Hash}
	if lastSigned >= 0 {
		sv, _ := canonical.Open(recs[lastSigned].Bytes)
		head.SealedSeq = sv.Seq()
	} else if opts.Start != nil {
		head.SealedSeq = min(opts.Start.SealedSeq, opts.Start.Seq) // as VerifyChain
	}
	if lastSigned < last && !opts.AllowUnsealedTail {
		return VerifyChain(NewSliceIterator(recs), keys, opts) // reports the unsealed tail exactly
	}
	return Result{Records: len(recs), Head: head}, nil
}

// segmentIter reads segment w of VerifyChainParallel's pass 1 and ends
// it, between records, once a segment before it has failed.
type segmentIter struct {
	SliceIterator
	w      int64
	failed *atomic.Int64 // the lowest segment that failed
	read   *int          // records read, counted when the segments run in order
}

func (it *segmentIter) Next() bool {
	if it.failed.Load() < it.w || !it.SliceIterator.Next() {
		return false
	}
	if it.read != nil {
		*it.read++
	}
	return true
}
