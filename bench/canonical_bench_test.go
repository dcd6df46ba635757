package bench

import (
	"bytes"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/rustyonions/ron-audit-go/canonical"
)

var (
	sinkHash [32]byte
	sinkInt  int
)

// BenchmarkRawBLAKE3_1KiB is the calibration bench: plain BLAKE3 over the
// record's 1,024 canonical bytes.
func BenchmarkRawBLAKE3_1KiB(b *testing.B) {
	_, enc := record1KiB(b)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		sinkHash = blake3.Sum256(enc)
	}
}

// BenchmarkCanonicalEncode is the writer's path: normalize, check and
// append the canonical bytes into a reused buffer.
func BenchmarkCanonicalEncode(b *testing.B) {
	rec, enc := record1KiB(b)
	buf := make([]byte, 0, 4096)
	var err error
	if buf, err = canonical.AppendRecord(buf, &rec, canonical.DefaultLimits); err != nil || !bytes.Equal(buf, enc) {
		b.Fatalf("encoder does not reproduce the vector: %v", err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = canonical.AppendRecord(buf[:0], &rec, canonical.DefaultLimits)
	}
}

// BenchmarkCanonicalOpen is the reader's path: strict open, then every
// field read.
func BenchmarkCanonicalOpen(b *testing.B) {
	_, enc := record1KiB(b)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := canonical.Open(enc)
		if err != nil {
			b.Fatal(err)
		}
		sinkInt += readAll(v)
	}
}

// BenchmarkRecordHash is the record hash as the SDK computes it.
func BenchmarkRecordHash(b *testing.B) {
	_, enc := record1KiB(b)
	h := canonical.NewHasher()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		sinkHash = h.RecordHash(enc)
	}
}

func readAll(v canonical.AuditRecordView) int {
	n := int(v.V()) + int(v.Kind()) + int(v.Seq()) + int(v.TsMs())
	n += len(v.WriterID()) + len(v.Stream()) + len(v.Reason()) + len(v.Prev())
	a, s := v.Actor(), v.Subject()
	n += len(a.CapID()) + len(a.KeyFpr()) + len(a.PassportID())
	if a.Anon() {
		n++
	}
	n += len(s.ContentID()) + len(s.LedgerTxid()) + len(s.Name())
	attrs := v.Attrs()
	for i := 0; i < attrs.Len(); i++ {
		n += len(attrs.At(i).Key()) + len(attrs.At(i).Value())
	}
	return n
}
