package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

var errDiskFull = errors.New("no space left on device (simulated)")

// brokenStore is a MemStore that stops being durable once fail is set
// (every Wait fails from then on: a full disk, a failed fsync), stalls
// (hold), or, with
// tamper set, hands out changed bytes to readers (a disk returning other
// bytes than were written).
type brokenStore struct {
	*sdk.MemStore
	fail   atomic.Bool
	tamper atomic.Bool   // readers get the range's last record changed
	damage atomic.Uint64 // if set, readers get the record of this seq changed
	hold   chan struct{} // if set, Wait waits for it to close (a slow disk)
}

func (s *brokenStore) Wait(t sdk.Ticket) error {
	if s.hold != nil {
		<-s.hold
	}
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
	if seq := s.damage.Load(); ok && seq >= from && seq-from < uint64(len(recs)) {
		b := recs[seq-from].Bytes
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
	finished := make(chan struct{})
	go func() {
		defer close(finished)
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
	t.Cleanup(func() {
		// A test that failed before stop: the run ends before its
		// directories are removed.
		cancel()
		select {
		case <-finished:
		case <-time.After(20 * time.Second):
			t.Error("the host did not stop")
		}
	})
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
	// The first requests may be accepted, then lost; the emitter counts
	// the loss just after the log fails. A loaded machine gets 10 s.
	deadline := time.Now().Add(10 * time.Second)
	var refused bool
	for !refused && time.Now().Before(deadline) {
		code, body := httpGet(t, base+"/object/b.pdf")
		refused = code == http.StatusServiceUnavailable && strings.Contains(body, "audit unavailable")
		time.Sleep(5 * time.Millisecond)
	}
	if !refused {
		t.Error("requests still served after the audit store failed")
	}
	var code int
	var body string
	for time.Now().Before(deadline) {
		if code, body = httpGet(t, base+"/readyz"); code == http.StatusServiceUnavailable && strings.Contains(body, "sink error") {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "sink error") {
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

// lossCount matches a count of lost audit records in run's error.
var lossCount = regexp.MustCompile(`(\d+) (?:accepted |audit )?records? (?:lost|not appended)`)

// TestHostReportsLossOnce: records lost to a failing store are reported
// once, with their count, in what run returns (main prints it and exits
// 1): the emitter's Close error (sdk.ErrRecordsLost) says how many it
// accepted and lost, as many as the lines OnDrop printed, one a record.
// The host's own failure report counted them again, and differently: the
// emitter's sink-error count also holds the records refused to their
// requests (503) once the log had failed, which were never accepted.
func TestHostReportsLossOnce(t *testing.T) {
	st := &brokenStore{MemStore: sdk.NewMemStore(0)}
	base, stop, logged := runHost(t, config{store: st, verifyEvery: time.Hour})
	if code, body := httpGet(t, base+"/object/a.pdf"); code != 200 {
		t.Fatalf("before the failure: %d %q", code, body)
	}
	st.fail.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	refused := 0
	for refused < 3 && time.Now().Before(deadline) {
		if code, _ := httpGet(t, base+"/object/b.pdf"); code == http.StatusServiceUnavailable {
			refused++
		}
	}
	if refused < 3 {
		t.Fatalf("requests still served after the audit store failed; log: %s", logged())
	}
	err := stop()
	if !errors.Is(err, sdk.ErrRecordsLost) || !errors.Is(err, errDiskFull) {
		t.Fatalf("run after losing audit records: %v", err)
	}
	counts := lossCount.FindAllStringSubmatch(err.Error(), -1)
	lines := strings.Count(logged(), "host: audit record of example-host/objects lost (sink_error): ")
	if len(counts) != 1 || counts[0][1] != strconv.Itoa(lines) {
		t.Errorf("run's error counts the lost records %d times (%q), want once, %d (the lines OnDrop printed):\n%v", len(counts), counts, lines, err)
	}
}

// TestAuditFailureCountsWhatCloseDidNot: a Close that ran out of time
// (its deadline error, no count) leaves the count of the records lost to
// sink errors to auditFailure; a Close that finished counted them.
func TestAuditFailureCountsWhatCloseDidNot(t *testing.T) {
	st := &brokenStore{MemStore: sdk.NewMemStore(0)}
	st.fail.Store(true)
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	log, err := sdk.New(sdk.Config{Signer: signer, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	em, err := sdk.NewEmitter(log, sdk.EmitterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000, WriterID: "example-host",
		Stream: "objects", Reason: "served"}
	if err := em.TryEmit(&rec); err != nil {
		t.Fatal(err)
	}
	closeErr := em.Close(context.Background())
	if !errors.Is(closeErr, sdk.ErrRecordsLost) {
		t.Fatalf("Close: %v, want ErrRecordsLost", closeErr)
	}
	if err := auditFailure(em, closeErr); lossCount.MatchString(fmt.Sprint(err)) {
		t.Errorf("auditFailure after Close counted the loss: %v", err)
	}
	deadline := fmt.Errorf("sdk: emitter close: %w", context.DeadlineExceeded)
	if err := auditFailure(em, deadline); !errors.Is(err, errDiskFull) || lossCount.FindStringSubmatch(err.Error()) == nil || lossCount.FindStringSubmatch(err.Error())[1] != "1" {
		t.Errorf("auditFailure after a Close that ran out of time: %v, want the 1 record lost", err)
	}
}

// TestShedIsNoAuditFailure: records shed under load, even past the
// ShedBudget (Ready says degraded), are counted and printed, not a failure
// of the run (main's exit status stays 0: the package doc), unlike records
// lost after they were accepted.
func TestShedIsNoAuditFailure(t *testing.T) {
	st := &brokenStore{MemStore: sdk.NewMemStore(0), hold: make(chan struct{})}
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	log, err := sdk.New(sdk.Config{Signer: signer, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	em, err := sdk.NewEmitter(log, sdk.EmitterOptions{Depth: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Ready(); err != nil { // the shed rate's baseline: nothing offered
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ { // the store holds the one worker: the queue is full
		rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000, WriterID: "example-host",
			Stream: "objects", Reason: "served", Attrs: []canonical.Attr{{Key: "n", Value: strconv.Itoa(i)}}}
		if err := em.TryEmit(&rec); err != nil && !errors.Is(err, sdk.ErrBusy) {
			t.Fatal(err)
		}
	}
	var d *sdk.DegradedError
	if err := em.Ready(); !errors.As(err, &d) || d.ShedRate <= d.ShedBudget {
		t.Fatalf("Ready after shedding most records: %v", err)
	}
	close(st.hold)
	if err := em.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := em.Stats(); s.Dropped[sdk.DropBackpressure] < 300 || s.Dropped[sdk.DropSinkError] != 0 || s.Appended == 0 {
		t.Fatalf("stats %+v", s)
	}
	if err := auditFailure(em, nil); err != nil {
		t.Errorf("records shed, none lost: %v", err)
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

// damagedLog is a durable log the host wrote, then one of its frames
// changed in the middle of its segment (not a torn tail): a log the
// host must refuse to open. It returns the log's directory and segment.
func damagedLog(t *testing.T) (string, string) {
	t.Helper()
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
	return dir, seg
}

// TestHostRefusesDamagedLog: a host started on a durable log whose frames
// were changed (not a torn tail) refuses to start: run returns the
// sdk.ErrDurable naming the place (main prints it and exits 1), and
// nothing it printed claims it served.
func TestHostRefusesDamagedLog(t *testing.T) {
	dir, seg := damagedLog(t)
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
	// run owns ln: a host that did not start leaves no port open, where a
	// client would connect and wait for an answer that never comes.
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Second)) // an open one times out
	if c, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		if c != nil {
			c.Close()
		}
		t.Errorf("listener after a failed start: Accept = %v, want net.ErrClosed", err)
	}
}

// TestMain runs main instead of the tests when mainEnv is set: the tests
// of the command itself (its output and exit status) run the test binary
// so (runMain).
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(mainEnv); ok {
		os.Args = append([]string{"host"}, strings.Split(args, "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// mainEnv holds the arguments of main, one a line, for TestMain.
const mainEnv = "RON_AUDIT_HOST_TEST_MAIN"

// runMain runs the command with args, as a process of its own (main
// exits), and returns its exit status and its standard error.
func runMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainEnv+"="+strings.Join(args, "\n"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("host %q: %v; stderr: %s", args, err, stderr.String())
	return 0, ""
}

// TestMainRefusesDamagedLog: the command started on a damaged durable log
// exits 1 with the failure naming the segment, and prints nothing that
// says it served (main printed "serving on ..." before it opened the log).
func TestMainRefusesDamagedLog(t *testing.T) {
	dir, seg := damagedLog(t)
	code, stderr := runMain(t, "-wal", dir, "-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "host: ") || !strings.Contains(stderr, seg) {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if strings.Contains(stderr, "serving") {
		t.Errorf("a host that did not start says it served: %s", stderr)
	}
}

// TestAuditFailureIgnoresRefusals: records refused to their callers (the
// log closed under the emitter: sink_error drops, Ready degraded) were
// never accepted, so nothing was lost: Close returns nil and the run is
// no audit failure. Ready's SinkErrors counts them all the same, which
// auditFailure once reported as "audit records lost" (exit 1).
func TestAuditFailureIgnoresRefusals(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	log, err := sdk.New(sdk.Config{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	em, err := sdk.NewEmitter(log, sdk.EmitterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	rec := canonical.AuditRecord{Kind: canonical.KindGetServed, TsMs: 1764201600000, WriterID: "example-host",
		Stream: "objects", Reason: "served"}
	if err := em.TryEmit(&rec); err == nil {
		t.Fatal("TryEmit on a closed log: nil, want a refusal")
	}
	var d *sdk.DegradedError
	if !errors.As(em.Ready(), &d) || d.SinkErrors == 0 {
		t.Fatalf("Ready after a refusal: %v, want SinkErrors > 0 (what this test is about)", em.Ready())
	}
	closeErr := em.Close(context.Background())
	if closeErr != nil {
		t.Fatalf("Close with no accepted record lost: %v", closeErr)
	}
	if err := auditFailure(em, closeErr); err != nil {
		t.Errorf("auditFailure with records refused, none lost: %v, want nil", err)
	}
}
