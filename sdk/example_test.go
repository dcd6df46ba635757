package sdk_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// exampleKey stands in for sdk.LoadSigner("audit.key") (a 0600 PEM file).
func exampleKey() *sdk.Ed25519Signer {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "example key: never use a fixed seed")
	s, err := sdk.NewEd25519Signer(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		panic(err)
	}
	return s
}

func ExampleLog_Append() {
	log, err := sdk.New(sdk.Config{Signer: exampleKey()}) // every record signed, kept in RAM
	if err != nil {
		panic(err)
	}
	rec := canonical.AuditRecord{
		Kind: canonical.KindCapIssued, TsMs: 1764201600000,
		WriterID: "svc-gateway@inst-1", Stream: "caps",
		Actor:  canonical.Actor{CapID: "cap-7"},
		Reason: "issued",
		Attrs:  []canonical.Attr{{Key: "ip", Value: "203.0.113.0/24"}},
	}
	for i := 0; i < 3; i++ {
		rec.TsMs++ // Append fills seq and prev; tsMs too when it is 0
		a, err := log.Append(&rec)
		if err != nil {
			panic(err)
		}
		fmt.Println(a.Seq, a.Record.Signed, a.Head.Hash.String()[:16])
	}
	// Output:
	// 1 true ef46d681b37885a5
	// 2 true 996a3c0144826e19
	// 3 true 25c1ec30efe58193
}

func ExampleVerifyChain() {
	log, _ := sdk.New(sdk.Config{Signer: exampleKey()})
	for i := 0; i < 5; i++ {
		rec := canonical.AuditRecord{TsMs: 1764201600000 + uint64(i), WriterID: "w", Stream: "s", Reason: "r"}
		if _, err := log.Append(&rec); err != nil {
			panic(err)
		}
	}
	var recs []sdk.Sealed
	for it := log.Store().Iter("w", "s"); it.Next(); {
		recs = append(recs, it.Entry())
	}
	res, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), log.Keys(), sdk.VerifyOptions{})
	fmt.Println(res.Records, err)

	recs[2], recs[3] = recs[3], recs[2] // reorder two records
	_, err = sdk.VerifyChain(sdk.NewSliceIterator(recs), log.Keys(), sdk.VerifyOptions{})
	var ve *sdk.VerifyError
	if errors.As(err, &ve) {
		fmt.Println(ve.Reason, "at seq", ve.Seq, "after", ve.Verified, "good records")
	}
	// Output:
	// 5 <nil>
	// seq_gap at seq 3 after 2 good records
}

func ExampleConfig_sealEvery() {
	// Checkpoint-sealed: only every 100th record is signed; the signature
	// covers every record before it through the hash chain.
	log, _ := sdk.New(sdk.Config{Signer: exampleKey(), SealEvery: 100})
	for i := 0; i < 250; i++ {
		rec := canonical.AuditRecord{TsMs: 1764201600000 + uint64(i), WriterID: "w", Stream: "s"}
		if _, err := log.Append(&rec); err != nil {
			panic(err)
		}
	}
	head, _ := log.Head("w", "s")
	fmt.Println("head", head.Seq, "sealed up to", head.SealedSeq)

	_, err := sdk.VerifyChain(log.Store().Iter("w", "s"), log.Keys(), sdk.VerifyOptions{})
	fmt.Println(errors.Is(err, sdk.ErrUnsealedTail))

	head, _ = log.Seal("w", "s") // on demand: at shutdown, or from a ticker
	_, err = sdk.VerifyChain(log.Store().Iter("w", "s"), log.Keys(), sdk.VerifyOptions{})
	fmt.Println("sealed up to", head.SealedSeq, err)
	// Output:
	// head 250 sealed up to 200
	// true
	// sealed up to 250 <nil>
}

// A host hands records to an Emitter, which never blocks: the record is
// checked and queued, signed by a worker, and acknowledged once appended.
func ExampleEmitter() {
	log, err := sdk.New(sdk.Config{Signer: exampleKey()})
	if err != nil {
		panic(err)
	}
	var acks []string // OnDurable runs on a worker; read it after Close
	em, err := sdk.NewEmitter(log, sdk.EmitterOptions{
		OnDurable: func(a sdk.EmitAck) { acks = append(acks, fmt.Sprint("appended ", a.Stream, " ", a.Seq)) },
	})
	if err != nil {
		panic(err)
	}
	rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000,
		WriterID: "svc-gateway@inst-1", Stream: "reads", Reason: "served"}
	if err := em.TryEmit(&rec); errors.Is(err, sdk.ErrBusy) {
		fmt.Println("shed, and counted") // the request goes on either way
	}
	rec.Seq = 7 // only the emitter assigns seq
	fmt.Println(em.TryEmit(&rec))
	if err := em.Close(context.Background()); err != nil { // drains
		panic(err)
	}
	st := em.Stats()
	fmt.Println(acks, st.Offered, st.Appended, st.Dropped[sdk.DropInvalid])
	// Output:
	// canonical: seq: must be 0: the emitter assigns it
	// [appended reads 1] 2 1 1
}
