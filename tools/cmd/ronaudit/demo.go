package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// demo writes a chain of n records in RAM the way a writer does (canonical
// bytes, BLAKE3 record hash, link, Ed25519 signature), then verifies it the
// way a reader does (strict open, hash, link, signature), and prints the
// rates next to the raw primitives measured in the same run.
func demo(w io.Writer, n int) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	type sealed struct {
		bytes []byte
		sig   [ed25519.SignatureSize]byte
	}
	log := make([]sealed, 0, n)
	h := canonical.NewHasher()
	buf := make([]byte, 0, canonical.DefaultMaxRecord)
	prev := canonical.Genesis
	rec := canonical.AuditRecord{
		Kind: canonical.KindGetServed, WriterID: "svc-gateway@inst-1", Stream: "reads",
		Actor:   canonical.Actor{CapID: "cap:01JD9X7Q4M2R5T8V3W6Y"},
		Subject: canonical.Subject{ContentID: "b3:9f2c4e6a8b0d1f3e", Name: "bucket/photos/img_0412.jpg"},
		Reason:  "served object to authorized reader",
	}
	start := time.Now()
	var total int
	for i := 0; i < n; i++ {
		rec.Seq, rec.TsMs, rec.Prev = uint64(i+1), uint64(time.Now().UnixMilli()), prev[:]
		rec.Attrs = append(rec.Attrs[:0], canonical.Attr{Key: "bytes", Value: strconv.Itoa(1000 + i)}, canonical.Attr{Key: "status", Value: "200"})
		if buf, err = canonical.AppendRecord(buf[:0], &rec, canonical.DefaultLimits); err != nil {
			return err
		}
		hash := h.RecordHash(buf)
		log = append(log, sealed{bytes: bytes.Clone(buf), sig: canonical.Sign(priv, hash)})
		prev = hash
		total += len(buf)
	}
	appendTime := time.Since(start)

	start = time.Now()
	prev = canonical.Genesis
	for i, s := range log {
		v, err := canonical.Open(s.bytes)
		if err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		if v.Seq() != uint64(i+1) || !bytes.Equal(v.Prev(), prev[:]) {
			return fmt.Errorf("record %d: chain link broken", i+1)
		}
		hash := h.RecordHash(s.bytes)
		if !canonical.VerifySignature(pub, hash, s.sig[:]) {
			return fmt.Errorf("record %d: bad signature", i+1)
		}
		prev = hash
	}
	verifyTime := time.Since(start)

	sample := log[len(log)-1].bytes
	blake := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			_ = blake3.Sum256(sample)
		}
	})
	sign := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			_ = canonical.Sign(priv, prev)
		}
	})
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Fprintf(w, "chain of %d records, %d canonical bytes each on average, head %s\n", n, total/n, prev)
	fmt.Fprintf(w, "append (encode, BLAKE3, link, Ed25519 sign): %8.0f records/s  %6.2f us/record\n", rate(appendTime), float64(appendTime.Microseconds())/float64(n))
	fmt.Fprintf(w, "verify (strict open, BLAKE3, link, Ed25519): %8.0f records/s  %6.2f us/record\n", rate(verifyTime), float64(verifyTime.Microseconds())/float64(n))
	fmt.Fprintf(w, "raw primitives in this run: BLAKE3 of %d bytes %.0f ns, Ed25519 sign %.0f ns\n", len(sample), float64(blake.NsPerOp()), float64(sign.NsPerOp()))
	fmt.Fprintf(w, "verified: %d records, every hash, link and signature holds\n", n)
	return nil
}
