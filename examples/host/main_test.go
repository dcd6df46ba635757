package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rustyonions/ron-audit-go/sdk"
)

// TestHost serves requests, audits them, exposes the audit metrics and
// readiness, and shuts down cleanly: in RAM and on a WAL.
func TestHost(t *testing.T) {
	for _, walDir := range []string{"", filepath.Join(t.TempDir(), "wal")} {
		t.Run("wal="+walDir, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			base := "http://" + ln.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			var out strings.Builder
			var mu sync.Mutex
			done := make(chan error)
			go func() {
				done <- run(ctx, config{walDir: walDir, rate: 200, verifyEvery: 20 * time.Millisecond}, ln, writerFunc(func(p []byte) {
					mu.Lock()
					out.Write(p)
					mu.Unlock()
				}))
			}()
			get := func(path string) (int, string) {
				t.Helper()
				resp, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			for i := 0; i < 10; i++ {
				if code, body := get("/object/report-" + string(rune('a'+i)) + ".pdf"); code != 200 || !strings.HasPrefix(body, "object report-") {
					t.Fatalf("%d %q", code, body)
				}
			}
			time.Sleep(100 * time.Millisecond) // background load and a few verify rounds
			if code, body := get("/readyz"); code != 200 {
				t.Fatalf("readyz: %d %q", code, body)
			}
			_, metrics := get("/metrics")
			for _, want := range []string{
				`audit_appended_total{kind="index_write",stream="index"}`,
				`audit_verify_fail_total{reason="hash_mismatch"} 0`,
				`audit_queue_depth`, `go_goroutines`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			// Each request is audited, or its record shed and counted:
			// the host serves either way (serveObject). The emitter sheds
			// only when a worker holds the chain's lock for 10 ms, which a
			// loaded machine's OS sometimes makes it do: the test asserted
			// none was shed, and failed now and then on the CI machine.
			objects := metricValue(t, metrics, `audit_appended_total{kind="get_served",stream="objects"}`)
			shed := metricValue(t, metrics, `busy_rejections_total{endpoint="emit"}`)
			if objects > 10 || objects+shed < 10 {
				t.Errorf("10 requests: %v records appended, %v shed", objects, shed)
			}
			if walDir != "" && !strings.Contains(metrics, "wal_fsync_seconds_count") {
				t.Error("/metrics lacks wal_fsync_seconds on a WAL")
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := "host: serving on " + base + " "; !strings.Contains(out.String(), want) {
				t.Errorf("log lacks %q: %s", want, out.String())
			}
			// A clean shutdown: no record dropped but those shed.
			m := shutdownLine.FindStringSubmatch(out.String())
			if m == nil || m[2] != m[3] {
				t.Fatalf("log: %s", out.String())
			}
			if walDir != "" {
				// Every appended record is on disk, hashed, linked and
				// signed by the key kept beside the log.
				pub, err := sdk.LoadPublicKey(filepath.Join(walDir+".keys", "host.pub"))
				if err != nil {
					t.Fatal(err)
				}
				sum, err := sdk.VerifyDir(walDir, sdk.NewKeySet(pub), false, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("host: %d records appended", sum.Records); !strings.Contains(out.String(), want) || sum.Records < 10 {
					t.Fatalf("%d records on disk; log: %s", sum.Records, out.String())
				}
				if want := fmt.Sprintf("host: durable log %s: 0 records and 0 seals verified in 0 chains, 1 segments (new log)", walDir); !strings.Contains(out.String(), want) {
					t.Fatalf("log lacks %q: %s", want, out.String())
				}
				restart(t, walDir, sum.Records)
			}
		})
	}
}

// shutdownLine is the host's last log line when it drops nothing but
// the records it shed: appended, dropped and shed (audit_backpressure).
var shutdownLine = regexp.MustCompile(`host: (\d+) records appended, (\d+) dropped map\[audit_backpressure:(\d+) bounds_exceeded:0 closed:0 invalid:0 shutdown:0 sink_error:0\]`)

// metricValue is the value of series (name and labels) in a /metrics
// exposition.
func metricValue(t *testing.T, metrics, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", series)
	return 0
}

// restart starts the host again on its log, after a crash left a torn
// tail: it must cut the tail and say so, open the log (same key), append
// after what is there, and close cleanly.
func restart(t *testing.T, walDir string, before uint64) {
	t.Helper()
	seg := filepath.Join(walDir, "0000000000000001.seg")
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The first 3 bytes of a frame header: an append the crash cut short.
	if _, err := f.Write([]byte{7, 1, 0}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var out strings.Builder
	var mu sync.Mutex
	go func() {
		done <- run(ctx, config{walDir: walDir, verifyEvery: time.Hour}, ln, writerFunc(func(p []byte) {
			mu.Lock()
			out.Write(p)
			mu.Unlock()
		}))
	}()
	var resp *http.Response
	for i := 0; i < 100; i++ { // until it serves, or run has failed
		if resp, err = http.Get("http://" + ln.Addr().String() + "/object/again.pdf"); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("restart on the same log: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a restart: %v", err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("restart on the same log: %v", err)
	}
	sum, err := sdk.VerifyDir(walDir, nil, false, nil)
	if err != nil || sum.Records <= before {
		t.Fatalf("after the restart: %d records (before %d), %v", sum.Records, before, err)
	}
	want := fmt.Sprintf("host: durable log %s: %d records and 0 seals verified in 2 chains, 1 segments; cut a torn tail of 3 bytes at %s:%d (",
		walDir, before, seg, fi.Size())
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(out.String(), want) {
		t.Fatalf("restart's log lacks %q: %s", want, out.String())
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// hostEmitter is an emitter on a Micronode log whose clock stands still:
// every record of a test gets the same tsMs. It is ShedBlock, so that
// serveObject's TryEmit never sheds: under ShedDrop it also sheds when a
// worker holds the chain's lock for 10 ms, as a loaded host's OS sometimes
// makes it, and a test counting records then found one missing.
func hostEmitter(t *testing.T) (*sdk.Log, *sdk.Emitter) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := sdk.NewEd25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1764201600000)
	log, err := sdk.New(sdk.Config{Signer: signer, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	em, err := sdk.NewEmitter(log, sdk.EmitterOptions{Shed: sdk.ShedBlock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close(context.Background()) })
	return log, em
}

func getObject(em *sdk.Emitter, name string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/object/"+name, nil)
	r.SetPathValue("name", name)
	maps.Copy(r.Header, header)
	w := httptest.NewRecorder()
	serveObject(em, w, r)
	return w
}

// TestEveryRequestAudited: two identical requests in one millisecond are
// two events, two records (they were one event to dedupe); a client's
// retry with the same X-Request-Id is one.
func TestEveryRequestAudited(t *testing.T) {
	log, em := hostEmitter(t)
	same := http.Header{"X-Capability": {"cap:alice"}}
	retried := http.Header{"X-Capability": {"cap:alice"}, "X-Request-Id": {"r-1"}}
	for _, h := range []http.Header{same, same, retried, retried} {
		if w := getObject(em, "report.pdf", h); w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if err := em.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h, _ := log.Head("example-host", "objects"); h.Seq != 3 {
		t.Errorf("4 requests (the last a retry): %d records, want 3 (stats %+v)", h.Seq, em.Stats())
	}
}

// TestAuditFailureIsServerError: a request the audit plane cannot record
// because of itself is 400; because the plane failed (here the log is
// closed), 503.
func TestAuditFailureIsServerError(t *testing.T) {
	log, em := hostEmitter(t)
	if w := getObject(em, "bad\xffname", nil); w.Code != http.StatusBadRequest {
		t.Errorf("a name that is not UTF-8: %d %q", w.Code, w.Body)
	}
	log.Close()
	if w := getObject(em, "a", nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("closed log: %d %q", w.Code, w.Body)
	}
}

// TestShutdownWithStalledClient: a client that holds a connection open
// without finishing its request keeps the server's Shutdown waiting to
// its deadline; the emitter must still get time to drain what it holds,
// and the host shut down cleanly (it passed Close the deadline Shutdown
// had used up, and Close, past its deadline at once, reported records
// dropped and failed the shutdown).
func TestShutdownWithStalledClient(t *testing.T) {
	shutdownTimeout = 300 * time.Millisecond
	t.Cleanup(func() { shutdownTimeout = 5 * time.Second })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	var mu sync.Mutex
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{rate: 500, verifyEvery: time.Hour}, ln, writerFunc(func(p []byte) {
			mu.Lock()
			out.Write(p)
			mu.Unlock()
		}))
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/readyz") // serving, and ready before the first request
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	stalled, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := io.WriteString(stalled, "GET /object/slow.pdf HTTP/1.1\r\nHost: x\r\n"); err != nil { // no end of headers
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // background records
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown with a stalled client: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if m := shutdownLine.FindStringSubmatch(out.String()); m == nil || m[2] != m[3] || m[1] == "0" {
		t.Fatalf("log: %s", out.String())
	}
}
