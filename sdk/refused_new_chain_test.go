package sdk_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestRefusedRecordMakesNoChain: a record refused before it links (too
// large, invalid, a conflicting seq or prev) leaves the log as it was,
// for a chain the log has no record of too: no chain is made for it.
// One was, with its record buffer and dedupe window (84 KiB at the
// defaults) kept for good: bad records naming ever new streams (say, a
// stream taken from a request) grew the heap without bound.
func TestRefusedRecordMakesNoChain(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	cases := map[string]struct {
		mut  func(*canonical.AuditRecord)
		want error
	}{
		"bad utf8":  {func(r *canonical.AuditRecord) { r.Reason = "\xff" }, canonical.ErrInvalid},
		"too large": {func(r *canonical.AuditRecord) { r.Reason = strings.Repeat("r", 5000) }, canonical.ErrTooLarge},
		"attrs too large": {func(r *canonical.AuditRecord) {
			r.Attrs = []canonical.Attr{{Key: "k", Value: strings.Repeat("v", 2000)}}
		}, canonical.ErrTooLarge},
		"unknown kind":  {func(r *canonical.AuditRecord) { r.Kind = 99 }, canonical.ErrInvalid},
		"bad stream":    {func(r *canonical.AuditRecord) { r.Stream += "\x00" }, canonical.ErrInvalid},
		"seq conflict":  {func(r *canonical.AuditRecord) { r.Seq = 2 }, sdk.ErrChainConflict},
		"prev conflict": {func(r *canonical.AuditRecord) { r.Prev = make([]byte, 32); r.Prev[0] = 1 }, sdk.ErrChainConflict},
	}
	const n = 400
	for name, c := range cases {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			r := coreRecord(i)
			r.Stream = fmt.Sprintf("new-%s-%d", name, i)
			c.mut(&r)
			if _, err := l.Append(&r); !errors.Is(err, c.want) {
				t.Fatalf("%s: %v, want %v", name, err, c.want)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if grew := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n; grew > 1024 {
			t.Errorf("%s: the heap grew by %d bytes per refused record of a new chain", name, grew)
		}
	}
	if heads := l.Heads(); len(heads) != 0 {
		t.Fatalf("heads after refused records only: %+v", heads)
	}
	r := coreRecord(0)
	r.Stream = "new-bad utf8-0"
	if a, err := l.Append(&r); err != nil || a.Seq != 1 {
		t.Fatalf("first good record: %+v, %v", a, err)
	}
	runtime.KeepAlive(l)
}
