package export

import (
	"errors"
	"sync"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// Auto exports on the cadence of checkpoints: set its Checkpointed as a
// checkpoint.Keeper's OnCheckpoint, and every checkpoint the Keeper signs
// (every N records, every T, on Seal and Close) is followed by the bundle
// of the records since the chain's previous export. Exports run on one
// goroutine of their own, in order; the first failure stops them and is
// reported by Err and Close. Unless the Exporter has a NoteSigner, the
// bundles are signed with the Keeper's key, which follows Log.RotateKey.
type Auto struct {
	Exporter *Exporter
	Log      *sdk.Log           // where the records are read from (Log.Records)
	Keeper   *checkpoint.Keeper // whose trees the bundles are proved with
	// Prev returns the previous export of a chain when Auto first meets it
	// (e.g. from FileSink.Latest); nil means none.
	Prev func(writer, stream string) (*State, error)

	mu      sync.Mutex
	queue   []checkpoint.Checkpoint
	prev    map[string]*State
	running bool
	idle    *sync.Cond
	err     error
}

// Checkpointed queues the export up to cp. It never blocks the Keeper.
func (a *Auto) Checkpointed(cp checkpoint.Checkpoint, _ time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.idle == nil {
		a.idle = sync.NewCond(&a.mu)
		a.prev = map[string]*State{}
	}
	a.queue = append(a.queue, cp)
	if !a.running {
		a.running = true
		go a.run()
	}
}

func (a *Auto) run() {
	for {
		a.mu.Lock()
		if len(a.queue) == 0 || a.err != nil {
			a.queue = nil
			a.running = false
			a.idle.Broadcast()
			a.mu.Unlock()
			return
		}
		cp := a.queue[0]
		a.queue = a.queue[1:]
		a.mu.Unlock()
		if err := a.export(cp); err != nil && !errors.Is(err, ErrNothingToExport) {
			a.mu.Lock()
			if a.err == nil {
				a.err = err
			}
			a.mu.Unlock()
		}
	}
}

func (a *Auto) export(cp checkpoint.Checkpoint) error {
	key := cp.Origin
	a.mu.Lock()
	prev, seen := a.prev[key]
	a.mu.Unlock()
	if !seen && a.Prev != nil {
		p, err := a.Prev(cp.WriterID, cp.Stream)
		if err != nil {
			return err
		}
		prev = p
	}
	var from int64 = 1
	if prev != nil {
		from = prev.Size + 1
	}
	if cp.Size < from {
		return ErrNothingToExport
	}
	recs, err := a.Log.Records(cp.WriterID, cp.Stream, uint64(from), uint64(cp.Size))
	if err != nil {
		return err
	}
	ex := a.Exporter
	if ex.NoteSigner == nil {
		e := *ex
		e.Signer = a.Keeper.Signer() // the key in force, after a rotation too
		ex = &e
	}
	b, err := ex.ExportTree(a.Keeper.Tree(cp.WriterID, cp.Stream), cp.WriterID, cp.Stream, recs, prev)
	if err != nil {
		return err
	}
	st := b.State()
	a.mu.Lock()
	a.prev[key] = st
	a.mu.Unlock()
	return nil
}

// Err returns the first export failure.
func (a *Auto) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Close waits for the queued exports (call it after the Keeper's Close,
// whose final checkpoints it exports) and returns the first failure.
func (a *Auto) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.running {
		a.idle.Wait()
	}
	return a.err
}
