package sdk_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
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
