package sdk_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// heapGrowth returns how much the live heap grew across f.
func heapGrowth(f func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// TestTooLargeRecordKeepsNoMemory: a record over the size limit is
// refused without a trace, its encoding included. The bytes are encoded
// before their size is known, into the chain's record buffer (Append)
// or the slot's (Emitter), which then kept the refused record's size for
// good: one 20 MiB reason held 20 MiB per chain, and per emitter slot
// (Depth of them), after its ErrTooLarge.
func TestTooLargeRecordKeepsNoMemory(t *testing.T) {
	huge := strings.Repeat("r", 20<<20)
	l := coreLog(t, sdk.Config{})
	coreAppend(t, l, 1)
	grew := heapGrowth(func() {
		r := coreRecord(5)
		r.Reason = huge
		if _, err := l.Append(&r); !errors.Is(err, canonical.ErrTooLarge) {
			t.Fatalf("Append: %v, want ErrTooLarge", err)
		}
	})
	if grew > 1<<20 {
		t.Errorf("Append: the heap grew by %d bytes after a refused record of 20 MiB", grew)
	}
	e := newEmitter(t, l, sdk.EmitterOptions{Workers: 1, Depth: 4, Shed: sdk.ShedBlock})
	grew = heapGrowth(func() {
		for range 4 {
			r := coreRecord(6)
			r.Reason = huge
			if err := e.Emit(context.Background(), &r); !errors.Is(err, canonical.ErrTooLarge) {
				t.Fatalf("Emit: %v, want ErrTooLarge", err)
			}
		}
	})
	if grew > 1<<20 {
		t.Errorf("Emitter: the heap grew by %d bytes after 4 refused records of 20 MiB", grew)
	}
	runtime.KeepAlive(l)
	runtime.KeepAlive(e)
}
