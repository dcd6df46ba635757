package sdk

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// TestRetryOfReplayedRecordAfterLogFailure: the records a durable log
// replays when it opens are on disk, so once the log has failed a retry of
// one of them is acknowledged as a duplicate of it (Dedupe), not dropped;
// a new record is still refused. (An internal test: it fails the log the
// way Pending.Wait does when the WAL fails an fsync, which the WAL's own
// tests cover.)
func TestRetryOfReplayedRecordAfterLogFailure(t *testing.T) {
	l, rec, orig := reopenedWithOneRecord(t)
	defer l.Close()
	var mu sync.Mutex
	var acks []EmitAck
	e, err := NewEmitter(l, EmitterOptions{Workers: 1, Shed: ShedBlock,
		OnDurable: func(a EmitAck) { mu.Lock(); acks = append(acks, a); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	l.fail(fmt.Errorf("%w: w/s seq 2 is not durable: fsync: input/output error", ErrStore))
	if err := e.TryEmit(&rec); err != nil {
		t.Errorf("retry of replayed seq 1 after the log failed: %v, want accepted", err)
	}
	other := rec
	other.Attrs = []canonical.Attr{{Key: "n", Value: "2"}}
	if err := e.TryEmit(&other); !errors.Is(err, ErrStore) {
		t.Errorf("new record after the log failed: %v, want refused with ErrStore", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.Offered != 2 || st.Dedupe != 1 || st.Dropped[DropSinkError] != 1 || len(acks) != 1 ||
		!acks[0].Duplicate || acks[0].Seq != 1 || acks[0].Hash != orig.Head.Hash {
		t.Errorf("stats %+v, acks %+v: want the retry acknowledged as a duplicate of seq 1 %s and the new record dropped",
			st, acks, orig.Head.Hash)
	}
}

// TestAppendRetryOfReplayedRecordAfterLogFailure: Log.Append of a retry
// of a record the durable log replayed when it opened returns the
// original with Duplicate set once the log has failed, as the Emitter
// acknowledges it; a new record is still refused.
func TestAppendRetryOfReplayedRecordAfterLogFailure(t *testing.T) {
	l, rec, orig := reopenedWithOneRecord(t)
	defer l.Close()
	l.fail(fmt.Errorf("%w: w/s seq 2 is not durable: fsync: input/output error", ErrStore))
	a, err := l.Append(&rec)
	if err != nil || !a.Duplicate || a.Seq != 1 || a.Record.Hash != orig.Head.Hash {
		t.Errorf("Append of a retry of replayed seq 1 after the log failed: %+v, %v; want the original %s with Duplicate set",
			a, err, orig.Head.Hash)
	}
	other := rec
	other.Attrs = []canonical.Attr{{Key: "n", Value: "2"}}
	if _, err := l.Append(&other); !errors.Is(err, ErrStore) {
		t.Errorf("new record after the log failed: %v, want refused with ErrStore", err)
	}
}

// reopenedWithOneRecord appends rec to a new durable log, closes it and
// opens it again: orig is the record the reopened log replayed.
func reopenedWithOneRecord(t *testing.T) (l *Log, rec canonical.AuditRecord, orig Appended) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "wal")
	cfg := Config{Signer: newTestSigner(t)}
	rec = canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000,
		WriterID: "w", Stream: "s", Reason: "served", Attrs: []canonical.Attr{{Key: "n", Value: "1"}}}
	l, _, err := OpenDurable(dir, cfg, DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if orig, err = l.Append(&rec); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l, _, err = OpenDurable(dir, cfg, DurableOptions{}); err != nil {
		t.Fatal(err)
	}
	return l, rec, orig
}
