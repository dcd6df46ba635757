package sdk_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/testvectors"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// The negative vectors of testing/vectors/vN/invalid (written by
// canonical's TestInvalidVectors), read as a verifier meets them: every
// record there is validly hashed and signed by the vector key, so only
// the format's rules refuse it. The records are those of the current
// schema version, canonical.SchemaVersion: an earlier version's are what
// its rules refuse, and one refused for a field it does not know may be a
// valid record now (canonical/SPEC.md section 8). The chains are every
// released version's: chain rules do not change with the schema.

// invalidVectors is schema version v's negative vectors directory.
func invalidVectors(v int) string {
	return filepath.Join(testvectors.Dir("../testing/vectors", v), "invalid")
}

type vecRecord struct {
	Name      string `json:"name"`
	Canonical string `json:"canonical"`
	Hash      string `json:"hash"`
	Signature string `json:"signature"`
}

func readVectorJSON(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func sealedVector(t *testing.T, pub ed25519.PublicKey, r vecRecord) sdk.Sealed {
	t.Helper()
	b, err := hex.DecodeString(r.Canonical)
	if err != nil {
		t.Fatal(err)
	}
	h, err := canonical.ParseHash(r.Hash)
	if err != nil {
		t.Fatal(err)
	}
	s := sdk.Sealed{Bytes: b, Hash: h, Signed: true, KeyID: sdk.KeyIDOf(pub)}
	sig, err := hex.DecodeString(r.Signature)
	if err != nil || len(sig) != len(s.Sig) {
		t.Fatalf("signature %q: %v", r.Signature, err)
	}
	copy(s.Sig[:], sig)
	return s
}

// TestInvalidRecordVectors: VerifyRecord and VerifyChain refuse every
// invalid record as not_canonical, after its hash has checked out.
func TestInvalidRecordVectors(t *testing.T) {
	var f struct {
		PublicKey string      `json:"publicKey"`
		Records   []vecRecord `json:"records"`
	}
	readVectorJSON(t, filepath.Join(invalidVectors(canonical.SchemaVersion), "records.json"), &f)
	pub, _ := hex.DecodeString(f.PublicKey)
	keys := sdk.NewKeySet(pub)
	if len(f.Records) == 0 {
		t.Fatal("no invalid records")
	}
	for _, r := range f.Records {
		s := sealedVector(t, pub, r)
		if err := sdk.VerifyHash(s); err != nil {
			t.Errorf("%s: %v: the vector's hash is wrong", r.Name, err)
		}
		if _, err := sdk.VerifyRecord(s, keys); !errors.Is(err, sdk.ErrNotCanonical) {
			t.Errorf("%s: VerifyRecord: %v, want not_canonical", r.Name, err)
		}
		_, err := sdk.VerifyChain(sdk.NewSliceIterator([]sdk.Sealed{s}), keys, sdk.VerifyOptions{})
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || ve.Reason != sdk.ReasonNotCanonical || ve.Verified != 0 {
			t.Errorf("%s: VerifyChain: %v, want not_canonical", r.Name, err)
		}
	}
}

// TestInvalidChainVectors: VerifyChain refuses every invalid chain of
// every released schema version at the record and for the reason the
// vector names, having verified the records before it.
func TestInvalidChainVectors(t *testing.T) {
	for v := 1; v <= canonical.SchemaVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) { checkInvalidChains(t, filepath.Join(invalidVectors(v), "chains.json")) })
	}
}

func checkInvalidChains(t *testing.T, path string) {
	var f struct {
		PublicKey string `json:"publicKey"`
		Chains    []struct {
			Name    string      `json:"name"`
			FailsAt int         `json:"failsAt"`
			Reason  string      `json:"reason"`
			Records []vecRecord `json:"records"`
		} `json:"chains"`
	}
	readVectorJSON(t, path, &f)
	pub, _ := hex.DecodeString(f.PublicKey)
	keys := sdk.NewKeySet(pub)
	if len(f.Chains) == 0 {
		t.Fatal("no invalid chains")
	}
	for _, c := range f.Chains {
		var recs []sdk.Sealed
		for _, r := range c.Records {
			s := sealedVector(t, pub, r)
			if _, err := sdk.VerifyRecord(s, keys); err != nil {
				t.Errorf("%s: a record fails on its own: %v", c.Name, err)
			}
			recs = append(recs, s)
		}
		_, err := sdk.VerifyChain(sdk.NewSliceIterator(recs), keys, sdk.VerifyOptions{})
		var ve *sdk.VerifyError
		if !errors.As(err, &ve) || string(ve.Reason) != c.Reason || ve.Verified != c.FailsAt {
			t.Errorf("%s: VerifyChain: %v (verified %d), want %s after %d records", c.Name, err, verified(ve), c.Reason, c.FailsAt)
		}
		if _, err := sdk.VerifyChainParallel(recs, keys, sdk.VerifyOptions{}, 2); !errors.As(err, &ve) || string(ve.Reason) != c.Reason {
			t.Errorf("%s: VerifyChainParallel: %v, want %s", c.Name, err, c.Reason)
		}
	}
}

func verified(ve *sdk.VerifyError) int {
	if ve == nil {
		return -1
	}
	return ve.Verified
}
