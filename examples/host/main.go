// Command host is an example service that embeds ron-audit the way a busy
// host should: every request emits an audit record through an Emitter
// (never blocking the request, shedding and counting when full), the
// audit metrics are served on /metrics from the host's own registry, and
// /readyz fails closed when the audit plane is degraded.
//
//	go run ./examples/host                  # Micronode: RAM only, on :9464
//	go run ./examples/host -wal /var/lib/audit -addr :8080 -rate 500   # key: /var/lib/audit.keys/host.key
//	go run ./examples/host -wal /var/lib/audit -export /var/lib/audit-export   # and bundles
//	curl localhost:9464/object/report.pdf   # a request, audited
//	curl localhost:9464/metrics             # audit_appended_total, ...
//	curl -i localhost:9464/readyz           # 200, or 503 and why
//	ronaudit verify /var/lib/audit --pub /var/lib/audit.keys/host.pub   # offline, once it has stopped
//
// With -wal it is a Macronode as an operator runs one, opened with
// node.Open (package sdk/node): a durable log whose checkpoint.Keeper
// (the log's Observer) signs a checkpoint of
// each chain every -checkpoint-every records (10,000 by default), every
// 15 minutes and at shutdown, kept in DIR/checkpoints where ronaudit
// verify DIR reads them. Its key, made on the first start, is kept in
// DIR.keys beside the log, not in it, so that no copy of the log carries
// it (a DIR/host.key an older host left is refused, naming the mv that
// moves it out). With -export EXPORTDIR, an export.Auto writes the
// bundle of each chain's new records to EXPORTDIR after every checkpoint
// (ronaudit verify DIR --exports EXPORTDIR checks them against the log
// and its checkpoints; verify-bundle, alone). Checkpoints and bundles are
// counted
// in audit_export_checkpoints_total and export_batch_seconds, their
// failures in audit_export_fail_total{stage}; a failed Keeper makes
// /readyz fail, and so does a stopped export.
//
// -rate adds background requests per second, so the dashboards in
// testing/observability have something to show. SIGINT or SIGTERM stops
// the server (up to 5 s for the requests being served), then drains the
// emitter (up to 5 s more; past that deadline, up to 5 s again for the
// records it had already committed to be made durable) and closes the
// log, then the Keeper (its last checkpoints) and the exports (their
// last bundles), which no deadline cuts short. The exit status is
// 1, with the reasons on the last lines (one a line), when the run lost
// audit records (a signer or store failure, or records dropped at Close's
// deadline), the log failed, a chain failed the host's verification, or
// a checkpoint or an export failed; records shed under load are counted
// and printed, not a failure. Lost records are counted on one of those
// lines, once: the emitter's Close says how many it accepted and lost
// (sdk.ErrRecordsLost), or, when its deadline passed first, the host
// says how many sink errors there were.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/metrics"
	"github.com/rustyonions/ron-audit-go/sdk/node"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

type config struct {
	walDir          string        // "": Micronode (RAM only)
	keyPath         string        // "": with walDir, walDir.keys/host.key (made on first start; keyDir); else a key in RAM
	checkpointEvery int64         // with walDir: a checkpoint every N records of a chain (0: checkpoint.DefaultEvery)
	exportDir       string        // with walDir: bundles written here after each checkpoint ("": none)
	rate            int           // background requests per second
	verifyEvery     time.Duration // how often the host re-verifies its chains
	store           sdk.Store     // tests only: the Micronode log's store (nil: a MemStore)
}

func main() {
	addr := flag.String("addr", ":9464", "listen address")
	var cfg config
	flag.StringVar(&cfg.walDir, "wal", "", "durable log directory (default: Micronode, RAM only)")
	flag.StringVar(&cfg.keyPath, "key", "", "private key file, mode 0600 (default: with -wal, DIR.keys/host.key beside the log, made on first start; else a key in RAM)")
	flag.Int64Var(&cfg.checkpointEvery, "checkpoint-every", 0, "with -wal: a signed checkpoint of a chain every N of its records (0: 10,000; also every 15 minutes and at shutdown)")
	flag.StringVar(&cfg.exportDir, "export", "", "with -wal: write a bundle of each chain's new records here after every checkpoint (default: none)")
	flag.IntVar(&cfg.rate, "rate", 0, "background requests per second, 0 (none) to 1,000,000,000")
	flag.DurationVar(&cfg.verifyEvery, "verify-every", 10*time.Second, "how often to re-verify the chains")
	flag.Parse()
	if cfg.walDir == "" && (cfg.exportDir != "" || cfg.checkpointEvery != 0) {
		fmt.Fprintln(os.Stderr, "host: -export and -checkpoint-every need -wal (a Micronode keeps no checkpoints)")
		os.Exit(2)
	}
	// The background ticker ticks every second/rate: above one a
	// nanosecond its interval is 0, and time.NewTicker panics.
	if cfg.rate < 0 || cfg.rate > int(time.Second) {
		fmt.Fprintf(os.Stderr, "host: -rate %d: want 0 (none) to %d background requests per second\n", cfg.rate, int(time.Second))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
	if err := run(ctx, cfg, ln, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
}

// loadSigner loads the host's key with sdk.LoadSigner (which refuses
// loose permissions). A durable log needs the same key on every start (its
// records are verified with it on open), so with -wal and no -key the key
// is made on the first start and kept beside the log directory, in
// keyDir(DIR), not in it: every copy of the log (a backup, the evidence
// handed to an auditor) would carry the key that signs it. In RAM only, a
// fresh key per run keeps the example self-contained.
func loadSigner(cfg config) (*sdk.Ed25519Signer, error) {
	path := cfg.keyPath
	if path == "" && cfg.walDir != "" {
		dir, err := keyDir(cfg.walDir)
		if err != nil {
			return nil, err
		}
		path = filepath.Join(dir, "host.key")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			// An older host kept its key in the log directory. A new key
			// would not open the log its records were signed with; moving
			// a private key is the operator's call.
			if old := filepath.Join(cfg.walDir, "host.key"); fileExists(old) {
				move := old
				if pub := filepath.Join(cfg.walDir, "host.pub"); fileExists(pub) {
					move += " " + pub
				}
				return nil, fmt.Errorf("%s: the host's private key is inside the log directory, where every copy of the log carries it: move it out (mkdir -m 700 %s && mv %s %s/), or give -key", old, dir, move, dir)
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			if _, _, _, err := sdk.GenerateKeyFiles(dir, "host"); err != nil {
				return nil, err
			}
		}
	}
	if path != "" {
		return sdk.LoadSigner(path)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return sdk.NewEd25519Signer(priv)
}

// keyDir is where the host keeps its key with -wal DIR and no -key: the
// directory DIR.keys beside DIR (from DIR's absolute path, so that "-wal ."
// does not put it inside the log).
func keyDir(walDir string) (string, error) {
	abs, err := filepath.Abs(walDir)
	if err != nil {
		return "", fmt.Errorf("-wal %s: %w", walDir, err)
	}
	return abs + ".keys", nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// recoveryLine says what opening the durable log found, so that an
// operator sees on every start what a crash cut: the records and seals
// replayed (each verified), its chains, and a torn tail, if any, with its
// place and size (what an interrupted append leaves; see the torn-tail
// rule in sdk/wal/FORMAT.md).
func recoveryLine(dir string, rec sdk.Recovery) string {
	line := fmt.Sprintf("host: durable log %s: %d records and %d seals verified in %d chains, %d segments",
		dir, rec.Records, rec.Seals, len(rec.Heads), rec.WAL.Segments)
	if rec.WAL.Created {
		line += " (new log)"
	}
	if rec.WAL.TornBytes > 0 {
		line += fmt.Sprintf("; cut a torn tail of %d bytes at %s (%s)",
			rec.WAL.TornBytes, rec.WAL.TornAt, rec.WAL.TornReason)
	}
	return line
}

// dropLine is the line the host prints for an audit record the emitter
// lost. The chain's names come from the record, and from a durable log's
// bytes on reopening; internal/names quotes any that is not plain, so a
// name holding a newline cannot add a line of its own (as the CLI prints
// them).
func dropLine(writer, stream, reason string, err error) string {
	return fmt.Sprintf("host: audit record of %s lost (%s): %v", names.Chain(writer, stream), reason, err)
}

// verifyFailureLine is the line the host prints for a chain that failed
// its verification, its names quoted as dropLine's.
func verifyFailureLine(writer, stream string, err error) string {
	return fmt.Sprintf("host: audit chain %s failed verification: %v", names.Chain(writer, stream), err)
}

// readFailureLine is the line the host prints for a chain its verifier
// could not read (an I/O error): nothing was verified, and nothing found.
func readFailureLine(writer, stream string, err error) string {
	return fmt.Sprintf("host: audit chain %s could not be read to verify it: %v", names.Chain(writer, stream), err)
}

// run serves on ln until ctx ends, then drains and closes.
// It says it serves only once the log and the emitter are up: a host
// that fails to open its log prints the failure alone.
func run(ctx context.Context, cfg config, ln net.Listener, logw io.Writer) error {
	// run owns ln, and closes it however it returns: a host that fails to
	// start leaves no port where clients would wait for no answer.
	defer ln.Close()
	// The host's registry: ron-audit never registers globally.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return err
	}

	signer, err := loadSigner(cfg)
	if err != nil {
		return err
	}
	p := &auditPlane{}
	if cfg.walDir == "" {
		p.log, err = sdk.New(sdk.Config{Signer: signer, Store: cfg.store})
	} else {
		p, err = openDurable(cfg, signer, m, logw)
	}
	if err != nil {
		return err
	}
	log := p.log
	em, err := sdk.NewEmitter(log, sdk.EmitterOptions{Metrics: m,
		OnDrop: func(writer, stream, reason string, err error) {
			fmt.Fprintln(logw, dropLine(writer, stream, reason, err))
		}})
	if err != nil {
		return errors.Join(err, p.close())
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// The emitter's Ready covers the log and, on a durable log, the
		// Node (the log's Observer): a failed checkpoint or a stopped export.
		if err := em.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /object/{name}", func(w http.ResponseWriter, r *http.Request) {
		serveObject(em, w, r)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	fmt.Fprintf(logw, "host: serving on http://%s (/object/NAME, /metrics, /readyz)\n", ln.Addr())
	go func() { served <- srv.Serve(ln) }()

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var background sync.WaitGroup
	if cfg.rate > 0 {
		background.Go(func() { backgroundLoad(bg, em, cfg.rate) })
	}
	if cfg.verifyEvery > 0 {
		background.Go(func() { verifyLoop(bg, log, em, cfg.verifyEvery, logw) })
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	// Stop what emits before closing the emitter: a record emitted after
	// Close is dropped (and counted, reason closed).
	stopBG()
	background.Wait()
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	srv.Shutdown(shutdown) // waits for the requests being served
	// The emitter gets a deadline of its own: a client that keeps a
	// request open holds Shutdown to the end of its deadline, and a Close
	// given what is left of it (nothing) would drop every record it holds.
	drain, cancelDrain := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelDrain()
	closeErr := em.Close(drain) // drain what was accepted
	if closeErr != nil {
		// Past the deadline the records already committed are still made
		// durable: let them finish before the log closes under them.
		select {
		case <-em.Done():
		case <-time.After(shutdownTimeout):
		}
	}
	st := em.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	fmt.Fprintf(logw, "host: %d records appended, %d dropped %v\n", st.Appended, dropped, st.Dropped)
	return errors.Join(ignoreClosed(serveErr), closeErr, auditFailure(em, closeErr), p.close())
}

// auditFailure is why the run cannot count as a success for the audit
// plane, beyond what the emitter's Close returned (closeErr), nil if
// nothing is: the log stopped, a chain failed verification, or records
// lost to sink errors that closeErr does not count (its deadline passed). /readyz said so while
// the host served; the exit status says so too (main exits 1), so that a
// supervisor or a script does not take a run that lost or doubted audit
// records for a clean one. Records shed under load (within the
// ShedBudget or not) and the emitter being closed are not failures here:
// the shed count is printed on the last line, and Close's own deadline
// error is returned by run. A Keeper that failed or an export that
// stopped (Ready's ObserverFailed: the Node's Err) is not listed here:
// the Node's Close returns the failure, which auditPlane.close reports.
//
// Records the emitter accepted and then lost are counted once: by Close,
// when it finished (sdk.ErrRecordsLost: how many, and the last failure).
// Only when it did not (its deadline passed) are the sink errors counted
// here. They were counted twice, and differently: Ready's SinkErrors also
// holds the records refused to their requests (which answered 503) once
// the log had failed, which were never accepted.
func auditFailure(em *sdk.Emitter, closeErr error) error {
	var d *sdk.DegradedError
	if !errors.As(em.Ready(), &d) {
		return nil
	}
	var errs []error
	if d.LogFailed != nil && !errors.Is(d.LogFailed, sdk.ErrClosed) {
		errs = append(errs, fmt.Errorf("audit log failed: %w", d.LogFailed))
	}
	// Close counted what it lost unless its deadline passed (closeErr is
	// then the drain context's error): only then may accepted records have
	// been lost uncounted. A nil closeErr lost nothing: SinkErrors then
	// holds refusals alone.
	if d.SinkErrors > 0 && closeErr != nil && !errors.Is(closeErr, sdk.ErrRecordsLost) {
		errs = append(errs, fmt.Errorf("%d audit records lost or refused (%s), the last: %w", d.SinkErrors, sdk.DropSinkError, d.LastSinkError))
	}
	if d.VerifyFailures > 0 {
		errs = append(errs, fmt.Errorf("%d audit chain verification failures (see the log above)", d.VerifyFailures))
	}
	return errors.Join(errs...)
}

// auditPlane is the host's log and, on a durable log, the node.Node that
// keeps the evidence of it: the Keeper's signed checkpoints and, with
// -export, the bundles written after each of them.
type auditPlane struct {
	log  *sdk.Log
	node *node.Node // nil in RAM (Micronode)
}

// openDurable opens the Macronode log in cfg.walDir with node.Open: a
// Keeper as its Observer keeping the checkpoints in DIR/checkpoints
// (where ronaudit verify DIR and checkpoint.VerifyDir read them), with
// cfg.exportDir the bundles written there after each checkpoint, the
// Keeper's Tick on a ticker, and the host's metrics fed
// (audit_export_checkpoints_total, export_batch_seconds,
// audit_export_fail_total{stage}, wal_fsync_seconds). Each failure is
// printed too; the Node's Err, which /readyz sees through the emitter's
// Ready, keeps the first.
func openDurable(cfg config, signer sdk.Signer, m *metrics.Metrics, logw io.Writer) (*auditPlane, error) {
	n, rec, err := node.Open(cfg.walDir, signer, node.Options{
		Durable:   sdk.DurableOptions{WAL: wal.Options{Fsync: wal.FsyncBatch}},
		Every:     cfg.checkpointEvery,
		ExportDir: cfg.exportDir,
		Metrics:   m,
		// "audit checkpoint failed: ..." (each), "audit export stopped: ..." (the exports stop)
		OnFailure: func(err error) { fmt.Fprintln(logw, "host:", err) },
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(logw, recoveryLine(cfg.walDir, rec))
	return &auditPlane{log: n.Log(), node: n}, nil
}

// close closes the Node (the log, then the Keeper: each chain's last
// checkpoint, then the exports: their bundles; its error names the part
// that failed), or in RAM the log. The emitter is closed before.
func (p *auditPlane) close() error {
	if p.node != nil {
		return p.node.Close()
	}
	return p.log.Close()
}

// shutdownTimeout bounds each step of the shutdown but the last: the
// server's Shutdown, the emitter's Close, and the wait for what that
// Close had committed when its deadline passed. Closing the Node (or the
// log) takes no deadline: it makes durable, checkpoints and exports
// what the log holds.
var shutdownTimeout = 5 * time.Second

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// serveObject is a request handler: it does its work, then audits it with
// TryEmit, which never blocks. A busy emitter sheds the record (counted in
// audit_drop_total); the request is served either way. A host that must
// not serve unaudited requests checks TryEmit's error and fails instead.
//
// Each request is its own event: the record names it (attr request, the
// caller's X-Request-Id or a number of this process), or two identical
// requests in the same millisecond would be one event to dedupe.
func serveObject(em *sdk.Emitter, w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = "host-" + strconv.FormatUint(requests.Add(1), 10)
	}
	rec := canonical.AuditRecord{
		Kind: canonical.KindGetServed, WriterID: "example-host", Stream: "objects",
		Actor:   canonical.Actor{CapID: r.Header.Get("X-Capability")},
		Subject: canonical.Subject{Name: name}, Reason: "served",
		Attrs: []canonical.Attr{{Key: "request", Value: id}},
	}
	switch err := em.TryEmit(&rec); {
	case err == nil, errors.Is(err, sdk.ErrBusy):
	case errors.Is(err, canonical.ErrInvalid), errors.Is(err, canonical.ErrTooLarge):
		// The request's own data cannot be audited (not UTF-8, too long).
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	default:
		// The audit plane failed (closed, a signer or store error): the
		// host's fault, not the caller's.
		http.Error(w, "audit unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "object %s\n", name)
}

// requests numbers the requests that bring no X-Request-Id.
var requests atomic.Uint64

// backgroundLoad emits rate records a second, as requests would.
func backgroundLoad(ctx context.Context, em *sdk.Emitter, rate int) {
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	rec := canonical.AuditRecord{Kind: canonical.KindIndexWrite, WriterID: "example-host", Stream: "index",
		Reason: "background write", Attrs: []canonical.Attr{{Key: "n"}}}
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rec.Attrs[0].Value = fmt.Sprint(n)
		em.TryEmit(&rec) // shed and counted when busy
	}
}

// verifyLoop verifies, every period, what each chain appended since the
// last round, and reports failures to the emitter:
// audit_verify_fail_total, and /readyz fails closed. A chain that failed
// is verified again from its last good record every round, and finds
// the same failure: it is reported (and printed to logw) once, not once
// a round, and again only when it changes, so that the counter counts
// failures found, not rounds (one damaged record is 1, not 360 an hour).
// /readyz stays failed meanwhile (Ready keeps the count).
//
// A chain whose records could not be read (an I/O error: see unreadable)
// is printed to logw, once while the error stays the same, and not
// reported: nothing was verified, so nothing was found, and a
// verification failure pages the critical AuditVerifyFailures ("a chain
// was tampered with"). The SDK has no readiness for a host's reads; a
// disk that fails the log's writes too fails the log, which Ready
// reports (LogFailed). The chain is verified again the next round.
func verifyLoop(ctx context.Context, log *sdk.Log, em *sdk.Emitter, every time.Duration, logw io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	verified := map[[2]string]sdk.Result{} // per chain: the last record verified, and its key transitions
	reported := map[[2]string]string{}     // per chain: the failure it has now, reported
	unread := map[[2]string]string{}       // per chain: the read error it has now, printed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, h := range log.Heads() {
			key := [2]string{h.WriterID, h.Stream}
			last, seen := verified[key]
			var from *sdk.Result
			if seen {
				from = &last
			}
			next, err := verifyChain(log, h, from)
			var re *readError
			switch {
			case errors.As(err, &re):
				if unread[key] != re.Error() {
					unread[key] = re.Error()
					fmt.Fprintln(logw, readFailureLine(h.WriterID, h.Stream, re.err))
				}
			case err != nil:
				delete(unread, key)
				if reported[key] != err.Error() {
					reported[key] = err.Error()
					em.ReportVerifyFailure(err)
					fmt.Fprintln(logw, verifyFailureLine(h.WriterID, h.Stream, err))
				}
			}
			if err == nil {
				// Passed (a read that failed once): a failure after it is new.
				delete(reported, key)
				delete(unread, key)
				if next.Head.Seq > 0 { // Seq 0: evicted meanwhile, nothing verified
					verified[key] = next
				}
			}
		}
	}
}

// verifyChain verifies the records of h's chain after from (from the
// first if from is nil) up to h, copied (the emitter goes on appending
// meanwhile), and returns how far it got: the head it reached and the
// chain's key transitions, which the next round passes on
// (VerifyOptions.Retired) so that a key retired before its start stays
// refused. Micronode keeps only the newest records: when those after from
// are gone, the first one kept is trusted as the start.
func verifyChain(log *sdk.Log, h sdk.Head, from *sdk.Result) (sdk.Result, error) {
	first := uint64(1)
	var start *sdk.Head
	var retired []sdk.Retirement
	if from != nil {
		if from.Head.Seq >= h.Seq {
			return *from, nil
		}
		first, start, retired = from.Head.Seq+1, &from.Head, from.Retired
	}
	ms, micronode := log.Store().(*sdk.MemStore)
	if micronode {
		if _, kept := ms.Evicted(h.WriterID, h.Stream); kept > first {
			first, start = kept, nil
		}
	}
	recs, err := log.Records(h.WriterID, h.Stream, first, h.Seq)
	if err != nil {
		switch {
		case errors.Is(err, sdk.ErrEvicted):
			err = nil // evicted meanwhile: next round
		case unreadable(err):
			err = &readError{err}
		}
		return sdk.Result{}, err
	}
	opts := sdk.VerifyOptions{AllowUnsealedTail: true, Start: start, Retired: retired}
	if start == nil && first > 1 {
		v, err := canonical.Open(recs[0].Bytes)
		if err != nil {
			return sdk.Result{}, err
		}
		opts.Start = &sdk.Head{WriterID: h.WriterID, Stream: h.Stream, Seq: first - 1, Hash: canonical.Hash(v.Prev())}
	}
	return sdk.VerifyChain(sdk.NewSliceIterator(recs), log.Keys(), opts)
}

// readError is verifyChain's error when the chain's records could not be
// read: nothing was verified.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// unreadable reports whether err, from Log.Records, is a failure to read
// the chain, which says nothing about its records: the OS failed a read
// or an fsync (an *fs.PathError, an errno, as a *wal.Error of a durable
// log wraps them), the WAL failed and accepts no more, or the log is
// closed. Damage found in the log's files (wal.ErrCorrupt: a bad frame
// before the tail, a missing segment; wal.ErrVersion) or records missing
// from the store (sdk.ErrStore without sdk.ErrEvicted) are evidence about
// the chain, and so is an error of no kind known here: those stay
// verification failures, since a page for one that was not is a smaller
// harm than silence over a chain that was cut.
func unreadable(err error) bool {
	if errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrVersion) {
		return false
	}
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno) || errors.Is(err, wal.ErrPoisoned) ||
		errors.Is(err, wal.ErrClosed) || errors.Is(err, sdk.ErrClosed)
}
