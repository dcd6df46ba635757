package sdk_test

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// A durable log's WAL.OnFsync hook (the host's metrics callback) that
// panicked in Close's fsync of the WAL killed the process: the WAL's
// commit ran the hook without its mutex, which the WAL's Close then
// unlocked again ("fatal error: sync: unlock of unlocked mutex", beyond
// recover). The panic must reach Close's caller, and the next Close
// finish the close: the log reopens with every record, none twice.
func TestDurableOnFsyncPanicInClose(t *testing.T) {
	const writer, stream = "svc-gateway@inst-1", "reads"
	dir := filepath.Join(t.TempDir(), "wal")
	var calls, at atomic.Int64
	hook := func(time.Duration, int) {
		if calls.Add(1) == at.Load() {
			panic("OnFsync panicked (test)")
		}
	}
	signer := coreSigner(t)
	// FsyncNever: the records wait for Close's fsync, on Close's
	// goroutine (a panic on the WAL's own FsyncBatch syncer cannot be
	// recovered by anyone).
	wopts := wal.Options{Fsync: wal.FsyncNever, AllowNoFsync: true, OnFsync: hook}
	l, _ := durableOpen(t, dir, sdk.Config{Signer: signer}, sdk.DurableOptions{WAL: wopts})
	coreAppend(t, l, 3)
	at.Store(calls.Load() + 1)
	if v := recovered(func() { _ = l.Close() }); v == nil {
		t.Fatal("Close with an OnFsync hook panicking did not panic: the panic must reach the caller")
	}
	noHang(t, "Close after the Close that panicked", func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close again: %v, want nil (the close finished)", err)
		}
	})
	l2, rec, err := sdk.OpenDurable(dir, sdk.Config{Signer: signer}, sdk.DurableOptions{})
	if err != nil {
		t.Fatalf("OpenDurable after the second Close returned: %v (the WAL was never closed)", err)
	}
	defer l2.Close()
	if rec.Records != 3 || len(rec.Heads) != 1 || rec.Heads[0].Seq != 3 {
		t.Errorf("reopened: %+v; want 3 records, head seq 3", rec)
	}
	if res, err := coreVerify(t, l2, writer, stream, sdk.VerifyOptions{}); err != nil || res.Records != 3 {
		t.Errorf("VerifyChain after reopening: %+v, %v; want 3 records", res, err)
	}
}
