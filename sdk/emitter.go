package sdk

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
)

// An Emitter is what a busy host runs in front of a Log: audit never
// blocks the request path and never grows without bound, and every record
// it does not append is counted with its reason.
//
//	TryEmit (caller's goroutine)  ──►  queue  ──►  N workers          ──► durable
//	 take a slot, or ErrBusy         Depth slots    sign, in parallel       Store.Wait,
//	 encode + check                                 commit, in chain order  hooks
//	 link: seq, prev, hash
//
// TryEmit takes one of Depth preallocated slots (none free: ErrBusy, at
// once), encodes and checks the record in it (a bad record is the
// caller's error, at once) and links it under its chain's lock: seq, prev
// and hash, a microsecond for 1 KiB. Workers sign the queued records in
// parallel; each chain commits its records to the store in seq order, by
// whichever worker signs the one at its front. So each chain (writerId,
// stream) holds its records in the order TryEmit returned, and no
// goroutine hand-off but the queue lies on a record's path. A slot is free
// again once its record is durable, so a slow disk turns into shedding,
// not into memory.
//
// With two workers or more, a record whose worker stalls (the OS stopped
// its thread) while later records of its chain are signed is signed by a
// second worker as well, so that the chain goes on (Stats.Hedged counts
// them). Only the built-in Ed25519Signer is called twice so: a Signer
// from another package (an HSM, a KMS) is never.
//
// The Signer and the Store are called from the emitter's goroutines, which
// do not recover: one that panics ends the program (Log.Append's caller
// would get the panic instead, with the chain as it was: see Append). A
// Signer that cannot sign returns an
// error: the record is dropped (DropSinkError), and Ready reports it.
type Emitter struct {
	log  *Log
	opts EmitterOptions

	free    chan *slot // slots to encode into: Depth of them in all
	queue   chan *slot // linked, waiting for a signer
	acks    chan *slot // committed, waiting for durability (not for a MemStore)
	instant bool       // the store is a MemStore: acknowledge at commit

	_         [64]byte     // active is written by every TryEmit
	active    atomic.Int64 // TryEmit/Emit calls running
	_         [56]byte
	closed    atomic.Bool
	closing   chan struct{} // closed by Close: wakes Emit and blocked TryEmit
	abort     chan struct{} // closed when Close's deadline passes: stop signing, drop the rest
	done      chan struct{} // closed when every goroutine has returned
	once      sync.Once
	abortOnce sync.Once

	// hedgeBehind: a chain's front record is signed a second time once
	// this many records behind it are signed (see Log.hedge); 0: never.
	hedgeBehind int

	n       emitCounters
	health  sync.Mutex
	windows []shedSample // readiness: recent (offered, shed) samples
	sinkErr error        // the last sink error
	lostErr error        // the last sink error of an accepted record
}

// EmitterOptions configures an Emitter. The zero value is the default.
type EmitterOptions struct {
	// Depth is the number of records the emitter holds at most, queued or
	// in flight; 0 means DefaultDepth. Negative is ErrConfig.
	Depth int
	// Workers sign in parallel: 1..MaxWorkers (else ErrConfig); 0 means
	// GOMAXPROCS, at most MaxWorkers.
	Workers int
	// Shed is what TryEmit does when all Depth slots are taken.
	Shed ShedPolicy
	// Metrics, if set, counts what the emitter does (*metrics.Metrics of
	// package sdk/metrics is one). A nil pointer here (a *metrics.Metrics
	// never made) is ErrConfig: leave the field nil for no metrics.
	Metrics EmitterMetrics
	// OnDurable, if set, is called for every record once it is appended
	// and durable, in seq order per chain, from the emitter's goroutines
	// (concurrently across chains). A duplicate (a retry of a record in the
	// dedupe window) is acknowledged with its original's seq and hash, in
	// its chain's order, so only once the original is durable; if the
	// original is lost, so is the retry (OnDrop). A retry of a record
	// known durable is acknowledged even once the log has failed (and
	// counted in Dedupe, not dropped): its original is on disk. It should
	// be quick: the acknowledgements of its chain's later records wait for
	// it, and the worker calling it signs nothing meanwhile. A record's
	// slot is free before its OnDurable runs, so TryEmit waits for no
	// OnDurable; it sheds once every slot is held by a record not yet
	// acknowledged. Close waits for OnDurable and OnDrop calls: one that
	// does not return keeps the emitter's goroutines (Done) past Close's
	// deadline. Neither may panic: the emitter does not recover, so a
	// panic ends the program, as in any goroutine. Neither is called
	// holding a lock of the Log: they may call Log.Close, Seal, SealAll
	// and Heads. They must not wait for the emitter's own Close (nor
	// Done): it waits for them. Started from one of them, Close returns
	// only once its ctx ends (and drops what is not yet committed): call
	// it from a goroutine of its own (go e.Close(ctx)).
	OnDurable func(EmitAck)
	// OnDrop, if set, is called for every record the emitter accepted and
	// then could not append (reasons DropSinkError and DropShutdown),
	// from the emitter's goroutines. Rejections by TryEmit and Emit are
	// their errors instead. A retry lost with its original gets an error
	// that says so ("a retry of CHAIN seq N, lost with its original: ..."),
	// wrapping the original's: Close's ErrRecordsLost counts it apart.
	OnDrop func(writer, stream string, reason string, err error)
	// ShedBudget is the share of offered records that may be shed before
	// Ready reports the emitter degraded, at most 1 (a negative one or
	// more than 1 is ErrConfig); 0 means DefaultShedBudget.
	ShedBudget float64
	// ReadyWindow is the time over which Ready measures shedding; 0 means
	// DefaultReadyWindow. Negative is ErrConfig.
	ReadyWindow time.Duration
}

// Emitter defaults.
const (
	DefaultDepth       = 1024
	MaxWorkers         = 8
	DefaultShedBudget  = 0.005 // the seed's busy-rejection budget at design load
	DefaultReadyWindow = time.Minute
	// minShedSample is how many records Ready wants offered in its window
	// before a shed rate counts: 1 dropped of 3 is not an incident.
	minShedSample = 200
)

// ShedPolicy says what TryEmit does when the emitter is full.
type ShedPolicy int

const (
	// ShedDrop returns ErrBusy at once and counts the record dropped with
	// reason DropBackpressure (the default).
	ShedDrop ShedPolicy = iota
	// ShedBlock waits for a free slot: for tests that need every record,
	// never for a request path.
	ShedBlock
)

// Drop reasons: the reason label of audit_drop_total.
const (
	DropBackpressure = "audit_backpressure" // the emitter was full (TryEmit, or Emit's context ended)
	DropBounds       = "bounds_exceeded"    // over the log's size limits (a *canonical.SizeError, or a *ChainNameError: a name over MaxChainName)
	DropInvalid      = "invalid"            // not a valid record (a *canonical.FieldError, or seq/prev set)
	DropSinkError    = "sink_error"         // the signer or the store failed after the record was accepted
	DropShutdown     = "shutdown"           // Close's deadline passed before the record was appended
	DropClosed       = "closed"             // emitted after Close
)

// EmitterMetrics receives the emitter's counts; *metrics.Metrics
// implements it. Calls come from the emitter's goroutines and from
// TryEmit's callers, concurrently.
type EmitterMetrics interface {
	Appended(kind canonical.Kind, stream string, bytes int)
	Dropped(reason string)
	Busy(endpoint string)
	DedupeHit()
	// Queued moves the queue depth (audit_queue_depth) by delta: +1 as
	// TryEmit or Emit takes one of the emitter's Depth slots for a
	// record, -1 as the slot is free again (the record durable, dropped
	// or refused). It is Stats.InFlight: the records the emitter holds,
	// queued, signing or waiting for durability, which reaches Depth
	// exactly when TryEmit sheds (a stalled disk holds every slot with
	// none queued). (Setting the depth from both sides raced: the last
	// write could be stale.)
	Queued(delta int)
	VerifyFailed(err error)
}

// EmitAck tells OnDurable about one appended record.
type EmitAck struct {
	WriterID, Stream string
	Seq              uint64
	Hash             canonical.Hash
	Bytes            int           // canonical size
	Latency          time.Duration // from TryEmit to durable
	Duplicate        bool          // a retry of a record in the dedupe window; Seq and Hash are the original's
}

// Errors of the Emitter.
var (
	// ErrBusy: the emitter is full; the record was dropped and counted.
	ErrBusy = errors.New("sdk: emitter busy: record dropped")
	// ErrEmitterClosed: the emitter is closed; the record was dropped and
	// counted.
	ErrEmitterClosed = errors.New("sdk: emitter closed: record dropped")
	// ErrDegraded matches Ready's *DegradedError.
	ErrDegraded = errors.New("sdk: audit plane degraded")
	// ErrRecordsLost: Close finished, but records the emitter had
	// accepted (TryEmit or Emit returned nil) were not appended: a
	// signer or store failed under them, the Log failed or was closed
	// under the emitter, or an earlier Close's deadline dropped them.
	// OnDrop saw each (reason sink_error or shutdown). Close's error says
	// how many records and wraps the last failure; retries lost with their
	// original (the same record) are named apart, not counted as records.
	ErrRecordsLost = errors.New("sdk: accepted audit records were lost")
)

type slot struct {
	buf     []byte
	writer  string
	stream  string
	kind    canonical.Kind
	emitted time.Time
	lk      linked
	// refs counts who may still read the slot once its record is linked:
	// the record's way to its acknowledgement, and each worker signing it
	// (a second one when hedged). The last to let go frees it.
	refs atomic.Int32
}

// emitCounters are written by TryEmit's callers (offered, drops at
// emit) and by the workers (appended): on separate cache lines, so that
// cores do not pass one line back and forth per record.
type emitCounters struct {
	offered                 atomic.Uint64
	_                       [56]byte
	appended                atomic.Uint64
	_                       [56]byte
	dedupe, busy            atomic.Uint64
	drops                   [numDropReasons]atomic.Uint64
	sinkErrors, verifyFails atomic.Uint64
	lost                    atomic.Uint64 // records accepted, then lost: to sink errors or Close's deadline
	lostRetries             atomic.Uint64 // accepted retries lost with their original (not in lost)
	hedged                  atomic.Uint64 // records signed a second time
}

var dropReasons = [...]string{DropBackpressure, DropBounds, DropInvalid, DropSinkError, DropShutdown, DropClosed}

const numDropReasons = len(dropReasons)

const (
	dropBackpressure = iota
	dropBounds
	dropInvalid
	dropSinkError
	dropShutdown
	dropClosed
)

// NewEmitter starts an emitter that appends to log, and owns log's appends
// until Close: Log.Append, AppendPending and RotateKey return ErrEmitting
// meanwhile (Seal, SealAll, Heads and reads work as before). Closing the
// emitter does not close the log.
//
// It fails with ErrConfig for a nil log, options out of range, or a log
// that already has an emitter, with ErrClosed (wrapped) for a log whose
// Close has begun, even one still waiting for a rotation (an emitter that
// NewEmitter returns was started before Close), and with the log's
// failure (wrapped) for a log that failed and takes no more records.
func NewEmitter(log *Log, opts EmitterOptions) (*Emitter, error) {
	if log == nil {
		return nil, fmt.Errorf("%w: nil Log", ErrConfig)
	}
	if err := nilPointers("EmitterOptions.", "Metrics", opts.Metrics); err != nil {
		return nil, err
	}
	if opts.Depth == 0 {
		opts.Depth = DefaultDepth
	}
	if opts.Workers == 0 {
		opts.Workers = min(max(runtime.GOMAXPROCS(0), 1), MaxWorkers)
	}
	if opts.ShedBudget == 0 {
		opts.ShedBudget = DefaultShedBudget
	}
	if opts.ReadyWindow == 0 {
		opts.ReadyWindow = DefaultReadyWindow
	}
	switch {
	case opts.Depth < 1:
		return nil, fmt.Errorf("%w: emitter Depth %d < 1", ErrConfig, opts.Depth)
	case opts.Workers < 1 || opts.Workers > MaxWorkers:
		return nil, fmt.Errorf("%w: emitter Workers %d not in 1..%d", ErrConfig, opts.Workers, MaxWorkers)
	case opts.Shed != ShedDrop && opts.Shed != ShedBlock:
		return nil, fmt.Errorf("%w: unknown ShedPolicy %d", ErrConfig, opts.Shed)
	case opts.ShedBudget < 0 || opts.ShedBudget > 1 || opts.ReadyWindow < 0:
		return nil, fmt.Errorf("%w: emitter ShedBudget %v not in 0..1 or negative ReadyWindow", ErrConfig, opts.ShedBudget)
	}
	// Under rotating, which Close takes to stop the log, and after Close
	// has marked the log closed, its first step: a Close begun before
	// this (even one still waiting for a rotation) refuses the emitter,
	// which would otherwise start on a closing log and fail every record
	// with ErrClosed.
	log.rotating.Lock() // waits for a RotateKey's transitions
	log.mu.RLock()
	closed := log.closed
	log.mu.RUnlock()
	failed := log.failure()
	took := !closed && failed == nil && log.emitting.CompareAndSwap(false, true)
	log.rotating.Unlock()
	switch {
	case closed && failed != nil && !errors.Is(failed, ErrClosed):
		return nil, fmt.Errorf("sdk: NewEmitter: %w (it had failed: %w)", ErrClosed, failed)
	case closed:
		return nil, fmt.Errorf("sdk: NewEmitter: %w", ErrClosed)
	case failed != nil:
		return nil, fmt.Errorf("sdk: NewEmitter: the log takes no more records: %w", failed)
	case !took:
		return nil, fmt.Errorf("%w: the log already has an emitter", ErrConfig)
	}
	log.mu.RLock()
	for _, c := range log.chainsLocked(nil) {
		c.mu.Lock()
		c.emitFrom.Store(c.head.Seq)
		c.mu.Unlock()
	}
	log.mu.RUnlock()
	e := &Emitter{
		log: log, opts: opts,
		free:    make(chan *slot, opts.Depth),
		queue:   make(chan *slot, opts.Depth),
		acks:    make(chan *slot, opts.Depth),
		closing: make(chan struct{}),
		abort:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	if opts.Workers > 1 {
		e.hedgeBehind = opts.Workers + 1
	}
	for range opts.Depth {
		sl := &slot{}
		sl.lk.slot = sl
		e.free <- sl
	}
	// A MemStore's Wait never blocks: workers acknowledge as they commit. Other
	// stores get a goroutine that waits for durability while commits go
	// on, so that records share fsyncs.
	_, e.instant = log.cfg.Store.(*MemStore)
	var workers sync.WaitGroup
	workers.Add(opts.Workers)
	for range opts.Workers {
		go func() {
			defer workers.Done()
			e.work()
		}()
	}
	go func() {
		workers.Wait()
		close(e.acks)
	}()
	go func() {
		for s := range e.acks {
			e.ack(s)
		}
		log.emitting.Store(false)
		close(e.done)
	}()
	return e, nil
}

// TryEmit appends rec to its chain (rec.WriterID, rec.Stream)
// asynchronously and never blocks (but under ShedBlock). It fills tsMs
// when 0 (from the log's Clock, now: the time of the event, not of its
// append), encodes and checks rec like Log.Append, copies the bytes, and
// returns: rec may be reused at once (its attrs are sorted in place, as
// Append does). seq and prev must be left zero: the emitter assigns them.
//
// Errors, each counted in audit_drop_total: ErrBusy (the emitter is full,
// or the record's chain has been locked for 10 ms by a worker committing
// to a stalled store, or by one the OS stopped that long on an overloaded
// host; also busy_rejections_total{endpoint="emit"}), ErrEmitterClosed, a
// *canonical.SizeError or *ChainNameError (bounds_exceeded) or
// *canonical.FieldError (invalid), and, counted as
// sink_error, the error that stops the chain or the log for now (ErrSign
// or ErrStore of a record in flight before it, ErrClosed, ...), or,
// counted as shutdown, an error matching ErrEmitterClosed when the call
// began before Close and Close's deadline dropped the records in flight
// before it in its chain; but a retry of a record known durable is
// accepted though the log has failed, and acknowledged as a duplicate. A nil error means the record is
// accepted, not yet appended: what happens to it later is counted too
// (OnDurable, OnDrop, metrics).
func (e *Emitter) TryEmit(rec *canonical.AuditRecord) error {
	if e.opts.Shed == ShedBlock {
		return e.emit(context.Background(), rec, true)
	}
	return e.emit(context.Background(), rec, false)
}

// Emit is TryEmit that waits up to ctx for a free slot when the emitter is
// full, and for its chain's lock when a worker holds it (a slow
// Store.Put); when ctx ends first, the record is dropped with ErrBusy
// (wrapping ctx's error) and counted as TryEmit's are. Emit returns at
// most about a millisecond after ctx ends.
func (e *Emitter) Emit(ctx context.Context, rec *canonical.AuditRecord) error {
	return e.emit(ctx, rec, true)
}

// emit is TryEmit and Emit: check, take a slot, encode and link.
//
//ronaudit:hot
func (e *Emitter) emit(ctx context.Context, rec *canonical.AuditRecord, wait bool) error {
	e.n.offered.Add(1)
	// A call that finds the emitter closed leaves without counting itself
	// running: Close waits for active to reach 0, and calls that go on
	// after it (a host's handlers while it shuts down) overlapped and kept
	// it above 0, so the queue stayed open and the emitter did not finish.
	// The second check, after active is raised, is the one Close's wait
	// relies on: a call either sees closed there or Close sees it running.
	if e.closed.Load() {
		e.drop(dropClosed)
		return ErrEmitterClosed
	}
	e.active.Add(1)
	defer e.active.Add(-1)
	if e.closed.Load() {
		e.drop(dropClosed)
		return ErrEmitterClosed
	}
	if err := checkEmitted(rec); err != nil {
		if _, long := err.(*ChainNameError); long {
			e.drop(dropBounds) // a limit of the log, as a record too large
		} else {
			e.drop(dropInvalid)
		}
		return err
	}
	var s *slot
	select {
	case s = <-e.free:
	default:
		if !wait {
			return e.busy(nil)
		}
		select {
		case s = <-e.free:
		case <-ctx.Done():
			return e.busy(ctx.Err())
		case <-e.closing:
			e.drop(dropClosed)
			return ErrEmitterClosed
		}
	}
	if m := e.opts.Metrics; m != nil {
		m.Queued(1) // the slot is taken; freeSlot's -1 cannot come first
	}
	s.emitted = time.Now()
	if err := e.encode(s, rec); err != nil {
		e.freeSlot(s)
		var se *canonical.SizeError
		if errors.As(err, &se) {
			e.drop(dropBounds)
		} else {
			e.drop(dropInvalid)
		}
		return err
	}
	// Two references from the moment link makes the record visible to
	// other workers (hedge), though it is queued only after.
	s.refs.Store(2)
	var until <-chan struct{}
	if wait {
		until = ctx.Done() // nil for TryEmit under ShedBlock: no end
	}
	if err := e.log.link(s.writer, s.stream, s.buf, &s.lk, wait, until); err != nil {
		// Never linked: the caller gets the error (its chain is broken
		// by a failure in flight, or the log failed), not OnDrop.
		s.refs.Store(1)
		if err == errChainBusy {
			// TryEmit: the chain's lock stayed held; Emit: ctx ended
			// while it waited for the lock.
			e.release(s)
			return e.busy(ctx.Err())
		}
		if err == errAbandoned {
			// The chain is broken by records Close's deadline dropped
			// (this call got in before Close): dropped for the same
			// reason, not lost to a failing signer or store.
			e.dropFailed(s, dropShutdown, err)
			return err
		}
		e.dropFailed(s, dropSinkError, err)
		return err
	}
	e.queue <- s // never blocks: the queue has room for every slot
	return nil
}

// checkEmitted refuses what only the emitter may set.
func checkEmitted(rec *canonical.AuditRecord) error {
	switch {
	case rec.Seq != 0:
		return &canonical.FieldError{Field: "seq", Reason: "must be 0: the emitter assigns it"}
	case rec.Prev != nil:
		return &canonical.FieldError{Field: "prev", Reason: "must be empty: the emitter assigns it"}
	}
	return checkCallerRecord(rec)
}

// placeholderPrev stands for prev at encode time; link patches it.
var placeholderPrev = make([]byte, prevSize)

// encode writes rec's canonical bytes into s with seq 1 and a zero prev,
// which link replaces (same size: seq is never 0, prev always 32 bytes).
//
//ronaudit:hot
func (e *Emitter) encode(s *slot, rec *canonical.AuditRecord) error {
	filledTs := rec.TsMs == 0
	if filledTs {
		rec.TsMs = uint64(e.log.cfg.Clock().UnixMilli())
	}
	rec.Seq, rec.Prev = 1, placeholderPrev
	if s.buf == nil {
		s.buf = make([]byte, 0, e.log.limits.MaxRecord)
	}
	var err error
	if s.buf, err = canonical.AppendRecord(s.buf[:0], rec, e.log.limits); err != nil {
		s.buf = recordBuf(s.buf, e.log.limits.MaxRecord)
	}
	rec.Seq, rec.Prev = 0, nil
	if filledTs {
		rec.TsMs = 0
	}
	s.writer, s.stream, s.kind = rec.WriterID, rec.Stream, rec.Kind
	return err
}

func (e *Emitter) busy(cause error) error {
	e.n.busy.Add(1)
	if m := e.opts.Metrics; m != nil {
		m.Busy("emit")
	}
	e.drop(dropBackpressure)
	if cause != nil {
		return fmt.Errorf("%w: %w", ErrBusy, cause)
	}
	return ErrBusy
}

func (e *Emitter) drop(reason int) {
	e.n.drops[reason].Add(1)
	if m := e.opts.Metrics; m != nil {
		m.Dropped(dropReasons[reason])
	}
}

// dropAccepted counts a record TryEmit accepted and the emitter then lost,
// frees its slot and tells OnDrop (after: a callback that panics cannot
// keep the slot).
//
// A retry (a duplicate of a record in the dedupe window) is lost only with
// its original, which is lost too: it is a drop of its own (its caller was
// told nil, OnDrop hears of it, offered = appended + dedupe + dropped), but
// no second lost record, so Close counts it apart (lostRetries). It was
// counted in lost, and ErrRecordsLost named one record lost as two. A
// retry of a record another caller appended before the emitter started
// is lost with an original no drop of the emitter's counts: it counts in
// lost, as a record of its own.
func (e *Emitter) dropAccepted(s *slot, reason int, err error) {
	writer, stream := s.writer, s.stream
	// A retry of a record appended before the emitter started (its
	// original another caller's, not yet durable) is a record of its own
	// to the emitter: no drop of the emitter's counts its original.
	retry := s.lk.dup && s.lk.seq > s.lk.c.emitFrom.Load()
	if retry {
		e.n.lostRetries.Add(1)
	} else {
		e.n.lost.Add(1)
	}
	e.health.Lock()
	e.lostErr = err
	e.health.Unlock()
	if retry {
		err = &retryLostError{writer: writer, stream: stream, seq: s.lk.seq, err: err}
	}
	e.dropFailed(s, reason, err)
	if e.opts.OnDrop != nil {
		e.opts.OnDrop(writer, stream, dropReasons[reason], err)
	}
}

// retryLostError is OnDrop's error for a retry lost with its original:
// it says so, so that a host counting OnDrop calls can tell them from the
// records Close's ErrRecordsLost counts.
type retryLostError struct {
	writer, stream string
	seq            uint64 // the original's
	err            error  // why the original was lost
}

func (e *retryLostError) Error() string {
	return "sdk: emitter: a retry of " + names.Chain(e.writer, e.stream) + " seq " + strconv.FormatUint(e.seq, 10) +
		", lost with its original: " + e.err.Error()
}

func (e *retryLostError) Unwrap() error { return e.err }

// dropFailed counts a record lost to err and frees its slot.
func (e *Emitter) dropFailed(s *slot, reason int, err error) {
	e.drop(reason)
	if reason == dropSinkError {
		e.n.sinkErrors.Add(1)
		e.health.Lock()
		e.sinkErr = err
		e.health.Unlock()
	}
	e.release(s)
}

// release lets go of one reference on s (see slot.refs) and frees it
// with the last.
func (e *Emitter) release(s *slot) {
	if s.refs.Add(-1) > 0 {
		return
	}
	s.lk = linked{slot: s}
	e.freeSlot(s)
}

// freeSlot returns s to the free slots, counting it out of the queue
// depth first, so that the depth never shows more than Depth.
func (e *Emitter) freeSlot(s *slot) {
	if m := e.opts.Metrics; m != nil {
		m.Queued(-1)
	}
	e.free <- s
}

// work is a worker's loop: sign (step 2) and settle (step 3), and sign
// a second time the records settle says are stuck (see Log.hedge).
func (e *Emitter) work() {
	var done []*linked
	res := new(signResult) // on the heap once: Sign's arguments escape
	for s := range e.queue {
		e.sign(&s.lk, res)
		var stuck *linked
		done, stuck = e.log.settle(&s.lk, res, done, e.hedgeBehind, e)
		e.release(s) // this worker's reference
		for stuck != nil {
			e.n.hedged.Add(1)
			e.sign(stuck, res)
			hs := stuck.slot
			done, stuck = e.log.settle(stuck, res, done, e.hedgeBehind, e)
			e.release(hs)
		}
	}
}

// sign signs lk into res, unless Close ran out of time: then the record
// is dropped, not waited for.
func (e *Emitter) sign(lk *linked, res *signResult) {
	select {
	case <-e.abort:
		res.err = errAbandoned
	default:
		lk.sign(res)
	}
}

// committed hands a record settle committed to acknowledgement: at once
// for a MemStore, else to the goroutine that waits for durability.
func (e *Emitter) committed(lk *linked) {
	if e.instant {
		e.ack(lk.slot)
	} else {
		e.acks <- lk.slot // never blocks: room for every slot
	}
}

// ack waits for durability (a no-op for a MemStore), reports, and frees
// the slot.
func (e *Emitter) ack(s *slot) {
	err := s.lk.err
	switch {
	case err != nil:
	case s.lk.dup:
		// Acknowledgements go in commit order, so an original this
		// emitter appended was waited for first; one appended before it
		// (AppendPending, not yet waited for) is waited for here, and a
		// retry is lost with it. A retry of a record known durable holds
		// though the log failed since: nothing is lost, it is a
		// duplicate, not a drop.
		err = s.lk.pending.wait()
	default:
		err = s.lk.pending.Wait()
	}
	if err == errAbandoned {
		e.dropAccepted(s, dropShutdown, err)
		return
	}
	if err != nil {
		e.dropAccepted(s, dropSinkError, err)
		return
	}
	if s.lk.dup {
		e.n.dedupe.Add(1)
		if m := e.opts.Metrics; m != nil {
			m.DedupeHit()
		}
		e.acknowledge(s, true)
		return
	}
	e.n.appended.Add(1)
	if m := e.opts.Metrics; m != nil {
		m.Appended(s.kind, s.stream, len(s.buf))
	}
	e.acknowledge(s, false)
}

// acknowledge frees s's slot, then tells OnDurable, if set, about its
// record. The slot goes first: a TryEmit waits for no OnDurable.
func (e *Emitter) acknowledge(s *slot, duplicate bool) {
	if e.opts.OnDurable == nil {
		e.release(s)
		return
	}
	a := EmitAck{WriterID: s.writer, Stream: s.stream, Seq: s.lk.seq, Hash: s.lk.sealed.Hash,
		Bytes: len(s.buf), Latency: time.Since(s.emitted), Duplicate: duplicate}
	e.release(s)
	e.opts.OnDurable(a)
}

// Close stops accepting records (TryEmit and Emit return
// ErrEmitterClosed from then on; a call already past that check, such as
// an Emit waiting for its chain's lock behind a slow store, may still be
// accepted), appends and makes durable everything accepted before, and
// returns once every record is appended and the emitter's goroutines have
// returned. If ctx ends first, Close returns ctx's error, and every record
// not yet committed to the store is dropped with reason DropShutdown
// (OnDrop sees each), but for those a worker is signing as ctx ends,
// which are committed once signed unless a record before them in their
// chain was dropped, or a second worker sent to sign them too (hedge)
// gave up first. Those committed are still waited for and acknowledged,
// and the goroutines end as soon as a signer, fsync, OnDurable or OnDrop
// call that is still running returns (Done says when). A ctx that has already ended aborts at once, even an idle
// emitter's Close, which then drops nothing: Close returns the ctx's
// error without waiting, unless the emitter has finished by then (an idle
// one may have). Once it has finished, Close returns nil only if every
// record it accepted was appended (or answered as a duplicate): records
// accepted and then lost to a failing signer or store, to the Log
// failing or being closed under the emitter (close the Emitter first,
// then the Log), or to the deadline of an earlier (or concurrent) Close,
// which returned its ctx's error, make it ErrRecordsLost, naming how many
// (and, apart, how many retries were lost with their original: one
// record, though two callers were told nil) and wrapping the last
// failure, though OnDrop saw each as it happened.
// A record refused
// to its caller (TryEmit or Emit returned the error) is not counted
// there. Close does not close the Log. Calls after the first wait for the
// same end.
func (e *Emitter) Close(ctx context.Context) error {
	e.once.Do(func() {
		e.closed.Store(true)
		close(e.closing)
		// Wait out the emit calls that passed the closed check: after them
		// nobody sends on the queue. They do not wait for slots (Emit and
		// blocked TryEmit wake on closing), but one may wait for its
		// chain's lock behind a slow store: not on the caller's time, whose
		// ctx may end first.
		go func() {
			for i := 0; e.active.Load() > 0; i++ {
				if i < 64 {
					runtime.Gosched()
				} else {
					time.Sleep(100 * time.Microsecond)
				}
			}
			close(e.queue)
		}()
	})
	select {
	case <-e.done:
		return e.lostError()
	default:
	}
	select {
	case <-e.done:
		return e.lostError()
	case <-ctx.Done():
	}
	select {
	case <-e.done: // finished as ctx ended: nothing was dropped for it
		return e.lostError()
	default:
	}
	e.abortOnce.Do(func() { close(e.abort) })
	return fmt.Errorf("sdk: emitter close: %w (records not yet committed are dropped: reason %s)", ctx.Err(), DropShutdown)
}

// lostError is Close's result once the emitter has finished: nil, or
// ErrRecordsLost when records it accepted were lost (sink errors, or a
// Close's deadline).
func (e *Emitter) lostError() error {
	n, r := e.n.lost.Load(), e.n.lostRetries.Load()
	if n == 0 && r == 0 {
		return nil
	}
	e.health.Lock()
	last := e.lostErr
	e.health.Unlock()
	what := "records"
	if n == 1 {
		what = "record"
	}
	retries := ""
	switch {
	case r == 1:
		retries = ", and 1 retry of a lost record"
	case r > 1:
		retries = ", and " + strconv.FormatUint(r, 10) + " retries of lost records"
	}
	return fmt.Errorf("sdk: emitter close: %w: %d accepted %s not appended%s (OnDrop saw each, reason %s or %s); the last failure: %w",
		ErrRecordsLost, n, what, retries, DropSinkError, DropShutdown, last)
}

// Done is closed once Close has finished all the emitter's work.
func (e *Emitter) Done() <-chan struct{} { return e.done }

// EmitterStats are an emitter's counts since NewEmitter. Offered >=
// Appended + Dedupe + the sum of Dropped at any time (the difference is
// the records in flight and the calls still running); once Close has
// returned nil and no TryEmit or Emit call is running, they are equal.
type EmitterStats struct {
	Offered    uint64            // TryEmit and Emit calls
	Appended   uint64            // records appended and durable
	Dedupe     uint64            // retries answered by a record in the dedupe window
	Busy       uint64            // busy rejections (also in Dropped[DropBackpressure])
	Hedged     uint64            // records a second worker signed because the first stalled
	Dropped    map[string]uint64 // by reason, every reason present
	QueueDepth int               // records linked and waiting for a worker to sign them now
	InFlight   int               // slots taken now: queued, signing, or waiting for durability (audit_queue_depth)
}

// Stats returns the emitter's counts.
func (e *Emitter) Stats() EmitterStats {
	// Each count is read after those that are raised later for the same
	// record: a record is offered before it ends, and counted busy before
	// it is dropped. Offered, read first, missed the calls that began and
	// were refused while the rest was read: more records ended than were
	// offered, and a host's Offered - Appended - Dedupe - Dropped wrapped.
	st := EmitterStats{Busy: e.n.busy.Load(), Dropped: make(map[string]uint64, numDropReasons)}
	for i, r := range dropReasons {
		st.Dropped[r] = e.n.drops[i].Load()
	}
	st.Appended, st.Dedupe, st.Hedged = e.n.appended.Load(), e.n.dedupe.Load(), e.n.hedged.Load()
	st.QueueDepth, st.InFlight = len(e.queue), e.opts.Depth-len(e.free)
	st.Offered = e.n.offered.Load()
	return st
}

// ReportVerifyFailure is for the host's verifiers (a periodic VerifyChain,
// VerifyDir, or export verification): a non-nil err is counted in
// audit_verify_fail_total by its Reason and makes Ready report the audit
// plane degraded from then on, since a chain that failed to verify stays
// suspect until someone looks. A verifier that could not read what it
// verifies (an I/O error reading the log or the files) has found nothing
// wrong with it: that error is not one to report here, where it would
// page as tampering (alert AuditVerifyFailures); log it (examples/host
// does both).
func (e *Emitter) ReportVerifyFailure(err error) {
	if err == nil {
		return
	}
	e.n.verifyFails.Add(1)
	if m := e.opts.Metrics; m != nil {
		m.VerifyFailed(err)
	}
}

// DegradedError is Ready's error: why the audit plane cannot be trusted to
// record what the host does. Hosts that fail closed stop serving on it.
// Each field set is one reason, and Error names them all: ObserverFailed,
// for instance, is a checkpoint.Keeper's Err, or a node.Node's (its
// Keeper's or its exporter's): "log observer failed (checkpoints or
// exports stopped): ...", set while records are still appended but the
// checkpoints or bundles that would show them cut or rewritten are not.
// SinkErrors counts every record dropped for a signer or store failure:
// those lost after acceptance (OnDrop; retries lost with their original
// included) and those refused to their caller because their chain or the
// log had failed, or the chain's key was retired. Close's ErrRecordsLost
// counts only those lost after acceptance, and the retries among them
// apart. The error fields are also reachable through errors.Is and
// errors.As on the DegradedError itself (Unwrap).
type DegradedError struct {
	Closed         bool    // the emitter is closed
	LogFailed      error   // the log stopped (a record could not be made durable)
	ObserverFailed error   // the log's Observer (a checkpoint.Keeper) failed: its FailureReporter.Err
	SinkErrors     uint64  // records dropped for signer or store failures: Stats.Dropped[DropSinkError]
	LastSinkError  error   // the last of them
	VerifyFailures uint64  // failures reported by ReportVerifyFailure
	ShedRate       float64 // share of offered records shed over the ready window (at most 1)
	ShedBudget     float64
}

func (e *DegradedError) Error() string {
	var why []string
	if e.Closed {
		why = append(why, "emitter closed")
	}
	if e.LogFailed != nil {
		why = append(why, "log failed: "+e.LogFailed.Error())
	}
	if e.ObserverFailed != nil {
		why = append(why, "log observer failed (checkpoints or exports stopped): "+e.ObserverFailed.Error())
	}
	if e.SinkErrors > 0 {
		// Dropped, not lost: SinkErrors holds the records refused to
		// their caller too (Close's ErrRecordsLost counts the lost).
		what := " records"
		if e.SinkErrors == 1 {
			what = " record"
		}
		s := strconv.FormatUint(e.SinkErrors, 10) + what + " dropped for sink errors"
		if e.LastSinkError != nil {
			s += " (last: " + e.LastSinkError.Error() + ")"
		}
		why = append(why, s)
	}
	if e.VerifyFailures > 0 {
		why = append(why, strconv.FormatUint(e.VerifyFailures, 10)+" verification failures")
	}
	if e.ShedRate > e.ShedBudget {
		why = append(why, fmt.Sprintf("shed %.2f%% of offered records, budget %.2f%%", 100*e.ShedRate, 100*e.ShedBudget))
	}
	return "sdk: audit plane degraded: " + strings.Join(why, "; ")
}

// Is matches ErrDegraded.
func (e *DegradedError) Is(target error) bool { return target == ErrDegraded }

// Unwrap returns the causes the error carries (LogFailed, ObserverFailed,
// LastSinkError, those set), so errors.Is and errors.As reach them through
// Ready's error itself: errors.Is(em.Ready(), node.ErrCheckpoint) or
// errors.Is(em.Ready(), ErrSign) without reading the fields. The other
// reasons (Closed, VerifyFailures, ShedRate) are counts, not errors.
func (e *DegradedError) Unwrap() []error {
	var causes []error
	for _, err := range []error{e.LogFailed, e.ObserverFailed, e.LastSinkError} {
		if err != nil {
			causes = append(causes, err)
		}
	}
	return causes
}

type shedSample struct {
	at            time.Time
	offered, shed uint64
}

// Ready reports whether the audit plane is healthy: nil, or a
// *DegradedError when the emitter is closed, the log has failed, the log's
// Observer has failed (a FailureReporter, such as a checkpoint.Keeper that
// could not write a checkpoint: records are appended but no longer
// vouched for), a record was dropped for a sink error (SinkErrors), a
// verification failure was reported, or more than ShedBudget of the
// records offered over the last ReadyWindow were shed (measured between Ready calls, so call it
// from the readiness probe). Sink errors and verification failures stay
// until the emitter is replaced, an Observer's failure as long as its Err
// reports it (a Keeper's, until it is replaced): each means audit records
// or the evidence for them are missing or suspect.
func (e *Emitter) Ready() error {
	d := &DegradedError{ShedBudget: e.opts.ShedBudget, Closed: e.closed.Load(),
		SinkErrors: e.n.sinkErrors.Load(), VerifyFailures: e.n.verifyFails.Load()}
	if err := e.log.failure(); err != nil {
		d.LogFailed = err
	}
	if o, ok := e.log.cfg.Observer.(FailureReporter); ok {
		d.ObserverFailed = o.Err()
	}
	// The time and counters are read under the lock: a caller that read
	// them before another's later sample became the baseline would
	// subtract a larger count from a smaller one and wrap (a rate near 1,
	// degraded by mistake).
	// Shed is read before offered, as Stats reads them: a record is
	// offered before it is shed, so a call that begins and sheds between
	// the two reads is counted in offered only, or in neither. Read the
	// other way round it was shed but not offered, and a sample could
	// count more records shed than offered.
	e.health.Lock()
	now := time.Now()
	shed := e.n.drops[dropBackpressure].Load()
	offered := e.n.offered.Load()
	d.LastSinkError = e.sinkErr
	// Keep samples back to one just older than the window; the oldest is
	// the baseline.
	for len(e.windows) > 1 && now.Sub(e.windows[1].at) >= e.opts.ReadyWindow {
		e.windows = e.windows[1:]
	}
	base := shedSample{at: now}
	if len(e.windows) > 0 {
		base = e.windows[0]
	}
	if len(e.windows) == 0 || now.Sub(e.windows[len(e.windows)-1].at) >= e.opts.ReadyWindow/16 {
		e.windows = append(e.windows, shedSample{now, offered, shed}) // at most ~17 samples
	}
	e.health.Unlock()
	if n := offered - base.offered; n >= minShedSample {
		// A record offered before the baseline and shed after it (in
		// transit between the two when the baseline was read) is shed in
		// the window but not offered in it: the count shed may pass n by
		// the records in transit then, and a share is at most 1 (over it,
		// ShedBudget 1, which allows any share, reported degraded).
		d.ShedRate = float64(min(shed-base.shed, n)) / float64(n)
	}
	if d.Closed || d.LogFailed != nil || d.ObserverFailed != nil || d.SinkErrors > 0 || d.VerifyFailures > 0 || d.ShedRate > d.ShedBudget {
		return d
	}
	return nil
}
