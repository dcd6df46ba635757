package metrics

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// verifyCounts returns every series of audit_verify_fail_total that is
// not 0, by reason.
func verifyCounts(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range VerifyReasons {
		if v := testutil.ToFloat64(m.verifyFail.WithLabelValues(string(r))); v != 0 {
			out[string(r)] = v
		}
	}
	return out
}

// TestVerifyReasonsOfCheckpoints: a checkpoint that does not hold, as the
// real checkpoint verifiers report it (a *checkpoint.Error, wrapped by a
// host or in a *checkpoint.DirError), counts under its own reason: a log
// rolled back is checkpoint_rollback on the dashboard, not "other" beside
// a host's own errors.
func TestVerifyReasonsOfCheckpoints(t *testing.T) {
	m, reg := newMetrics(t)
	const origin = "ron-audit/svc-gateway@inst-1/caps"
	tree := checkpoint.NewTree()
	for i := 0; i < 5; i++ {
		tree.Append([32]byte{byte(i + 1)})
	}
	root := func(n int64) tlog.Hash {
		h, err := tree.RootAt(n)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	old := checkpoint.Checkpoint{Origin: origin, Size: 5, Root: root(5)}
	rollback := checkpoint.VerifyConsistency(old, checkpoint.Checkpoint{Origin: origin, Size: 3, Root: root(3)}, nil)
	fork := checkpoint.VerifyConsistency(old, checkpoint.Checkpoint{Origin: origin, Size: 5, Root: root(4)}, nil)
	notIncluded := checkpoint.VerifyInclusion(old, 1, [32]byte{9}, nil)
	for err, want := range map[error]error{rollback: checkpoint.ErrRollback, fork: checkpoint.ErrFork, notIncluded: checkpoint.ErrNotIncluded} {
		if !errors.Is(err, want) {
			t.Fatalf("%v, want %v", err, want)
		}
	}
	m.VerifyFailed(fmt.Errorf("host: %w", rollback))
	m.VerifyFailed(&checkpoint.DirError{WriterID: "svc-gateway@inst-1", Stream: "caps", Seq: 5, Path: "cp", Err: rollback})
	m.VerifyFailed(fork)
	m.VerifyFailed(notIncluded)
	want := map[string]float64{"checkpoint_rollback": 2, "checkpoint_fork": 1, "checkpoint_not_included": 1}
	if got := verifyCounts(t, m); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", NameVerifyFail, got, want)
	}
	if n, err := testutil.GatherAndCount(reg, NameVerifyFail); err != nil || n != len(VerifyReasons) {
		t.Errorf("%d series of %s (%v), want %d: one per VerifyReasons, from New on", n, NameVerifyFail, err, len(VerifyReasons))
	}
}

// TestVerifyReasonsOfExports: every failing case of the committed bundle
// vectors, run through the real export verifier, counts under a reason
// of its own, none as "other": root, consistency, truncated and the
// others were "other" beside a host's own errors (gap alone had one,
// manifest_gap). A vector whose error carries a *sdk.VerifyError counts
// as that (a record's), one with a *checkpoint.Error as that (the
// checkpoint's), and the rest as export_REASON.
func TestVerifyReasonsOfExports(t *testing.T) {
	m, _ := newMetrics(t)
	want := map[string]float64{}
	for _, c := range bundleVectorCases(t) {
		if c.Want == "ok" {
			continue
		}
		_, err := export.VerifySequenceTrusted(c.Named, export.KeyVerifiers(c.Pubs...), sdk.NewKeySet(c.Pubs...), c.Trusted)
		var ee *export.Error
		if !errors.As(err, &ee) || string(ee.Reason) != c.Want {
			t.Fatalf("%s: %v, want an *export.Error %s", c.Name, err, c.Want)
		}
		m.VerifyFailed(fmt.Errorf("host: %w", err))
		var ve *sdk.VerifyError
		var ce *checkpoint.Error
		switch {
		case errors.As(err, &ve):
			want[string(ve.Reason)]++
		case errors.As(err, &ce):
			want["checkpoint_"+string(ce.Reason)]++
		case ee.Reason == export.ReasonGap:
			want[VerifyManifestGap]++
		default:
			want["export_"+string(ee.Reason)]++
		}
	}
	for _, r := range []string{"export_root", "export_truncated", "export_consistency", VerifyManifestGap} {
		if want[r] == 0 {
			t.Errorf("no vector counts as %s: the test no longer covers it (want %v)", r, want)
		}
	}
	if got := verifyCounts(t, m); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v,\nwant %v", NameVerifyFail, got, want)
	}
}
