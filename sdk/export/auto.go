package export

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/nilptr"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// Auto exports on the cadence of checkpoints: set its Checkpointed as a
// checkpoint.Keeper's OnCheckpoint, and every checkpoint the Keeper signs
// (every N records, every T, on Seal and Close) is followed by the bundle
// of the records since the chain's previous export. Exports run on one
// goroutine of their own, in order; the first failure stops them and is
// reported by Err and Close (so is an export that never returns because
// Prev, the Sink or a hook ended the goroutine with runtime.Goexit, as
// t.Fatal in a test's fake does: Close does not wait for it). Unless the
// Exporter has a NoteSigner, each bundle is signed with the Keeper's key
// in force in its chain at its size (Keeper.SignerAt), which follows
// Log.RotateKey: the old key up to the chain's transition, the new one
// after, so that a sequence of bundles verifies with the chain's first
// key however the exports and the rotation interleave (the Exporter's
// Signer is not used). A checkpoint up to a transition that only a key
// the Keeper was not given may sign (a log reopened with the new key
// catching up) is skipped: the chain's next checkpoint carries its
// records.
//
// Package sdk/node's node.Open does all of this wiring (and the metrics,
// Tick's ticker, and an Observer whose Err reports the Auto's failure):
// it is what a host uses. By hand: the Keeper has one OnCheckpoint, so a
// host that also counts checkpoints (metrics.Metrics.OnCheckpoint) calls
// both from a func of its own. The
// Keeper is made before the Log and the Log before Start, so the order is:
// make the Auto (Exporter, Prev), NewKeeper with that OnCheckpoint,
// sdk.OpenDurable with the Keeper as Observer, set Log and Keeper, Start;
// and Close the Log, then the Keeper, then the Auto.
//
// Call Start once Log and Keeper are set (Start refuses a nil Log,
// Keeper, Exporter or Exporter.Sink with sdk.ErrConfig). sdk.OpenDurable's
// replay may already make the Keeper checkpoint (what a crash left
// unvouched), before the Log exists: those checkpoints wait for Start.
type Auto struct {
	Exporter *Exporter
	Log      *sdk.Log           // where the records are read from (Log.Records)
	Keeper   *checkpoint.Keeper // whose trees the bundles are proved with
	// Prev returns the previous export of a chain (FileSink.Prev of the
	// Exporter's FileSink is one); nil means none. Auto asks before every export,
	// so a bundle another exporter wrote there since (ronaudit export) is
	// followed, not overlapped. A previous export the chain's log does
	// not extend (another chain's bundle copied into its directory, a
	// bundle of records the log no longer holds) is the failure that
	// stops the exports (an *Error of ReasonTruncated or ReasonFork),
	// even when it ends at or past the checkpoint being exported: taken
	// for nothing left to export, it would stop the chain's exports
	// without one. So is one whose checkpoint's signature by the key
	// the Keeper had in force at its size fails (ReasonBadCheckpoint),
	// or whose signature line is that key's with its key name or key hash
	// damaged (checkpoint.OpenOwn): every bundle continuing from it would
	// fail. Without Prev, Auto
	// starts each chain at seq 1 and follows only its own bundles.
	Prev func(writer, stream string) (*State, error)
	// OnFailure, if set, is called with the failure that stops the
	// exports (the one Err returns), from the export goroutine (or, for
	// a field Start refuses, from Start)
	// (audit_export_fail_total{stage="bundle"}), before Close returns. It
	// must not call Close: Close waits for the export goroutine, and so
	// for OnFailure, which would wait forever. The Auto's failure is not
	// the Log's Observer's, so sdk.Emitter.Ready does not see it: alert on
	// the metric, or give the Log an Observer whose Err also returns the
	// Auto's (see sdk.FailureReporter), as node.Open (sdk/node) does.
	OnFailure func(err error)

	mu      sync.Mutex
	queue   []checkpoint.Checkpoint
	prev    map[string]*State
	started bool
	running bool
	closed  bool // Close was called: Checkpointed and Start do nothing
	idle    *sync.Cond
	err     error
}

// ErrNotStarted is Close's error when checkpoints were queued but Start
// was never called: their bundles were not written.
var ErrNotStarted = errors.New("export: Auto closed before Start: checkpoints not exported")

func (a *Auto) init() {
	if a.idle == nil {
		a.idle = sync.NewCond(&a.mu)
		a.prev = map[string]*State{}
	}
}

// Checkpointed queues the export up to cp. It never blocks the Keeper.
//
// After Close it does nothing: Close has returned, so no one would wait
// for the export goroutine it would start, nor see its failure. Close
// the Keeper before the Auto (its Close makes the final checkpoints);
// a checkpoint the Keeper makes after Auto.Close is not exported by this
// Auto (the next one's Start catches up with it, given Prev).
func (a *Auto) Checkpointed(cp checkpoint.Checkpoint, _ time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	if a.closed || a.err != nil {
		return // after a failure nothing more is exported: queue nothing
	}
	a.queue = append(a.queue, cp)
	a.kick()
}

// Start lets the exports run, the queued ones first. Log, Keeper and the
// other fields must be set before, and not changed after. A nil Log,
// Keeper, Exporter or Exporter.Sink (or a nil pointer as the Sink or
// NoteSigner) is refused: Start returns
// sdk.ErrConfig naming the field, and that is the Auto's failure (Err,
// Close and OnFailure report it; no export runs), so that a host which
// drops Start's error still sees it. The field is the host's mistake,
// not one of an export: unchecked, it was a nil-pointer panic on the
// export goroutine at the first checkpoint, which no caller can recover
// and which ends the process.
//
// With Prev set, Start first catches up with the Keeper: it queues the
// newest checkpoint of every chain the Keeper holds (Keeper.Newest) that
// has none queued, so a bundle a crash kept from being written after its
// checkpoint is written now, not only once the chain's next checkpoint
// comes (never, for a chain that gets no more records). A chain whose
// export is already there gets nothing. Without Prev, Auto cannot know
// what was exported before it started, and Start queues nothing.
//
// After Close, Start does nothing (as Checkpointed) and returns nil.
func (a *Auto) Start() error {
	if err := a.configured(); err != nil {
		a.mu.Lock()
		a.init()
		if a.closed {
			a.mu.Unlock()
			return nil
		}
		first := a.err == nil // OnFailure hears of the Auto's failure once
		if first {
			a.err = err
		}
		a.queue = nil
		a.mu.Unlock()
		if first && a.OnFailure != nil {
			a.OnFailure(err)
		}
		return err
	}
	var newest []checkpoint.Checkpoint
	if a.Prev != nil {
		newest = a.Keeper.Newest() // before a.mu: the Keeper calls Checkpointed holding its own locks
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	if a.closed {
		return nil
	}
	queued := map[string]bool{}
	for _, cp := range a.queue {
		queued[cp.Origin] = true
	}
	var catchUp []checkpoint.Checkpoint
	for _, cp := range newest {
		if !queued[cp.Origin] {
			catchUp = append(catchUp, cp)
		}
	}
	a.queue = append(catchUp, a.queue...)
	a.started = true
	a.kick()
	return nil
}

// configured refuses an Auto missing a field every export uses.
// Exporter.Signer is not one: Auto signs with the Keeper's key.
func (a *Auto) configured() error {
	var missing string
	switch {
	case a.Log == nil:
		missing = "Auto.Log"
	case a.Keeper == nil:
		missing = "Auto.Keeper"
	case a.Exporter == nil:
		missing = "Auto.Exporter"
	case a.Exporter.Sink == nil:
		missing = "Auto.Exporter.Sink"
	case nilptr.Is(a.Exporter.Sink):
		return fmt.Errorf("export: %w: Auto.Start: Auto.Exporter.Sink is a nil %T", sdk.ErrConfig, a.Exporter.Sink)
	case a.Exporter.NoteSigner != nil && nilptr.Is(a.Exporter.NoteSigner):
		return fmt.Errorf("export: %w: Auto.Start: Auto.Exporter.NoteSigner is a nil %T", sdk.ErrConfig, a.Exporter.NoteSigner)
	default:
		return nil
	}
	return fmt.Errorf("export: %w: Auto.Start: %s is nil (set it before Start)", sdk.ErrConfig, missing)
}

// kick starts the export goroutine if there is work and none runs; a.mu
// is held.
func (a *Auto) kick() {
	if a.started && !a.running && len(a.queue) > 0 {
		a.running = true
		go a.run()
	}
}

func (a *Auto) run() {
	var cp checkpoint.Checkpoint
	returned := false
	defer func() {
		if returned {
			return
		}
		// Prev, the Sink, the signer or a hook ended the goroutine without
		// returning: runtime.Goexit (t.Fatal in a test's fake), or a panic,
		// which goes on to end the program. Close must not wait for it
		// forever, and no export may follow one that did not finish.
		a.mu.Lock()
		if a.err == nil {
			a.err = fmt.Errorf("export: auto %s: the export up to seq %d did not return (runtime.Goexit or a panic in Prev, the Sink, the signer or a hook)", cp.Origin, cp.Size)
		}
		a.queue = nil
		a.running = false
		a.idle.Broadcast()
		a.mu.Unlock()
	}()
	for {
		a.mu.Lock()
		if len(a.queue) == 0 || a.err != nil {
			a.queue = nil
			a.running = false
			a.idle.Broadcast()
			a.mu.Unlock()
			returned = true
			return
		}
		cp = a.queue[0]
		a.queue = a.queue[1:]
		a.mu.Unlock()
		if err := a.export(cp); err != nil && !errors.Is(err, ErrNothingToExport) {
			a.mu.Lock()
			if a.err == nil {
				a.err = err
			}
			a.mu.Unlock()
			if a.OnFailure != nil {
				a.OnFailure(err)
			}
		}
	}
}

func (a *Auto) export(cp checkpoint.Checkpoint) error {
	// OnExport (export_batch_seconds) times the whole export, as Export
	// does: asking Prev and reading the records too, not only
	// ExportTree's signing and writing. A slow read (the records no
	// longer in the Log's cache) must show in it.
	start := time.Now()
	key := cp.Origin
	a.mu.Lock()
	prev := a.prev[key]
	a.mu.Unlock()
	if a.Prev != nil {
		p, err := a.Prev(cp.WriterID, cp.Stream)
		if err != nil {
			return fmt.Errorf("export: auto %s: previous export, before exporting up to seq %d: %w", cp.Origin, cp.Size, err)
		}
		prev = p
	}
	if err := a.prevSigned(cp, prev); err != nil {
		return err
	}
	var from int64 = 1
	if prev != nil {
		from = prev.Size + 1
	}
	if cp.Size < from {
		// Exported up to cp already, or further (ronaudit export ran
		// ahead): the chain's next checkpoint past prev carries the
		// export. Unless prev is no export of this log's chain (another
		// chain's bundle copied into its directory, one of a log rolled
		// back since): then no later checkpoint could follow it either,
		// and taking every one for nothing to export would stop the
		// chain's exports without a failure.
		if prev == nil {
			return ErrNothingToExport
		}
		if err := extendsPrev(a.Keeper.Tree(cp.WriterID, cp.Stream), cp.Origin, prev.Size, prev.Note); err != nil {
			return fmt.Errorf("export: auto %s: previous export, of seqs up to %d, before exporting up to seq %d: %w", cp.Origin, prev.Size, cp.Size, err)
		}
		return ErrNothingToExport
	}
	recs, err := a.Log.Records(cp.WriterID, cp.Stream, uint64(from), uint64(cp.Size))
	if err != nil {
		return fmt.Errorf("export: auto %s: reading records %d..%d: %w", cp.Origin, from, cp.Size, err)
	}
	ex := a.Exporter
	if ex.NoteSigner == nil {
		// The key in force in the chain at cp.Size, which signed the
		// Keeper's checkpoint: the new one past a transition, the old one
		// up to it (a checkpoint queued before a rotation is exported
		// after it), so that the bundle verifies with the chain's first key.
		signer := a.Keeper.SignerAt(cp.WriterID, cp.Stream, cp.Size)
		if signer == nil {
			// A checkpoint up to a transition, read from the history of a
			// log opened with the new key: only the retired key may sign
			// its bundle. The chain's next checkpoint carries the export.
			return fmt.Errorf("%w: auto %s: the key in force at seq %d is not the Keeper's", ErrNothingToExport, cp.Origin, cp.Size)
		}
		e := *ex
		e.Signer = signer
		ex = &e
	}
	if err := ex.configured(); err != nil {
		return err
	}
	b, err := ex.exportTree(start, a.Keeper.Tree(cp.WriterID, cp.Stream), cp.WriterID, cp.Stream, recs, prev)
	if err != nil {
		return err
	}
	st := b.State()
	a.mu.Lock()
	a.prev[key] = st
	a.mu.Unlock()
	return nil
}

// prevSigned checks the signature of the previous export's checkpoint,
// which the next bundle carries as its previous one: by the key in force
// in the chain at its size (Keeper.SignerAt), when the Keeper holds that
// key and the note bears a signature by it, or a signature line that is
// its own with the key name or key hash damaged (checkpoint.OpenOwn: one
// flipped byte there reads as a key nobody holds). A bundle damaged on
// disk (its checkpoint's signature or signature line) would otherwise be
// continued from, and every bundle after it would fail verification,
// while the exports went on without a failure. A checkpoint signed only
// by keys the Keeper does not hold (a NoteSigner's, a retired key not
// given to it, a stranger's) is left to the verifier, as the Keeper
// leaves its own history's.
func (a *Auto) prevSigned(cp checkpoint.Checkpoint, prev *State) error {
	if prev == nil || prev.Size <= 0 {
		return nil
	}
	signer := a.Keeper.SignerAt(cp.WriterID, cp.Stream, prev.Size)
	if signer == nil {
		return nil
	}
	_, err := checkpoint.OpenOwn(prev.Note, signer.Public(), cp.WriterID)
	if err == nil || errors.Is(err, checkpoint.ErrUnknownKey) {
		return nil
	}
	return &Error{Origin: cp.Origin, Reason: ReasonBadCheckpoint, Seq: uint64(prev.Size),
		Detail: fmt.Sprintf("the previous export's checkpoint, of size %d, before exporting up to seq %d", prev.Size, cp.Size), Err: err}
}

// Err returns the first export failure. A failure of Prev, of
// Log.Records or of the signer is wrapped (errors.Is and errors.As reach
// it) with the chain's origin and the seqs being exported, one of the
// Sink with the bundle's name.
func (a *Auto) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Close waits for the queued exports (call it after the Keeper's Close,
// whose final checkpoints it exports) and returns the first failure, or
// ErrNotStarted when checkpoints wait for a Start that never came. After
// it, Checkpointed and Start do nothing, so no export runs that no one
// waits for; a second Close returns what the first did.
func (a *Auto) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	for a.running { // exports queued while it waits are waited for too
		a.idle.Wait()
	}
	a.closed = true
	if a.err == nil && !a.started && len(a.queue) > 0 {
		return fmt.Errorf("%w (%d)", ErrNotStarted, len(a.queue))
	}
	return a.err
}
