package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

var errDiskFull = errors.New("no space left on device (simulated)")

// brokenStore is a MemStore that stops being durable once fail is set
// (every Wait fails from then on: a full disk, a failed fsync), or, with
// tamper set, hands out changed bytes to readers (a disk returning other
// bytes than were written).
type brokenStore struct {
	*sdk.MemStore
	fail   atomic.Bool
	tamper atomic.Bool
}

func (s *brokenStore) Wait(t sdk.Ticket) error {
	if s.fail.Load() {
		return errDiskFull
	}
	return s.MemStore.Wait(t)
}

func (s *brokenStore) CopyRange(writer, stream string, from, to uint64) ([]sdk.Sealed, bool) {
	recs, ok := s.MemStore.CopyRange(writer, stream, from, to)
	if ok && s.tamper.Load() && len(recs) > 0 {
		b := recs[len(recs)-1].Bytes
		b[len(b)-1] ^= 1
	}
	return recs, ok
}

// runHost runs the host on store until stop is called; it returns the
// host's base URL, stop (which returns run's error) and its log.
func runHost(t *testing.T, cfg config) (string, func() error, func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, ln, writerFunc(func(p []byte) {
			mu.Lock()
			out.Write(p)
			mu.Unlock()
		}))
	}()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("the host did not stop")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	logged := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	return "http://" + ln.Addr().String(), stop, logged
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	for i := 0; ; i++ {
		resp, err := http.Get(url)
		if err != nil {
			if i < 100 {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
}

// TestHostStoreFailure: the audit store stops being durable while the
// host serves. Requests after it are refused (503, audit unavailable),
// /readyz fails, the lost records are printed, and run returns an error
// naming the failure (main exits 1): the host must not exit 0, as after
// a clean run, when audit records were lost.
func TestHostStoreFailure(t *testing.T) {
	st := &brokenStore{MemStore: sdk.NewMemStore(0)}
	base, stop, logged := runHost(t, config{store: st, verifyEvery: time.Hour})
	if code, body := httpGet(t, base+"/object/a.pdf"); code != 200 {
		t.Fatalf("before the failure: %d %q", code, body)
	}
	st.fail.Store(true)
	var refused bool
	for i := 0; i < 50 && !refused; i++ { // the first may be accepted, then lost
		code, body := httpGet(t, base+"/object/b.pdf")
		refused = code == http.StatusServiceUnavailable && strings.Contains(body, "audit unavailable")
		time.Sleep(5 * time.Millisecond)
	}
	if !refused {
		t.Error("requests still served after the audit store failed")
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "sink error") {
		t.Errorf("readyz after the failure: %d %q", code, body)
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), "sink_error") || !errors.Is(err, errDiskFull) {
		t.Fatalf("run after losing audit records: %v; log: %s", err, logged())
	}
	if !strings.Contains(logged(), "lost (sink_error)") {
		t.Errorf("the lost record is not printed: %s", logged())
	}
}

// TestHostVerifyFailure: the host's own verification finds a record
// changed in its store. /readyz fails, and run returns an error (main
// exits 1): a run whose audit chain failed verification is no success.
func TestHostVerifyFailure(t *testing.T) {
	st := &brokenStore{MemStore: sdk.NewMemStore(0)}
	base, stop, logged := runHost(t, config{store: st, verifyEvery: 5 * time.Millisecond})
	for i := 0; i < 3; i++ {
		if code, body := httpGet(t, base+"/object/a.pdf"); code != 200 {
			t.Fatalf("%d %q", code, body)
		}
	}
	st.tamper.Store(true)
	httpGet(t, base+"/object/b.pdf")
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := httpGet(t, base+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "verification failures") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after tampering: %d %q", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err == nil || !strings.Contains(err.Error(), "verification") {
		t.Fatalf("run after a verification failure: %v; log: %s", err, logged())
	}
	if !strings.Contains(logged(), "host: audit chain example-host/objects failed verification: ") {
		t.Errorf("the failure is not printed: %s", logged())
	}
}

// TestHostRefusesDamagedLog: a host started on a durable log whose frames
// were changed (not a torn tail) refuses to start: run returns the
// sdk.ErrDurable naming the place (main prints it and exits 1), and
// nothing it printed claims it served.
func TestHostRefusesDamagedLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wal")
	base, stop, _ := runHost(t, config{walDir: dir, verifyEvery: time.Hour})
	for i := 0; i < 20; i++ {
		if code, body := httpGet(t, base+"/object/a.pdf"); code != 200 {
			t.Fatalf("%d %q", code, body)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "0000000000000001.seg")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = run(context.Background(), config{walDir: dir, verifyEvery: time.Hour}, ln, &out)
	if !errors.Is(err, sdk.ErrDurable) || !strings.Contains(err.Error(), seg) {
		t.Fatalf("run on a damaged log: %v", err)
	}
	if strings.Contains(out.String(), "serving") || strings.Contains(out.String(), "records appended") {
		t.Errorf("a host that did not start says otherwise: %s", out.String())
	}
}
