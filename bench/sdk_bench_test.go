package bench

import (
	"crypto/ed25519"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// The SDK benches run on the 1 KiB vector record: each appended record's
// canonical bytes are exactly 1,024 (seq, prev and tsMs change, sizes
// do not).

func benchKey(b *testing.B) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "ron-audit bench key")
	return ed25519.NewKeyFromSeed(seed)
}

func benchLog(b *testing.B, cfg sdk.Config) *sdk.Log {
	signer, err := sdk.NewEd25519Signer(benchKey(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Signer = signer
	if cfg.Store == nil {
		cfg.Store = sdk.NewMemStore(1 << 20) // bounded, as Micronode runs: steady state reuses memory
	}
	l, err := sdk.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkRawEd25519Sign is the calibration of AppendHot: crypto/ed25519
// signing the 47-byte message every record signature signs.
func BenchmarkRawEd25519Sign(b *testing.B) {
	priv := benchKey(b)
	msg := canonical.SignedMessage(canonical.Hash{1})
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(priv, msg[:])
	}
}

func appendBench(b *testing.B, cfg sdk.Config) {
	rec, _ := record1KiB(b)
	rec.Seq, rec.Prev = 0, nil
	l := benchLog(b, cfg)
	// Warm up past the store's bound and the dedupe window: steady state.
	for i := 0; i < 3000; i++ {
		rec.TsMs++
		if _, err := l.Append(&rec); err != nil {
			b.Fatal(err)
		}
	}
	a, _ := l.Append(&rec)
	if len(a.Record.Bytes) != 1024 {
		b.Fatalf("record is %d bytes", len(a.Record.Bytes))
	}
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		rec.TsMs++ // a new event each time: no dedupe hit
		if _, err := l.Append(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendHot: every record signed (the default policy).
func BenchmarkAppendHot(b *testing.B) { appendBench(b, sdk.Config{}) }

// BenchmarkAppendSealed: checkpoint-sealed, a signature every 1,024 records.
func BenchmarkAppendSealed(b *testing.B) { appendBench(b, sdk.Config{SealEvery: 1024}) }

func sealedChain(b *testing.B, n int, sealEvery int) ([]sdk.Sealed, *sdk.KeySet) {
	rec, _ := record1KiB(b)
	rec.Seq, rec.Prev = 0, nil
	l := benchLog(b, sdk.Config{SealEvery: sealEvery, Store: sdk.NewMemStore(64 << 20)})
	for i := 0; i < n; i++ {
		rec.TsMs++
		if _, err := l.Append(&rec); err != nil {
			b.Fatal(err)
		}
	}
	var recs []sdk.Sealed
	it := l.Store().Iter(rec.WriterID, rec.Stream)
	for it.Next() {
		recs = append(recs, it.Entry())
	}
	return recs, l.Keys()
}

// BenchmarkVerifyHot: the self-hash check of one record.
func BenchmarkVerifyHot(b *testing.B) {
	recs, _ := sealedChain(b, 1, 1)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if err := sdk.VerifyHash(recs[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyChain: VerifyChain per record on a checkpoint-sealed chain
// (hash recompute, strict open, link; one signature per 1,024 records).
func BenchmarkVerifyChain(b *testing.B) {
	recs, keys := sealedChain(b, 4096, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	b.ResetTimer()
	// b.N counts records; verify them in whole-chain passes.
	for done := 0; done < b.N; done += len(recs) {
		n := min(len(recs), b.N-done)
		if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs[:n]), keys, sdk.VerifyOptions{AllowUnsealedTail: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySignature: one record signature (Ed25519 verify).
func BenchmarkVerifySignature(b *testing.B) {
	recs, keys := sealedChain(b, 1, 1)
	pub, _ := keys.Lookup(recs[0].KeyID)
	b.ReportAllocs()
	for b.Loop() {
		if !canonical.VerifySignature(pub, recs[0].Hash, recs[0].Sig[:]) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkDedupeKey: the dedupe key of the 1 KiB record.
func BenchmarkDedupeKey(b *testing.B) {
	rec, _ := record1KiB(b)
	h := canonical.NewHasher()
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.DedupeKey(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdStart: from a key file on disk to the first appended record
// of a new chain.
func BenchmarkColdStart(b *testing.B) {
	dir := b.TempDir()
	priv, _, _, err := sdk.GenerateKeyFiles(dir, "bench")
	if err != nil {
		b.Fatal(err)
	}
	rec, _ := record1KiB(b)
	rec.Seq, rec.Prev = 0, nil
	b.ReportAllocs()
	for b.Loop() {
		signer, err := sdk.LoadSigner(priv)
		if err != nil {
			b.Fatal(err)
		}
		l, err := sdk.New(sdk.Config{Signer: signer})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Append(&rec); err != nil {
			b.Fatal(err)
		}
	}
}
