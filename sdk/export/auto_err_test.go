package export

import (
	"errors"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// failIterStore is a Store whose Iter fails at once with err, and which
// has no CopyRange, so Log.Records reads through Iter.
type failIterStore struct {
	mem *sdk.MemStore
	err error
}

func (s failIterStore) Put(w, st string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	return s.mem.Put(w, st, seq, rec)
}
func (s failIterStore) Wait(t sdk.Ticket) error                         { return s.mem.Wait(t) }
func (s failIterStore) Get(w, st string, seq uint64) (sdk.Sealed, bool) { return s.mem.Get(w, st, seq) }
func (s failIterStore) Seal(w, st string, seq uint64, id sdk.KeyID, sig sdk.Signature) error {
	return s.mem.Seal(w, st, seq, id, sig)
}
func (s failIterStore) Iter(string, string) sdk.Iterator { return &failIter{err: s.err} }

type failIter struct{ err error }

func (*failIter) Next() bool        { return false }
func (*failIter) Entry() sdk.Sealed { return sdk.Sealed{} }
func (it *failIter) Err() error     { return it.err }

// TestAutoErrorsNameTheChain: a failure of Prev or of Log.Records
// reaches Err wrapped with the chain whose export failed and the records
// it was after: bare ("disk on fire"), it would say neither.
func TestAutoErrorsNameTheChain(t *testing.T) {
	cp := checkpoint.Checkpoint{Origin: checkpoint.Origin("w9", "s9"), WriterID: "w9", Stream: "s9", Size: 7}

	prevErr := errors.New("sink unreadable")
	log, keeper := autoDeps(t)
	auto := &Auto{Exporter: &Exporter{Sink: &memSink{}}, Log: log, Keeper: keeper, Prev: func(w, s string) (*State, error) { return nil, prevErr }}
	auto.Checkpointed(cp, 0)
	auto.Start()
	err := auto.Close()
	if !errors.Is(err, prevErr) {
		t.Fatalf("Close = %v, want it to wrap %v", err, prevErr)
	}
	for _, want := range []string{cp.Origin, "previous export", "up to seq 7"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Prev error %q does not say %q", err, want)
		}
	}

	iterErr := errors.New("disk on fire")
	log, err = sdk.New(sdk.Config{Signer: restartSigner(t), Store: failIterStore{mem: sdk.NewMemStore(0), err: iterErr}})
	if err != nil {
		t.Fatal(err)
	}
	// No previous export: the records wanted are 1..7. (A State ending
	// at 3 would need a checkpoint the Keeper's key signed: Auto checks
	// it before reading the Log.)
	auto = &Auto{Exporter: &Exporter{Sink: &memSink{}}, Log: log, Keeper: keeper, Prev: func(w, s string) (*State, error) { return nil, nil }}
	auto.Checkpointed(cp, 0)
	auto.Start()
	err = auto.Close()
	if !errors.Is(err, iterErr) {
		t.Fatalf("Close = %v, want it to wrap %v", err, iterErr)
	}
	for _, want := range []string{cp.Origin, "records 1..7"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Log.Records error %q does not say %q", err, want)
		}
	}
}
