package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// demo runs the Micronode flow end to end in RAM (amnesia: nothing touches
// disk): append n records to a chain with every record signed, verify the
// chain (sequentially and in parallel), and print the rates next to the
// raw primitives measured in the same run.
func demo(w io.Writer, n int) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		return err
	}
	log, err := sdk.New(sdk.Config{Signer: signer, Store: sdk.NewMemStore(1 << 30)})
	if err != nil {
		return err
	}
	privacy := sdk.Privacy{Mode: sdk.IPTruncate, Keys: sdk.DefaultIPKeys()}
	rec := canonical.AuditRecord{
		Kind: canonical.KindGetServed, WriterID: "svc-gateway@inst-1", Stream: "reads",
		Actor:   canonical.Actor{CapID: "cap:01JD9X7Q4M2R5T8V3W6Y"},
		Subject: canonical.Subject{ContentID: "b3:9f2c4e6a8b0d1f3e", Name: "bucket/photos/img_0412.jpg"},
		Reason:  "served object to authorized reader",
	}
	ts := uint64(time.Now().UnixMilli())
	var bytesTotal int
	start := time.Now()
	for i := 0; i < n; i++ {
		rec.TsMs = ts + uint64(i)
		rec.Attrs = append(rec.Attrs[:0],
			canonical.Attr{Key: "bytes", Value: strconv.Itoa(1000 + i)},
			canonical.Attr{Key: "client_ip", Value: "203.0.113." + strconv.Itoa(i%250)},
			canonical.Attr{Key: "status", Value: "200"})
		if rec.Attrs, err = privacy.Apply(rec.Attrs); err != nil { // 203.0.113.7 -> 203.0.113.0/24
			return err
		}
		a, err := log.Append(&rec)
		if err != nil {
			return err
		}
		bytesTotal += len(a.Record.Bytes)
	}
	appendTime := time.Since(start)
	head, _ := log.Head(rec.WriterID, rec.Stream)

	var recs []sdk.Sealed
	for it := log.Store().Iter(rec.WriterID, rec.Stream); it.Next(); {
		recs = append(recs, it.Entry())
	}
	start = time.Now()
	if _, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), log.Keys(), sdk.VerifyOptions{}); err != nil {
		return err
	}
	verifyTime := time.Since(start)
	start = time.Now()
	res, err := sdk.VerifyChainParallel(recs, log.Keys(), sdk.VerifyOptions{}, 0)
	if err != nil {
		return err
	}
	parallelTime := time.Since(start)

	sample := recs[len(recs)-1].Bytes
	blake := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			_ = blake3.Sum256(sample)
		}
	})
	msg := canonical.SignedMessage(head.Hash)
	sign := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			_ = ed25519.Sign(priv, msg[:])
		}
	})
	verify := testing.Benchmark(func(b *testing.B) {
		sig := ed25519.Sign(priv, msg[:])
		for b.Loop() {
			_ = ed25519.Verify(signer.Public(), msg[:], sig)
		}
	})
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
	fmt.Fprintf(w, "Micronode demo: %s in RAM, %d canonical bytes each on average, every record signed\n", count(n, "record"), bytesTotal/n)
	fmt.Fprintf(w, "  head of %s: seq %d, hash %s\n", names.Chain(head.WriterID, head.Stream), head.Seq, head.Hash)
	fmt.Fprintf(w, "  append  %9.0f records/s  %7.2f us/record  (canonicalize, BLAKE3, link, Ed25519 sign)\n", rate(appendTime), us(appendTime))
	fmt.Fprintf(w, "  verify  %9.0f records/s  %7.2f us/record  (hash, strict open, link, Ed25519 verify)\n", rate(verifyTime), us(verifyTime))
	fmt.Fprintf(w, "  verify  %9.0f records/s  %7.2f us/record  in parallel on %d cores\n", rate(parallelTime), us(parallelTime), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "  raw primitives in this run: BLAKE3 of %d bytes %d ns, Ed25519 sign %d ns, verify %d ns\n",
		len(sample), blake.NsPerOp(), sign.NsPerOp(), verify.NsPerOp())
	fmt.Fprintf(w, "  append costs %.2fx a raw Ed25519 sign; the ceiling with one signature per record is %.0f records/s per core\n",
		us(appendTime)*1e3/float64(sign.NsPerOp()), 1e9/float64(sign.NsPerOp()))
	fmt.Fprintf(w, "verified: %s, every hash, link and signature holds\n", count(res.Records, "record"))
	return nil
}
