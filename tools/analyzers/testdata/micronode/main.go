// Command micronode uses every part of the SDK a Micronode host uses:
// keys made in memory, a Log on its MemStore, the privacy helpers, the
// merge iterator, verification and the Emitter. TestAmnesia proves that
// nothing reachable from it can create, write or remove a file.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

func main() {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		panic(err)
	}
	log, err := sdk.New(sdk.Config{Signer: signer, SealEvery: 4})
	if err != nil {
		panic(err)
	}
	salt := make([]byte, sdk.SaltSize)
	rand.Read(salt)
	priv8 := &sdk.Privacy{Mode: sdk.IPHash, Salt: salt, Keys: sdk.DefaultIPKeys()}
	attrs, err := priv8.Apply([]canonical.Attr{{Key: "ip", Value: "192.0.2.7"}})
	if err != nil {
		panic(err)
	}
	rec := canonical.AuditRecord{V: 1, Kind: canonical.KindCapIssued, WriterID: "w", Stream: "s", Attrs: attrs}
	if _, err := log.Append(&rec); err != nil {
		panic(err)
	}
	if _, err := log.Seal("w", "s"); err != nil {
		panic(err)
	}
	keys := sdk.NewKeySet(pub)
	res, err := sdk.VerifyChain(log.Store().Iter("w", "s"), keys, sdk.VerifyOptions{})
	if err != nil {
		panic(err)
	}
	recs, _ := log.Records("w", "s", 1, 1)
	if _, err := sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, 2); err != nil {
		panic(err)
	}
	m := sdk.Merge(log.Store().Iter("w", "s"))
	for m.Next() {
		_ = m.Entry()
	}
	e, err := sdk.NewEmitter(log, sdk.EmitterOptions{})
	if err != nil {
		panic(err)
	}
	if err := e.TryEmit(&canonical.AuditRecord{V: 1, WriterID: "w", Stream: "t"}); err != nil {
		panic(err)
	}
	if err := e.Close(context.Background()); err != nil {
		panic(err)
	}
	if res.Records != 1 {
		panic("not verified")
	}
}
