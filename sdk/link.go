package sdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
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
//  2. sign (any worker, no lock), into the worker's own memory.
//  3. settle (the same worker, under the chain's lock): mark the record
//     signed and commit every signed record at the front of the flight,
//     in seq order: Put into the store, move the head, tell the Observer;
//     then queue them for acknowledgement, in the same order, and hand on
//     what is queued unless another worker is doing so already.
//
// A worker the OS stops in step 2 would hold up its whole chain for a
// scheduler slice (milliseconds). When records behind the front are
// signed and the front is not, the worker settling sees it and signs the
// front too (hedge): Ed25519 is deterministic, the first signature to
// arrive counts, and a slot is freed only once every worker that reads
// it is done (slot.refs).
//
// A record that fails after its link (the signer or the store failed, or
// the emitter closed) breaks the records linked after it in its chain,
// since their prev is its hash: they fail too, and once the flight is
// empty the chain continues from its last committed record. The chain
// never holds a gap.

// Where the link step patches the canonical bytes: seq is data word 1, and
// prev, 32 bytes, is the object of the root struct's pointer 6
// (canonical/SPEC.md). prev is the last object only while no pointer field
// after it is set: a schema version that adds one (the evolution drill's
// traceId, origin) writes its object after prev, so prev is found through
// its pointer (prevAt), never assumed to be the last 32 bytes.
const (
	seqOffset   = 16
	prevSize    = 32
	prevPointer = 6
)

// prevAt returns where prev's 32 bytes start in the canonical bytes b of a
// record, or -1 when b's root struct has no 32-byte byte list at pointer
// prevPointer. O(1): two pointer words are read.
//
//ronaudit:hot
func prevAt(b []byte) int {
	if len(b) < 16 {
		return -1
	}
	root := binary.LittleEndian.Uint64(b)
	data, ptrs := int(uint16(root>>32)), int(root>>48)
	pos := 8 + 8*data + 8*prevPointer
	if uint32(root) != 0 || ptrs <= prevPointer || pos+8 > len(b) {
		return -1
	}
	p := binary.LittleEndian.Uint64(b[pos:])
	// A list pointer (kind 1) of byte elements (size 2), 32 of them.
	if p&3 != 1 || (p>>32)&7 != 2 || p>>35 != prevSize {
		return -1
	}
	off := int(int32(uint32(p)) >> 2)
	at := pos + 8 + 8*off
	if off < 0 || at+prevSize > len(b) {
		return -1
	}
	return at
}

// errNoPrev: bytes the encoder wrote hold no prev where the schema puts
// it (a programmer error: the encoder always writes the placeholder).
var errNoPrev = errors.New("sdk: link: the canonical bytes hold no 32-byte prev at pointer 6")

// setLink patches seq and prev into the canonical bytes b; false when b
// holds no prev (prevAt).
func setLink(b []byte, seq uint64, prev *canonical.Hash) bool {
	at := prevAt(b)
	if at < seqOffset+8 {
		return false
	}
	binary.LittleEndian.PutUint64(b[seqOffset:], seq)
	copy(b[at:at+prevSize], prev[:])
	return true
}

// linked is one record between link and commit.
type linked struct {
	c      *chain
	seq    uint64
	sealed Sealed // Bytes: the emitter's buffer; Hash; Sig once signed
	signer Signer // nil: the policy does not sign this record
	dup    bool   // a retry of a record in the dedupe window (seq, Hash: the original's): in the flight, but no commit

	sealAt time.Time // when link chose to sign it (SealInterval): the chain's lastSeal once committed

	signed  bool  // step 2 is done (under c.mu): the first signature to arrive counts
	hedged  bool  // a second worker was sent to sign it too (under c.mu)
	signErr error // step 2's error
	pending Pending
	err     error // why the record was not committed
	slot    *slot // the emitter's slot that holds it
}

// errAbandoned is a signErr: the emitter gave up on the record (Close's
// deadline passed) without signing it. OnDrop gets it with reason
// DropShutdown; it matches ErrEmitterClosed.
var errAbandoned = fmt.Errorf("%w: Close's deadline passed before the record was appended", ErrEmitterClosed)

// errChainBusy is link's answer when the chain's lock stays held, by a
// worker committing to a store that is slow right now, and the caller may
// not wait (TryEmit): the emitter sheds the record as busy.
var errChainBusy = errors.New("sdk: chain busy")

// link is step 1 for the canonical bytes b of a record of chain (writer,
// stream), encoded with a placeholder seq and prev, which it patches.
// Unless wait is set it does not sleep on the chain's lock (errChainBusy).
// With wait, it gives up on the lock (errChainBusy) once until, if not
// nil, is closed: Emit's ctx.
//
//ronaudit:hot
func (l *Log) link(writer, stream string, b []byte, lk *linked, wait bool, until <-chan struct{}) error {
	if err := l.failure(); err != nil {
		return l.linkRetry(writer, stream, b, lk, wait, until, err)
	}
	c := l.chain(writer, stream)
	if !c.lockSpin(4096, wait, until) {
		return errChainBusy
	}
	defer c.mu.Unlock()
	if c.flight.n == 0 {
		c.tip, c.broken, c.tipSeal = c.head, nil, c.lastSeal
	}
	if c.broken != nil {
		return c.broken
	}
	if c.signerRetired != nil {
		return c.signerRetired
	}
	next := c.tip.Seq + 1
	if !setLink(b, next, &c.tip.Hash) {
		return errNoPrev
	}

	var fp uint64
	if c.dedupe.on() {
		fp = fingerprint(l.seed, b)
		if seq, ok := c.dedupe.lookup(fp); ok {
			if orig, dup := l.duplicateLinked(c, seq, b); dup {
				// A retry commits nothing, but it waits in the flight
				// behind every record before it, its original included:
				// it is acknowledged once the original is durable, and
				// fails with it (an in-flight original may yet fail).
				lk.c, lk.seq, lk.dup = c, seq, true
				lk.sealed = Sealed{Hash: orig.Hash}
				lk.signer, lk.signed, lk.signErr, lk.err = nil, false, nil, nil
				c.flight.push(lk)
				return nil
			}
		}
	}
	lk.c, lk.seq, lk.dup = c, next, false
	lk.sealed = Sealed{Bytes: b, Hash: c.hasher.RecordHash(b)}
	lk.signer, lk.signed, lk.signErr, lk.err = nil, false, nil, nil
	now := time.Time{}
	if c.tipSeal.IsZero() {
		c.tipSeal = c.lastSeal // the interval started at a commit since
	}
	lk.sealAt = time.Time{}
	if l.mustSign(c.tipSeal, next, c.tip.SealedSeq, &now) {
		lk.signer = c.signer
		c.tip.SealedSeq = next
		if l.cfg.SealInterval > 0 {
			c.tipSeal, lk.sealAt = now, now
		}
	}
	c.tip.Seq, c.tip.Hash = next, lk.sealed.Hash
	c.flight.push(lk)
	if c.dedupe.on() {
		c.dedupe.add(fp, next)
	}
	return nil
}

// linkRetry is link once the log has failed with failed: it links
// nothing new, but a retry of a record known to be durable is a no-op
// that the failure does not touch. It is linked as a retry, and
// acknowledged with its original; anything else gets failed.
func (l *Log) linkRetry(writer, stream string, b []byte, lk *linked, wait bool, until <-chan struct{}, failed error) error {
	l.mu.RLock()
	c := l.chains[writer][stream]
	l.mu.RUnlock()
	if c == nil || !c.dedupe.on() {
		return failed
	}
	if !c.lockSpin(4096, wait, until) {
		return errChainBusy
	}
	defer c.mu.Unlock()
	seq, ok := c.dedupe.lookup(fingerprint(l.seed, b))
	if !ok || seq > c.durable.Load() {
		return failed
	}
	orig, dup := l.duplicate(c, seq, b) // durable, so committed
	if !dup {
		return failed
	}
	// Behind whatever is still in flight, which fails; a retry of a
	// committed record holds whatever fails before it (commitLocked).
	lk.c, lk.seq, lk.dup = c, seq, true
	lk.sealed = Sealed{Hash: orig.Hash}
	lk.signer, lk.signed, lk.signErr, lk.err = nil, false, nil, nil
	c.flight.push(lk)
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
		// In flight: the flight holds seqs head+1..tip in order (the
		// chain is not broken, or link would have refused), with retries
		// between them, so seq is at its offset from head or later. Only
		// Bytes and Hash: a worker may be writing Sig.
		for i := int(seq - c.head.Seq - 1); i < c.flight.n; i++ {
			if f := c.flight.at(i); !f.dup && f.seq == seq {
				return Sealed{Bytes: f.sealed.Bytes, Hash: f.sealed.Hash}, sameEvent(f.sealed.Bytes, b)
			}
		}
	}
	return Sealed{}, false // linked once, then lost with a broken chain
}

// signResult is one worker's signature of a record, made in the worker's
// own memory: two workers may sign the same record (see hedge).
type signResult struct {
	msg   [len(canonical.SigPrefix) + 32]byte
	sig   Signature
	keyID KeyID
	err   error
}

// sign is step 2: it signs lk into res, reading only what link wrote.
func (lk *linked) sign(res *signResult) {
	res.err = nil
	if lk.signer == nil {
		return
	}
	res.msg = canonical.SignedMessage(lk.sealed.Hash)
	if res.err = lk.signer.Sign(res.msg[:], &res.sig); res.err == nil {
		res.keyID = lk.signer.KeyID()
	}
}

// settle is step 3: lk was signed (res; by its worker, or by a second
// one, see hedge). The first result for lk counts, any later one is
// dropped. It commits, in seq order, every signed record at the front of
// lk's chain's flight and hands them to sink, in that order, each with
// its Pending or its err. Across workers too, a chain's records reach sink
// in seq order: each run is queued before the chain's lock is let go, and
// one worker at a time hands the queue on (handOn) without holding any
// lock, so neither TryEmit nor the other worker waits for sink. done is
// scratch for the committed records.
//
// When hedgeBehind (> 0) records behind the chain's front are signed and
// the front is not, settle returns the front for the caller to sign as
// well, with a reference on its slot (see hedge).
//
//ronaudit:hot
func (l *Log) settle(lk *linked, res *signResult, done []*linked, hedgeBehind int, sink commitSink) ([]*linked, *linked) {
	c := lk.c
	c.lock()
	if !lk.signed {
		lk.signed, lk.signErr = true, res.err
		if res.err == nil && lk.signer != nil {
			lk.sealed.Sig, lk.sealed.Signed, lk.sealed.KeyID = res.sig, true, res.keyID
		}
		c.signedInFlight++
	}
	for c.flight.n > 0 && c.flight.at(0).signed {
		f := c.flight.pop()
		c.signedInFlight--
		f.pending, f.err = l.commitLocked(c, f)
		done = append(done, f)
	}
	stuck := c.hedge(hedgeBehind)
	if len(done) == 0 {
		c.mu.Unlock()
		return done, stuck
	}
	// Queue the run for hand-off in commit order (ackMu is taken under
	// mu, and only for a few instructions), then hand on what is queued
	// unless another worker is already doing so: it will take this run
	// too. No worker waits for another's hand-off, and none sleeps on a
	// lock while holding mu: when one did (waiting for the other worker's
	// OnDurable calls), TryEmit spun on mu for 17-30 us on average in the
	// shed storm.
	c.ackMu.Lock()
	c.acks = append(c.acks, done...)
	lead := !c.acking
	c.acking = true
	c.ackMu.Unlock()
	c.mu.Unlock()
	clear(done)
	if lead {
		c.handOn(sink)
	}
	return done[:0], stuck
}

// handOn hands committed records on to sink, in commit order, until none
// is queued. Only the worker that set c.acking runs it.
func (c *chain) handOn(sink commitSink) {
	for {
		c.ackMu.Lock()
		q := c.acks
		if len(q) == 0 {
			c.acking = false
			c.ackMu.Unlock()
			return
		}
		c.acks = c.ackSpare[:0]
		c.ackMu.Unlock()
		for i, f := range q {
			q[i] = nil
			sink.committed(f)
		}
		c.ackSpare = q[:0] // only the worker handing on touches ackSpare
	}
}

// lock locks c.mu for settle, which with link holds it for a
// microsecond or two. It spins briefly, then yields its P between tries,
// and only then sleeps. A goroutine asleep on a sync.Mutex is readied by
// Unlock on the unlocker's P, behind the unlocker, and a worker with
// records to sign does not give up its P: measured on 2 cores, a worker
// or TryEmit that slept here often waited milliseconds for a P (the p99
// of BenchmarkEmitterDesignLoad went from 3.8 ms to under 100 us with
// this and hedge together). Yielding keeps the waiter on its own P's turn.
func (c *chain) lock() { c.lockSpin(256, true, nil) }

// lockSpin is lock with spins tries before the first yield. TryEmit
// (link) spins longer than the workers: when it yields, its P may run a
// worker's 15 us signature before it gets back (measured: the shed
// storm's TryEmit p99 went from 6.5-8.9 us to 4.0-4.7 us).
//
// With sleep it then sleeps on the lock. Without, it yields until
// chainBusyAfter has passed and then reports false: the holder is stopped
// for longer than the OS stops a thread (a slow Store.Put, a segment
// rotation's fsync), and TryEmit must not wait for it.
//
// With sleep and an until that is not nil (Emit's ctx), it does not
// sleep on the lock, which no ctx can wake: it polls it, less often the
// longer it waits, and reports false once until is closed.
func (c *chain) lockSpin(spins int, sleep bool, until <-chan struct{}) bool {
	for range spins {
		if c.mu.TryLock() {
			return true
		}
	}
	var start time.Time
	for i := 1; ; i++ {
		runtime.Gosched()
		if c.mu.TryLock() {
			return true
		}
		switch {
		case sleep && until != nil && i%64 == 0:
			select {
			case <-until:
				return false
			default:
			}
			if i >= 4096 {
				return c.pollLock(until)
			}
		case sleep && i == 4096:
			c.mu.Lock() // the holder is stopped for long: sleep
			return true
		case sleep || i%64 != 0:
		case start.IsZero():
			start = time.Now()
		case time.Since(start) >= chainBusyAfter:
			return false
		}
	}
}

// pollLock takes c.mu, polling it with a backoff from 50 us to 1 ms,
// unless until is closed first (false).
func (c *chain) pollLock(until <-chan struct{}) bool {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for d := 50 * time.Microsecond; ; d = min(2*d, time.Millisecond) {
		if c.mu.TryLock() {
			return true
		}
		t.Reset(d)
		select {
		case <-until:
			return false
		case <-t.C:
		}
	}
}

// chainBusyAfter is how long TryEmit waits for its chain's lock before it
// sheds the record: longer than the OS scheduler's slice here (2.5-4 ms,
// a holder the OS stopped), shorter than a slow store's stall. Giving up
// after a count of yields instead shed records of a lightly loaded host
// in CI, when its race-instrumented workers were descheduled. On an
// overloaded host the OS stops a holder for longer (11-48 ms, at a load
// of 8-10 on the 2-vCPU CI machine under -race), and TryEmit sheds then.
const chainBusyAfter = 10 * time.Millisecond

// commitSink takes committed records, in seq order per chain (the Emitter).
type commitSink interface{ committed(*linked) }

// hedgeable lets this package's tests mark a Signer as hedged like
// Ed25519Signer; its method is unexported, so no other package's Signer
// is hedged, not even one that embeds an Ed25519Signer.
type hedgeable interface{ hedgeable() }

// mayHedge reports whether hedge may call s twice for one record.
func mayHedge(s Signer) bool {
	switch s.(type) {
	case *Ed25519Signer, hedgeable:
		return true
	}
	return false
}

// hedge returns the record at the front of c's flight if it is unsigned
// while at least behind records after it are signed (with W workers,
// behind = W+1 means its signer is late by more than a record's signing
// time), and no second worker was sent yet. It takes a reference on the
// record's slot for the caller.
//
// Ed25519 signatures are deterministic, so both workers sign the same
// bytes and whichever finishes first commits the record and every signed
// one behind it: a signer the OS has stopped (for a 4 ms scheduler slice
// on a busy 2-vCPU host, measured) no longer holds up its chain. Only the
// built-in Ed25519Signer is hedged: another Signer's second call may cost
// (an HSM, a KMS) or differ.
func (c *chain) hedge(behind int) *linked {
	if behind <= 0 || c.flight.n == 0 || c.signedInFlight < behind {
		return nil
	}
	f := c.flight.at(0)
	if f.hedged || f.slot == nil || !mayHedge(f.signer) {
		return nil
	}
	f.hedged = true
	f.slot.refs.Add(1)
	return f
}

// commitLocked commits f, the front of c's flight, or says why not.
//
//ronaudit:hot
func (l *Log) commitLocked(c *chain, f *linked) (Pending, error) {
	h := &c.head
	if f.dup {
		// A retry commits nothing and nothing links to it: it holds if its
		// original was committed before it (whatever failed since), and
		// is lost with it otherwise; it never breaks the chain.
		if f.seq <= h.Seq {
			// Durable once the original is (the head's ticket covers
			// it): ack waits for that, for an original this emitter
			// did not append (Pending.wait).
			return Pending{Appended: Appended{Seq: f.seq, Head: *h, Duplicate: true}, log: l, c: c, ticket: c.ticket}, nil
		}
		if c.broken != nil {
			return Pending{}, c.broken
		}
		// Cannot happen: the original is ahead in the flight and either
		// committed or broke the chain. Never acknowledge it as durable.
		return Pending{}, chainError(ErrStore, h.WriterID, h.Stream, f.seq, errors.New("the original of a retry was not committed"))
	}
	switch {
	case c.broken != nil:
		return Pending{}, c.broken
	case f.signErr == errAbandoned:
		return Pending{}, c.breakFlight(errAbandoned)
	case f.signErr != nil:
		return Pending{}, c.breakFlight(chainError(ErrSign, h.WriterID, h.Stream, f.seq, f.signErr))
	}
	if err := l.failure(); err != nil {
		return Pending{}, c.breakFlight(err)
	}
	kept, ticket, err := l.cfg.Store.Put(h.WriterID, h.Stream, f.seq, f.sealed)
	if err != nil {
		return Pending{}, c.breakFlight(chainError(ErrStore, h.WriterID, h.Stream, f.seq, err))
	}
	if l.cfg.SealInterval > 0 && c.lastSeal.IsZero() {
		// The interval runs from the chain's first record, or from the
		// first after the log was reopened (replay sets no start).
		c.lastSeal = l.cfg.Clock()
	}
	h.Seq, h.Hash, c.ticket = f.seq, f.sealed.Hash, ticket
	if f.sealed.Signed {
		h.SealedSeq = f.seq
		if l.cfg.SealInterval > 0 {
			c.lastSeal = f.sealAt
		}
	}
	if l.cfg.Observer != nil {
		if f.seq == 1 {
			l.started(c) // as appendLocked
		}
		l.cfg.Observer.Committed(h.WriterID, h.Stream, f.seq, f.sealed.Hash, false)
	}
	return Pending{Appended: Appended{Record: kept, Seq: f.seq, Head: *h}, log: l, c: c, ticket: ticket}, nil
}

// breakFlight fails the front of c's flight with err, and with it every
// record linked after it (their prev is its hash): none of them is a
// record of the chain, so the dedupe window, which link told of each,
// forgets them. Else each took the place of a committed record in the
// window, and a retry of one of the chain's last DedupeWindow records
// was appended again. The caller holds c.mu; c was not broken.
func (c *chain) breakFlight(err error) error {
	c.broken = err
	c.dedupe.forgetAfter(c.head.Seq)
	return err
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
