package sdk_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// recordPayload is a record's WAL payload as sdk/wal/FORMAT.md ("SDK
// payloads") lays it out: type 1, flags (bit 0: signed), key id,
// signature, record hash, canonical bytes.
func recordPayload(rec sdk.Sealed) []byte {
	flags := byte(0)
	if rec.Signed {
		flags = 1
	}
	p := append([]byte{1, flags}, rec.KeyID[:]...)
	p = append(p, rec.Sig[:]...)
	p = append(p, rec.Hash[:]...)
	return append(p, rec.Bytes...)
}

// reasonAt is what a verification said, as far as VerifyDir and
// VerifyChain say the same of a failure: "ok", or the reason and seq of
// the *sdk.VerifyError (verdict compares everything, where both report
// an sdk.Result).
func reasonAt(err error) string {
	var ve *sdk.VerifyError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ve):
		return fmt.Sprintf("%s at seq %d", ve.Reason, ve.Seq)
	}
	return "not a VerifyError: " + err.Error()
}

// TestTransitionVerdictsAgree: the three verifiers of a chain's key
// transitions (VerifyChain, VerifyChainParallel, and the durable replay
// of VerifyDir, each with its own code path for them) give every chain
// the same verdict, reason and seq included: chains a writer bypassing
// the Log could write, records signed by any of three keys or unsigned,
// some holding a transition naming any of them (their own signer, a key
// retired before, one not given), verified by a verifier holding the
// first key, the first two, or only the second. A verdict that differs
// is a chain one auditor accepts and another refuses.
func TestTransitionVerdictsAgree(t *testing.T) {
	o, n, x := rotateSigner(t, "agree o"), rotateSigner(t, "agree n"), rotateSigner(t, "agree x")
	signers := []*sdk.Ed25519Signer{nil, o, n, x}
	sets := [][]ed25519.PublicKey{{o.Public()}, {o.Public(), n.Public()}, {n.Public()}}
	rng := rand.New(rand.NewPCG(16, 2026))
	base := t.TempDir()
	seen := map[bool]int{}
	for i := range 150 {
		steps := make([]handStep, 2+rng.IntN(5))
		for j := range steps {
			steps[j].by = signers[rng.IntN(len(signers))]
			if rng.IntN(3) == 0 {
				steps[j].next = signers[1+rng.IntN(3)]
			}
		}
		steps[len(steps)-1].by = signers[1+rng.IntN(3)] // sealed: no unsealed tail to tell apart
		recs := handChain(t, steps)
		dir := filepath.Join(base, strconv.Itoa(i))
		w, _, err := wal.Open(dir, wal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if _, err := w.Append(recordPayload(r)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, set := range sets {
			keys := sdk.NewKeySet(set...)
			res, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{})
			seen[err == nil]++
			if want, got := verdict(res, err), verdict(sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, 2)); got != want {
				t.Errorf("chain %d (%d keys): VerifyChain says %s, VerifyChainParallel %s", i, len(set), want, got)
			}
			_, derr := sdk.VerifyDir(dir, keys, false, nil)
			if want, got := reasonAt(err), reasonAt(derr); got != want {
				t.Errorf("chain %d (%d keys): VerifyChain says %s, VerifyDir %s", i, len(set), want, got)
			}
		}
	}
	if seen[true] < 20 || seen[false] < 20 {
		t.Fatalf("%d chains verified and %d failed: too few of one to compare", seen[true], seen[false])
	}
}
