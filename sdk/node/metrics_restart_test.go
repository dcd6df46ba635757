package node_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/node"
)

// TestMetricsExactAcrossReopens: one Metrics across three runs of a Node
// in one process (a clean Close, a run whose Node was dropped after only
// its Log was closed, as a crash leaves it but for the lock, and a
// clean Close again) counts each checkpoint file once
// (audit_export_checkpoints_total), each bundle once (export_batch_seconds'
// count) and each record appended once (audit_appended_total): the
// catch-up of a reopened Node (the replay's checkpoints, the Auto's
// bundles of checkpoints not yet exported) neither misses nor repeats any.
func TestMetricsExactAcrossReopens(t *testing.T) {
	dir, exports := filepath.Join(t.TempDir(), "wal"), t.TempDir()
	signer := testSigner(t)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	opts := node.Options{Every: 3, Interval: -1, ExportDir: exports, Metrics: m}
	emitted := 0
	run := func(k int, clean bool) {
		t.Helper()
		n, _, err := node.Open(dir, signer, opts)
		if err != nil {
			t.Fatal(err)
		}
		em, err := sdk.NewEmitter(n.Log(), sdk.EmitterOptions{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			for _, s := range []string{"a", "b"} {
				if err := em.Emit(context.Background(), record("w", s, emitted+i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		emitted += k
		if err := em.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if clean {
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := n.Log().Close(); err != nil { // the lock; no final checkpoint, no wait for bundles
			t.Fatal(err)
		}
		// The dropped Node's exporter may still be writing the bundle of
		// its last checkpoint: one bundle per checkpoint once it is done.
		deadline := time.Now().Add(10 * time.Second)
		for countFiles(t, exports, ".bundle") != countFiles(t, filepath.Join(dir, "checkpoints"), ".note") && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	run(7, true)
	run(8, false)
	run(4, true)

	notes, bundles := countFiles(t, filepath.Join(dir, "checkpoints"), ".note"), countFiles(t, exports, ".bundle")
	got := gathered(t, reg)
	if got[metrics.NameCheckpoints] != float64(notes) {
		t.Errorf("%s = %v; %d checkpoint files", metrics.NameCheckpoints, got[metrics.NameCheckpoints], notes)
	}
	if got[metrics.NameExportBatch] != float64(bundles) {
		t.Errorf("%s count = %v; %d bundle files", metrics.NameExportBatch, got[metrics.NameExportBatch], bundles)
	}
	if got[metrics.NameAppended] != float64(2*emitted) {
		t.Errorf("%s = %v; %d records appended", metrics.NameAppended, got[metrics.NameAppended], 2*emitted)
	}
	verifyAll(t, dir, exports, signer.Public(), map[string]uint64{"a": uint64(emitted), "b": uint64(emitted)})
}

func countFiles(t *testing.T, root, ext string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ext {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// gathered sums each counter's series, and gives each histogram's sample
// count, by metric name.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if c := mt.GetCounter(); c != nil {
				out[mf.GetName()] += c.GetValue()
			}
			if h := mt.GetHistogram(); h != nil {
				out[mf.GetName()] += float64(h.GetSampleCount())
			}
		}
	}
	return out
}
