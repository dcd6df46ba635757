package sdk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// The Emitter's append is Append cut in three, so that signatures can be
// computed in parallel while every chain stays in order:
//
//  1. link (one goroutine, in emit order, under the chain's lock): patch
//     seq and prev into bytes encoded at emit time, hash, dedupe, decide
//     whether to sign. The chain's tip moves on; its head does not.
//  2. sign (any worker, no lock).
//  3. commit (one goroutine, in link order, under the chain's lock): Put
//     into the store, move the head, tell the Observer.
//
// A record that fails after its link (the signer or the store failed) breaks
// the records linked after it in its chain, since their prev is its hash:
// they fail too, and once none is in flight the chain continues from its
// last committed record. The chain never holds a gap.

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
}

// link is step 1 for the canonical bytes b of a record of chain (writer,
// stream), encoded with a placeholder seq and prev; it patches them.
func (l *Log) link(writer, stream string, b []byte, lk *linked) error {
	if err := l.failure(); err != nil {
		return err
	}
	c := l.chain(writer, stream)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight == 0 {
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
				*lk = linked{c: c, seq: seq, sealed: orig, dup: true}
				return nil
			}
		}
	}
	*lk = linked{c: c, seq: next, sealed: Sealed{Bytes: b, Hash: c.hasher.RecordHash(b)}}
	now := time.Time{}
	if l.mustSign(c, next, c.tip.SealedSeq, &now) {
		lk.signer = c.signer
		c.tip.SealedSeq = next
		if l.cfg.SealInterval > 0 {
			c.lastSeal = now
		}
	}
	c.tip.Seq, c.tip.Hash = next, lk.sealed.Hash
	c.inflight++
	if c.dedupe.on() {
		c.dedupe.add(fp, next)
	}
	return nil
}

// duplicateLinked confirms a fingerprint match of b with record seq. If
// seq is still in flight it first waits for its commit (rare: a retry
// right behind the original). Same event means same canonical bytes but
// for seq and prev, which is what dedupe keys compare.
func (l *Log) duplicateLinked(c *chain, seq uint64, b []byte) (Sealed, bool) {
	for c.head.Seq < seq && seq <= c.tip.Seq && c.inflight > 0 {
		c.settled.Wait()
	}
	if seq > c.head.Seq {
		return Sealed{}, false // linked once, then lost with a broken chain
	}
	orig, ok := l.cfg.Store.Get(c.head.WriterID, c.head.Stream, seq)
	if !ok || len(orig.Bytes) != len(b) {
		return Sealed{}, false
	}
	o := orig.Bytes
	return orig, bytes.Equal(o[:seqOffset], b[:seqOffset]) &&
		bytes.Equal(o[seqOffset+8:len(o)-prevSize], b[seqOffset+8:len(b)-prevSize])
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

// commit is step 3; signErr is step 2's result. It returns the Pending to
// wait on for durability.
func (l *Log) commit(lk *linked, signErr error) (Pending, error) {
	c := lk.c
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.settled.Broadcast()
	c.inflight--
	h := &c.head
	switch {
	case c.broken != nil:
		return Pending{}, c.broken
	case signErr != nil:
		c.broken = fmt.Errorf("%w: %s/%s seq %d: %w", ErrSign, h.WriterID, h.Stream, lk.seq, signErr)
		return Pending{}, c.broken
	}
	if err := l.failure(); err != nil {
		c.broken = err
		return Pending{}, err
	}
	kept, ticket, err := l.cfg.Store.Put(h.WriterID, h.Stream, lk.seq, lk.sealed)
	if err != nil {
		c.broken = fmt.Errorf("%w: %s/%s seq %d: %w", ErrStore, h.WriterID, h.Stream, lk.seq, err)
		return Pending{}, c.broken
	}
	h.Seq, h.Hash = lk.seq, lk.sealed.Hash
	if lk.sealed.Signed {
		h.SealedSeq = lk.seq
	}
	if l.cfg.Observer != nil {
		l.cfg.Observer.Committed(h.WriterID, h.Stream, lk.seq, lk.sealed.Hash, false)
	}
	return Pending{Appended: Appended{Record: kept, Seq: lk.seq, Head: *h}, log: l, ticket: ticket}, nil
}

// abandon ends lk without committing it (the emitter's Close ran out of
// time): the records linked after it in its chain are abandoned too.
func (l *Log) abandon(lk *linked, why error) {
	c := lk.c
	c.mu.Lock()
	c.inflight--
	if c.broken == nil {
		c.broken = why
	}
	c.settled.Broadcast()
	c.mu.Unlock()
}
