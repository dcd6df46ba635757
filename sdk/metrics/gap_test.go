package metrics

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// TestVerifyManifestGap: the design's manifest_gap counts an export
// sequence missing a bundle. The committed bundle vectors' gap cases,
// run through the real verifier, count there and nowhere else; a record
// missing from a chain stays seq_gap.
func TestVerifyManifestGap(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	gaps := 0
	for _, c := range bundleVectorCases(t) {
		if c.Want != string(export.ReasonGap) {
			continue
		}
		_, err := export.VerifySequence(c.Named, export.KeyVerifiers(c.Pubs...), sdk.NewKeySet(c.Pubs...), nil)
		if !errors.Is(err, export.ErrGap) {
			t.Fatalf("%s: want a gap: %v", c.Name, err)
		}
		m.VerifyFailed(fmt.Errorf("host: %w", err))
		gaps++
	}
	if gaps < 2 {
		t.Fatalf("%d gap cases in the vectors", gaps)
	}
	m.VerifyFailed(&sdk.VerifyError{Reason: sdk.ReasonSeqGap})
	for _, r := range VerifyReasons {
		want := 0.0
		switch r {
		case VerifyManifestGap:
			want = float64(gaps)
		case sdk.ReasonSeqGap:
			want = 1
		}
		if got := testutil.ToFloat64(m.verifyC[r]); got != want {
			t.Errorf("%s{reason=%q} = %v, want %v", NameVerifyFail, r, got, want)
		}
	}
}

// bundleVectorCase is a case of the committed bundle vectors, decoded for
// the export verifier.
type bundleVectorCase struct {
	Name    string
	Pubs    []ed25519.PublicKey // the trusted keys
	Named   []export.Named      // the bundles, named #1, #2, ...
	Trusted []byte              // a trusted checkpoint, or nil
	Want    string              // "ok" or the export reason
}

// bundleVectorCases reads testing/vectors/v1/bundles/bundles.json.
func bundleVectorCases(t *testing.T) []bundleVectorCase {
	t.Helper()
	raw, err := os.ReadFile("../../testing/vectors/v1/bundles/bundles.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Name       string
			Trusted    []string
			Bundles    []string
			Checkpoint string
			Want       string
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var out []bundleVectorCase
	for _, c := range f.Cases {
		bc := bundleVectorCase{Name: c.Name, Want: c.Want}
		for _, k := range c.Trusted {
			p, err := hex.DecodeString(k)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			bc.Pubs = append(bc.Pubs, p)
		}
		for i, h := range c.Bundles {
			d, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			bc.Named = append(bc.Named, export.Named{Name: fmt.Sprintf("#%d", i+1), Data: d})
		}
		if c.Checkpoint != "" {
			bc.Trusted = []byte(c.Checkpoint)
		}
		out = append(out, bc)
	}
	if len(out) == 0 {
		t.Fatal("no bundle vector cases")
	}
	return out
}
