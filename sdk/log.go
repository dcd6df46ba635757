package sdk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/internal/nilptr"
)

// Config configures a Log. Only Signer is required. A nil pointer in an
// interface field (a *Ed25519Signer whose LoadSigner error was dropped,
// a *checkpoint.Keeper never made) is ErrConfig naming the field: it is
// no nil interface, so it would take the place of the default and panic
// at the first record, on an Emitter's goroutine where nothing recovers.
type Config struct {
	// Signer signs records (or, checkpoint-sealed, chain heads). One
	// whose KeyID is not KeyIDOf(Public()) is ErrConfig.
	Signer Signer
	// Limits bound each record's canonical size; zero means
	// canonical.DefaultLimits (4 KiB per record, 1 KiB of attrs). Any
	// other must pass Limits.Check (each limit at least
	// canonical.MinMaxAttrs, MaxRecord at most canonical.MaxRecordSize,
	// MaxAttrs at most MaxRecord), else New is ErrConfig.
	Limits canonical.Limits
	// SealEvery is the signing policy. 0 or 1: every record is signed (the
	// default). N > 1: checkpoint-sealed: records are only hash-chained, and
	// every Nth record of a chain is signed, its signature covering every
	// record before it through the chain; SealInterval and Seal add seals
	// (the count restarts at each: the record N after the last signature
	// is signed).
	// With a Sealer as Observer (checkpoint.Keeper), no record is signed
	// and the Sealer's checkpoints are the seals, on its own cadence: set
	// KeeperOptions.Every to N for one every N records (ronaudit append
	// --seal-every N does). Negative is ErrConfig.
	SealEvery int
	// SealInterval, checkpoint-sealed only: also sign a record when the
	// chain's last signature by this Log (before one, its first append
	// since New or OpenDurable) is older than this. 0: no time trigger.
	// Negative, or set without SealEvery > 1, is ErrConfig. It is checked
	// as a record is appended: the Log runs no timer or goroutine, so a
	// chain that goes quiet keeps its unsealed tail, however long, until
	// its next append, Seal, SealAll or Close. Hosts that need every
	// record vouched for within about T call SealAll from a ticker of
	// period T (it signs only the chains with a tail).
	SealInterval time.Duration
	// DedupeWindow is how many recent records per chain an append is
	// compared with; 0 means DefaultDedupeWindow, negative turns dedupe off.
	// Only records the store still keeps in RAM count (see Append).
	// Records an Emitter accepted and then lost (OnDrop) are no records
	// of the chain and leave the window, but the older records they
	// pushed out of it while in flight stay out.
	DedupeWindow int
	// Store keeps the records; nil means a new MemStore with its default
	// bound (Micronode: RAM only). OpenDurable provides its own store:
	// there it must be nil (else ErrConfig).
	Store Store
	// Clock fills tsMs when a record leaves it 0; nil means time.Now.
	Clock func() time.Time
	// Observer, if set, sees every record of every chain: Committed in seq
	// order per chain (under the chain's lock; it must be quick and must
	// not call the Log), Durable when the record and all before it are on
	// disk (any goroutine: a seq may be reported more than once, by a
	// Pending.Wait, by a seal and by Close, and a lower seq after a higher
	// one; the highest reported is what is durable). A Sealer hears Durable from a
	// Seal, SealAll or Close under the chain's lock, as it hears
	// SealChain: neither may call the Log (Head, Seal, Close would wait
	// for that lock forever), nor may what they call back (a Keeper's
	// OnCheckpoint). OpenDurable replays the log through both, with
	// replay set. package checkpoint's Keeper is an Observer. See
	// Observer for what each method may call.
	Observer Observer
}

// Sealer is an Observer that vouches for a chain with one signature
// over all of it: package checkpoint's Keeper, whose checkpoints are then
// the seals of the checkpoint-sealed policy. With SealEvery > 1 and a
// Sealer as Observer, records are not signed at all (but for key
// transitions, and the first record of a chain started while RotateKey
// writes them, which OpenDurable tells from the chains a rotation cut
// short had not reached by that signature): the Sealer signs on its own cadence, and Seal, SealAll and
// Close ask it to seal now. Since it vouches only for durable records,
// they first wait for the chain's head to be durable (its fsync) and tell
// the Observer so (Durable), then ask it: the seal covers the head, and
// an Append committed before it is never acknowledged after it.
type Sealer interface {
	Observer
	// SealChain signs what is durable of the chain and returns the seq
	// its signature covers. The Log calls it, and the Durable before it,
	// holding the chain's lock: it must not call the Log.
	SealChain(writer, stream string) (uint64, error)
}

// Observer follows the records a Log appends; see Config.Observer.
//
// What its methods may call back, as the Log calls them:
//   - Committed, under the chain's lock: nothing of the Log (Head, Seal,
//     SealAll, Close, RotateKey take that lock and would wait forever).
//   - Durable from a Pending.Wait (Append's, an Emitter's, or RotateKey's
//     for its transitions, told once they are all written) holds no lock
//     of the Log: it may call Close, Seal, SealAll, Head or NewEmitter.
//     It must not call RotateKey from RotateKey's own Durable (RotateKey
//     waits for the rotation that calls it). A Sealer's Durable, and
//     SealChain, come from a seal under the chain's lock: nothing of the
//     Log (see Sealer). An Observer that may be either calls nothing.
//   - Durable from Close (of each head not told of yet: an append whose
//     Wait has not returned, a transition RotateKey has yet to tell of)
//     holds no lock of the Log, and comes once Close is done: so a
//     Durable that calls Close is called again from inside that Close,
//     and must not hold a lock of its own across the call.
//   - RetireObserver.Retired, under the chain's lock: nothing of the Log.
//   - KeyFollower.FollowKey holds no lock of the Log: Close, Seal,
//     SealAll, Head, NewEmitter, not RotateKey (see KeyFollower).
//   - ReplayChecker.CheckReplay runs inside OpenDurable, before the Log
//     is returned: there is no Log to call.
type Observer interface {
	Committed(writer, stream string, seq uint64, hash canonical.Hash, replay bool)
	Durable(writer, stream string, seq uint64, replay bool)
}

// KeyFollower is an Observer that signs for the Log with the Log's key,
// as package checkpoint's Keeper signs its checkpoints: RotateKey hands
// it the new key once every chain has its transition, so that nothing it
// signs of a chain before that chain's transition is by the new key (a
// verifier that follows the chain from its first key does not trust the
// new key there); a RetireObserver learns each transition as it is
// committed, so that nothing it signs after it is by the retired key (a
// verifier refuses that, checkpoint.InForce).
//
// RotateKey calls FollowKey once the rotation is written (every chain has
// its transition, durable, and signs with next), holding no lock of the
// Log but the one that runs rotations one at a time: FollowKey may call
// Close (a follower that cannot keep next may shut the log down: Close
// does not wait for the rotation, whose transitions it seals with the
// follower's key as it is: records already appended past a transition
// make it ErrSealIncomplete, unless the follower is a ChainFollower,
// handed those chains before), Seal, SealAll, Head, Heads and NewEmitter,
// but not RotateKey, which would wait for the FollowKey that calls it.
type KeyFollower interface {
	Observer
	FollowKey(next Signer)
}

// ChainFollower is a KeyFollower that can follow a rotation chain by
// chain, as package checkpoint's Keeper does: a rotation that fails part
// way (a transition's signature or store failed) leaves the chains it
// reached, and those started since, signed by the new key, which
// FollowKey, for a whole rotation only, never hands the follower; their
// records would be vouched for by no checkpoint. So RotateKey, once its
// transitions are written or it stops, calls FollowChain(writer, stream,
// next) for every chain with a record that next signs now, before
// NewEmitter and Close may go on, and the Log calls it for each chain
// whose first record another key than the follower's signs (started
// while a rotation runs, or after one failed; one undone keeps the
// chains it started on next): the follower vouches
// for that chain, past its last transition (RetireObserver; seq 0 for a
// chain that began with next), with next. Chains the rotation did not
// reach keep the follower's key. FollowChain is called under the
// chain's lock, as Retired: it must not call the Log.
type ChainFollower interface {
	KeyFollower
	FollowChain(writer, stream string, next Signer)
}

// RetireObserver is an Observer told of each key transition as it is
// committed, appended by RotateKey or replayed by OpenDurable: chain
// (writer, stream) retired key id at seq. package checkpoint's Keeper
// uses it never to sign, with a retired key, a checkpoint past its
// retirement (the Log reopened with the old key, to finish a rotation cut
// short). Seq 0 is no transition: an Observer that is a KeyFollower too
// hears it, before the Committed of a chain's first record, for the key
// it follows when the chain began with another (started while RotateKey
// runs, before its FollowKey, or after a rotation that failed; or,
// replayed by OpenDurable before CheckReplay, started by a key that a
// rotation from the Signer's handed the log to, cut short or whole (the
// log reopened with the old key), or not yet reached by a rotation to
// the Signer's key cut short, or held by a key that no transition hands
// on to the Signer's): that key vouches for none of the chain,
// which is another key's (a ChainFollower is then handed the chain's
// key, when the Log holds it: FollowChain).
// Retired is called under the chain's lock: it must not call the Log.
type RetireObserver interface {
	Observer
	Retired(writer, stream string, id KeyID, seq uint64)
}

// ReplayChecker is an Observer that can refuse a replayed log: OpenDurable
// calls CheckReplay once every record is replayed, before it cuts a torn
// tail or writes anything, and fails if it returns an error. Every
// replayed record is on disk by then (the WAL fsyncs what it replayed
// first), so what CheckReplay writes (the Keeper's checkpoints a crash
// kept it from writing) never outlives, in a power loss, the records it
// vouches for. package
// checkpoint's Keeper refuses a log that is shorter than, or differs
// from, a checkpoint it signed: records it vouched for are gone, and
// appending would fork the chain.
type ReplayChecker interface {
	Observer
	CheckReplay() error
}

// FailureReporter is an Observer that can fail on its own, without the
// Log failing: package checkpoint's Keeper, whose Err is its first failure
// to sign or write a checkpoint (a full disk, a directory it may not
// write, a fork or rollback it refused), and package sdk/node's, whose Err
// is also its exporter's failure. Records are still appended, but
// the evidence that would show them cut or rewritten is no longer written.
// Emitter.Ready reports the audit plane degraded (DegradedError's
// ObserverFailed) once Err returns non-nil; Err must be safe to call from
// any goroutine and must not call the Log.
type FailureReporter interface {
	Observer
	Err() error
}

// DefaultDedupeWindow is the default number of records per chain that
// dedupe remembers.
const DefaultDedupeWindow = 1024

// Head is the state of one chain after its last append.
type Head struct {
	WriterID  string
	Stream    string
	Seq       uint64         // seq of the last record; 0 for an empty chain
	Hash      canonical.Hash // its record hash; canonical.Genesis for an empty chain
	SealedSeq uint64         // seq of the last signed record; 0 if none
}

// Appended is the result of Append.
type Appended struct {
	// Record is the sealed record as the store keeps it: Bytes alias the
	// store (see MemStore) and must be copied to outlive it.
	Record Sealed
	// Seq is the record's seq.
	Seq uint64
	// Head is the chain's head after the append.
	Head Head
	// Duplicate is true when the record's dedupe key matched a record in
	// the window: nothing was appended and Record is the original.
	Duplicate bool
}

// Log appends records to hash chains, one per (writerId, stream), and
// keeps them in its Store. It is safe for concurrent use: appends to
// different chains run in parallel, appends to one chain in turn.
type Log struct {
	cfg    Config
	limits canonical.Limits
	seed   maphash.Seed
	mu     sync.RWMutex
	chains map[string]map[string]*chain
	signer Signer // signs new chains (RotateKey replaces it)
	// handing is set while RotateKey writes its transitions, from when
	// new chains begin with the new key: a chain's first record is then
	// signed, as it may come before the rotation's first transition in
	// the log, where OpenDurable, reopened with the new key, would take
	// an unsigned chain (checkpoint-sealed) for one the rotation had not
	// reached.
	handing atomic.Bool
	// followed is the key the Observer, a KeyFollower, signs with as far
	// as the Log knows: the Signer's, then each rotation's new key once
	// its FollowKey has returned. A chain that begins with another key
	// (one started while RotateKey runs, or after a rotation that failed
	// part way) is not that key's to vouch for: the Observer, if a
	// RetireObserver too, hears so at the chain's first record (started).
	followed atomic.Pointer[KeyID]
	sealer   Sealer  // checkpoint-sealed by checkpoints: the Observer, if it seals
	keys     *KeySet // every key the log has signed with
	// failed holds the error that stopped the log: the store lost an
	// acknowledged-to-be record, or Close. Set once; read without l.mu,
	// so that a chain's lock holder may check it (a reader of l.mu under
	// a chain's lock could deadlock with Heads, which takes them the
	// other way round, once a writer waits for l.mu).
	failed atomic.Pointer[error]
	closer func() error // closes a durable log's WAL
	closed bool
	// closing is held by the Close doing the work of closing (seal, wait
	// for appends, close the WAL), one Close at a time. Not a sync.Once:
	// a Close that panicked part way (the host's Signer, Store or Sealer)
	// must leave the work to the next Close, not have it return nil with
	// the WAL still open and locked.
	closing sync.Mutex
	// closeDone is closed once a Close has closed the WAL, before it
	// tells the Observer of the heads it made durable (so that a Close
	// from that Observer's Durable returns at once). Made by the first
	// Close, under mu.
	closeDone chan struct{}
	// closeHeads, under closing, are the heads Close made durable and has
	// yet to tell the Observer of: kept across a Close that panicked, as
	// those heads are marked durable and would not be made so again.
	closeHeads []Head
	// untold, under mu, are the heads a Close was telling the Observer of
	// when its Durable panicked (that head and those after it): the WAL
	// is closed by then, and the next Close, which returns at once, tells
	// them, or a Keeper closed next would checkpoint those chains short.
	untold []Head
	// emitting is set while an Emitter owns the log's appends.
	emitting atomic.Bool
	// rotating is held through a RotateKey's checks and transitions (not
	// its FollowKey), by NewEmitter while it sets emitting, and by Close
	// while it stops the log: rotations never run beside an emitter, and
	// are not cut short by Close.
	rotating sync.Mutex
	// rotations is held through a whole RotateKey, FollowKey included, and
	// taken before rotating: rotations run one at a time, and their
	// followers hear of them in that order.
	rotations sync.Mutex
}

// ErrClosed is returned by Append, AppendPending, RotateKey, Seal and
// SealAll on a closed Log (on a healthy one: a log that failed returns
// its failure), and by NewEmitter for one.
var ErrClosed = errors.New("sdk: log is closed")

// Close seals every chain under the checkpoint-sealed policy (so a clean
// shutdown leaves no unsealed tail) and, for a durable log, flushes and
// closes the WAL and releases its lock. Appends fail with ErrClosed from
// the moment Close starts (but for a RotateKey under way then: Close
// waits for its transitions to be written and durable, so that it never
// cuts a rotation short, though not for its KeyFollower's FollowKey,
// which may call Close): one that runs beside Close either ends before
// Close seals its chain (and is sealed) or fails, never leaving an
// acknowledged record after the last seal. A chain that Close cannot
// seal to its head is an error naming it, never nil: with a Sealer that
// has yet to be handed a rotation's new key (its FollowKey under way), a
// record appended past the chain's transition is sealed only by the
// Sealer once it has the key (a Keeper's Close), and Close returns
// ErrSealIncomplete naming the chain, the seq sealed and the head. Under either
// policy Close waits for an append already under way on a chain before
// it closes the WAL: that append ends as on an open log, never failing
// for the WAL closed under it. Under either policy the Observer has
// heard (Observer.Durable) that each chain's head is durable when
// Close first returns, even for an append whose Wait has not returned yet or a key
// transition a RotateKey under way has not told it of yet, so that
// a Keeper closed next checkpoints every record the log holds. On a log that has failed (a Pending.Wait
// failed) Close seals nothing, as Seal does not: a chain with an
// unsealed tail keeps it, and Close returns the failure, naming the
// first such chain (it still closes the WAL). Close is idempotent: a
// call beside or after the one that closes the WAL waits for it to have
// closed the WAL (not for its telling the Observer) and returns nil.
//
// If the host's code panics in Close (the Signer at a seal, the Store's
// Wait, the Sealer), the panic reaches that Close's caller, the log stays
// closed to appends, and the close is not done: the WAL is still open
// and locked. The next Close (or one that was waiting) does the rest of
// it, as a Close does: it seals what is not sealed yet (with the Signer
// as it is by then), makes durable and tells the Observer of the heads
// not told of yet, closes the WAL and returns its own result, nil only
// if all of that succeeded; the one after it returns nil. A host that
// recovers a Close's panic calls Close again to release the log. If the
// Observer's Durable panics as Close tells it of the heads (the WAL is
// closed by then), the panic reaches the caller too, and the next Close
// tells it of that head and those after it, and returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	if l.closeDone == nil {
		l.closeDone = make(chan struct{})
	}
	done := l.closeDone
	l.mu.Unlock()
	select {
	case <-done:
		l.tellDurable(nil) // what a Close whose Observer panicked left
		return nil
	default:
	}
	durable, did, err := l.shut(done)
	if !did {
		l.tellDurable(nil) // another Close closed the WAL while this one waited
		return nil
	}
	// The Observer hears of each head as a seal tells it (sealLocked):
	// an append committed but still waiting for its fsync (or whose
	// AppendPending's Wait comes later) tells it from its Wait, which may
	// come after Close has returned, and a Keeper closed in between
	// would checkpoint the chain short of a record the log holds (a
	// host's Close order is the Log, then the Keeper). Told once the
	// WAL is closed and closing released: an Observer's Durable may call
	// Close (TestDurableOfTransitionMayClose), which then returns at once.
	l.tellDurable(durable)
	return err
}

// tellDurable tells the Observer that heads, and those a Close before
// left untold, are durable. If a Durable panics, that head and the ones
// after it are kept in untold for the next Close: the panic reaches the
// caller, and nothing is lost to it.
func (l *Log) tellDurable(heads []Head) {
	l.mu.Lock()
	heads = append(l.untold, heads...)
	l.untold = nil
	l.mu.Unlock()
	if len(heads) == 0 {
		return
	}
	defer func() {
		if len(heads) > 0 { // a Durable panicked
			l.mu.Lock()
			l.untold = append(heads, l.untold...)
			l.mu.Unlock()
		}
	}()
	for len(heads) > 0 {
		h := heads[0]
		l.cfg.Observer.Durable(h.WriterID, h.Stream, h.Seq, false)
		heads = heads[1:]
	}
}

// shut does Close's work under closing, unless a Close has done it
// (done is closed: did is false). It releases closing by defer and
// closes done only once the WAL is closed, so that a panic of the
// host's code in it leaves the work to the next Close, which redoes
// what is not done yet: chains sealed and heads made durable stay so.
// It returns the heads made durable for Close to tell the Observer.
func (l *Log) shut(done chan struct{}) (durable []Head, did bool, err error) {
	l.closing.Lock()
	defer l.closing.Unlock()
	select {
	case <-done:
		return nil, false, nil
	default:
	}
	// Refuse appends before sealing: appendLocked and commitLocked check
	// failed under the chain's lock, which SealAll takes in turn. A
	// RotateKey under way writes its transitions first (rotating):
	// refused part way, it would leave the rotation cut short, some chains
	// handed to the new key and the others not, as a crash does. It
	// releases rotating before its FollowKey, which may be what called
	// Close. RotateKey checks failed under rotating, so none starts after
	// this.
	l.rotating.Lock()
	l.failed.CompareAndSwap(nil, &errClosed)
	l.rotating.Unlock()
	if l.cfg.SealEvery > 1 {
		err = l.sealAll(true) // takes each chain's lock in turn
	}
	// An append that checked failed before Close set it may still be
	// signing or putting its record: wait for it (it holds its chain's
	// lock) before the WAL closes under it, which would fail it with
	// ErrStore for a store that never failed. A chain made from here
	// on sees ErrClosed. Each chain's head is made durable there, to
	// tell the Observer. Under the checkpoint-sealed policy too:
	// a seal tells the Observer only through a Sealer, and a head
	// signed already (every SealEvery-th record without a Sealer, a key
	// transition RotateKey has yet to tell of, a chain's first record
	// during a rotation) is not sealed again.
	l.awaitAppends()
	if l.closer != nil {
		if cerr := l.closer(); err == nil {
			err = cerr
		}
	}
	close(done)
	durable, l.closeHeads = l.closeHeads, nil
	return durable, true, err
}

// awaitAppends takes and releases each chain's lock: an append under way
// on it (appendLocked, under the lock) has then ended. With an Observer,
// it makes each chain's head that is not marked durable yet durable there
// (the store's Wait) and adds those heads to closeHeads (its caller,
// shut, holds closing), for Close to tell the Observer. A head marked durable was told of (Pending.Wait and RotateKey,
// for its transitions, tell before they mark, a seal under the chain's
// lock; a replayed one by the replay); one that cannot be made durable is left out: its own
// Wait reports the failure.
func (l *Log) awaitAppends() {
	l.mu.RLock()
	all := l.chainsLocked(nil)
	l.mu.RUnlock()
	for _, c := range all {
		if h, ok := l.awaitAppend(c); ok {
			l.closeHeads = append(l.closeHeads, h)
		}
	}
}

// awaitAppend is awaitAppends for one chain: its head, if made durable
// here. The lock is released by defer, as the Store's Wait may panic
// (see appendChain).
func (l *Log) awaitAppend(c *chain) (Head, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.cfg.Observer != nil && c.durable.Load() < c.head.Seq && l.cfg.Store.Wait(c.ticket) == nil {
		c.markDurable(c.head.Seq)
		return c.head, true
	}
	return Head{}, false
}

// errClosed is ErrClosed, addressable for Log.failed.
var errClosed = ErrClosed

type chain struct {
	mu   sync.Mutex
	head Head
	// lastSeal is when the chain's last committed signature was made (or
	// its interval started: SealInterval), tipSeal the same as the
	// Emitter's link step sees it: moved on by the records it links to be
	// signed, and back to lastSeal when the flight empties, so that a
	// record whose signature then fails does not restart the interval.
	lastSeal time.Time
	tipSeal  time.Time
	hasher   *canonical.Hasher
	buf      []byte
	dedupe   dedupeWindow
	signer   Signer // the key that signs this chain (RotateKey moves it on)
	// retired holds the keys this chain retired, and at which seq, and
	// successor the key each transition named (RotateKey; replay).
	retired   map[KeyID]uint64
	successor map[KeyID]KeyID
	// signerRetired is set when signer is one of them (a log opened with
	// a key that a rotation, maybe one cut short by a crash, already
	// retired here): the chain takes no record or seal until RotateKey
	// moves it to the key its transition named. Also set when the log is
	// opened with the key another chain's transition named while this
	// chain, last signed by the key that transition retired, has no
	// transition (a rotation cut short, reopened with the new key): only
	// the old key can write it. And set with heldBy when the chain is
	// a later key's than signer (see heldBy). Only OpenDurable sets it.
	signerRetired error
	// heldBy is the key in force in the chain when that is a key a
	// rotation from signer handed the log to (the chain was started by it,
	// after or while that rotation wrote its transitions), for a log
	// reopened with the older key, or a key that no transition hands on
	// to signer and that signed the chain alone from its first record
	// (it started the chain while a rotation to it ran that wrote no
	// transition, or it is a newcomer's): signer may not sign after it,
	// and RotateKey to heldBy moves the chain on with no transition.
	heldBy KeyID
	// keptSeal is, for a chain refused as sealed by another key
	// (sealedRefusals: checkpoint-sealed, its Keeper's newest checkpoint
	// by a key no transition hands on to signer), that checkpoint's size:
	// the records up to there are sealed, by the key that holds the
	// chain, so a seal (Close, SealAll) of them is no refusal.
	keptSeal uint64
	// emitFrom is the chain's head when the running Emitter started
	// (NewEmitter): a retry of a record at or before it retries one
	// another caller appended, which no drop of the emitter's counts, so
	// a retry lost with it is a record the emitter lost.
	emitFrom atomic.Uint64
	// Scratch that interface calls (Signer, Store) would otherwise make
	// escape to the heap on every append.
	sealed Sealed
	msg    [len(canonical.SigPrefix) + 32]byte

	// An Emitter's records between their link and commit steps (link.go):
	// tip is the head they link to, head stays the last committed record,
	// and flight holds the records in between, in seq order.
	tip    Head
	flight flightQueue
	broken error // an in-flight record failed: the ones linked after it fail too
	// Committed records wait in acks for their hand-off (settle), in
	// commit order; acking says a worker is handing them on. ackSpare is
	// that worker's second buffer. Under ackMu, which is never held while
	// records are handed on.
	ackMu    sync.Mutex
	acks     []*linked
	ackSpare []*linked
	acking   bool
	// signedInFlight counts the signed records in flight: once the front
	// is unsigned, those behind it (hedge). Under mu.
	signedInFlight int
	// ticket is the Store's ticket of the chain's last committed record,
	// for a seal by the Sealer, which vouches only for durable records
	// (sealLocked waits for it).
	ticket Ticket
	// durable is the seq up to which the chain's records are known to be
	// durable: replayed, or a Pending.Wait of it or a later seq returned
	// nil. A retry of one of them holds even once the log has failed.
	durable atomic.Uint64
}

// markDurable records that the chain's records up to seq are durable
// (a store's Wait covers every record put before the one it waited for).
func (c *chain) markDurable(seq uint64) {
	for {
		d := c.durable.Load()
		if seq <= d || c.durable.CompareAndSwap(d, seq) {
			return
		}
	}
}

// New returns a Log.
func New(cfg Config) (*Log, error) {
	if cfg.Signer == nil {
		return nil, fmt.Errorf("%w: no Signer", ErrConfig)
	}
	if err := nilPointers("Config.", "Signer", cfg.Signer, "Store", cfg.Store, "Observer", cfg.Observer); err != nil {
		return nil, err
	}
	limits := cfg.Limits
	if limits == (canonical.Limits{}) {
		limits = canonical.DefaultLimits
	}
	if err := limits.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.SealEvery < 0 || cfg.SealInterval < 0 {
		return nil, fmt.Errorf("%w: negative SealEvery or SealInterval", ErrConfig)
	}
	if cfg.SealInterval > 0 && cfg.SealEvery <= 1 {
		return nil, fmt.Errorf("%w: SealInterval needs the checkpoint-sealed policy (SealEvery > 1)", ErrConfig)
	}
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore(0)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	keys := NewKeySet()
	if _, err := keys.TryAdd(cfg.Signer.Public()); err != nil {
		return nil, fmt.Errorf("%w: Signer: %w", ErrConfig, err)
	}
	if err := signerMismatch("Signer", cfg.Signer); err != nil {
		return nil, err
	}
	l := &Log{cfg: cfg, limits: limits, seed: maphash.MakeSeed(), chains: map[string]map[string]*chain{},
		signer: cfg.Signer, keys: keys}
	if s, ok := cfg.Observer.(Sealer); ok && cfg.SealEvery > 1 {
		l.sealer = s
	}
	id := cfg.Signer.KeyID()
	l.followed.Store(&id)
	return l, nil
}

// nilPointers returns ErrConfig naming the first of the (field, value)
// pairs whose value is a nil pointer in a non-nil interface (see Config).
// A nil interface is left to the caller: for most fields it means the
// default.
func nilPointers(prefix string, pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if v := pairs[i+1]; v != nil && nilptr.Is(v) {
			return fmt.Errorf("%w: %s%s is a nil %T", ErrConfig, prefix, pairs[i], v)
		}
	}
	return nil
}

// Store returns the log's store.
func (l *Log) Store() Store { return l.cfg.Store }

// Keys returns a key set holding every key the log has signed with, for
// verifiers: reopened by OpenDurable, those of the signatures it
// replayed too.
func (l *Log) Keys() *KeySet {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.keys
}

func (l *Log) chain(writer, stream string) *chain {
	l.mu.RLock()
	c := l.chains[writer][stream]
	l.mu.RUnlock()
	if c != nil {
		return c
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.chains[writer]
	if w == nil {
		w = map[string]*chain{}
		l.chains[writer] = w
	}
	if c = w[stream]; c == nil {
		c = &chain{
			head:   Head{WriterID: writer, Stream: stream},
			hasher: canonical.NewHasher(),
			buf:    make([]byte, 0, l.limits.MaxRecord),
			signer: l.signer,
		}
		c.dedupe.init(l.cfg.DedupeWindow)
		w[stream] = c
	}
	return c
}

// Head returns the head of chain (writer, stream); ok is false when the
// log has no record of it.
func (l *Log) Head(writer, stream string) (h Head, ok bool) {
	l.mu.RLock()
	c := l.chains[writer][stream]
	l.mu.RUnlock()
	if c == nil {
		return Head{WriterID: writer, Stream: stream}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.head, c.head.Seq > 0
}

// Append seals rec as the next record of its chain (rec.WriterID,
// rec.Stream): it fills seq, prev and, when 0, tsMs; encodes the canonical
// bytes (normalizing rec: v, attr order); checks the size limits; hashes;
// links; signs per the policy; and has the store keep it.
//
// rec.Seq and rec.Prev may be left zero; if set, they must be the chain's
// next seq and current head, or Append fails with ErrChainConflict. A
// writerId or stream longer than MaxChainName once escaped is refused
// (*ChainNameError). Any failure (a *canonical.FieldError,
// *canonical.SizeError, *ChainNameError, ErrChainConflict, ErrSign,
// ErrStore) leaves the chain exactly as it was; a record refused
// before it is signed makes no chain the log had no record of (a chain
// costs memory for good: its record buffer and dedupe window). Either way the
// fields Append filled are zero again when it returns, so one record value
// can be appended again and again; Appended.Seq tells the seq it got.
//
// A record whose dedupe key matches one of the chain's last DedupeWindow
// records is not appended: Append returns the original with Duplicate set,
// once the original is durable (another caller's append of it may still
// wait for its fsync: if that fails, the retry fails with it).
// Dedupe compares everything but seq and prev, tsMs included, so retries
// must carry the event's own tsMs. The original is read from the store's
// RAM (a MemStore, or a durable log's cache): a record it no longer keeps
// there is not deduped against (a retry of it is appended again, as a new
// record), so its bound must hold the window
// (the default 16 MiB holds 3,952 records of the 4 KiB default maximum, a
// record's Sealed counted with its bytes).
//
// Once the log has failed (a Pending.Wait failed: see there), Append
// returns that error, but for a retry of a record known to be durable: one
// a durable log replayed, or at or before a record of its chain whose
// Wait returned nil. Its original is on disk, so the retry is still the
// no-op dedupe makes it, and Append returns the original with Duplicate
// set, as the Emitter acknowledges such a retry. A retry of a record no
// Wait has covered yet gets the error: that record may be lost. After
// Close every append fails.
//
// The Signer, the Store, the Clock and the Observer are the host's code,
// called under the chain's lock. If one of them panics, the panic reaches
// Append's caller (a programmer error is not turned into an error), with
// the chain's lock free and rec's filled fields zero again. A panic
// before the record is committed (the Clock, the Signer, the Store's Put)
// leaves the chain exactly as a failure does: no seq, head, seal or dedupe
// entry taken, so the next append to the chain gets that seq. One in the
// Observer's Committed (or Retired) comes after the commit: the record is
// in its chain, which goes on from it, but its Pending is lost with the
// panic, so nothing acknowledged it. Seal, SealAll, Close and RotateKey
// free the Log's locks on a panic as well (a Close that panicked leaves
// the rest of the close to the next Close: see Close). An Emitter's goroutines do not recover
// (see Emitter).
func (l *Log) Append(rec *canonical.AuditRecord) (Appended, error) {
	p, err := l.AppendPending(rec)
	if err != nil {
		return Appended{}, err
	}
	if err := p.Wait(); err != nil {
		return Appended{}, err
	}
	return p.Appended, nil
}

// Pending is an appended record that may not be durable yet: it is in its
// chain (the next record links to it), but must not be acknowledged before
// Wait returns nil.
type Pending struct {
	Appended
	log    *Log
	c      *chain
	ticket Ticket
}

// Wait blocks until the record is durable (at once for a MemStore). If the
// store cannot make it durable, the log stops: every later append fails,
// since no record may link to one that may be lost (but a retry of a
// record known durable, which appends nothing: see Append). A nil Wait
// makes the record, and its chain's records before it, known durable.
func (p Pending) Wait() error {
	if p.Duplicate || p.log == nil || p.log.cfg.Observer == nil {
		return p.wait()
	}
	if err := p.waitStore(); err != nil {
		return err
	}
	// The Observer is told before the record is marked durable: Close
	// tells it of every head not marked durable yet (awaitAppends), so
	// a Wait that had marked it and not yet told it, when Close ran,
	// cannot leave a Keeper closed next short of the record.
	p.log.cfg.Observer.Durable(p.Head.WriterID, p.Head.Stream, p.Seq, false)
	if p.c != nil {
		p.c.markDurable(p.Seq)
	}
	return nil
}

// wait is Wait without an Observer to tell, or for a retry, of which
// the Observer was told with its original.
func (p Pending) wait() error {
	if p.log == nil {
		return nil
	}
	// A retry appends nothing, but its original may still wait for its
	// fsync (another caller's append whose Wait has not returned): it
	// is durable only once that is, and lost with it.
	if p.Duplicate && (p.c == nil || p.Seq <= p.c.durable.Load()) {
		return nil
	}
	if err := p.waitStore(); err != nil {
		return err
	}
	if p.c != nil {
		p.c.markDurable(p.Seq)
	}
	return nil
}

// waitStore is wait's wait for the store, failing the log if it fails.
func (p Pending) waitStore() error {
	if err := p.log.cfg.Store.Wait(p.ticket); err != nil {
		err = fmt.Errorf("%w: %s seq %d is not durable: %w", ErrStore, names.Chain(p.Head.WriterID, p.Head.Stream), p.Seq, err)
		p.log.fail(err)
		return err
	}
	return nil
}

// AppendPending does what Append does but returns before the record is
// durable, so a caller can append a batch in order and then wait for each
// (a durable store makes them share fsyncs). It is Append for pipelines:
// acknowledge a record only after its Wait. Once the log has failed it
// returns the failure, but for a retry of a record known durable, which
// returns the original with Duplicate set (its Wait returns nil at once),
// as Append does.
func (l *Log) AppendPending(rec *canonical.AuditRecord) (Pending, error) {
	if err := checkCallerRecord(rec); err != nil {
		return Pending{}, err
	}
	if err := l.failure(); err != nil {
		return l.appendRetry(rec, err)
	}
	if l.emitting.Load() {
		return Pending{}, ErrEmitting
	}
	l.mu.RLock()
	c := l.chains[rec.WriterID][rec.Stream]
	l.mu.RUnlock()
	if c == nil {
		if err := l.checkFirst(rec); err != nil {
			return Pending{}, err
		}
		c = l.chain(rec.WriterID, rec.Stream)
	}
	a, ticket, err := l.appendChain(c, rec)
	if err != nil {
		return Pending{}, err
	}
	return Pending{Appended: a, log: l, c: c, ticket: ticket}, nil
}

// appendChain is appendLocked under c's lock, released by defer: the
// host's code it calls there (Signer, Store, Clock, Observer) may panic,
// and a caller that recovers (net/http recovers a handler's panic) must
// not leave the chain locked, every later append to it waiting forever.
// A top-level defer is open-coded: it costs no allocation.
//
//ronaudit:hot
func (l *Log) appendChain(c *chain, rec *canonical.AuditRecord) (Appended, Ticket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.appendLocked(c, rec, false)
}

// appendRetry is AppendPending once the log has failed with failed: it
// appends nothing, but a retry of a record known to be durable (replayed,
// or a Pending.Wait of it or of a later record of its chain returned nil)
// is the no-op it is on a healthy log, which the failure does not touch:
// it returns the original with Duplicate set. Anything else, a retry of a
// record not known durable included, gets failed, as does every append
// once the log is closed (ErrClosed, or the failure before it) and while
// an Emitter owns the log (its linkRetry answers its retries).
func (l *Log) appendRetry(rec *canonical.AuditRecord, failed error) (Pending, error) {
	if l.emitting.Load() {
		return Pending{}, failed
	}
	l.mu.RLock()
	c, closed := l.chains[rec.WriterID][rec.Stream], l.closed
	l.mu.RUnlock()
	if closed || c == nil || !c.dedupe.on() {
		return Pending{}, failed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// As appendLocked: a seq or prev that is not the chain's next refuses
	// the record before dedupe is asked, so it is no retry.
	next := c.head.Seq + 1
	if c.signerRetired != nil || (rec.Seq != 0 && rec.Seq != next) ||
		(rec.Prev != nil && !bytes.Equal(rec.Prev, c.head.Hash[:])) {
		return Pending{}, failed
	}
	fill := l.fill(rec, next, c)
	defer fill.undo(rec)
	var err error
	if c.buf, err = canonical.AppendRecord(c.buf[:0], rec, l.limits); err != nil {
		c.buf = recordBuf(c.buf, l.limits.MaxRecord)
		return Pending{}, failed
	}
	seq, ok := c.dedupe.lookup(fingerprint(l.seed, c.buf))
	if !ok || seq > c.durable.Load() {
		return Pending{}, failed
	}
	orig, dup := l.duplicate(c, seq, c.buf)
	if !dup {
		return Pending{}, failed
	}
	a := Appended{Record: orig, Seq: seq, Head: c.head, Duplicate: true}
	return Pending{Appended: a, log: l, c: c}, nil
}

// checkFirst refuses a record that cannot begin its chain, of which the
// log has no record, before a chain is made for it: a chain, once made,
// is kept for good (its record buffer and dedupe window: 84 KiB at the
// defaults), so bad records naming ever new streams grew the heap without
// bound. It is appendLocked's refusals for an empty chain, the record
// encoded as its first (seq, prev and tsMs take the same room whatever
// their values: the size checked is the size appended); appendLocked
// checks again, against the chain as it is then. (A first record whose
// signature or Put fails still leaves its chain made, with no record.)
func (l *Log) checkFirst(rec *canonical.AuditRecord) error {
	genesis := canonical.Genesis // a copy: rec.Prev may alias it below
	if rec.Seq != 0 && rec.Seq != 1 {
		return seqConflictError(rec, 1)
	}
	if rec.Prev != nil && !bytes.Equal(rec.Prev, genesis[:]) {
		return prevConflictError(rec, genesis)
	}
	f := filled{seq: rec.Seq == 0, prev: rec.Prev == nil, ts: rec.TsMs == 0}
	if f.seq {
		rec.Seq = 1
	}
	if f.prev {
		rec.Prev = genesis[:]
	}
	if f.ts {
		rec.TsMs = 1 // the Clock's reading takes the same room
	}
	_, err := canonical.AppendRecord(nil, rec, l.limits)
	f.undo(rec)
	return err
}

// recordBuf returns the buffer to encode the next record into: buf, but
// for a buffer that a record over the limit grew past it (AppendRecord
// learns a record's size by encoding it), which is replaced by one of the
// limit's size. A chain's or an Emitter slot's buffer is kept for good:
// one refused record of 20 MiB kept 20 MiB. Called on the refusal path
// only, where the allocation is no hot path's.
func recordBuf(buf []byte, limit int) []byte {
	if cap(buf) > limit {
		return make([]byte, 0, limit)
	}
	return buf
}

// checkCallerRecord refuses what a caller's record may not be, before the
// log looks at it: no chain named, a name too long for its chain's
// directory (a *ChainNameError: on every store, so that no chain, not
// even a Micronode's in RAM, holds records that could never be
// checkpointed or exported), or a key transition (RotateKey's).
func checkCallerRecord(rec *canonical.AuditRecord) error {
	switch {
	case rec.WriterID == "":
		return &canonical.FieldError{Field: "writerId", Reason: "required"}
	case rec.Stream == "":
		return &canonical.FieldError{Field: "stream", Reason: "required"}
	case isTransition(rec.Attrs):
		return &canonical.FieldError{Field: "attrs", Reason: "key " + KeyTransitionAttr + " is reserved for Log.RotateKey"}
	}
	if err := checkChainName("writerId", rec.WriterID); err != nil {
		return err
	}
	return checkChainName("stream", rec.Stream)
}

// failure returns the error that stopped the log, if any. It takes no
// lock: appends on different cores do not contend on l.mu, and a chain's
// lock holder may call it.
func (l *Log) failure() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail stops the log with err, unless it has stopped already.
func (l *Log) fail(err error) {
	l.failed.CompareAndSwap(nil, &err)
}

// appendLocked does Append's work under the chain's lock. It is the
// allocation-free path of Append: errors are built by the helpers below it.
//
//ronaudit:hot
func (l *Log) appendLocked(c *chain, rec *canonical.AuditRecord, transition bool) (Appended, Ticket, error) {
	if c.signerRetired != nil {
		return Appended{}, 0, c.signerRetired
	}
	// Checked again under the chain's lock: Close may have begun since
	// AppendPending checked, and may have sealed this chain already.
	if err := l.failure(); err != nil {
		return Appended{}, 0, err
	}
	next := c.head.Seq + 1
	if rec.Seq != 0 && rec.Seq != next {
		return Appended{}, 0, seqConflictError(rec, next)
	}
	if rec.Prev != nil && !bytes.Equal(rec.Prev, c.head.Hash[:]) {
		return Appended{}, 0, prevConflictError(rec, c.head.Hash)
	}
	fill := l.fill(rec, next, c)
	// Deferred, so that rec is as the caller wrote it however the append
	// ends, a panic of the Signer, Store or Observer included; and after
	// the commit too, as rec.Prev aliased the head, which moved on.
	defer fill.undo(rec)

	var err error
	if c.buf, err = canonical.AppendRecord(c.buf[:0], rec, l.limits); err != nil {
		c.buf = recordBuf(c.buf, l.limits.MaxRecord)
		return Appended{}, 0, err
	}
	b := c.buf

	var fp uint64
	if c.dedupe.on() {
		fp = fingerprint(l.seed, b)
		if seq, ok := c.dedupe.lookup(fp); ok {
			if orig, dup := l.duplicate(c, seq, b); dup {
				// The head's ticket covers the original (Pending.wait).
				return Appended{Record: orig, Seq: seq, Head: c.head, Duplicate: true}, c.ticket, nil
			}
		}
	}

	sealed := &c.sealed
	*sealed = Sealed{Bytes: b, Hash: c.hasher.RecordHash(b)}
	now := time.Time{}
	if l.mustSign(c.lastSeal, next, c.head.SealedSeq, &now) || transition || (next == 1 && l.handing.Load()) {
		c.msg = canonical.SignedMessage(sealed.Hash)
		if err := c.signer.Sign(c.msg[:], &sealed.Sig); err != nil {
			return Appended{}, 0, chainError(ErrSign, rec.WriterID, rec.Stream, next, err)
		}
		sealed.Signed, sealed.KeyID = true, c.signer.KeyID()
	}
	kept, ticket, err := l.cfg.Store.Put(c.head.WriterID, c.head.Stream, next, *sealed)
	if err != nil {
		return Appended{}, 0, chainError(ErrStore, rec.WriterID, rec.Stream, next, err)
	}

	// Commit.
	c.head.Seq, c.head.Hash, c.ticket = next, sealed.Hash, ticket
	if sealed.Signed {
		c.head.SealedSeq = next
		if l.cfg.SealInterval > 0 {
			c.lastSeal = now
		}
	} else if l.cfg.SealInterval > 0 && c.lastSeal.IsZero() {
		c.lastSeal = now
	}
	if c.dedupe.on() {
		c.dedupe.add(fp, next)
	}
	if l.cfg.Observer != nil {
		if next == 1 {
			l.started(c)
		}
		l.cfg.Observer.Committed(c.head.WriterID, c.head.Stream, next, sealed.Hash, false)
	}
	return Appended{Record: kept, Seq: next, Head: c.head}, ticket, nil
}

// started tells the Observer, if it is a KeyFollower and a
// RetireObserver (the checkpoint Keeper), that chain c, whose first
// record was just committed, began with another key than the one it
// follows (Log.followed): a chain started while RotateKey runs is the
// new key's from its first record (signed by it while the transitions
// are written), but the follower gets that key only from FollowKey, at
// the rotation's end. Retired of the followed key at seq 0 says that
// key vouches for none of the chain: the Keeper signs its checkpoints
// once FollowKey hands it the chain's key, not with the old one, which
// a verifier holding the key the chain started with does not trust. The
// caller holds c.mu.
func (l *Log) started(c *chain) {
	ro, ok := l.cfg.Observer.(RetireObserver)
	if _, follows := l.cfg.Observer.(KeyFollower); !ok || !follows {
		return
	}
	if f := l.followed.Load(); *f != c.signer.KeyID() {
		ro.Retired(c.head.WriterID, c.head.Stream, *f, 0)
		// The chain is its key's for good, even if the rotation that
		// gave it that key is undone (no transition written: the log's
		// key goes back, the chain's stays, and OpenDurable, reopened
		// with the old key, refuses it): else its records would be in no
		// checkpoint of a follower that is never handed the key.
		if cf, ok := l.cfg.Observer.(ChainFollower); ok {
			cf.FollowChain(c.head.WriterID, c.head.Stream, c.signer)
		}
	}
}

// filled records which of rec's fields appendLocked filled in, so that it
// can leave rec as the caller wrote it: a value, where a closure would be
// reported by the hotpath analyzer (tools/analyzers).
type filled struct{ seq, prev, ts bool }

// fill sets what the caller left for the chain c to assign: seq (next),
// prev (the head's hash) and the timestamp; undo takes them back. The
// caller holds c.mu. The Clock is read first: it is the host's code,
// and if it panics nothing of rec is changed yet (no filled to undo).
func (l *Log) fill(rec *canonical.AuditRecord, next uint64, c *chain) filled {
	f := filled{seq: rec.Seq == 0, prev: rec.Prev == nil, ts: rec.TsMs == 0}
	if f.ts {
		rec.TsMs = uint64(l.cfg.Clock().UnixMilli())
	}
	if f.seq {
		rec.Seq = next
	}
	if f.prev {
		rec.Prev = c.head.Hash[:]
	}
	return f
}

func (f filled) undo(rec *canonical.AuditRecord) {
	if f.seq {
		rec.Seq = 0
	}
	if f.prev {
		rec.Prev = nil
	}
	if f.ts {
		rec.TsMs = 0
	}
}

// seqConflictError, prevConflictError and chainError build the errors of
// the hot append paths (appendLocked, commitLocked) out of their bodies:
// fmt allocates, and only the failing append should pay for it.
func seqConflictError(rec *canonical.AuditRecord, next uint64) error {
	return fmt.Errorf("%w: %s: record has seq %d, the chain's next is %d", ErrChainConflict, names.Chain(rec.WriterID, rec.Stream), rec.Seq, next)
}

func prevConflictError(rec *canonical.AuditRecord, head canonical.Hash) error {
	return fmt.Errorf("%w: %s: record has prev %x, the chain's head is %s", ErrChainConflict, names.Chain(rec.WriterID, rec.Stream), rec.Prev, head)
}

// chainError is the error of the record seq of writer/stream that failed
// with err, in category kind (ErrSign or ErrStore).
func chainError(kind error, writer, stream string, seq uint64, err error) error {
	return fmt.Errorf("%w: %s seq %d: %w", kind, names.Chain(writer, stream), seq, err)
}

// mustSign applies the signing policy to the record about to get seq,
// sealedSeq being the last signed seq before it and lastSeal when it was
// signed (the interval's start; zero: not started).
func (l *Log) mustSign(lastSeal time.Time, seq, sealedSeq uint64, now *time.Time) bool {
	if l.cfg.SealEvery <= 1 {
		return true
	}
	if l.sealer != nil {
		return false // the Sealer's checkpoints seal the chain
	}
	if seq-sealedSeq >= uint64(l.cfg.SealEvery) {
		if l.cfg.SealInterval > 0 {
			*now = l.cfg.Clock()
		}
		return true
	}
	if l.cfg.SealInterval > 0 {
		*now = l.cfg.Clock()
		// The interval runs from the chain's first record, which the
		// commit notes (not here: the append may still fail).
		return !lastSeal.IsZero() && now.Sub(lastSeal) >= l.cfg.SealInterval
	}
	return false
}

// Seal signs the head of chain (writer, stream) now, if it is not signed
// yet: the checkpoint-sealed policy's seal on demand. It returns the head.
//
// Once the log has failed (a Pending.Wait failed: the head may link to a
// record the store lost) Seal signs nothing and returns the failure, and
// after Close it returns ErrClosed (Close sealed every chain), both
// wrapped and naming the chain. With a Sealer (see Sealer) it waits for
// the head to be durable first; if the store cannot make it so, the log
// fails as on a failed Pending.Wait, and Seal returns ErrStore. A seal
// that cannot reach the head (a Sealer not yet handed a rotation's new
// key) is ErrSealIncomplete, with the head as far as it is sealed. A
// chain the log's key may not sign (a key transition retired that key
// there, or the chain began with a later key: a log reopened with a
// rotation's old key, see OpenDurable) is ErrConfig, its tail unsealed
// until RotateKey moves the log to the key the transition names.
func (l *Log) Seal(writer, stream string) (Head, error) {
	l.mu.RLock()
	c := l.chains[writer][stream]
	l.mu.RUnlock()
	if c == nil {
		if err := l.failure(); err != nil {
			return Head{WriterID: writer, Stream: stream}, sealRefused(writer, stream, err)
		}
		return Head{WriterID: writer, Stream: stream}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Checked under the chain's lock, as appends check it: an append
	// that linked the head either saw the log healthy or was refused.
	if err := l.failure(); err != nil {
		return c.head, sealRefused(writer, stream, err)
	}
	return l.sealLocked(c)
}

// sealRefused is the error of a seal of writer/stream refused because
// the log stopped with failed (its failure, or ErrClosed).
func sealRefused(writer, stream string, failed error) error {
	return fmt.Errorf("sdk: seal of %s refused: %w", names.Chain(writer, stream), failed)
}

// sealLocked signs c's head if it is not signed yet; the caller holds
// c.mu and has checked that the log may seal (Seal, sealAll).
func (l *Log) sealLocked(c *chain) (Head, error) {
	if c.head.Seq == 0 || c.head.SealedSeq == c.head.Seq {
		return c.head, nil
	}
	if c.signerRetired != nil {
		if c.keptSeal >= c.head.Seq {
			c.head.SealedSeq = c.head.Seq // as the Sealer's size below
			return c.head, nil
		}
		return c.head, c.signerRetired
	}
	if l.sealer != nil {
		// The Sealer vouches only for what it heard is durable: a record
		// committed but still waiting for its fsync (its Append has not
		// returned) would be left out, and acknowledged after this seal.
		// Make the head durable first, and say so, as its Wait will.
		if c.durable.Load() < c.head.Seq {
			if err := l.cfg.Store.Wait(c.ticket); err != nil {
				err = fmt.Errorf("%w: seal of %s: seq %d is not durable: %w", ErrStore, names.Chain(c.head.WriterID, c.head.Stream), c.head.Seq, err)
				l.fail(err)
				return c.head, err
			}
			c.markDurable(c.head.Seq)
		}
		// Told even when a Pending.Wait marked the head durable: that
		// Wait may not have told the Observer yet (it does so after),
		// and its Append returns once it has.
		l.cfg.Observer.Durable(c.head.WriterID, c.head.Stream, c.head.Seq, false)
		seq, err := l.sealer.SealChain(c.head.WriterID, c.head.Stream)
		if err != nil {
			return c.head, fmt.Errorf("%w: %s: %w", ErrSign, names.Chain(c.head.WriterID, c.head.Stream), err)
		}
		c.head.SealedSeq = max(c.head.SealedSeq, seq)
		if c.head.SealedSeq < c.head.Seq {
			// The Sealer could not vouch for the whole chain: a record
			// past the chain's key transition, when the Keeper has not
			// been handed the new key yet (RotateKey's FollowKey under
			// way). Saying nil would leave an acknowledged record
			// unsealed behind a seal said to cover it.
			return c.head, fmt.Errorf("%w: %s: sealed to seq %d, the head is seq %d (the Sealer cannot vouch for the rest yet, as before a rotation's FollowKey hands it the new key)",
				ErrSealIncomplete, names.Chain(c.head.WriterID, c.head.Stream), c.head.SealedSeq, c.head.Seq)
		}
		return c.head, nil
	}
	c.msg = canonical.SignedMessage(c.head.Hash)
	sig := &c.sealed.Sig
	if err := c.signer.Sign(c.msg[:], sig); err != nil {
		return c.head, fmt.Errorf("%w: %s seq %d: %w", ErrSign, names.Chain(c.head.WriterID, c.head.Stream), c.head.Seq, err)
	}
	if err := l.cfg.Store.Seal(c.head.WriterID, c.head.Stream, c.head.Seq, c.signer.KeyID(), *sig); err != nil {
		return c.head, fmt.Errorf("%w: seal of %s seq %d: %w", ErrStore, names.Chain(c.head.WriterID, c.head.Stream), c.head.Seq, err)
	}
	c.head.SealedSeq = c.head.Seq
	if l.cfg.SealInterval > 0 {
		c.lastSeal = l.cfg.Clock()
		c.tipSeal = c.lastSeal
	}
	return c.head, nil
}

// SealAll seals the head of every chain (hosts call it on a timer and at
// shutdown) and returns the first error. As Seal, it signs nothing once
// the log has failed (it returns the failure) or is closed (ErrClosed).
// A chain its key may not sign (ErrConfig, see Seal) does not stop the
// seals of the others.
func (l *Log) SealAll() error {
	if err := l.failure(); err != nil {
		return fmt.Errorf("sdk: seal of every chain refused: %w", err)
	}
	return l.sealAll(false)
}

// sealAll seals every chain for SealAll and, closing, for Close: the
// ErrClosed that Close itself set just before does not stop Close's seal,
// a failure from before Close does. The failure is checked again under
// each chain's lock, as appends check it. Close reports a refusal only
// for a chain that has a tail to sign.
func (l *Log) sealAll(closing bool) error {
	l.mu.RLock()
	all := l.chainsLocked(nil)
	l.mu.RUnlock()
	var first error
	for _, c := range all {
		if err := l.sealOne(c, closing); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sealOne is sealAll for one chain. The lock is released by defer, as
// the Signer, the Store's Wait and the Sealer may panic (see appendChain).
func (l *Log) sealOne(c *chain, closing bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch failed := l.failure(); {
	case failed == nil || (closing && failed == ErrClosed):
		_, err := l.sealLocked(c)
		return err
	case !closing || (c.head.Seq > 0 && c.head.SealedSeq != c.head.Seq):
		return sealRefused(c.head.WriterID, c.head.Stream, failed)
	}
	return nil
}

// Records returns copies of records from..to (inclusive) of a chain: from
// the store's RAM if it still keeps them, else read through Store().Iter.
// Exporters use it. On a MemStore that evicted some of them it fails with
// ErrEvicted (and ErrStore), naming the range and the oldest seq kept;
// a range the store does not hold all of otherwise (past the chain's
// head, say) is ErrStore. to = from-1 is the empty range (no records, no
// error); from 0, or to further before from, is ErrRange.
func (l *Log) Records(writer, stream string, from, to uint64) ([]Sealed, error) {
	if from == 0 || to < from-1 { // not to+1 < from: to may be MaxUint64
		return nil, fmt.Errorf("%w: %s records %d..%d: seqs start at 1, and a range ends at most one before its start", ErrRange, names.Chain(writer, stream), from, to)
	}
	if to == from-1 {
		// Nothing to read: not even evicted records, and no copy of the
		// chain (Iter) to find none.
		return nil, nil
	}
	type copier interface {
		CopyRange(writer, stream string, from, to uint64) ([]Sealed, bool)
	}
	if c, ok := l.cfg.Store.(copier); ok {
		if recs, ok := c.CopyRange(writer, stream, from, to); ok {
			return recs, nil
		}
	}
	if m, ok := l.cfg.Store.(*MemStore); ok {
		// Its Iter holds no more than CopyRange found.
		if evicted, first := m.Evicted(writer, stream); evicted > 0 && from < first {
			return nil, fmt.Errorf("%w: %w: %s records %d..%d: the oldest kept is seq %d", ErrStore, ErrEvicted, names.Chain(writer, stream), from, to, first)
		}
	}
	var out []Sealed
	it := l.cfg.Store.Iter(writer, stream)
	for it.Next() {
		r := it.Entry()
		v, err := canonical.OpenAuditRecord(r.Bytes)
		if err != nil || v.Seq() < from || v.Seq() > to {
			continue
		}
		r.Bytes = bytes.Clone(r.Bytes)
		out = append(out, r)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if uint64(len(out)) != to-from+1 {
		return nil, fmt.Errorf("%w: %s records %d..%d: the store has %d of them", ErrStore, names.Chain(writer, stream), from, to, len(out))
	}
	return out, nil
}

// Heads returns the head of every chain.
func (l *Log) Heads() []Head {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []Head
	for _, w := range l.chains {
		for _, c := range w {
			c.mu.Lock()
			if c.head.Seq > 0 { // a chain whose first append failed has none
				out = append(out, c.head)
			}
			c.mu.Unlock()
		}
	}
	return out
}

// chainsLocked appends every chain to dst; the caller holds l.mu.
func (l *Log) chainsLocked(dst []*chain) []*chain {
	for _, w := range l.chains {
		for _, c := range w {
			dst = append(dst, c)
		}
	}
	return dst
}

// fingerprint is a fast hash of a record's canonical bytes without the
// fields a chain assigns: the seq word (bytes 16-23) and prev (32 bytes,
// at prevAt: the last object unless a later schema version's pointer field
// is set). Records with the same dedupe key have the same fingerprint; a
// match is confirmed with the dedupe keys themselves. Bytes without a prev
// are hashed whole.
func fingerprint(seed maphash.Seed, b []byte) uint64 {
	at := prevAt(b)
	if at < seqOffset+8 {
		return maphash.Bytes(seed, b)
	}
	h := maphash.Bytes(seed, b[:seqOffset]) ^ bits.RotateLeft64(maphash.Bytes(seed, b[seqOffset+8:at]), 1)
	if at+prevSize < len(b) {
		h ^= bits.RotateLeft64(maphash.Bytes(seed, b[at+prevSize:]), 2)
	}
	return h
}

// duplicate confirms a fingerprint match: is record seq, if the store still
// keeps it, the same event as the canonical bytes b (rare path)?
func (l *Log) duplicate(c *chain, seq uint64, b []byte) (Sealed, bool) {
	orig, ok := l.cfg.Store.Get(c.head.WriterID, c.head.Stream, seq)
	return orig, ok && sameEvent(orig.Bytes, b)
}

// sameEvent reports whether two canonical records are the same event: the
// same bytes but for the seq word and prev (at prevAt), so the same dedupe
// key (canonical.DedupeKey hashes the record with seq 0 and no prev)
// without decoding or hashing either.
func sameEvent(a, b []byte) bool {
	at := prevAt(a)
	return len(a) == len(b) && at >= seqOffset+8 && prevAt(b) == at &&
		bytes.Equal(a[:seqOffset], b[:seqOffset]) &&
		bytes.Equal(a[seqOffset+8:at], b[seqOffset+8:at]) &&
		bytes.Equal(a[at+prevSize:], b[at+prevSize:])
}

// dedupeWindow remembers the fingerprints of a chain's last records.
type dedupeWindow struct {
	// ring[(start+i)%len(ring)] for i < n, oldest first: the entries
	// of the last len(ring) records, in seq order.
	ring     []dedupeEntry
	start, n int
	index    map[uint64]uint64 // fingerprint -> newest seq with it
}

type dedupeEntry struct {
	fp  uint64
	seq uint64
}

func (d *dedupeWindow) init(size int) {
	if size > 0 {
		d.ring = make([]dedupeEntry, size)
		d.index = make(map[uint64]uint64, size)
	}
}

func (d *dedupeWindow) on() bool { return d.index != nil }

func (d *dedupeWindow) lookup(fp uint64) (uint64, bool) {
	seq, ok := d.index[fp]
	return seq, ok
}

func (d *dedupeWindow) add(fp, seq uint64) {
	if d.n < len(d.ring) {
		d.ring[(d.start+d.n)%len(d.ring)] = dedupeEntry{fp, seq}
		d.n++
	} else {
		old := d.ring[d.start]
		if d.index[old.fp] == old.seq {
			delete(d.index, old.fp)
		}
		d.ring[d.start] = dedupeEntry{fp, seq}
		d.start = (d.start + 1) % len(d.ring)
	}
	d.index[fp] = seq
}

// forgetAfter forgets the newest entries, those of seqs after seq: records
// an Emitter linked and then lost (breakFlight). Entries are added in seq
// order, so they are the newest. The index is rebuilt from what is left,
// oldest first, so that a fingerprint an older entry has too maps to that
// entry again. (Entries that the lost ones pushed out of a full window
// stay forgotten.) Not a hot path: it runs once per failure.
func (d *dedupeWindow) forgetAfter(seq uint64) {
	k := 0
	for d.n > 0 && d.ring[(d.start+d.n-1)%len(d.ring)].seq > seq {
		d.n--
		k++
	}
	if k == 0 {
		return
	}
	clear(d.index)
	for i := range d.n {
		e := d.ring[(d.start+i)%len(d.ring)]
		d.index[e.fp] = e.seq
	}
}

// hexOrEmpty renders bytes for VerifyError evidence.
func hexOrEmpty(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return hex.EncodeToString(b)
}
