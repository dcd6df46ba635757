// Package node opens a durable audit log wired the way the docs
// recommend (a Macronode): an sdk.OpenDurable log whose
// checkpoint.Keeper, its Observer, keeps signed checkpoints of every
// chain in DIR/checkpoints (where ronaudit verify DIR and
// checkpoint.VerifyDir read them), optionally an export.Auto writing the
// bundle of each chain's new records to an export.FileSink after every
// checkpoint, a ticker that calls Keeper.Tick so that a chain gone quiet
// is checkpointed within about the Keeper's Interval, and the metrics
// hooks of an sdk/metrics.Metrics.
//
// One call opens it all, in the order the parts need (the Auto before
// the Keeper whose OnCheckpoint feeds it, the Keeper before the Log that
// replays through it, the Auto started once the Log is open), and one
// call closes it all, in the order that loses nothing:
//
//	n, rec, err := node.Open(dir, signer, node.Options{ExportDir: exports, Metrics: m})
//	em, err := sdk.NewEmitter(n.Log(), sdk.EmitterOptions{Metrics: m})
//	...
//	err = em.Close(ctx) // the host's Emitter first: it appends to the log
//	err = n.Close()     // then the log, the Keeper (last checkpoints), the exports (their bundles)
//
// The Log's Observer is the Keeper wrapped so that its Err (the
// sdk.FailureReporter that sdk.Emitter.Ready asks) is the Node's: a
// Keeper that fails to write a checkpoint and an exporter that stopped
// both make Ready report the audit plane degraded (DegradedError's
// ObserverFailed), which a bare Auto beside the Keeper does not.
//
// Offline, an auditor holding only the public key checks what a Node left
// in one call:
//
//	sum, err := node.VerifyDir(dir, exports, pubs, checkpoint.DirOptions{})
//
// It verifies the log with the checkpoints kept in DIR/checkpoints
// (checkpoint.VerifyDir) and each chain's bundles under the export
// directory against the chain's newest kept checkpoint, so that a
// deleted last bundle, a chain's bundles deleted, records of the log in
// no bundle, or bundles of records the log does not hold fail (see
// VerifyDir for which error says which); ronaudit verify DIR --exports
// EXPORTDIR runs it from the command line.
package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
	"github.com/rustyonions/ron-audit-go/internal/nilptr"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Options are what a host sets of a Node; the zero Options is a durable
// log with every record signed, group-commit fsync, a checkpoint of each
// chain every checkpoint.DefaultEvery records, every
// checkpoint.DefaultInterval and at Close, and no exports.
type Options struct {
	// SealEvery and DedupeWindow are the sdk.Config fields of the same
	// names. With SealEvery > 1 the Keeper's checkpoints are the seals
	// (no record is signed): set Every to the same N for one every N
	// records (see sdk.Config.SealEvery).
	SealEvery    int
	DedupeWindow int
	// Durable is passed to sdk.OpenDurable: the WAL's fsync policy and
	// OnFsync hook, the keys of earlier signers (Keys), CacheBytes.
	Durable sdk.DurableOptions
	// Every and Interval are the Keeper's cadence
	// (checkpoint.KeeperOptions): 0 means checkpoint.DefaultEvery and
	// checkpoint.DefaultInterval; a negative Interval turns the time
	// trigger, and the Node's ticker, off.
	Every    int64
	Interval time.Duration
	// ExportDir, if set, is where an export.Auto writes, through an
	// export.FileSink, the bundle of each chain's new records after every
	// checkpoint, each signed with the Keeper's key. A restart continues
	// after the newest bundle there; one the log does not extend, or
	// whose checkpoint's signature fails, stops the exports (ErrExport:
	// see export.Auto's Prev). Open creates it (0700) if it is not
	// there, so that VerifyDir finds it before the first bundle. "": no
	// exports.
	ExportDir string
	// Metrics, if set, counts checkpoints (audit_export_checkpoints_total),
	// exports (export_batch_seconds), their failures
	// (audit_export_fail_total{stage}) and the WAL's fsyncs
	// (wal_fsync_seconds; besides Durable.WAL.OnFsync, if set: so that
	// hook must not be these Metrics' OnFsync too, as a host wiring by
	// hand sets it, or every fsync is observed twice).
	Metrics *metrics.Metrics
	// OnFailure, if set, is called with every failure of the Keeper to
	// write a checkpoint (it matches ErrCheckpoint) and with the failure
	// that stops the exports (it matches ErrExport), after Metrics counts
	// it. It is called where the Keeper's OnFailure and the Auto's are,
	// under the Keeper's and possibly the Log's locks: it must return
	// quickly and call neither the Node nor its Log (print or log it).
	OnFailure func(err error)
}

// ErrCheckpoint matches a failure of the Node's Keeper, ErrExport one of
// its exporter, as Err, OnFailure and Close return them.
var (
	ErrCheckpoint = errors.New("node: audit checkpoints failed")
	ErrExport     = errors.New("node: audit export stopped")
)

// partError is a failure of one part of the Node: its message says
// which (and what: "audit checkpoint failed", or at Close "audit
// checkpoints"), and it matches both the part's sentinel and the
// failure.
type partError struct {
	part error
	what string
	err  error
}

func (e *partError) Error() string   { return e.what + ": " + e.err.Error() }
func (e *partError) Unwrap() []error { return []error{e.part, e.err} }

// checkpointFailed and exportStopped are the errors Err and OnFailure
// report; Close names the part it closed instead.
func checkpointFailed(err error) error {
	return &partError{ErrCheckpoint, "audit checkpoint failed", err}
}
func exportStopped(err error) error { return &partError{ErrExport, "audit export stopped", err} }

// Node is a durable log with its Keeper and, with Options.ExportDir, its
// exporter; see the package doc. Its methods are safe for concurrent
// use.
type Node struct {
	log    *sdk.Log
	keeper *checkpoint.Keeper
	auto   *export.Auto     // nil without ExportDir
	sink   *export.FileSink // the Auto's; nil without ExportDir
	onFail func(error)
	signer sdk.Signer // the Log's at Open (Close's barrier on rotations)

	mu    sync.Mutex
	first error // the first failure, as Err returns it

	stopTick chan struct{} // closed by Close; nil without a ticker
	tickDone chan struct{} // closed when the ticker's goroutine has returned
	// closeMu is held by the Close doing the work, one at a time.
	// closeStep is the next part to close (-1 once all are), closeErrs
	// what the parts closed so far returned. Not a sync.Once, which
	// counts a panic as done: a Close that panicked part way (the host's
	// Signer in the Keeper's last checkpoints, say) left a later Close
	// returning nil, the Keeper's checkpoints and the exports' bundles
	// never written.
	closeMu   sync.Mutex
	closeStep int
	closeErrs []error
	closeErr  error // the whole close's, once every part is closed
}

// observer is the Log's Observer: the Keeper (every interface it
// implements: sdk.Sealer, sdk.KeyFollower, sdk.RetireObserver,
// sdk.ReplayChecker), but for Err, which is the Node's, so that
// sdk.Emitter.Ready sees the exporter's failure too.
type observer struct {
	*checkpoint.Keeper
	n *Node
}

// Err implements sdk.FailureReporter: Node.Err.
func (o observer) Err() error { return o.n.Err() }

var (
	_ sdk.FailureReporter = observer{}
	_ sdk.Sealer          = observer{}
	_ sdk.KeyFollower     = observer{}
	_ sdk.ChainFollower   = observer{}
	_ sdk.RetireObserver  = observer{}
	_ sdk.ReplayChecker   = observer{}
)

// Open opens (or creates) the durable log in dir with signer, its Keeper
// keeping checkpoints in dir/checkpoints, and with opts.ExportDir an
// exporter, and starts the Keeper's ticker. The Recovery is
// sdk.OpenDurable's: what opening found (records replayed and verified, a
// torn tail cut). A dir/checkpoints that is there but cannot be read is
// refused (checkpoint.KeptDir's *checkpoint.DirError): a Keeper finding
// no history there would sign a log cut since. Open fails as
// sdk.OpenDurable does (a *sdk.DurableError for damage, a
// *checkpoint.Error for a log that lost or rewrote records the Keeper
// vouched for, the WAL's *wal.Error for a directory it refuses:
// wal.ErrDirPermissions for one group or others can access, wal.ErrLocked
// for one another Log holds, wal.ErrConfig for one that holds other files
// and no log), and with sdk.ErrConfig for a nil signer (or a nil
// pointer) and for a dir that is a file (wrapping syscall.ENOTDIR). A
// dir/checkpoints the
// Keeper cannot create otherwise (permissions, say) is the Keeper's
// *checkpoint.Error of checkpoint.ReasonSign (as a checkpoint it cannot
// write), wrapping the file system's error. On failure nothing is
// left running, and the directories Open created for the Keeper (dir,
// dir/checkpoints) are removed again while empty: a refused Open leaves
// dir as it found it. An opts.ExportDir that can never be made (a file
// in its place or in a parent's) is sdk.ErrConfig, before dir is
// touched; one Open still cannot make (permissions, say) fails once the
// log is open, and it is closed again, so a dir that was new or empty is
// left holding a new, empty log.
func Open(dir string, signer sdk.Signer, opts Options) (*Node, sdk.Recovery, error) {
	if signer == nil {
		return nil, sdk.Recovery{}, fmt.Errorf("%w: node.Open %s: no signer", sdk.ErrConfig, dir)
	}
	if nilptr.Is(signer) { // LoadSigner's result with its error dropped
		return nil, sdk.Recovery{}, fmt.Errorf("%w: node.Open %s: the signer is a nil %T", sdk.ErrConfig, dir, signer)
	}
	// A dir that is there and no directory (a wrong path) is refused
	// here, naming it: the Keeper, made first, would fail creating
	// dir/checkpoints and say "checkpoint: sign: creating the checkpoint
	// directory", as if a checkpoint had failed.
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, sdk.Recovery{}, fmt.Errorf("%w: node.Open %s: %w (mode %s): a log is a directory, new, empty or a log's", sdk.ErrConfig, dir, syscall.ENOTDIR, fi.Mode())
	}
	if _, err := checkpoint.KeptDir(dir); err != nil {
		return nil, sdk.Recovery{}, err
	}
	if opts.ExportDir != "" {
		if err := exportDirMakeable(dir, opts.ExportDir); err != nil {
			return nil, sdk.Recovery{}, err
		}
	}
	n := &Node{onFail: opts.OnFailure, signer: signer}
	m := opts.Metrics
	kopts := checkpoint.KeeperOptions{
		Every:    opts.Every,
		Interval: opts.Interval,
		OnFailure: func(err error) {
			if m != nil {
				m.OnCheckpointFailure(err)
			}
			n.failed(checkpointFailed(err))
		},
	}
	if opts.ExportDir != "" {
		sink := &export.FileSink{Dir: opts.ExportDir}
		n.sink = sink
		ex := &export.Exporter{Sink: sink} // no Signer: Auto signs with the Keeper's key
		if m != nil {
			ex.OnExport = m.OnExport
		}
		n.auto = &export.Auto{Exporter: ex, Prev: sink.Prev, OnFailure: func(err error) {
			if m != nil {
				m.OnExportFailure(err)
			}
			n.failed(exportStopped(err))
		}}
	}
	if m != nil || n.auto != nil {
		kopts.OnCheckpoint = func(cp checkpoint.Checkpoint, took time.Duration) {
			if m != nil {
				m.OnCheckpoint(cp, took)
			}
			if n.auto != nil {
				n.auto.Checkpointed(cp, took) // queues the bundle; never blocks
			}
		}
	}
	// NewKeeper creates dir/checkpoints (and dir, if missing) before the
	// WAL can refuse dir: a refused Open removes what it created.
	cpDir := filepath.Join(dir, "checkpoints")
	created := missingDirs(cpDir)
	keeper, err := checkpoint.NewKeeper(cpDir, signer, kopts)
	if err != nil {
		removeEmpty(created)
		return nil, sdk.Recovery{}, err
	}
	n.keeper = keeper
	dopts := opts.Durable
	if m != nil {
		if f := dopts.WAL.OnFsync; f != nil {
			dopts.WAL.OnFsync = func(d time.Duration, frames int) { m.OnFsync(d, frames); f(d, frames) }
		} else {
			dopts.WAL.OnFsync = m.OnFsync
		}
	}
	cfg := sdk.Config{Signer: signer, SealEvery: opts.SealEvery, DedupeWindow: opts.DedupeWindow,
		Observer: observer{keeper, n}}
	log, rec, err := sdk.OpenDurable(dir, cfg, dopts)
	if err != nil {
		// The Keeper is not closed: it would checkpoint a log refused.
		// The Auto was never started: no goroutine runs. A directory
		// another Log holds is that Log's, its checkpoints too, however
		// new.
		if !errors.Is(err, wal.ErrLocked) {
			removeEmpty(created)
		}
		return nil, rec, err
	}
	n.log = log
	if opts.ExportDir != "" {
		// Made here, not at the first bundle: VerifyDir refuses an export
		// directory that is not there (a mistyped path), and a Node closed
		// before its first checkpoint has exported nothing, into one that is.
		if err := fsutil.MkdirAll(opts.ExportDir); err != nil {
			return nil, rec, errors.Join(fmt.Errorf("node.Open %s: the export directory: %w", dir, err), log.Close(), keeper.Close())
		}
	}
	if n.auto != nil {
		n.auto.Log, n.auto.Keeper = log, keeper
		// Exports what the replay checkpointed, if anything. It refuses
		// only a field left nil, and every one is set above.
		if err := n.auto.Start(); err != nil {
			return nil, rec, errors.Join(fmt.Errorf("node.Open %s: %w", dir, err), log.Close(), keeper.Close())
		}
	}
	interval := opts.Interval
	if interval == 0 {
		interval = checkpoint.DefaultInterval
	}
	if interval > 0 {
		n.stopTick, n.tickDone = make(chan struct{}), make(chan struct{})
		go n.tick(max(interval/8, time.Nanosecond)) // a ticker's period must be > 0
	}
	return n, rec, nil
}

// exportDirMakeable refuses, before Open touches dir, an export directory
// that can never be made: a file in its place or in that of a parent.
// Open makes it only once the log is open (a new log's directory may hold
// nothing else when the WAL first opens it, and the export directory may
// be inside it), and a failure there leaves a new log behind.
func exportDirMakeable(dir, exportDir string) error {
	for d := filepath.Clean(exportDir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		switch {
		case err == nil && fi.IsDir():
			return nil
		case err == nil:
			return fmt.Errorf("%w: node.Open %s: the export directory %s: %s is not a directory", sdk.ErrConfig, dir, exportDir, d)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: node.Open %s: the export directory %s: %w", sdk.ErrConfig, dir, exportDir, err)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// missingDirs returns path and those of its parents that do not exist,
// innermost first: the directories fsutil.MkdirAll would create.
func missingDirs(path string) []string {
	var missing []string
	for d := filepath.Clean(path); ; {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			return missing // there (a link to nowhere too), or not ours to judge
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			return missing
		}
		d = parent
	}
}

// removeEmpty removes the directories of missingDirs, innermost first,
// as long as each is empty: one that holds something (checkpoints a
// replay came due for, written before Open failed) stays, and with it
// its parents.
func removeEmpty(dirs []string) {
	for _, d := range dirs {
		// Only a directory: os.Remove would remove a file put there since.
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || os.Remove(d) != nil {
			return
		}
	}
}

// tick calls the Keeper's Tick every period until Close: the tail of a
// chain that went quiet is checkpointed once its Interval has passed, not
// only when its next record comes. Tick's failure reaches Err and
// OnFailure through the Keeper's OnFailure.
func (n *Node) tick(period time.Duration) {
	defer close(n.tickDone)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-n.stopTick:
			return
		case <-t.C:
			_ = n.keeper.Tick()
		}
	}
}

// failed keeps err if it is the Node's first failure and reports it to
// OnFailure.
func (n *Node) failed(err error) {
	n.mu.Lock()
	if n.first == nil {
		n.first = err
	}
	n.mu.Unlock()
	if n.onFail != nil {
		n.onFail(err)
	}
}

// Log is the durable log: append to it, or hand it to sdk.NewEmitter.
// Close the Node, not the Log.
func (n *Node) Log() *sdk.Log { return n.log }

// Keeper is the Log's checkpoint.Keeper (its Newest, History,
// TempStats, ...). Close the Node, not the Keeper.
func (n *Node) Keeper() *checkpoint.Keeper { return n.keeper }

// ExportTempStats returns what the exporter's sweeps of its chain
// directories for stale temporary files found so far
// (export.FileSink.TempStats: a sink sweeps a chain's directory when it
// first writes a bundle there), as Keeper().TempStats does for the
// checkpoints, so that a host can say what was removed. It is zero
// without Options.ExportDir.
func (n *Node) ExportTempStats() export.TempStats {
	if n.sink == nil {
		return export.TempStats{}
	}
	return n.sink.TempStats()
}

// Err returns the Node's first failure, nil if none: a checkpoint the
// Keeper could not write (it matches ErrCheckpoint and wraps the Keeper's
// error) or the failure that stopped the exports (ErrExport, wrapping the
// Auto's). It stays, as the Keeper's does. It is the Log's Observer's
// Err, so sdk.Emitter.Ready reports it (DegradedError.ObserverFailed), and
// errors.Is(em.Ready(), ErrCheckpoint) or ErrExport is true.
func (n *Node) Err() error {
	n.mu.Lock()
	first := n.first
	n.mu.Unlock()
	if first != nil {
		return first
	}
	// Not (yet) reported through a hook: the part keeps its failure
	// before it calls the hook.
	if err := n.keeper.Err(); err != nil {
		return checkpointFailed(err)
	}
	if n.auto != nil {
		if err := n.auto.Err(); err != nil {
			return exportStopped(err)
		}
	}
	return nil
}

// Close stops the ticker, then closes the Log (every record it took is
// durable), waits for a RotateKey under way to hand the Keeper its new
// key, closes the Keeper (it checkpoints each chain up to its last
// record) and the exporter (it waits for the bundles of those
// checkpoints), each after what it reads, and returns their failures
// joined: the Log's as it is, the Keeper's first failure of the run as
// "audit checkpoints: " (ErrCheckpoint), the exporter's as "audit
// export: " (ErrExport). After a Log.RotateKey that failed part way (a
// transition's signature or store failed), the chains it reached, and
// those that began with the new key (while it ran, even if it wrote no
// transition, or since), are the new key's: the Keeper checkpoints them,
// and the exporter signs their bundles, with that key (the Log hands it
// over chain by chain, sdk.ChainFollower), the other chains with the old
// one, so Close leaves no record in no checkpoint; RotateKey to the same
// key again finishes the rotation. A checkpoint-sealed Log's Close beside
// a RotateKey seals every chain to its head, the Keeper holding the new
// key for the chains on it before that Close goes on. Close the host's
// sdk.Emitter before the Node: it appends to the Log. A second Close
// returns what the first did. If the host's code panics in Close
// (the Signer at the Keeper's last checkpoints, OnFailure, a hook of
// Options.Durable), the panic reaches the caller and the close is not
// done: the next Close goes on from the part that panicked (each part's
// Close finishes what a panic cut short) and returns the failures of the
// whole close.
func (n *Node) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.closeStep < 0 {
		return n.closeErr
	}
	steps := [...]func() error{
		func() error {
			if n.stopTick != nil {
				close(n.stopTick)
				<-n.tickDone
			}
			return nil
		},
		n.log.Close,
		func() error {
			// A RotateKey under way when the Log's Close began hands the
			// Keeper its new key (FollowKey) after that Close has returned
			// (it waits for the transitions, not for FollowKey, which may
			// call it). The Keeper has each chain on the new key by then
			// (FollowChain, which comes before the Log's Close goes on, so
			// that its seals reach every head), so what it checkpoints
			// does not hang on FollowKey; waiting for it still leaves the
			// Keeper, closed next, with the key the Log ended with, as
			// Keeper.Signer says. Rotations run one at a time, FollowKey
			// included, and one on a closed Log returns ErrClosed: this
			// returns once the one under way, if any, has handed the
			// Keeper its key. The Keeper's FollowKey never calls the Node.
			_, _ = n.log.RotateKey(n.signer)
			return nil
		},
		func() error {
			if err := n.keeper.Close(); err != nil {
				return &partError{ErrCheckpoint, "audit checkpoints", err}
			}
			return nil
		},
		func() error {
			if n.auto != nil {
				if err := n.auto.Close(); err != nil {
					return &partError{ErrExport, "audit export", err}
				}
			}
			return nil
		},
	}
	// A step that panics is not counted done: the next Close runs it again.
	for ; n.closeStep < len(steps); n.closeStep++ {
		if err := steps[n.closeStep](); err != nil {
			n.closeErrs = append(n.closeErrs, err)
		}
	}
	n.closeStep = -1                         // closed
	n.closeErr = errors.Join(n.closeErrs...) // one error, as every later Close returns it
	return n.closeErr
}
