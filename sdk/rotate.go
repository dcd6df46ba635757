package sdk

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
)

// Key rotation inside the log. A key-transition record is an ordinary
// record of kind policyChanged, signed by the key it retires, whose attrs
// hold KeyTransitionAttr = "ed25519:" + the new public key in hex. A
// verifier that trusts the old key learns the new one from it, and from
// the record after it on refuses signatures by the old key in that chain
// (ReasonRetiredKey).

// KeyTransitionAttr is the attr key of a key-transition record. Append
// refuses records that carry it: only RotateKey writes them.
const KeyTransitionAttr = "ron-audit.keyTransition"

const transitionPrefix = "ed25519:"

func isTransition(attrs []canonical.Attr) bool {
	for i := range attrs {
		if attrs[i].Key == KeyTransitionAttr {
			return true
		}
	}
	return false
}

// RotateKey moves every chain of the log to next: each chain gets a
// key-transition record signed by its current key that names next, and
// every later record of the chain is signed by next (new chains too; one
// started while the transitions are written has its first record signed
// by next even checkpoint-sealed, so that OpenDurable, reopened with
// next, does not take it for a chain the rotation had not reached). It
// returns the heads after the transitions. Verifiers holding the old key
// follow the transition; give them next as well for chains started after
// the rotation. A key a chain has retired cannot come back (verifiers
// refuse its signatures after its transition): RotateKey to it fails with
// ErrConfig and changes nothing. RotateKey on a log whose rotation to next
// was cut short (some chains already have their transition) finishes it:
// those chains move to next without a second transition, as do the
// chains next started (OpenDurable, reopened with the old key, refuses
// records for both until then); reopened with
// next instead, the log refuses records for the chains the rotation had
// not reached (OpenDurable), and the old key must finish it. An Observer
// that is a KeyFollower (the checkpoint Keeper) is handed next once
// every chain has its transition: until then it signs with the old key,
// each chain up to its transition, and none of a chain started with next
// (if it is a RetireObserver too, it hears so at the chain's first
// record: Retired of the old key at seq 0; a seal of such a chain is
// ErrSealIncomplete until then); a rotation that fails or is cut short
// leaves it with the old key, and finishing the rotation hands it next.
// A KeyFollower that is a ChainFollower (the Keeper is) is also handed
// next chain by chain (FollowChain), for each chain with a record that
// next signs, once the transitions are written, before Close or
// NewEmitter may go on, and by a rotation that fails part way, and for
// each chain that begins with next (while the rotation runs, or after
// one that failed): the records next signs in the chains it reached, and
// in those it started, are checkpointed with next, not left in no
// checkpoint, and a Close beside the rotation seals every chain to its
// head; the chains it did not reach keep the old key until the rotation
// is finished.
// A rotation that failed part way in this process (a transition's
// signature failed) is finished the same way, as is one whose Signer or
// Store panicked (the panic reaches the caller, no lock of the Log held;
// see Append) after it wrote a transition; one that panicked before is
// undone as one that failed there. One that failed before it
// wrote any transition leaves the log's key as it was (a chain started
// while it ran keeps next, which signed its first record, as after a
// crash at that point, and a ChainFollower is handed it; reopened with the
// old key, the log refuses records for that chain, which no transition
// hands on from next to the old key (OpenDurable), until RotateKey to next
// finishes the rotation: it moves that chain on to next with no
// transition, next having signed it alone from its first record; a
// verifier needs next for that chain). A nil next (or a nil pointer, as
// in Config), a next
// whose KeyID is not KeyIDOf(next.Public()), and rotating to the key
// that already signs every chain of the log, are ErrConfig, as is one
// where a chain's transition record would exceed the log's limits
// (names near them), a chain started while RotateKey checks included:
// nothing changes.
// Concurrent calls run one after the other, FollowKey calls included;
// NewEmitter and Close wait for a rotation under way until its
// transitions are written and durable, not for its FollowKey or the
// Observer's Durable of the transitions, which RotateKey calls holding
// no lock of the Log (a Close in between tells the Observer of them
// itself, so that a Keeper closed next checkpoints them): either may call Close, Seal, SealAll or NewEmitter
// (a follower that cannot keep next may shut the log down: Close then
// seals with the follower's key as it is, as a SealAll beside the
// rotation would: a chain with records past its transition is
// ErrSealIncomplete until the follower has the key, unless it is a
// ChainFollower, handed each chain before; the rotation is whole), but
// not RotateKey, which waits for the rotation that calls them. RotateKey fails with
// ErrEmitting while an Emitter runs.
func (l *Log) RotateKey(next Signer) ([]Head, error) {
	if next == nil {
		// As New refuses a nil Signer: its KeyID would panic below.
		return nil, fmt.Errorf("%w: RotateKey: no Signer", ErrConfig)
	}
	if err := nilPointers("RotateKey: ", "next", next); err != nil {
		return nil, err
	}
	if err := signerMismatch("RotateKey", next); err != nil {
		return nil, err
	}
	l.rotations.Lock() // one rotation at a time, FollowKey calls included
	defer l.rotations.Unlock()
	// rotating: no emitter starts, and Close waits, meanwhile. Released
	// once the rotation is written: every chain has its transition and
	// signs with next from here on (new chains too). Close and NewEmitter
	// need not wait for the rest, so a FollowKey may call Close (a
	// follower that cannot keep next shuts the log down): it seals what
	// it can with the follower's key as it is, as a SealAll beside the
	// rotation would. rotations keeps the FollowKey calls of rotations
	// run one after the other in their order.
	heads, durable, err := l.rotateHeld(next)
	// The Observer hears of the durable transitions only now, holding no
	// lock of the Log, as it hears of an Append's records: its Durable may
	// call Close, which would have waited for this rotation. Each is
	// marked durable only once told, as Pending.Wait does: a Close that
	// runs from here on tells the Observer of every head not marked
	// (awaitAppends), so that a Keeper closed next does not checkpoint a
	// chain short of its transition (TestCloseDuringRotateKeyTellsObserver).
	for _, p := range durable {
		if o := l.cfg.Observer; o != nil {
			o.Durable(p.Head.WriterID, p.Head.Stream, p.Seq, false)
		}
		p.c.markDurable(p.Seq)
	}
	if err != nil {
		return heads, err
	}
	// Only now: a KeyFollower told before would have signed, with next,
	// checkpoints of chains whose transitions were still to come, which a
	// verifier that follows the chains from their first key cannot trust
	// (no transition before them names next). Until here it signs with
	// the old key, up to each chain's transition (RetireObserver).
	if f, ok := l.cfg.Observer.(KeyFollower); ok {
		f.FollowKey(next)
		// Only after: a chain next starts from here on is the
		// follower's to vouch for (Log.started).
		id := next.KeyID()
		l.followed.Store(&id)
	}
	return heads, nil
}

// rotateHeld is rotateLocked under l.rotating, released by defer: the
// Signers and the Store it calls are the host's code, and a panic there
// (which reaches RotateKey's caller) must not leave every later RotateKey,
// NewEmitter and Close waiting for it.
func (l *Log) rotateHeld(next Signer) ([]Head, []Pending, error) {
	l.rotating.Lock()
	defer l.rotating.Unlock()
	return l.rotateLocked(next)
}

// rotateLocked is RotateKey's work but FollowKey: it checks next and
// writes the transitions, and returns the heads, and the transitions made
// durable in the store, whose Durable the Observer has yet to hear and
// which are not marked durable yet (RotateKey marks each once told). The
// caller holds l.rotations and l.rotating.
func (l *Log) rotateLocked(next Signer) (heads []Head, durable []Pending, err error) {
	if err := l.failure(); err != nil {
		return nil, nil, err
	}
	if l.emitting.Load() {
		return nil, nil, ErrEmitting
	}
	// Each lock below is released by defer (in a function called on the
	// spot where it is held in a loop): KeyID, Public, Sign and the
	// Store are the host's code, and may panic.
	var same bool
	var all []*chain
	func() {
		l.mu.RLock()
		defer l.mu.RUnlock()
		same = l.signer.KeyID() == next.KeyID()
		all = l.chainsLocked(nil)
	}()
	if same && !l.handsOver(all, next) {
		return nil, nil, fmt.Errorf("%w: key %s already signs this log", ErrConfig, next.KeyID())
	}
	// Everything that refuses next is checked before anything changes: the
	// Keeper (FollowKey) and the log's signer move on only for a rotation
	// that can be written.
	for _, c := range all {
		var (
			at, oldAt           uint64
			retired, oldRetired bool
			writer, stream      string
			old, named, held    KeyID
			cut                 bool
			pending             error
		)
		func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			at, retired = c.retired[next.KeyID()]
			writer, stream = c.head.WriterID, c.head.Stream
			old = c.signer.KeyID()
			named, cut = c.successor[old], c.signerRetired != nil
			oldAt, oldRetired = c.retired[old]
			pending, held = c.signerRetired, c.heldBy
		}()
		if retired {
			return nil, nil, fmt.Errorf("%w: key %s was retired at %s seq %d and cannot sign that chain again",
				ErrConfig, next.KeyID(), names.Chain(writer, stream), at)
		}
		if held != (KeyID{}) {
			if held != next.KeyID() {
				// A later key than the log's started this chain.
				return nil, nil, pending
			}
			continue // moves on to next with no transition
		}
		if cut && !oldRetired {
			// Opened with the key of a rotation cut short, this chain
			// still lacks its transition (OpenDurable says which key
			// must write it).
			return nil, nil, pending
		}
		if cut && named != next.KeyID() {
			// A rotation cut short: this chain's transition names another key.
			return nil, nil, fmt.Errorf("%w: %s retired key %s at seq %d naming key %s, not %s",
				ErrConfig, names.Chain(writer, stream), old, oldAt, named, next.KeyID())
		}
	}
	// So is each transition record's size: a chain whose records fit may
	// have names too long for the ~110 bytes a transition adds. Checked
	// under l.mu, where no chain starts, and for every chain, those
	// started since the checks above included (one that failed there, in
	// the middle of the rotation, would cut it short for good: every
	// RotateKey to finish it would fail here): a chain with a record now
	// gets a transition, a chain with none begins with next (below).
	value := transitionPrefix + hex.EncodeToString(next.Public())
	ts := uint64(l.cfg.Clock().UnixMilli())
	all, prev, known, err := l.handTo(next, value, ts, all)
	if err != nil {
		return nil, nil, err
	}
	// ... and sign their first record until the transitions are written
	// (Log.handing).
	defer l.handing.Store(false)
	// Undone if no transition is written: on an error, and on a panic
	// (finished still false), which leaves the log as a failed signature
	// does, and RotateKey to next does the whole rotation again.
	wrote, finished := false, false
	defer func() {
		if (err != nil || !finished) && !wrote {
			l.untraced(prev, next, known)
		}
		// The chains on next now are next's for good (undone, the
		// rotation leaves on next only the chains it started, which
		// started handed already). A ChainFollower is handed each
		// (followChains), here, before Close or NewEmitter may go on
		// (they wait for l.rotating), whether the rotation is whole or
		// stopped part way: a FollowKey to come (whole) finds them
		// followed already, so a Close beside it seals them to their
		// heads, and one that never comes (a failure part way) leaves
		// none vouched for by no checkpoint.
		l.followChains(next)
	}()
	for _, c := range all {
		h, p, err := l.handChain(c, next, value, &wrote)
		if err != nil {
			return heads, durable, err
		}
		if p == nil {
			if h.Seq > 0 {
				heads = append(heads, h)
			}
			continue
		}
		if err := p.waitStore(); err != nil {
			return heads, durable, err
		}
		heads, durable = append(heads, p.Head), append(durable, *p)
	}
	finished = true
	return heads, durable, nil
}

// handTo is rotateLocked's step under l.mu: it checks that every chain's
// transition (value, at ts) fits the limits, adds next to the log's keys
// (known: it held it before) and makes next the key of new chains and of
// those with no record yet, returning every chain and the log's key
// before (prev). l.mu and each chain's lock are released by defer (see
// rotateLocked).
func (l *Log) handTo(next Signer, value string, ts uint64, all []*chain) (_ []*chain, prev Signer, known bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all = l.chainsLocked(all[:0])
	var scratch []byte
	for _, c := range all {
		var tooLarge error
		var writer, stream string
		func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.head.Seq > 0 && c.signerRetired == nil && c.signer.KeyID() != next.KeyID() {
				rec := transitionRecord(c.head, value)
				rec.Seq, rec.Prev, rec.TsMs = c.head.Seq+1, c.head.Hash[:], ts
				scratch, tooLarge = canonical.AppendRecord(scratch[:0], &rec, l.limits)
			}
			writer, stream = c.head.WriterID, c.head.Stream
		}()
		if tooLarge != nil {
			return nil, nil, false, fmt.Errorf("%w: %s: its key transition record cannot be written: %w", ErrConfig, names.Chain(writer, stream), tooLarge)
		}
	}
	_, known = l.keys.Lookup(next.KeyID())
	if _, err := l.keys.TryAdd(next.Public()); err != nil {
		return nil, nil, false, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	prev = l.signer
	l.signer = next // chains started from here on begin with next
	// ... and sign their first record until the transitions are written
	// (Log.handing; rotateLocked clears it).
	l.handing.Store(true)
	for _, c := range all {
		// So do those with no record yet: a first record appended before
		// the loop below reached them would need a transition unchecked.
		func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.head.Seq == 0 {
				c.signer = next
			}
		}()
	}
	return all, prev, known, nil
}

// handChain hands chain c to next for rotateLocked: it writes the chain's
// transition (value) and returns it, not yet waited for, or, for a chain
// that needs none, its head (Seq 0: a chain with no record, which is
// left out of the heads). wrote is set once a transition is committed.
// The chain's lock is released by defer (see rotateLocked).
func (l *Log) handChain(c *chain, next Signer, value string, wrote *bool) (Head, *Pending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head.Seq == 0 {
		// A chain whose first append failed: no record to hand over
		// from, and its first record will be signed by next.
		c.signer = next
		return c.head, nil, nil
	}
	if c.signer.KeyID() == next.KeyID() {
		return c.head, nil, nil
	}
	if c.heldBy == next.KeyID() {
		// Started by next (a log reopened with the older key to
		// finish the rotation): next is in force there already.
		c.signer, c.signerRetired, c.heldBy = next, nil, KeyID{}
		return c.head, nil, nil
	}
	if old := c.signer.KeyID(); c.signerRetired != nil {
		// This chain's transition is already written (a rotation cut
		// short): to next, it only needs its signer moved on.
		if named := c.successor[old]; named != next.KeyID() {
			return c.head, nil, fmt.Errorf("%w: %s retired key %s at seq %d naming key %s, not %s",
				ErrConfig, names.Chain(c.head.WriterID, c.head.Stream), old, c.retired[old], named, next.KeyID())
		}
		c.signer, c.signerRetired = next, nil
		return c.head, nil, nil
	}
	rec := transitionRecord(c.head, value)
	a, ticket, err := l.appendLocked(c, &rec, true)
	if err != nil {
		return c.head, nil, err
	}
	*wrote = true
	if c.retired == nil {
		c.retired, c.successor = map[KeyID]uint64{}, map[KeyID]KeyID{}
	}
	c.retired[c.signer.KeyID()] = a.Seq
	c.successor[c.signer.KeyID()] = next.KeyID()
	if ro, ok := l.cfg.Observer.(RetireObserver); ok {
		ro.Retired(c.head.WriterID, c.head.Stream, c.signer.KeyID(), a.Seq)
	}
	c.signer = next
	return c.head, &Pending{Appended: a, log: l, c: c, ticket: ticket}, nil
}

// untraced undoes what a rotation to next that failed before it wrote a
// transition changed, unless an earlier one did write some (it is cut
// short, and RotateKey to next finishes it): with no transition naming
// next in the log, a chain next starts could not be told from prev's
// on reopen, and prev would sign after next there. New chains begin with
// prev again, as do the chains with no record yet. A chain next started
// meanwhile (its first record signed while the transitions were due)
// keeps it. Keys drops next unless it held it before (known) or such a
// chain signs with it: Keys holds the keys the log has signed with.
func (l *Log) untraced(prev, next Signer, known bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := l.chainsLocked(nil)
	for _, c := range all {
		c.mu.Lock()
		named := false
		for _, k := range c.successor {
			named = named || k == next.KeyID()
		}
		c.mu.Unlock()
		if named {
			return
		}
	}
	l.signer = prev
	used := known
	for _, c := range all {
		c.mu.Lock()
		if c.head.Seq == 0 && c.signer.KeyID() == next.KeyID() {
			c.signer = prev
		}
		used = used || c.signer.KeyID() == next.KeyID()
		c.mu.Unlock()
	}
	if !used {
		l.keys.remove(next.KeyID())
	}
}

// followChains hands a ChainFollower Observer every chain with a record
// that next signs (a transition of this rotation or of one cut short
// before handed it over, or it began with next), for rotateLocked: see
// ChainFollower. A chain next may not sign yet (signerRetired: a log
// opened with next whose rotation to it has not reached the chain) is
// not handed. Each chain's lock is released by defer: FollowChain is the
// host's code.
func (l *Log) followChains(next Signer) {
	f, ok := l.cfg.Observer.(ChainFollower)
	if !ok {
		return
	}
	var all []*chain
	func() {
		l.mu.RLock()
		defer l.mu.RUnlock()
		all = l.chainsLocked(nil)
	}()
	id := next.KeyID()
	for _, c := range all {
		func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.head.Seq > 0 && c.signerRetired == nil && c.signer.KeyID() == id {
				f.FollowChain(c.head.WriterID, c.head.Stream, next)
			}
		}()
	}
}

// handsOver reports whether a chain of all still has records signed by
// another key than next: a rotation to next that failed part way (a
// transition's signature or store failed) set next as the key of new
// chains already, and RotateKey to next again finishes it. So does a
// chain next may not sign (OpenDurable, opened with next after a
// rotation to it was cut short, or with a key the chain retired): next
// does not sign every chain, and the checks of rotateLocked say why.
func (l *Log) handsOver(all []*chain, next Signer) bool {
	for _, c := range all {
		c.mu.Lock()
		left := c.head.Seq > 0 && (c.signer.KeyID() != next.KeyID() || c.signerRetired != nil)
		c.mu.Unlock()
		if left {
			return true
		}
	}
	return false
}

// transitionRecord is the record RotateKey appends to the chain of head
// to hand it to the key value names.
func transitionRecord(head Head, value string) canonical.AuditRecord {
	return canonical.AuditRecord{Kind: canonical.KindPolicyChanged, WriterID: head.WriterID, Stream: head.Stream,
		Reason: "key rotation", Attrs: []canonical.Attr{{Key: KeyTransitionAttr, Value: value}}}
}

// keyState follows the key transitions of one chain during verification.
type keyState struct {
	learned    map[KeyID]ed25519.PublicKey // keys named by transitions
	retired    map[KeyID]uint64            // key -> seq of the transition that retired it
	retiredPub map[KeyID]ed25519.PublicKey // the retired keys the verifier knew
	successor  map[KeyID]ed25519.PublicKey // retired key -> the key its transition named
	lastSigner KeyID                       // the key of the chain's last signature (replay)
	// sole is the key of every signature of the chain (records and
	// seals), unless mixed: two keys signed in it (replay). firstSigned:
	// its first record is signed. refusals lets RotateKey take a chain on
	// with no transition only to a key that started it and signed it
	// alone (soleFrom).
	sole        KeyID
	mixed       bool
	firstSigned bool
	firstAt     uint64           // the replay's count of records at the chain's first, plus one (replay)
	handedAt    map[KeyID]uint64 // retired key -> the replay's count at its transition, plus one (replay)
}

// Retirement is a key transition of a chain: the key KeyID signed the
// transition record at Seq, and signs nothing after it in that chain.
// Pub is that key when the verifier knew it (from its key set or an
// earlier transition), nil when signatures were not checked. A
// checkpoint signed by the key vouches for no more than Seq records of
// the chain (package checkpoint, InForce).
type Retirement struct {
	WriterID string
	Stream   string
	KeyID    KeyID
	Pub      ed25519.PublicKey
	Seq      uint64
	// Next is the key the transition named: it signs the chain's records
	// from Seq+1 on, and a verifier that trusts the retired key may trust
	// it there, and for checkpoints of sizes Seq and up (not below:
	// checkpoint.InForce).
	Next ed25519.PublicKey
}

// signedBy notes, for sole, a signature by id of the chain's record or
// seal (first: of its first record).
func (ks *keyState) signedBy(id KeyID, first bool) {
	switch {
	case first:
		ks.sole, ks.firstSigned = id, true
	case ks.mixed || ks.sole == id:
	case ks.sole == KeyID{}:
		ks.sole = id
	default:
		ks.sole, ks.mixed = KeyID{}, true
	}
}

// soleFrom reports whether key id signed the chain alone from its start:
// every signature in it is id's, and its first record is one of them, or
// (unsigned, as a checkpoint-sealed chain's records are) comes after
// from, the replay's count at the first transition in the log that named
// id (0: none).
func (ks *keyState) soleFrom(id KeyID, from uint64) bool {
	return !ks.mixed && ks.sole == id && (ks.firstSigned || (from > 0 && ks.firstAt > from))
}

// retirements lists the chain's transitions, one per retired key.
func (ks *keyState) retirements(writer, stream string) []Retirement {
	var out []Retirement
	for id, at := range ks.retired {
		out = append(out, Retirement{WriterID: writer, Stream: stream, KeyID: id, Pub: ks.retiredPub[id], Seq: at, Next: ks.successor[id]})
	}
	slices.SortFunc(out, func(a, b Retirement) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// resume seeds ks with the transitions of chain (writer, stream) before
// a verification's Start (VerifyOptions.Retired).
func (ks *keyState) resume(writer, stream string, retired []Retirement) {
	for _, r := range retired {
		if r.WriterID != writer || r.Stream != stream {
			continue
		}
		if ks.learned == nil {
			ks.learned, ks.retired = map[KeyID]ed25519.PublicKey{}, map[KeyID]uint64{}
			ks.retiredPub, ks.successor = map[KeyID]ed25519.PublicKey{}, map[KeyID]ed25519.PublicKey{}
		}
		ks.retired[r.KeyID] = r.Seq
		if r.Pub != nil {
			ks.retiredPub[r.KeyID] = r.Pub
		}
		if len(r.Next) == ed25519.PublicKeySize {
			ks.successor[r.KeyID] = r.Next
			ks.learned[KeyIDOf(r.Next)] = r.Next
		}
	}
}

// lookup finds the key of a signature: in keys, or learned from a
// transition; and refuses a key retired before seq.
func (ks *keyState) lookup(v canonical.AuditRecordView, id KeyID, keys *KeySet) (ed25519.PublicKey, error) {
	if at, ok := ks.retired[id]; ok && v.Seq() > at {
		return nil, fail(v, ReasonRetiredKey, "a key in force at seq "+fmt.Sprint(v.Seq()), "key "+id.String()+", retired at seq "+fmt.Sprint(at), 0)
	}
	if pub, ok := ks.learned[id]; ok {
		return pub, nil
	}
	if keys != nil {
		if pub, ok := keys.Lookup(id); ok {
			return pub, nil
		}
	}
	return nil, fail(v, ReasonUnknownKey, "a key in the key set", "key id "+id.String(), 0)
}

// KeyTransition returns the key a record's key transition names, if the
// record holds one: ok reports a transition attr; err a malformed value.
// Whether the transition counts (it is signed, by a key in force) is the
// verifier's to check.
func KeyTransition(v canonical.AuditRecordView) (next ed25519.PublicKey, ok bool, err error) {
	attrs := v.Attrs()
	for i := 0; i < attrs.Len(); i++ {
		a := attrs.At(i)
		if !bytes.Equal(a.Key(), []byte(KeyTransitionAttr)) {
			continue
		}
		hexKey, prefixed := strings.CutPrefix(string(a.Value()), transitionPrefix)
		pub, herr := hex.DecodeString(hexKey)
		if !prefixed || herr != nil || len(pub) != ed25519.PublicKeySize || hex.EncodeToString(pub) != hexKey {
			return nil, true, fmt.Errorf("value %q does not name an Ed25519 key", a.Value())
		}
		return pub, true, nil
	}
	return nil, false, nil
}

// follow reads a key transition out of a verified record, if it holds one.
// A transition in an unsigned record, or one that does not name an
// Ed25519 key, is refused.
func (ks *keyState) follow(v canonical.AuditRecordView, rec Sealed, keys *KeySet) error {
	pub, ok, err := KeyTransition(v)
	if !ok {
		return nil
	}
	bad := func(why string) error {
		return fail(v, ReasonBadTransition, "a signed transition naming an Ed25519 key", why, 0)
	}
	if err != nil {
		return bad(err.Error())
	}
	if !rec.Signed {
		return bad("an unsigned record")
	}
	// A transition hands the chain to another key: naming the key that
	// signs it, or one the chain already retired, hands it to no one
	// (RotateKey writes neither).
	next := KeyIDOf(pub)
	if next == rec.KeyID {
		return bad("a transition naming the key that signs it")
	}
	if at, retired := ks.retired[next]; retired {
		return bad("a transition naming key " + next.String() + ", retired at seq " + fmt.Sprint(at))
	}
	if ks.learned == nil {
		ks.learned, ks.retired = map[KeyID]ed25519.PublicKey{}, map[KeyID]uint64{}
		ks.retiredPub, ks.successor = map[KeyID]ed25519.PublicKey{}, map[KeyID]ed25519.PublicKey{}
	}
	ks.successor[rec.KeyID] = pub
	old, known := ks.learned[rec.KeyID]
	if !known {
		old, known = keys.Lookup(rec.KeyID)
	}
	if known {
		ks.retiredPub[rec.KeyID] = old
	}
	ks.learned[next] = pub
	ks.retired[rec.KeyID] = v.Seq()
	return nil
}
