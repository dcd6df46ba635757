package main

import (
	"crypto/ed25519"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// waitMetrics polls base's /metrics until ok holds of them, for up to
// 10 s (a loaded machine), and returns the last ones read.
func waitMetrics(t *testing.T, base string, ok func(metrics string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, metrics := httpGet(t, base+"/metrics")
		if code == http.StatusOK && ok(metrics) || time.Now().After(deadline) {
			return metrics
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHostMacronode runs the durable mode as an operator would (-wal,
// -checkpoint-every, -export): while it serves, /metrics shows the
// Keeper's checkpoints and the bundles' export times, and no failure;
// after a clean shutdown the log and the checkpoints kept with it in
// DIR/checkpoints verify offline with the public key alone, as ronaudit
// verify DIR does (checkpoint.VerifyDir), every chain checkpointed up to
// its last record (the Keeper's Close), and each chain's bundles verify
// as a sequence ending there (the Auto's Close). Without the Keeper and
// the Auto, the counters stayed at 0 and DIR/checkpoints did not exist.
func TestHostMacronode(t *testing.T) {
	dir := t.TempDir()
	walDir, expDir := filepath.Join(dir, "wal"), filepath.Join(dir, "exports")
	base, stop, logged := runHost(t, config{walDir: walDir, exportDir: expDir, checkpointEvery: 16,
		rate: 200, verifyEvery: 20 * time.Millisecond})
	for i := 0; i < 10; i++ {
		if code, body := httpGet(t, base+"/object/a.pdf"); code != http.StatusOK {
			t.Fatalf("%d %q", code, body)
		}
	}
	metrics := waitMetrics(t, base, func(m string) bool {
		return metricValue(t, m, "audit_export_checkpoints_total") > 0 && metricValue(t, m, "export_batch_seconds_count") > 0
	})
	if n := metricValue(t, metrics, "audit_export_checkpoints_total"); n == 0 {
		t.Errorf("audit_export_checkpoints_total %v while serving, want > 0", n)
	}
	if n := metricValue(t, metrics, "export_batch_seconds_count"); n == 0 {
		t.Errorf("export_batch_seconds_count %v while serving, want > 0", n)
	}
	for _, stage := range []string{"checkpoint", "bundle"} {
		if n := metricValue(t, metrics, `audit_export_fail_total{stage="`+stage+`"}`); n != 0 {
			t.Errorf("audit_export_fail_total{stage=%q} %v; log: %s", stage, n, logged())
		}
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz: %d %q", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v; log: %s", err, logged())
	}
	if m := shutdownLine.FindStringSubmatch(logged()); m == nil || m[2] != m[3] {
		t.Fatalf("log: %s", logged())
	}

	pub, err := sdk.LoadPublicKey(filepath.Join(walDir+".keys", "host.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := checkpoint.VerifyDir(walDir, []ed25519.PublicKey{pub}, checkpoint.DirOptions{})
	if err != nil {
		t.Fatalf("checkpoint.VerifyDir: %v", err)
	}
	if sum.Used == 0 || len(sum.Unused) != 0 || len(sum.Heads) != 2 {
		t.Fatalf("%d checkpoints used, unused %q, %d chains", sum.Used, sum.Unused, len(sum.Heads))
	}
	sink := &export.FileSink{Dir: expDir}
	for _, h := range sum.Heads {
		notes, err := checkpoint.LoadHistory(filepath.Join(walDir, "checkpoints"), h.WriterID, h.Stream)
		if err != nil || len(notes) == 0 {
			t.Fatalf("%s/%s: %d checkpoints kept, %v", h.WriterID, h.Stream, len(notes), err)
		}
		last, err := checkpoint.Open(notes[len(notes)-1], checkpoint.KeyVerifiers(pub))
		if err != nil || last.Size != int64(h.Seq) {
			t.Errorf("%s/%s: %d records, the last checkpoint of %d: %v", h.WriterID, h.Stream, h.Seq, last.Size, err)
		}
		bundles, err := sink.Bundles(checkpoint.Origin(h.WriterID, h.Stream))
		if err != nil || len(bundles) == 0 {
			t.Fatalf("%s/%s: bundles %q, %v", h.WriterID, h.Stream, bundles, err)
		}
		bsum, err := export.VerifyDir(filepath.Dir(bundles[0]), export.KeyVerifiers(pub), sdk.NewKeySet(pub), nil)
		if err != nil || bsum.Records != int64(h.Seq) {
			t.Errorf("%s/%s: bundles verify %d records of %d: %v", h.WriterID, h.Stream, bsum.Records, h.Seq, err)
		}
	}
}

// TestHostCheckpointFailure: the Keeper cannot write the checkpoints of
// the host's chain (once the host has started, a file appears where the
// chain's directory would be). The failure is counted
// (audit_export_fail_total{stage="checkpoint"}) and printed, /readyz
// fails (the Keeper is the log's Observer), and run returns the failure
// (main exits 1): records no longer vouched for by checkpoints are no
// clean run.
func TestHostCheckpointFailure(t *testing.T) {
	walDir := filepath.Join(t.TempDir(), "wal")
	base, stop, logged := runHost(t, config{walDir: walDir, checkpointEvery: 4, verifyEvery: time.Hour})
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz: %d %q", code, body)
	}
	// Not before the start: opening the log, the Keeper refuses a
	// history it cannot read.
	if err := os.WriteFile(filepath.Join(walDir, "checkpoints", "example-host"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if code, body := httpGet(t, base+"/object/a.pdf"); code != http.StatusOK {
			t.Fatalf("%d %q", code, body)
		}
	}
	metrics := waitMetrics(t, base, func(m string) bool {
		return metricValue(t, m, `audit_export_fail_total{stage="checkpoint"}`) > 0
	})
	if n := metricValue(t, metrics, `audit_export_fail_total{stage="checkpoint"}`); n == 0 {
		t.Errorf(`audit_export_fail_total{stage="checkpoint"} %v, want > 0`, n)
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "checkpoints or exports stopped") {
		t.Errorf("readyz after a checkpoint failure: %d %q", code, body)
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "audit checkpoints: ") {
		t.Fatalf("run after a checkpoint failure: %v; log: %s", err, logged())
	}
	if !strings.Contains(logged(), "host: audit checkpoint failed: ") {
		t.Errorf("the failure is not printed: %s", logged())
	}
}

// TestHostExportFailure: the Auto cannot write the bundles of the host's
// chain (a file where its directory should be). The failure is counted
// (audit_export_fail_total{stage="bundle"}) and printed, /readyz fails
// (the host asks the Auto: the emitter's Ready does not see it), and run
// returns the failure (main exits 1).
func TestHostExportFailure(t *testing.T) {
	dir := t.TempDir()
	walDir, expDir := filepath.Join(dir, "wal"), filepath.Join(dir, "exports")
	if err := os.MkdirAll(expDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(expDir, "example-host"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop, logged := runHost(t, config{walDir: walDir, exportDir: expDir, checkpointEvery: 4, verifyEvery: time.Hour})
	for i := 0; i < 8; i++ {
		if code, body := httpGet(t, base+"/object/a.pdf"); code != http.StatusOK {
			t.Fatalf("%d %q", code, body)
		}
	}
	metrics := waitMetrics(t, base, func(m string) bool {
		return metricValue(t, m, `audit_export_fail_total{stage="bundle"}`) > 0
	})
	if n := metricValue(t, metrics, `audit_export_fail_total{stage="bundle"}`); n == 0 {
		t.Errorf(`audit_export_fail_total{stage="bundle"} %v, want > 0`, n)
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "audit export stopped: ") {
		t.Errorf("readyz after an export failure: %d %q", code, body)
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "audit export: ") {
		t.Fatalf("run after an export failure: %v; log: %s", err, logged())
	}
	if !strings.Contains(logged(), "host: audit export stopped: ") {
		t.Errorf("the failure is not printed: %s", logged())
	}
}

// TestMainExportNeedsWAL: -export (or -checkpoint-every) without -wal is
// a usage error (exit 2): a Micronode keeps no checkpoints to export
// after, and the host must not run as if it exported.
func TestMainExportNeedsWAL(t *testing.T) {
	for _, args := range [][]string{
		{"-export", t.TempDir(), "-addr", "127.0.0.1:0"},
		{"-checkpoint-every", "5", "-addr", "127.0.0.1:0"},
	} {
		code, stderr := runMain(t, args...)
		if code != 2 || !strings.Contains(stderr, "need -wal") {
			t.Errorf("host %q: exit %d; stderr: %s", args, code, stderr)
		}
	}
}

// TestKeyBesideLog: with -wal DIR and no -key, the host's private key is
// kept beside the log (DIR.keys), not in it: a copy of the log (a backup,
// the evidence handed to an auditor) must not carry the key that signs
// it. The next start loads the same key; a key an older host left in DIR
// is refused, naming where to move it, rather than replaced by a new one
// (the log's records are verified with the old key on open).
func TestKeyBesideLog(t *testing.T) {
	walDir := filepath.Join(t.TempDir(), "wal")
	s1, err := loadSigner(config{walDir: walDir})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(walDir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".key") {
			t.Errorf("the private key %s is in the log directory", filepath.Join(walDir, e.Name()))
		}
	}
	pub, err := sdk.LoadPublicKey(filepath.Join(walDir+".keys", "host.pub"))
	if err != nil {
		t.Fatalf("the public key beside the log: %v", err)
	}
	if !pub.Equal(s1.Public()) {
		t.Fatal("host.pub is not the signer's key")
	}
	s2, err := loadSigner(config{walDir: walDir})
	if err != nil || !s2.Public().Equal(s1.Public()) {
		t.Fatalf("the second start did not load the first start's key: %v", err)
	}

	old := filepath.Join(t.TempDir(), "wal")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := sdk.GenerateKeyFiles(old, "host"); err != nil {
		t.Fatal(err)
	}
	_, err = loadSigner(config{walDir: old})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(old, "host.key")) || !strings.Contains(err.Error(), old+".keys") {
		t.Fatalf("a key left in the log directory: %v, want a refusal naming it and %s", err, old+".keys")
	}
	if _, err := os.Stat(filepath.Join(old+".keys", "host.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a new key was made beside a log signed by the old one: %v", err)
	}
	// Its mv names only the files that are there: without host.pub, an
	// mv naming it would fail and move nothing.
	if err := os.Remove(filepath.Join(old, "host.pub")); err != nil {
		t.Fatal(err)
	}
	_, err = loadSigner(config{walDir: old})
	if err == nil || strings.Contains(err.Error(), "host.pub") {
		t.Fatalf("a key left in the log directory without host.pub: %v, want a refusal whose mv does not name host.pub", err)
	}
}

// TestMainRateOutOfRange: a -rate above one request a nanosecond (the
// background ticker's interval would be 0, and time.NewTicker panics) or
// below 0 (was taken silently as none) is a usage error: exit 2, naming
// the flag and the range, before anything is served.
func TestMainRateOutOfRange(t *testing.T) {
	for _, rate := range []string{"1000000001", "-1"} {
		code, stderr := runMain(t, "-rate", rate, "-addr", "127.0.0.1:0")
		if code != 2 || !strings.Contains(stderr, "host: -rate "+rate+": want 0 (none) to 1000000000") ||
			strings.Contains(stderr, "panic") || strings.Contains(stderr, "serving") {
			t.Errorf("host -rate %s: exit %d; stderr: %s", rate, code, stderr)
		}
	}
}
