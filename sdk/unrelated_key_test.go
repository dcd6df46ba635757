package sdk_test

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// TestOpenDurableRefusesUnrelatedKey: a log reopened with a key that no
// transition in it names (a newcomer's key, given the log's key as a
// verifier key) signed the log's existing chains with no transition: the
// log's first key alone then no longer verified them (unknown_key), the
// continuity every other refusal keeps. Nothing promises such a takeover
// (a lost key has no way to hand a chain on that a verifier could
// follow), so the chains the log's key holds refuse it, naming the chain,
// the key that signs it and what to do; a chain the new key starts is
// its own, as after a rotation.
func TestOpenDurableRefusesUnrelatedKey(t *testing.T) {
	ops, other := rotateSigner(t, "unrelated ops"), rotateSigner(t, "unrelated other")
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: ops}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coreAppend(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: other}, sdk.DurableOptions{Keys: sdk.NewKeySet(ops.Public())})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(3)
	_, err = l.Append(&r)
	if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "svc-gateway@inst-1/reads") ||
		!strings.Contains(err.Error(), "key "+ops.KeyID().String()) || !strings.Contains(err.Error(), "RotateKey") {
		t.Errorf("Append with a key no transition names, to a chain of the log's key: %v; want ErrConfig naming the chain, key %s and RotateKey", err, ops.KeyID())
	}
	if _, err := l.RotateKey(rotateSigner(t, "unrelated third")); !errors.Is(err, sdk.ErrConfig) {
		t.Errorf("RotateKey from a key that holds none of the log's chains: %v; want ErrConfig", err)
	}
	r = coreRecord(4)
	r.Stream = "new-chain"
	if _, err := l.Append(&r); err != nil {
		t.Errorf("a chain the new key starts: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := sdk.VerifyDirChain(dir, "svc-gateway@inst-1", "reads", sdk.NewKeySet(ops.Public()), false, nil)
	if err != nil || res.Records != 2 {
		t.Fatalf("the log's chain with its own key alone: %d records, %v", res.Records, err)
	}
}

// TestOpenDurableRefusesUnrelatedKeySealed: a checkpoint-sealed chain
// (SealEvery with a checkpoint.Keeper as Sealer) has no record signature
// in the log: only its kept checkpoints say which key holds it. Reopened
// with a key that no transition names, the log took the chain over: the
// Keeper signed the next checkpoint with the unrelated key, and the
// log's key alone no longer verified the chain. It refuses as a signed
// chain does, naming the chain, the key its newest checkpoint is signed
// by and what to do; the Keeper signs nothing of it, and a chain the new
// key starts is its own.
func TestOpenDurableRefusesUnrelatedKeySealed(t *testing.T) {
	ops, other := rotateSigner(t, "sealed ops"), rotateSigner(t, "sealed other")
	dir := filepath.Join(t.TempDir(), "wal")
	cdir := filepath.Join(dir, "checkpoints")
	open := func(s sdk.Signer, keys *sdk.KeySet) (*sdk.Log, *checkpoint.Keeper) {
		t.Helper()
		k, err := checkpoint.NewKeeper(cdir, s, checkpoint.KeeperOptions{Every: 1000, Interval: -1})
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: s, Observer: k, SealEvery: 1000}, sdk.DurableOptions{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return l, k
	}
	l, _ := open(ops, nil)
	coreAppend(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Without the log's key to name it, the refusal names the checkpoint.
	l, _ = open(other, nil)
	r := coreRecord(3)
	if _, err := l.Append(&r); !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "sealed by a key other than "+other.KeyID().String()) ||
		!strings.Contains(err.Error(), "00000000000000000002.note") {
		t.Errorf("Append with a key no transition names, the sealing key not given: %v; want ErrConfig naming the checkpoint", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, k := open(other, sdk.NewKeySet(ops.Public()))
	_, err := l.Append(&r)
	if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "svc-gateway@inst-1/reads") ||
		!strings.Contains(err.Error(), "key "+ops.KeyID().String()) || !strings.Contains(err.Error(), "RotateKey") {
		t.Errorf("Append with a key no transition names, to a sealed chain of the log's key: %v; want ErrConfig naming the chain, key %s and RotateKey", err, ops.KeyID())
	}
	r = coreRecord(4)
	r.Stream = "new-chain"
	if _, err := l.Append(&r); err != nil {
		t.Errorf("a chain the new key starts: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if notes, err := checkpoint.LoadHistory(cdir, "svc-gateway@inst-1", "reads"); err != nil || len(notes) != 1 {
		t.Errorf("the log's chain: %d checkpoints kept (%v); want its key's one, of size 2, alone", len(notes), err)
	}
	sum, err := checkpoint.VerifyDir(dir, []ed25519.PublicKey{ops.Public(), other.Public()}, checkpoint.DirOptions{})
	if err != nil || sum.Records != 3 {
		t.Errorf("the log after the unrelated key's open: %d records, %v; want 3, ok", sum.Records, err)
	}
}

// TestOpenDurableRefusesUnrelatedKeySealedNoKeeper: the chain of
// TestOpenDurableRefusesUnrelatedKeySealed, reopened with the unrelated
// key and no Keeper as Observer (a host sealing with SealEvery and no
// checkpoints of its own, or one reopening a directory a Node
// checkpointed), read nothing kept in DIR/checkpoints: Append took the
// chain over and Close sealed it with the unrelated key, which a
// verifier following the chain from the key of its kept checkpoints does
// not know. OpenDurable reads the newest checkpoint kept there, as
// sdk.MaySign does, and refuses the chain with the Keeper's message; a
// chain the new key starts is its own, and the log's own key, reopened
// so, carries on.
func TestOpenDurableRefusesUnrelatedKeySealedNoKeeper(t *testing.T) {
	ops, other := rotateSigner(t, "nokeeper ops"), rotateSigner(t, "nokeeper other")
	dir := filepath.Join(t.TempDir(), "wal")
	cdir := filepath.Join(dir, "checkpoints")
	k, err := checkpoint.NewKeeper(cdir, ops, checkpoint.KeeperOptions{Every: 1000, Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: ops, Observer: k, SealEvery: 1000}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coreAppend(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	note := filepath.Join(cdir, "svc-gateway@inst-1", "reads", "00000000000000000002.note")
	for _, keys := range []*sdk.KeySet{nil, sdk.NewKeySet(ops.Public())} {
		l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: other, SealEvery: 1000}, sdk.DurableOptions{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		r := coreRecord(3)
		_, err = l.Append(&r)
		want := "sealed by a key other than " + other.KeyID().String()
		if keys != nil {
			want = "sealed by key " + ops.KeyID().String()
		}
		if !errors.Is(err, sdk.ErrConfig) || !strings.Contains(err.Error(), "svc-gateway@inst-1/reads") ||
			!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), note) || !strings.Contains(err.Error(), "RotateKey") {
			t.Errorf("Append with a key no transition names, no Keeper, to a sealed chain of the log's key (keys %v): %v; want ErrConfig naming the chain, %q, %s and RotateKey", keys != nil, err, want, note)
		}
		if _, err := l.RotateKey(rotateSigner(t, "nokeeper third")); !errors.Is(err, sdk.ErrConfig) {
			t.Errorf("RotateKey from a key that holds none of the log's chains: %v; want ErrConfig", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: other, SealEvery: 1000}, sdk.DurableOptions{Keys: sdk.NewKeySet(ops.Public())})
	if err != nil {
		t.Fatal(err)
	}
	r := coreRecord(4)
	r.Stream = "new-chain"
	if _, err := l.Append(&r); err != nil {
		t.Errorf("a chain the new key starts: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The log's own key, reopened with no Keeper, seals its chain.
	l, _, err = sdk.OpenDurable(dir, sdk.Config{Signer: ops, SealEvery: 1000}, sdk.DurableOptions{Keys: sdk.NewKeySet(other.Public())})
	if err != nil {
		t.Fatal(err)
	}
	r = coreRecord(3)
	if _, err := l.Append(&r); err != nil {
		t.Errorf("the chain's own key, no Keeper: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := sdk.VerifyDirChain(dir, "svc-gateway@inst-1", "reads", sdk.NewKeySet(ops.Public()), false, nil)
	if err != nil || res.Records != 3 {
		t.Errorf("the log's chain with its own key alone: %d records, %v; want 3, ok", res.Records, err)
	}
}
