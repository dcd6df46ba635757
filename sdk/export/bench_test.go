package export

import (
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkExport10k: export plus checkpoint of a chain of 10,000 records
// from a durable log to a FileSink (read the log, build the tree, sign,
// encode, write and fsync the bundle): export_batch_seconds.
func BenchmarkExport10k(b *testing.B) {
	signer := newSigner(b, 1)
	tmp := b.TempDir()
	dir := filepath.Join(tmp, "wal")
	durableLog(b, dir, signer, 10000)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e := &Exporter{Sink: &FileSink{Dir: filepath.Join(tmp, "out", strconv.Itoa(i))}, Signer: signer}
		bd, err := e.Export(dir, testWriter, testStream, nil)
		if err != nil || len(bd.Records) != 10000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyBundle10k: verify a bundle of 10,000 signed records.
func BenchmarkVerifyBundle10k(b *testing.B) {
	signer := newSigner(b, 1)
	vs, keys := verifiersOf(signer)
	recs := genRecords(b, signer, 10000, plain)
	data := exportSplits(b, signer, recs, 10000)[0]
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := VerifyBundle(data, vs, keys); err != nil {
			b.Fatal(err)
		}
	}
}
