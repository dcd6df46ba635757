package sdk_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// fuzzSegment is a real one-segment log of two chains: signed records,
// a checkpoint-sealed stretch with a seal frame, and a key rotation.
func fuzzSegment(t testing.TB, a, b sdk.Signer) []byte {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: a, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, stream := range []string{"s", "s", "t", "s", "t"} {
		r := canonical.AuditRecord{WriterID: "w", Stream: stream, TsMs: uint64(i + 1), Reason: "r"}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Seal("w", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(b); err != nil {
		t.Fatal(err)
	}
	r := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: 9, Reason: "after"}
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(filepath.Join(dir, wal.SegmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

// FuzzVerifySegment: the durable replay (record and seal payloads,
// chains, links, key transitions, batched signature checks) over
// arbitrary segment bytes never panics and fails only with a
// *DurableError or a WAL error; with signatures left out (keys nil) it
// accepts whatever it accepts with them, and the seed (a real log)
// verifies with its first key, the rotation followed. Inputs with valid
// signatures are rare once mutated, so checking them costs little.
func FuzzVerifySegment(f *testing.F) {
	a, b := rotateSigner(f, "fuzz segment a"), rotateSigner(f, "fuzz segment b")
	seg := fuzzSegment(f, a, b)
	if sum, err := sdk.VerifySegmentData(seg, sdk.NewKeySet(a.Public()), false); err != nil || sum.Records != 8 || sum.Seals != 2 || len(sum.Retired) != 2 {
		f.Fatalf("the seed: %+v, %v", sum, err)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add(seg[:wal.SegmentHeaderSize])
	keys := sdk.NewKeySet(a.Public())
	f.Fuzz(func(t *testing.T, data []byte) {
		known := func(err error) bool {
			var de *sdk.DurableError
			return err == nil || errors.As(err, &de) || errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrVersion)
		}
		signed, serr := sdk.VerifySegmentData(data, keys, true)
		bare, berr := sdk.VerifySegmentData(data, nil, true)
		if !known(serr) || !known(berr) {
			t.Fatalf("unexpected errors: %v, %v", serr, berr)
		}
		if serr == nil && (berr != nil || bare.Records != signed.Records) {
			t.Fatalf("accepted with keys (%d records), without: %d records, %v", signed.Records, bare.Records, berr)
		}
	})
}
