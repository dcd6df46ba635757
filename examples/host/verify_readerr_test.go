package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// unreadableStore is a brokenStore whose reads fail with an I/O error
// while readErr is set: its CopyRange finds nothing, and its Iter fails as
// a durable log's does when the disk under it returns EIO.
type unreadableStore struct {
	*brokenStore
	readErr atomic.Bool
	reads   atomic.Int64 // Iter calls that failed
}

var errEIO = &fs.PathError{Op: "read", Path: "/var/lib/audit/0000000000000001.seg", Err: syscall.EIO}

func (s *unreadableStore) CopyRange(writer, stream string, from, to uint64) ([]sdk.Sealed, bool) {
	if s.readErr.Load() {
		return nil, false
	}
	return s.brokenStore.CopyRange(writer, stream, from, to)
}

func (s *unreadableStore) Iter(writer, stream string) sdk.Iterator {
	if s.readErr.Load() {
		s.reads.Add(1)
		return failedIter{errEIO}
	}
	return s.brokenStore.Iter(writer, stream)
}

type failedIter struct{ err error }

func (failedIter) Next() bool        { return false }
func (failedIter) Entry() sdk.Sealed { return sdk.Sealed{} }
func (it failedIter) Err() error     { return it.err }

// TestHostVerifyReadErrorNotCounted: the host's verifier that cannot read
// a chain (an I/O error, not an evicted record) has found nothing about
// the records: it says so in the host's log, once, and neither counts a
// verification failure (audit_verify_fail_total, which pages the
// critical AuditVerifyFailures: "a chain was tampered with") nor makes
// /readyz fail for one. It counted reason="other" and failed /readyz
// with "1 verification failures". Once the chain reads again, damage in
// it is still found and counted.
func TestHostVerifyReadErrorNotCounted(t *testing.T) {
	st := &unreadableStore{brokenStore: &brokenStore{MemStore: sdk.NewMemStore(0)}}
	base, stop, logged := runHost(t, config{store: st, verifyEvery: 2 * time.Millisecond})
	for _, name := range []string{"a.pdf", "b.pdf"} {
		if code, body := httpGet(t, base+"/object/"+name); code != 200 {
			t.Fatalf("%d %q", code, body)
		}
	}
	st.readErr.Store(true)
	httpGet(t, base+"/object/c.pdf") // a record the verifier has not read yet
	deadline := time.Now().Add(5 * time.Second)
	for st.reads.Load() < 5 { // several rounds found the chain unreadable
		if time.Now().After(deadline) {
			t.Fatalf("the verifier did not read the chain: %d failed reads; log: %s", st.reads.Load(), logged())
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, metrics := httpGet(t, base+"/metrics")
	for _, r := range []string{"other", "hash_mismatch", "seq_gap"} {
		series := `audit_verify_fail_total{reason="` + r + `"}`
		if n := metricValue(t, metrics, series); n != 0 {
			t.Errorf("%s = %v after a read error: an I/O error is no evidence of tampering", series, n)
		}
	}
	if code, body := httpGet(t, base+"/readyz"); code != 200 {
		t.Errorf("readyz after a read error of the verifier: %d %q", code, body)
	}
	if n := strings.Count(logged(), "failed verification"); n != 0 {
		t.Errorf("a read error printed as a verification failure: %s", logged())
	}
	if n := strings.Count(logged(), "host: audit chain example-host/objects could not be read to verify it: "); n != 1 {
		t.Errorf("the read error printed %d times, want once: %s", n, logged())
	}
	if !strings.Contains(logged(), syscall.EIO.Error()) {
		t.Errorf("the read error's line does not name the error: %s", logged())
	}

	// Readable again, and damaged: found, counted, /readyz fails. (No
	// record is appended after: the damage stays at one seq, one failure.)
	st.tamper.Store(true)
	st.readErr.Store(false)
	for {
		code, body := httpGet(t, base+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "verification failures") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after tampering: %d %q; log: %s", code, body, logged())
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, metrics = httpGet(t, base+"/metrics")
	if n := metricValue(t, metrics, `audit_verify_fail_total{reason="hash_mismatch"}`); n != 1 {
		t.Errorf(`audit_verify_fail_total{reason="hash_mismatch"} = %v after one damaged record, want 1`, n)
	}
	if err := stop(); err == nil || !strings.Contains(err.Error(), "1 audit chain verification failures") {
		t.Errorf("run: %v, want it to name 1 verification failure", err)
	}
}

// TestUnreadable: what the host takes for a failure to read a chain (not
// counted as a verification failure), and what it takes for evidence.
func TestUnreadable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errEIO, true},
		{&wal.Error{Op: "read", Path: "/var/lib/audit", Err: errEIO}, true},
		{fmt.Errorf("sync: %w", syscall.ENOSPC), true},
		{sdk.ErrClosed, true},
		{wal.ErrClosed, true},
		// Evidence: damage in the log's files, records the store lacks,
		// and what the host does not know.
		{&wal.CorruptError{File: "0000000000000001.seg", Offset: 4096, Reason: "bad CRC"}, false},
		{&wal.VersionError{File: "0000000000000002.seg", Version: 9}, false},
		{fmt.Errorf("%w: example-host/objects records 1..4: the store has 3 of them", sdk.ErrStore), false},
		{errors.New("checksum mismatch"), false},
	} {
		if got := unreadable(c.err); got != c.want {
			t.Errorf("unreadable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
