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
	raw, err := os.ReadFile("../../testing/vectors/v1/bundles/bundles.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []struct {
			Name    string
			Trusted []string
			Bundles []string
			Want    string
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	gaps := 0
	for _, c := range f.Cases {
		if c.Want != string(export.ReasonGap) {
			continue
		}
		var pubs []ed25519.PublicKey
		for _, k := range c.Trusted {
			p, err := hex.DecodeString(k)
			if err != nil {
				t.Fatal(err)
			}
			pubs = append(pubs, p)
		}
		var named []export.Named
		for i, h := range c.Bundles {
			d, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			named = append(named, export.Named{Name: fmt.Sprintf("#%d", i+1), Data: d})
		}
		_, err := export.VerifySequence(named, export.KeyVerifiers(pubs...), sdk.NewKeySet(pubs...), nil)
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
