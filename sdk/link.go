package sdk

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// The Emitter's append is Append cut in three, so that signatures can be
// computed in parallel while every chain stays in order:
//
//  1. link (TryEmit's goroutine, under the chain's lock): patch seq and
//     prev into the bytes just encoded, hash, dedupe, decide whether to
//     sign, and queue the record in the chain's flight. The chain's tip
//     moves on; its head does not.
//  2. sign (any worker, no lock).
//  3. settle (the same worker, under the chain's lock): mark the record
//     signed and commit every signed record at the front of the flight,
//     in seq order: Put into the store, move the head, tell the Observer.
//
// A record that fails after its link (the signer or the store failed, or
// the emitter closed) breaks the records linked after it in its chain,
// since their prev is its hash: they fail too, and once the flight is
// empty the chain continues from its last committed record. The chain
// never holds a gap.

// Where the link step patches the canonical bytes: seq is data word 1 and
// prev, 32 bytes, is always the last object (canonical/SPEC.md).
const (
	seqOffset = 16
	prevSize  = 32
)

// linked is one record between link and commit.
type linked struct {
	c      *chain
	seq    uint64
	sealed Sealed // Bytes: the emitter's buffer; Hash; Sig once signed
	signer Signer // nil: the policy does not sign this record
	dup    bool   // a duplicate of a record in the dedupe window: no commit

	signed  bool  // step 2 is done (under c.mu)
	signErr error // step 2's error
	pending Pending
	err     error // why the record was not committed
	slot    *slot // the emitter's slot that holds it
}

// errAbandoned is a signErr: the emitter gave up on the record (Close's
// deadline passed) without signing it.
var errAbandoned = errors.New("sdk: emitter closed before the record was appended")

// link is step 1 for the canonical bytes b of a record of chain (writer,
// stream), encoded with a placeholder seq and prev, which it patches.
//
//ronaudit:hot
func (l *Log) link(writer, stream string, b []byte, lk *linked) error {
	if err := l.failure(); err != nil {
		return err
	}
	c := l.chain(writer, stream)
	lockSpinning(&c.mu)
	defer c.mu.Unlock()
	if c.flight.n == 0 {
		c.tip, c.broken = c.head, nil
	}
	if c.broken != nil {
		return c.broken
	}
	next := c.tip.Seq + 1
	binary.LittleEndian.PutUint64(b[seqOffset:], next)
	copy(b[len(b)-prevSize:], c.tip.Hash[:])

	var fp uint64
	if c.dedupe.on() {
		fp = fingerprint(l.seed, b)
		if seq, ok := c.dedupe.lookup(fp); ok {
			if orig, dup := l.duplicateLinked(c, seq, b); dup {
				lk.c, lk.seq, lk.sealed, lk.dup = c, seq, orig, true
				return nil
			}
		}
	}
	lk.c, lk.seq, lk.dup = c, next, false
	lk.sealed = Sealed{Bytes: b, Hash: c.hasher.RecordHash(b)}
	lk.signer, lk.signed, lk.signErr, lk.err = nil, false, nil, nil
	now := time.Time{}
	if l.mustSign(c, next, c.tip.SealedSeq, &now) {
		lk.signer = c.signer
		c.tip.SealedSeq = next
		if l.cfg.SealInterval > 0 {
			c.lastSeal = now
		}
	}
	c.tip.Seq, c.tip.Hash = next, lk.sealed.Hash
	c.flight.push(lk)
	if c.dedupe.on() {
		c.dedupe.add(fp, next)
	}
	return nil
}

// duplicateLinked confirms a fingerprint match of b with record seq,
// committed or in flight. Same event means same canonical bytes but for
// seq and prev, which is what dedupe keys compare.
func (l *Log) duplicateLinked(c *chain, seq uint64, b []byte) (Sealed, bool) {
	switch {
	case seq <= c.head.Seq:
		return l.duplicate(c, seq, b)
	case seq <= c.tip.Seq:
		// In flight: the flight holds seqs head+1..tip (the chain is not
		// broken, or link would have refused). Only Bytes and Hash: a
		// worker may be writing Sig.
		f := c.flight.at(int(seq - c.head.Seq - 1))
		return Sealed{Bytes: f.sealed.Bytes, Hash: f.sealed.Hash}, sameEvent(f.sealed.Bytes, b)
	}
	return Sealed{}, false // linked once, then lost with a broken chain
}

// sign is step 2.
func (lk *linked) sign(msg *[len(canonical.SigPrefix) + 32]byte) error {
	if lk.signer == nil {
		return nil
	}
	*msg = canonical.SignedMessage(lk.sealed.Hash)
	if err := lk.signer.Sign(msg[:], &lk.sealed.Sig); err != nil {
		return err
	}
	lk.sealed.Signed, lk.sealed.KeyID = true, lk.signer.KeyID()
	return nil
}

// settle is step 3: lk is signed, with signErr. It commits, in seq order,
// every signed record at the front of lk's chain's flight and appends them
// to done, each with its Pending or its err.
//
//ronaudit:hot
func (l *Log) settle(lk *linked, signErr error, done []*linked) []*linked {
	c := lk.c
	lockSpinning(&c.mu)
	defer c.mu.Unlock()
	lk.signed, lk.signErr = true, signErr
	for c.flight.n > 0 && c.flight.at(0).signed {
		f := c.flight.pop()
		f.pending, f.err = l.commitLocked(c, f)
		done = append(done, f)
	}
	return done
}

// commitLocked commits f, the front of c's flight, or says why not.
//
//ronaudit:hot
func (l *Log) commitLocked(c *chain, f *linked) (Pending, error) {
	h := &c.head
	switch {
	case c.broken != nil:
		return Pending{}, c.broken
	case f.signErr == errAbandoned:
		c.broken = errAbandoned
		return Pending{}, c.broken
	case f.signErr != nil:
		c.broken = chainError(ErrSign, h.WriterID, h.Stream, f.seq, f.signErr)
		return Pending{}, c.broken
	}
	if err := l.failure(); err != nil {
		c.broken = err
		return Pending{}, err
	}
	kept, ticket, err := l.cfg.Store.Put(h.WriterID, h.Stream, f.seq, f.sealed)
	if err != nil {
		c.broken = chainError(ErrStore, h.WriterID, h.Stream, f.seq, err)
		return Pending{}, c.broken
	}
	h.Seq, h.Hash = f.seq, f.sealed.Hash
	if f.sealed.Signed {
		h.SealedSeq = f.seq
	}
	if l.cfg.Observer != nil {
		l.cfg.Observer.Committed(h.WriterID, h.Stream, f.seq, f.sealed.Hash, false)
	}
	return Pending{Appended: Appended{Record: kept, Seq: f.seq, Head: *h}, log: l, ticket: ticket}, nil
}

// lockSpinning locks mu, spinning for a while first. TryEmit (link) and
// the workers (settle) hold a chain's lock for a microsecond or two; a
// sync.Mutex parks its waiter after well under that, and a parked
// goroutine readied by Unlock can wait milliseconds for a P on a busy
// machine (measured: the e2e p99 of BenchmarkEmitterDesignLoad).
func lockSpinning(mu *sync.Mutex) {
	for range 256 {
		if mu.TryLock() {
			return
		}
	}
	mu.Lock()
}

// flightQueue is a FIFO ring of a chain's in-flight records. It grows to
// the most records the chain ever had in flight (at most the emitter's
// Depth) and then allocates no more.
type flightQueue struct {
	buf  []*linked
	head int
	n    int
}

func (q *flightQueue) push(lk *linked) {
	if q.n == len(q.buf) {
		grown := make([]*linked, max(8, 2*len(q.buf)))
		for i := range q.n {
			grown[i] = q.at(i)
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = lk
	q.n++
}

func (q *flightQueue) at(i int) *linked { return q.buf[(q.head+i)%len(q.buf)] }

func (q *flightQueue) pop() *linked {
	lk := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return lk
}
