package sdk_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// chainNameCases are writer ids and streams around sdk.MaxChainName, in
// bytes of the escaped directory component a Keeper and a FileSink name
// the chain's directory with (e(name): an unreserved byte as itself, any
// other as %XX). A longer one cannot be a directory name (NAME_MAX, 255
// on Linux and macOS): its chain could never be checkpointed or
// exported, and a Keeper failing on it failed for every chain.
var chainNameCases = []struct {
	name    string
	escaped int // 0: accepted
}{
	{strings.Repeat("a", 255), 0},
	{strings.Repeat("a", 256), 256},
	{strings.Repeat("é", 42), 0},   // 84 bytes, 252 escaped
	{strings.Repeat("é", 43), 258}, // 86 bytes, 258 escaped
	{strings.Repeat("%", 85), 0},   // 255 escaped
	{strings.Repeat("%", 86), 258},
	{"..", 0}, // "%2E%2E" as a directory
}

// TestChainNameLimit: a record whose writerId or stream escapes to a
// directory name longer than sdk.MaxChainName is refused by Append, on a
// MemStore and on a durable log alike, with a *sdk.ChainNameError naming
// the field, its escaped length and the limit, before any state changes:
// no chain made, nothing appended, the record as it was. Such records
// were appended and acknowledged, and then the Keeper failed on every
// run and `ronaudit verify` exited 3 for the whole log.
func TestChainNameLimit(t *testing.T) {
	durable, _ := durableOpen(t, filepath.Join(t.TempDir(), "wal"), sdk.Config{}, sdk.DurableOptions{})
	defer durable.Close()
	logs := map[string]*sdk.Log{"mem": coreLog(t, sdk.Config{}), "durable": durable}
	for store, l := range logs {
		for i, c := range chainNameCases {
			for _, field := range []string{"writerId", "stream"} {
				r := coreRecord(i)
				if field == "writerId" {
					r.WriterID = c.name
				} else {
					r.Stream = c.name
				}
				before := l.Heads()
				a, err := l.Append(&r)
				if c.escaped == 0 {
					if err != nil || a.Seq != 1 {
						t.Errorf("%s: %s of %d bytes (%.8q...): %+v, %v", store, field, len(c.name), c.name, a, err)
					}
					continue
				}
				var ne *sdk.ChainNameError
				if !errors.Is(err, sdk.ErrChainName) || !errors.As(err, &ne) ||
					ne.Field != field || ne.Len != c.escaped || ne.Limit != sdk.MaxChainName {
					t.Fatalf("%s: %s of %d bytes escaping to %d: %v (%+v)", store, field, len(c.name), c.escaped, err, ne)
				}
				for _, want := range []string{field, "255", "escaped"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s: error %q does not say %q", store, err, want)
					}
				}
				if r.Seq != 0 || r.Prev != nil || r.TsMs != coreRecord(i).TsMs {
					t.Errorf("%s: the refused record was changed: seq %d prev %x ts %d", store, r.Seq, r.Prev, r.TsMs)
				}
				if after := l.Heads(); len(after) != len(before) {
					t.Errorf("%s: a refused record made a chain: %d heads, then %d", store, len(before), len(after))
				}
				if _, ok := l.Head(r.WriterID, r.Stream); ok {
					t.Errorf("%s: the refused record reached its chain", store)
				}
			}
		}
	}
}

// TestEmitterChainNameLimit: the Emitter refuses such a record too, at
// once, counted as bounds_exceeded (a limit of the log, as a record too
// large is), and nothing reaches the log.
func TestEmitterChainNameLimit(t *testing.T) {
	l := coreLog(t, sdk.Config{})
	e := newEmitter(t, l, sdk.EmitterOptions{Shed: sdk.ShedBlock})
	long := emitRecord(0, 1, strings.Repeat("é", 43))
	var ne *sdk.ChainNameError
	if err := e.TryEmit(&long); !errors.As(err, &ne) || ne.Field != "stream" || ne.Len != 258 {
		t.Fatalf("TryEmit of a stream escaping to 258 bytes: %v", err)
	}
	long = emitRecord(0, 2, "s")
	long.WriterID = strings.Repeat("w", 256)
	if err := e.Emit(context.Background(), &long); !errors.Is(err, sdk.ErrChainName) {
		t.Fatalf("Emit of a writerId of 256 bytes: %v", err)
	}
	ok := emitRecord(0, 3, "s")
	if err := e.TryEmit(&ok); err != nil {
		t.Fatal(err)
	}
	st := closeEmitter(t, e)
	if st.Dropped[sdk.DropBounds] != 2 || st.Dropped[sdk.DropInvalid] != 0 || st.Appended != 1 {
		t.Fatalf("%+v", st)
	}
	if heads := l.Heads(); len(heads) != 1 || heads[0].Stream != "s" || heads[0].WriterID != "svc-gateway@inst-1" {
		t.Fatalf("heads: %+v", heads)
	}
}
