package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
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

// The bound is on memory, not only record bytes: each kept record also
// costs its Sealed (hash, signature, slice header), as much as a minimal
// record's bytes, so a chain of small records must keep fewer of them.
func TestMemStoreBoundCountsRecords(t *testing.T) {
	recSize := int(reflect.TypeFor[sdk.Sealed]().Size())
	for _, bound := range []int{1 << 20, 4 << 20} {
		for _, size := range []int{1, 136, 300, 4096, 65536} {
			t.Run(fmt.Sprintf("bound %d size %d", bound, size), func(t *testing.T) {
				m := sdk.NewMemStore(bound)
				total := uint64(3*bound/size + 1000)
				total = min(total, 300000)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				rec := memRecord(1, size)
				for seq := uint64(1); seq <= total; seq++ {
					if _, _, err := m.Put("w", "s", seq, rec); err != nil {
						t.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				evicted, first := m.Evicted("w", "s")
				kept := total - evicted
				if used := int(kept) * (size + recSize); used > bound {
					t.Errorf("keeps %d records: %d bytes with their Sealed, over the bound of %d", kept, used, bound)
				}
				// Heap, with slack for allocator rounding and the test.
				if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > int64(bound)+128<<10 {
					t.Errorf("heap grew by %d bytes, bound %d", grew, bound)
				}
				if evicted == 0 || first != evicted+1 {
					t.Fatalf("evicted %d, first kept %d", evicted, first)
				}
				if _, ok := m.Get("w", "s", total); !ok {
					t.Error("newest record not kept")
				}
				runtime.KeepAlive(m)
			})
		}
	}
}

// Records of mixed sizes, 1 byte to the 64 KiB maximum: whatever the store
// forgets, it forgets whole records from the oldest, Evicted says exactly
// which, and every record it keeps reads back as it was put.
func TestMemStoreMixedSizes(t *testing.T) {
	recSize := int(reflect.TypeFor[sdk.Sealed]().Size())
	sizes := []int{1, 136, 65536, 300, 4096, 17, 40000, 136, 136, 1000}
	size := func(seq uint64) int { return sizes[(seq*7+seq/13)%uint64(len(sizes))] }
	const bound = 1 << 20
	m := sdk.NewMemStore(bound)
	for seq := uint64(1); seq <= 3000; seq++ {
		if _, _, err := m.Put("w", "s", seq, memRecord(seq, size(seq))); err != nil {
			t.Fatal(err)
		}
		evicted, first := m.Evicted("w", "s")
		if first != evicted+1 {
			t.Fatalf("after seq %d: evicted %d, first kept %d", seq, evicted, first)
		}
		if _, ok := m.Get("w", "s", first-1); ok && first > 1 {
			t.Fatalf("after seq %d: evicted seq %d still kept", seq, first-1)
		}
		used := 0
		for k := first; k <= seq; k++ {
			r, ok := m.Get("w", "s", k)
			if !ok || !bytes.Equal(r.Bytes, memRecord(k, size(k)).Bytes) {
				t.Fatalf("after seq %d: record %d of %d..%d is not as put (kept %v)", seq, k, first, seq, ok)
			}
			used += len(r.Bytes) + recSize
		}
		if used > bound {
			t.Fatalf("after seq %d: %d bytes kept", seq, used)
		}
	}
}

// Records of a range the MemStore partly evicted fails with ErrEvicted
// (and ErrStore), naming the range and the first record still kept;
// MemStore.Seal of an evicted record says so too.
func TestRecordsEvictedRange(t *testing.T) {
	store := sdk.NewMemStore(256 << 10)
	l := coreLog(t, sdk.Config{Store: store})
	as := coreAppend(t, l, 3000)
	w, s := as[0].Head.WriterID, as[0].Head.Stream
	_, first := store.Evicted(w, s)
	if first <= 1 {
		t.Fatalf("nothing evicted (first kept %d)", first)
	}
	_, err := l.Records(w, s, first-1, 3000)
	if !errors.Is(err, sdk.ErrEvicted) || !errors.Is(err, sdk.ErrStore) {
		t.Fatalf("Records across the evicted boundary: %v", err)
	}
	for _, want := range []string{fmt.Sprintf("%d..3000", first-1), fmt.Sprintf("seq %d", first)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if recs, err := l.Records(w, s, first, 3000); err != nil || len(recs) != int(3001-first) {
		t.Fatalf("kept range: %d records, %v", len(recs), err)
	}
	if err := store.Seal(w, s, 1, sdk.KeyID{}, sdk.Signature{}); !errors.Is(err, sdk.ErrEvicted) {
		t.Fatalf("Seal of an evicted record: %v", err)
	}
	if err := store.Seal(w, s, 3001, sdk.KeyID{}, sdk.Signature{}); err == nil || errors.Is(err, sdk.ErrEvicted) {
		t.Fatalf("Seal of a record never put: %v", err)
	}
}

// Iter and CopyRange beside appends that evict (run with -race): what
// they return is never torn nor overwritten later.
func TestMemStoreReadersBesideEviction(t *testing.T) {
	m := sdk.NewMemStore(sdk.MemStoreMinBytes)
	const total = 20000
	done := make(chan struct{})
	errs := make(chan error, 2)
	go func() {
		defer close(done)
		for seq := uint64(1); seq <= total; seq++ {
			if _, _, err := m.Put("w", "s", seq, memRecord(seq, 100+int(seq%700))); err != nil {
				errs <- err
				return
			}
		}
	}()
	var held [][]sdk.Sealed
	check := func(recs []sdk.Sealed) error {
		for i, r := range recs {
			if err := sdk.VerifyHash(r); err != nil {
				return fmt.Errorf("record %d of %d: %w", i, len(recs), err)
			}
		}
		return nil
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		var recs []sdk.Sealed
		for it := m.Iter("w", "s"); it.Next(); {
			recs = append(recs, it.Entry())
		}
		if err := check(recs); err != nil {
			t.Fatalf("Iter: %v", err)
		}
		if _, first := m.Evicted("w", "s"); first > 0 {
			if cp, ok := m.CopyRange("w", "s", first, first+10); ok {
				recs = cp
			}
		}
		held = append(held, recs)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	for _, recs := range held { // after every chunk was reused many times
		if err := check(recs); err != nil {
			t.Fatalf("held copy: %v", err)
		}
	}
}

// TestMemStoreMinBytesIsAFloor: MemStoreMinBytes is a variable only
// because a Sealed's size is not a constant. A host that set it lower (to
// go under the floor) got a store that panicked at its first Put (an
// integer divide by zero: no chunk slot); the floor NewMemStore keeps is
// its own.
func TestMemStoreMinBytesIsAFloor(t *testing.T) {
	old := sdk.MemStoreMinBytes
	sdk.MemStoreMinBytes = 0
	m := sdk.NewMemStore(1000)
	sdk.MemStoreMinBytes = old
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Put panicked: %v", r)
		}
	}()
	for seq := uint64(1); seq <= 3000; seq++ {
		if _, _, err := m.Put("w", "s", seq, memRecord(seq, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, first := m.Evicted("w", "s"); first <= 1 {
		t.Fatalf("nothing evicted: first kept %d", first)
	}
}

// TestMemStoreLargeBound: the bound caps a chain's memory, it does not
// reserve it. A chain's chunk slots were allocated up front for the whole
// bound, 32 bytes per 64 KiB of it: a 64 GiB bound held 32 MiB per chain
// from its first record (a host with many streams paid that for each),
// and math.MaxInt, the natural "no eviction" bound, panicked at the first
// Put (makeslice: cap out of range).
func TestMemStoreLargeBound(t *testing.T) {
	for _, bound := range []int{64 << 30, math.MaxInt} {
		m := sdk.NewMemStore(bound)
		grew := heapGrowth(func() {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("bound %d: Put panicked: %v", bound, r)
					}
				}()
				for seq := uint64(1); seq <= 3; seq++ {
					if _, _, err := m.Put("w", "s", seq, memRecord(seq, 100)); err != nil {
						t.Fatal(err)
					}
				}
			}()
		})
		// One 64 KiB chunk and a ring of 64 Sealed values, with slack.
		if grew > 1<<20 {
			t.Errorf("bound %d: a chain of three 100-byte records holds %d bytes", bound, grew)
		}
		if r, ok := m.Get("w", "s", 2); !ok || sdk.VerifyHash(r) != nil {
			t.Errorf("bound %d: record 2 not kept as it was put", bound)
		}
		runtime.KeepAlive(m)
	}
}
