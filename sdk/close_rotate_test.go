package sdk_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// putHookStore is a MemStore that calls onPut before each Put (under the
// chain's lock).
type putHookStore struct {
	*sdk.MemStore
	onPut func(writer, stream string, seq uint64, rec sdk.Sealed)
}

func (s *putHookStore) Put(w, st string, seq uint64, rec sdk.Sealed) (sdk.Sealed, sdk.Ticket, error) {
	if s.onPut != nil {
		s.onPut(w, st, seq, rec)
	}
	return s.MemStore.Put(w, st, seq, rec)
}

// transitions counts the key-transition records of a chain.
func transitions(t *testing.T, l *sdk.Log, stream string) int {
	t.Helper()
	n := 0
	for _, r := range chainRecs(l, "svc-gateway@inst-1", stream) {
		v, err := canonical.OpenAuditRecord(r.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := sdk.KeyTransition(v); ok {
			n++
		}
	}
	return n
}

// TestCloseDuringRotateKey: a Close that starts while RotateKey writes
// its transitions does not cut the rotation short. Since Close refuses
// appends before it seals (under each chain's lock), the transitions
// RotateKey had not yet written failed with ErrClosed: the log was left
// with some chains handed to the new key and the others not, the state a
// crash mid-rotation leaves (reopened with the new key, those chains take
// no record). Close now waits for a rotation under way.
func TestCloseDuringRotateKey(t *testing.T) {
	store := &putHookStore{MemStore: sdk.NewMemStore(0)}
	l := coreLog(t, sdk.Config{Store: store})
	streams := []string{"a", "b", "c"}
	for i, s := range streams {
		r := emitRecord(0, i, s)
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	closed := make(chan error, 1)
	store.onPut = func(_, stream string, seq uint64, rec sdk.Sealed) {
		if seq != 2 {
			return
		}
		once.Do(func() {
			// RotateKey writes its first transition: Close now, and give
			// it time to refuse appends (a probe append on another
			// chain sees it) before the rotation goes on.
			go func() { closed <- l.Close() }()
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				r := emitRecord(0, 99, "probe")
				if _, err := l.Append(&r); errors.Is(err, sdk.ErrClosed) {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	heads, rerr := l.RotateKey(rotateSigner(t, "close during rotation"))
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	rotated := 0
	for _, s := range streams {
		got[s] = transitions(t, l, s)
		rotated += got[s]
	}
	if rotated != 0 && rotated != len(streams) {
		t.Errorf("Close during RotateKey left a rotation cut short: transitions per chain %v (RotateKey: %d heads, %v)", got, len(heads), rerr)
	}
	if rerr == nil && rotated != len(streams) {
		t.Errorf("RotateKey returned nil but wrote %d transitions of %d", rotated, len(streams))
	}
}
