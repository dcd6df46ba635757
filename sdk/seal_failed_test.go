package sdk_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// loseStore is a MemStore that loses every record Put from the failFrom'th
// on (its Wait fails, as a WAL's does when an fsync fails) and still takes
// every Seal it is given, counting them: a custom Store that would sign a
// head whose record is lost if the Log asked it to.
type loseStore struct {
	*sdk.MemStore
	mu       sync.Mutex
	puts     sdk.Ticket
	failFrom sdk.Ticket
	seals    int
}

func (s *loseStore) Put(w, st string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	kept, _, err := s.MemStore.Put(w, st, seq, rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts++
	return kept, s.puts, err
}

func (s *loseStore) Wait(t sdk.Ticket) error {
	if t >= s.failFrom {
		return errors.New("fsync: input/output error")
	}
	return nil
}

func (s *loseStore) Seal(w, st string, seq uint64, id sdk.KeyID, sig sdk.Signature) error {
	s.mu.Lock()
	s.seals++
	s.mu.Unlock()
	return s.MemStore.Seal(w, st, seq, id, sig)
}

func (s *loseStore) sealCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seals
}

// TestSealRefusedOnFailedLog: once the log has failed (the store lost
// record 2, which is the chain's head all the same), Seal, SealAll and
// Close's seal refuse with the failure, naming the chain, and never ask
// the store to sign the head: that signature would vouch for a record
// that may be lost. Before, Seal signed it (the store took the seal, and
// the head read SealedSeq 2) and SealAll and Close returned nil.
func TestSealRefusedOnFailedLog(t *testing.T) {
	store := &loseStore{MemStore: sdk.NewMemStore(0), failFrom: 2}
	l := coreLog(t, sdk.Config{SealEvery: 1000, Store: store})
	coreAppend(t, l, 1)
	r := coreRecord(1)
	_, werr := l.Append(&r)
	if !errors.Is(werr, sdk.ErrStore) {
		t.Fatalf("append of a record the store lost: %v, want ErrStore", werr)
	}
	head, err := l.Seal(r.WriterID, r.Stream)
	if !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), r.WriterID+"/"+r.Stream) ||
		!strings.Contains(err.Error(), werr.Error()) {
		t.Errorf("Seal of a failed log: %v, want the failure (%v), wrapped and naming the chain", err, werr)
	}
	if head.Seq != 2 || head.SealedSeq != 0 {
		t.Errorf("Seal of a failed log: head %+v, want seq 2 still unsealed", head)
	}
	if err := l.SealAll(); !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), werr.Error()) {
		t.Errorf("SealAll of a failed log: %v, want the failure (%v)", err, werr)
	}
	if err := l.Close(); !errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), r.WriterID+"/"+r.Stream) {
		t.Errorf("Close of a failed log with an unsealed tail: %v, want the failure, naming the chain left unsealed", err)
	}
	if n := store.sealCount(); n != 0 {
		t.Errorf("the store was asked for %d seals of a failed log, want none", n)
	}
	if hs := l.Heads(); len(hs) != 1 || hs[0].SealedSeq != 0 {
		t.Errorf("heads %+v, want the chain unsealed", hs)
	}
}

// TestSealAfterClose: a Seal or SealAll after Close returns ErrClosed,
// naming the chain, on a MemStore log and on a durable one, whether the
// chain is known or not, and signs nothing; Close itself still sealed
// every chain. Before, both returned nil: a closed log looked healthy.
func TestSealAfterClose(t *testing.T) {
	open := map[string]func(t *testing.T) (*sdk.Log, *loseStore){
		"memstore": func(t *testing.T) (*sdk.Log, *loseStore) {
			s := &loseStore{MemStore: sdk.NewMemStore(0), failFrom: 1 << 62}
			return coreLog(t, sdk.Config{SealEvery: 1000, Store: s}), s
		},
		"durable": func(t *testing.T) (*sdk.Log, *loseStore) {
			l, _, err := sdk.OpenDurable(filepath.Join(t.TempDir(), "wal"),
				sdk.Config{Signer: coreSigner(t), SealEvery: 1000}, sdk.DurableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return l, nil
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			l, store := open(t)
			coreAppend(t, l, 3)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if store != nil && store.sealCount() != 1 {
				t.Errorf("Close made %d seals, want 1", store.sealCount())
			}
			r := coreRecord(0)
			for _, chain := range [][2]string{{r.WriterID, r.Stream}, {"never", "seen"}} {
				if _, err := l.Seal(chain[0], chain[1]); !errors.Is(err, sdk.ErrClosed) ||
					errors.Is(err, sdk.ErrStore) || !strings.Contains(err.Error(), chain[0]+"/"+chain[1]) {
					t.Errorf("Seal(%s/%s) after Close: %v, want ErrClosed naming the chain", chain[0], chain[1], err)
				}
			}
			if err := l.SealAll(); !errors.Is(err, sdk.ErrClosed) || errors.Is(err, sdk.ErrStore) {
				t.Errorf("SealAll after Close: %v, want ErrClosed", err)
			}
			if store != nil && store.sealCount() != 1 {
				t.Errorf("%d seals after Close's, want none", store.sealCount()-1)
			}
			if hs := l.Heads(); len(hs) != 1 || hs[0].SealedSeq != 3 {
				t.Errorf("heads %+v, want the chain sealed at 3 by Close", hs)
			}
		})
	}
}
