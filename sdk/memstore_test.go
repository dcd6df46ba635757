package sdk_test

import (
	"bytes"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// memRecord is a Sealed of n bytes that tell seq apart, hashed.
func memRecord(seq uint64, n int) sdk.Sealed {
	b := bytes.Repeat([]byte{byte(seq), byte(seq >> 8)}, (n+1)/2)[:n]
	return sdk.Sealed{Bytes: b, Hash: canonical.RecordHash(b)}
}

// An iterator taken before the store reuses a chunk still yields the
// records as they were: a snapshot must not alias the ring, or a verifier
// running beside appends sees torn records (a false tamper alarm).
func TestMemStoreIterSurvivesEviction(t *testing.T) {
	const size = 1000
	m := sdk.NewMemStore(0) // 16 MiB
	seq := uint64(1)
	put := func(n int) {
		for range n {
			if _, _, err := m.Put("w", "s", seq, memRecord(seq, size)); err != nil {
				t.Fatal(err)
			}
			seq++
		}
	}
	put(20000) // past the bound: the ring is reused
	it := m.Iter("w", "s")
	put(20000) // every chunk reused since the snapshot
	n := 0
	for it.Next() {
		if err := sdk.VerifyHash(it.Entry()); err != nil {
			t.Fatalf("record %d of the snapshot: %v", n, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("empty snapshot")
	}
}
