package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestHostVerifyFailureCountedOnce: one damaged record is one
// verification failure, however many rounds find it again.
// audit_verify_fail_total (and Ready's count, which run's error prints)
// grew by one every round (-verify-every, 10 s by default) while the
// damage stayed, though the log line was printed once: the Verification
// panel drew a steady stream of new failures, and a host stopped after
// an hour named ~360 failures for one record.
func TestHostVerifyFailureCountedOnce(t *testing.T) {
	st := &brokenStore{MemStore: sdk.NewMemStore(0)}
	base, stop, logged := runHost(t, config{store: st, verifyEvery: 2 * time.Millisecond})
	for _, name := range []string{"a.pdf", "b.pdf", "c.pdf"} {
		if code, body := httpGet(t, base+"/object/"+name); code != 200 {
			t.Fatalf("%d %q", code, body)
		}
	}
	// Record 4, once appended, reads damaged. (Damaging "the last record
	// read" instead raced a round that read records 1-3 before d.pdf was
	// appended: seq 3 failed, then seq 4, two different failures.)
	st.damage.Store(4)
	httpGet(t, base+"/object/d.pdf")
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := httpGet(t, base+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "verification failures") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after tampering: %d %q", code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // about 100 more rounds find the same damage
	_, metrics := httpGet(t, base+"/metrics")
	if n := metricValue(t, metrics, `audit_verify_fail_total{reason="hash_mismatch"}`); n != 1 {
		t.Errorf(`audit_verify_fail_total{reason="hash_mismatch"} = %v after one damaged record, want 1`, n)
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "1 audit chain verification failures") {
		t.Errorf("run: %v, want it to name 1 verification failure", err)
	}
	if n := strings.Count(logged(), "failed verification: "); n != 1 {
		t.Errorf("the failure printed %d times, want once: %s", n, logged())
	}
}
