package sdk_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// unsealedAt checks that err is an unsealed_tail at seq with verified
// records before it (or that err is nil when seq is 0).
func unsealedAt(t *testing.T, what string, err error, seq uint64, verified int) {
	t.Helper()
	if seq == 0 {
		if err != nil {
			t.Errorf("%s: %v, want no error", what, err)
		}
		return
	}
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonUnsealedTail || ve.Seq != seq || ve.Verified != verified {
		t.Errorf("%s: %v, want unsealed_tail at seq %d with %d verified", what, err, seq, verified)
	}
}

// TestSealEveryBoundaries: under SealEvery N, through Append and the
// Emitter alike, exactly the records N, 2N, ... are signed, and a chain
// of n records verifies, or fails with unsealed_tail at the first record
// after the last multiple of N, with that many verified before.
func TestSealEveryBoundaries(t *testing.T) {
	for _, via := range []string{"append", "emitter"} {
		for _, n := range []int{2, 3, 5} {
			for _, count := range []int{n - 1, n, n + 1, 2 * n, 2*n + 1} {
				t.Run(fmt.Sprintf("%s/N=%d/records=%d", via, n, count), func(t *testing.T) {
					l := coreLog(t, sdk.Config{SealEvery: n})
					if via == "append" {
						for i := range count {
							r := emitRecord(0, i, "s")
							if _, err := l.Append(&r); err != nil {
								t.Fatal(err)
							}
						}
					} else {
						e := newEmitter(t, l, sdk.EmitterOptions{Workers: 2, Shed: sdk.ShedBlock})
						for i := range count {
							r := emitRecord(0, i, "s")
							if err := e.TryEmit(&r); err != nil {
								t.Fatal(err)
							}
						}
						closeEmitter(t, e)
					}
					recs, err := l.Records("svc-gateway@inst-1", "s", 1, uint64(count))
					if err != nil {
						t.Fatal(err)
					}
					for i, r := range recs {
						if want := (i+1)%n == 0; r.Signed != want {
							t.Errorf("seq %d signed %v, want %v", i+1, r.Signed, want)
						}
					}
					sealed := count / n * n
					var tail uint64
					if sealed < count {
						tail = uint64(sealed + 1)
					}
					_, err = sdk.VerifyChain(sdk.NewSliceIterator(recs), l.Keys(), sdk.VerifyOptions{})
					unsealedAt(t, "VerifyChain", err, tail, sealed)
					h, _ := l.Head("svc-gateway@inst-1", "s")
					if h.SealedSeq != uint64(sealed) {
						t.Errorf("head sealed at %d, want %d", h.SealedSeq, sealed)
					}
					// Seal restarts the count: the next signature is N records later.
					if _, err := l.Seal("svc-gateway@inst-1", "s"); err != nil {
						t.Fatal(err)
					}
					if _, err := sdk.VerifyChain(l.Store().Iter("svc-gateway@inst-1", "s"), l.Keys(), sdk.VerifyOptions{}); err != nil {
						t.Errorf("after Seal: %v", err)
					}
				})
			}
		}
	}
}

// TestVerifyParallelSealedTails: VerifyChainParallel gives what
// VerifyChain gives on checkpoint-sealed chains with and without an
// unsealed tail, from seq 1 and from a Start in the middle (sealed or
// not), with the tail allowed or not.
func TestVerifyParallelSealedTails(t *testing.T) {
	l := coreLog(t, sdk.Config{SealEvery: 7})
	coreAppend(t, l, 40) // signed: 7, 14, 21, 28, 35; tail 36..40
	all, err := l.Records("svc-gateway@inst-1", "reads", 1, 40)
	if err != nil {
		t.Fatal(err)
	}
	keys := l.Keys()
	for _, end := range []int{35, 36, 40} {
		for _, from := range []int{0, 5, 7, 20, 21, 30, 34} {
			for _, sealedAt := range []string{"none", "last", "start"} {
				recs := all[from:end]
				var start *sdk.Head
				if from > 0 {
					start = &sdk.Head{WriterID: "svc-gateway@inst-1", Stream: "reads", Seq: uint64(from), Hash: all[from-1].Hash}
					switch sealedAt {
					case "last":
						start.SealedSeq = uint64(from / 7 * 7)
					case "start":
						start.SealedSeq = uint64(from)
					}
				} else if sealedAt != "none" {
					continue
				}
				for _, allow := range []bool{false, true} {
					opts := sdk.VerifyOptions{Start: start, AllowUnsealedTail: allow}
					name := fmt.Sprintf("records %d..%d, start sealed %s, allow %v", from+1, end, sealedAt, allow)
					seqRes, seqErr := sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, opts)
					for _, w := range []int{2, 3, 4} {
						parRes, parErr := sdk.VerifyChainParallel(recs, keys, opts, w)
						if fmt.Sprint(seqErr) != fmt.Sprint(parErr) {
							t.Errorf("%s, %d workers: error %v, sequential %v", name, w, parErr, seqErr)
						}
						if seqRes.Records != parRes.Records || seqRes.Head != parRes.Head || len(seqRes.Retired) != len(parRes.Retired) {
							t.Errorf("%s, %d workers: result %+v, sequential %+v", name, w, parRes, seqRes)
						}
					}
				}
			}
		}
	}
}

// TestDurableUnsealedTailAfterCrash: a checkpoint-sealed durable log that
// stopped without Close (a crash) has an unsealed tail on disk. The
// verifiers report it exactly (first unsealed seq, records before it);
// OpenDurable resumes the chain with it (Recovery.Heads shows it), and
// the next seal, Close's here, signs over it.
func TestDurableUnsealedTailAfterCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{SealEvery: 5}, sdk.DurableOptions{})
	appended := coreAppend(t, l, 7) // signed: 5; tail 6, 7
	// The crash: the acknowledged records are on disk; copy the log as
	// the live writer leaves it, without its Close.
	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.Mkdir(crashed, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.Close()
	keys := sdk.NewKeySet(coreSigner(t).Public())

	_, err = sdk.VerifyDir(crashed, keys, false, nil)
	var de *sdk.DurableError
	if !errors.As(err, &de) || de.Seq != 6 {
		t.Errorf("VerifyDir: %v, want a DurableError at seq 6", err)
	}
	unsealedAt(t, "VerifyDir", err, 6, 5)
	_, err = sdk.VerifyDirChain(crashed, "svc-gateway@inst-1", "reads", keys, false, nil)
	unsealedAt(t, "VerifyDirChain", err, 6, 5)
	var recs []sdk.Sealed
	if _, err := sdk.ReadDir(crashed, func(r sdk.Sealed, _ wal.Position) error {
		r.Bytes = append([]byte(nil), r.Bytes...)
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{})
	unsealedAt(t, "VerifyChain", err, 6, 5)
	if _, err := sdk.VerifyDir(crashed, keys, true, nil); err != nil {
		t.Errorf("VerifyDir allowing the tail: %v", err)
	}

	l2, rec := durableOpen(t, crashed, sdk.Config{SealEvery: 5}, sdk.DurableOptions{})
	if len(rec.Heads) != 1 || rec.Heads[0].Seq != 7 || rec.Heads[0].SealedSeq != 5 {
		t.Errorf("Recovery.Heads %+v, want the chain at 7 sealed at 5", rec.Heads)
	}
	// A retry of a record in the tail is a duplicate, not a new record.
	r := coreRecord(6)
	if a, err := l2.Append(&r); err != nil || !a.Duplicate || a.Seq != 7 || a.Record.Hash != appended[6].Record.Hash {
		t.Errorf("retry of seq 7 after the crash: %+v %v", a, err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.VerifyDir(crashed, keys, false, nil); err != nil {
		t.Errorf("after reopen and Close: %v", err)
	}
}

// TestDedupeInUnsealedTail: a retry of a record in the unsealed tail is a
// duplicate before the seal and after it, and the original it returns
// carries the seal's signature once sealed.
func TestDedupeInUnsealedTail(t *testing.T) {
	l := coreLog(t, sdk.Config{SealEvery: 100})
	coreAppend(t, l, 3)
	r := coreRecord(1)
	a, err := l.Append(&r)
	if err != nil || !a.Duplicate || a.Seq != 2 || a.Record.Signed {
		t.Fatalf("retry in the tail: %+v %v", a, err)
	}
	if _, err := l.Seal("svc-gateway@inst-1", "reads"); err != nil {
		t.Fatal(err)
	}
	r = coreRecord(2)
	a, err = l.Append(&r)
	if err != nil || !a.Duplicate || a.Seq != 3 || !a.Record.Signed || a.Head.Seq != 3 {
		t.Fatalf("retry of the sealed head: %+v %v", a, err)
	}
	if !reflect.DeepEqual(a.Head, sdk.Head{WriterID: "svc-gateway@inst-1", Stream: "reads", Seq: 3, Hash: a.Record.Hash, SealedSeq: 3}) {
		t.Errorf("head %+v", a.Head)
	}
}

// TestSealIdempotentDurable: sealing a head twice, or an empty or unknown
// chain, writes one seal frame or none; the reopened log has the seal.
func TestSealIdempotentDurable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{SealEvery: 100}, sdk.DurableOptions{})
	if h, err := l.Seal("nobody", "nothing"); err != nil || h.Seq != 0 || h.SealedSeq != 0 {
		t.Errorf("seal of an unknown chain: %+v %v", h, err)
	}
	coreAppend(t, l, 4)
	for range 3 {
		if h, err := l.Seal("svc-gateway@inst-1", "reads"); err != nil || h.SealedSeq != 4 {
			t.Fatalf("seal: %+v %v", h, err)
		}
	}
	if err := l.SealAll(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rec := durableOpen(t, dir, sdk.Config{SealEvery: 100}, sdk.DurableOptions{})
	defer l.Close()
	if rec.Seals != 1 || len(rec.Heads) != 1 || rec.Heads[0].SealedSeq != 4 {
		t.Errorf("recovery: %d seals, heads %+v; want 1 seal of seq 4", rec.Seals, rec.Heads)
	}
}
