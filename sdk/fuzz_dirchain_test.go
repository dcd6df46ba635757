package sdk_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// FuzzVerifyDirChain: VerifyDirChain over a log directory of one
// arbitrary segment (fuzzSegment's log mutated: chains w/s and w/t, a
// seal, a rotation), for chain w/s, w/t or one the log lacks, with and
// without an unsealed tail allowed, never panics and fails only with a
// *DurableError or a WAL error; it agrees with VerifyDir, which checks
// every chain: what VerifyDir accepts, VerifyDirChain accepts for each of
// its chains with the same head (0 records for a chain it lacks), and a
// chain VerifyDirChain refuses, VerifyDir refuses. When it accepts, fn
// saw Records records, the last with the head's hash.
// Seeds: the log, cut after its header and short of its end
// (testdata/fuzz/FuzzVerifyDirChain: a mutated segment the fuzzer found).
func FuzzVerifyDirChain(f *testing.F) {
	a, b := rotateSigner(f, "fuzz dirchain a"), rotateSigner(f, "fuzz dirchain b")
	seg := fuzzSegment(f, a, b)
	for chain := range uint8(3) {
		f.Add(seg, chain)
	}
	f.Add(seg[:wal.SegmentHeaderSize], uint8(0))
	f.Add(seg[:len(seg)-7], uint8(0))
	keys := sdk.NewKeySet(a.Public())
	dir := filepath.Join(f.TempDir(), "wal")
	if err := os.Mkdir(dir, 0o700); err != nil {
		f.Fatal(err)
	}
	if res, err := sdk.VerifyDirChain(writeSeg(f, dir, seg), "w", "s", keys, false, nil); err != nil || res.Records != 5 {
		f.Fatalf("the seed, chain w/s: %+v, %v", res, err)
	}
	f.Fuzz(func(t *testing.T, data []byte, chain uint8) {
		writeSeg(t, dir, data)
		stream := []string{"s", "t", "x"}[chain%3]
		known := func(err error) bool {
			var de *sdk.DurableError
			return err == nil || errors.As(err, &de) || errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrVersion)
		}
		for _, allow := range []bool{false, true} {
			var seen int
			var last sdk.Sealed
			res, err := sdk.VerifyDirChain(dir, "w", stream, keys, allow, func(rec sdk.Sealed) { seen++; last = rec })
			sum, derr := sdk.VerifyDir(dir, keys, allow, nil)
			if !known(err) || !known(derr) {
				t.Fatalf("unexpected errors: %v, %v", err, derr)
			}
			if err != nil {
				if derr == nil {
					t.Fatalf("w/%s refused (allow %v: %v), the directory accepted", stream, allow, err)
				}
				continue
			}
			if seen != res.Records || res.Head.Seq != uint64(res.Records) || (seen > 0 && last.Hash != res.Head.Hash) {
				t.Fatalf("w/%s: %d records, head %+v; fn saw %d, the last hash %x", stream, res.Records, res.Head, seen, last.Hash)
			}
			if derr != nil {
				continue
			}
			want := sdk.Head{}
			for _, h := range sum.Heads {
				if h.WriterID == "w" && h.Stream == stream {
					want = h
				}
			}
			if want.Seq != uint64(res.Records) || (res.Records > 0 && want != res.Head) {
				t.Fatalf("w/%s (allow %v): %d records, head %+v; VerifyDir: head %+v", stream, allow, res.Records, res.Head, want)
			}
		}
	})
}

// writeSeg makes data the one segment of dir and returns dir.
func writeSeg(t testing.TB, dir string, data []byte) string {
	if err := os.WriteFile(filepath.Join(dir, wal.SegmentName(1)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
