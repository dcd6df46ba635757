// Package metrics exports the audit plane's Prometheus metrics, registered
// on a prometheus.Registerer the host passes in (never the global one), and
// adapters that plug them into the SDK's hooks:
//
//	m, err := metrics.New(reg)
//	sdk.EmitterOptions{Metrics: m}                           // appended, drops, busy, dedupe, queue depth, verify failures
//	sdk.DurableOptions{WAL: wal.Options{OnFsync: m.OnFsync}} // wal_fsync_seconds
//	checkpoint.KeeperOptions{OnCheckpoint: m.OnCheckpoint}   // with export.Auto: call both from one func
//	checkpoint.KeeperOptions{OnFailure: m.OnCheckpointFailure}
//	export.Exporter{OnExport: m.OnExport}
//	export.Auto{OnFailure: m.OnExportFailure}
//
// The Emitter is what counts records: a host that calls sdk.Log.Append
// itself, without one, counts them with Appended (and Dropped) on its own.
//
// A process with several logs (node.Nodes, Emitters) on one registry
// either passes one Metrics to all of them, whose series then add up
// theirs (audit_queue_depth: the records all its emitters hold), or
// calls New once per log on a registerer of its own,
// prometheus.WrapRegistererWith(prometheus.Labels{"log": name}, reg);
// a second New on the same registerer is ErrAlreadyRegistered. The alert
// rules sum by instance, over such a label.
//
// The metric names and label values are those of the ron-audit design
// (see testing/observability for the dashboard and alert rules that query
// them). Every label value the design lists is created at New, so its
// series exist at zero before the first event.
//
// The label values that come from callers are bounded, so that neither
// the registry nor a scrape grows without end, and never panic (as
// client_golang does on a label value that is not UTF-8): Appended's
// stream (MaxStreams, then StreamOverflow) and Busy's endpoint
// (MaxEndpoints, then EndpointOverflow); the other labels take only the
// values listed here.
//
// The hot-path adapters (Appended, Dropped, Busy, DedupeHit, Queued,
// OnFsync) do not allocate once a stream's series exist: label children
// are cached.
package metrics

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/nilptr"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/export"
)

// Metric names.
const (
	NameAppended    = "audit_appended_total"
	NameDrop        = "audit_drop_total"
	NameQueueDepth  = "audit_queue_depth"
	NameBytes       = "audit_bytes_total"
	NameVerifyFail  = "audit_verify_fail_total"
	NameFsync       = "wal_fsync_seconds"
	NameExportBatch = "export_batch_seconds"
	NameBusy        = "busy_rejections_total"
	NameCheckpoints = "audit_export_checkpoints_total"
	NameDedupeHits  = "audit_dedupe_hits_total"
	NameExportFail  = "audit_export_fail_total"
)

// Stages (label stage of audit_export_fail_total): where the evidence
// that leaves the log stopped. Not in the ron-audit design, which counts
// checkpoints written (audit_export_checkpoints_total) but not those that
// failed: a full disk or a refused fork would stop them silently.
const (
	StageCheckpoint = "checkpoint" // a checkpoint.Keeper failed to sign or write a checkpoint
	StageBundle     = "bundle"     // an export.Auto failed to export a bundle (and stopped)
)

// ExportFailStages are the stages, each a series from New on.
var ExportFailStages = []string{StageCheckpoint, StageBundle}

// Drop reasons (label reason of audit_drop_total): those of sdk.Emitter,
// and io_backpressure, the ron-audit design's name for a sink that cannot
// keep up. The Go emitter holds a record's slot until it is durable, so a
// slow sink fills the emitter and shows as audit_backpressure; the series
// exists (at 0) for dashboards written against the design.
const (
	DropAuditBackpressure = sdk.DropBackpressure // the emitter was full
	DropIOBackpressure    = "io_backpressure"    // the sink could not keep up (see above)
	DropBoundsExceeded    = sdk.DropBounds       // the record was over its size bounds
	DropInvalid           = sdk.DropInvalid      // not a valid record
	DropSinkError         = sdk.DropSinkError    // the signer or the store failed
	DropShutdown          = sdk.DropShutdown     // Close's deadline passed with the record unwritten
	DropClosed            = sdk.DropClosed       // emitted after Close
	// DropOther counts a reason not in this list (label cardinality stays bounded).
	DropOther = "other"
)

// DropReasons are the drop reasons, each a series from New on.
var DropReasons = []string{DropAuditBackpressure, DropIOBackpressure, DropBoundsExceeded, DropInvalid,
	DropSinkError, DropShutdown, DropClosed}

// Metrics is the sdk.Emitter's EmitterMetrics.
var _ sdk.EmitterMetrics = (*Metrics)(nil)

// EndpointEmit is the endpoint label of busy rejections of TryEmit/Emit.
const EndpointEmit = "emit"

// MaxEndpoints bounds the endpoint label of busy_rejections_total beside
// EndpointEmit: the endpoints a host passes to Busy are its own (a route,
// a request's path), and a series per distinct value without end would
// grow the registry (and every scrape) without bound. Endpoints beyond
// the first MaxEndpoints count under EndpointOverflow.
const MaxEndpoints = 64

// EndpointOverflow is the endpoint label of the endpoints beyond
// MaxEndpoints, and of an endpoint that is not valid UTF-8 (which no
// label value can hold).
const EndpointOverflow = "_other"

// VerifyOther is the reason label of a verification failure that carries
// none of the typed errors VerifyFailed reads (a host's own error), or a
// Reason of one that is not in VerifyReasons.
const VerifyOther = "other"

// VerifyManifestGap is the reason label, named by the ron-audit design,
// of an export sequence missing a bundle: an error that is export.ErrGap
// (a bundle does not start where the one before ended). A record missing
// from a chain is sdk.ReasonSeqGap.
const VerifyManifestGap = "manifest_gap"

// Prefixes of the reason labels of a checkpoint's and a bundle's failures:
// their packages' Reasons share names with sdk's (bad_signature, fork,
// format), which say something else there.
const (
	verifyCheckpointPrefix = "checkpoint_"
	verifyExportPrefix     = "export_"
)

// checkpointReasons and exportReasons are the Reasons of packages
// checkpoint and export (TestVerifyReasonsCoverSDK reads them from the
// source, so a new one is not counted as VerifyOther unnoticed).
// export.ReasonGap is VerifyManifestGap.
var (
	checkpointReasons = []checkpoint.Reason{
		checkpoint.ReasonFormat, checkpoint.ReasonBadSignature, checkpoint.ReasonUnknownKey, checkpoint.ReasonSign,
		checkpoint.ReasonRange, checkpoint.ReasonNotIncluded, checkpoint.ReasonOriginMismatch,
		checkpoint.ReasonRollback, checkpoint.ReasonFork, checkpoint.ReasonRetiredKey,
	}
	exportReasons = []export.Reason{
		export.ReasonFormat, export.ReasonBadCheckpoint, export.ReasonRecord, export.ReasonRoot,
		export.ReasonConsistency, export.ReasonTruncated, export.ReasonFork,
	}
)

// VerifyReasons are the reason labels of audit_verify_fail_total, each a
// series from New on: every sdk.Reason (a record's failure: hash_mismatch,
// seq_gap, ...); "checkpoint_" and a checkpoint.Reason (a checkpoint's:
// checkpoint_rollback, checkpoint_fork, checkpoint_not_included, ...);
// "export_" and an export.Reason but gap (a bundle's: export_root,
// export_consistency, export_truncated, ...); VerifyManifestGap; and
// VerifyOther.
var VerifyReasons = verifyReasons()

func verifyReasons() []sdk.Reason {
	rs := []sdk.Reason{
		sdk.ReasonHashMismatch, sdk.ReasonPrevMismatch, sdk.ReasonSeqGap, sdk.ReasonBadSignature,
		sdk.ReasonNotCanonical, sdk.ReasonUnknownKey, sdk.ReasonUnsealedTail, sdk.ReasonRetiredKey,
		sdk.ReasonBadTransition,
	}
	for _, r := range checkpointReasons {
		rs = append(rs, sdk.Reason(verifyCheckpointPrefix+r))
	}
	for _, r := range exportReasons {
		rs = append(rs, sdk.Reason(verifyExportPrefix+r))
	}
	return append(rs, VerifyManifestGap, VerifyOther)
}

// FsyncBuckets are wal_fsync_seconds' buckets: 0.1 ms to 100 ms, with
// bounds at the alert target (2 ms) and the seed's SLOs (p95 8 ms, p99 15 ms).
var FsyncBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.015, 0.025, 0.05, 0.1}

// ExportBuckets are export_batch_seconds' buckets: 1 ms to 10 s, with
// bounds at the alert target (p95 25 ms per 10k records, alert
// AuditExportSlow) and the seed's SLO (p95 250 ms).
var ExportBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// kindLabels are the kind label values, indexed by canonical.Kind: the
// design's snake_case names. A kind the schema lacks counts as unknown.
var kindLabels = [...]string{
	canonical.KindUnknown:       "unknown",
	canonical.KindCapIssued:     "cap_issued",
	canonical.KindCapRevoked:    "cap_revoked",
	canonical.KindPolicyChanged: "policy_changed",
	canonical.KindIndexWrite:    "index_write",
	canonical.KindGetServed:     "get_served",
	canonical.KindQuotaReject:   "quota_reject",
}

const numKinds = len(kindLabels)

// KindLabel returns the kind label value of k.
func KindLabel(k canonical.Kind) string {
	if int(k) < numKinds {
		return kindLabels[k]
	}
	return kindLabels[canonical.KindUnknown]
}

// ErrAlreadyRegistered matches (errors.Is) the *RegistrationError of New
// when a metric of the same name is already registered on the registerer,
// e.g. by an earlier New on it.
var ErrAlreadyRegistered = errors.New("metrics: already registered")

// ErrNilRegisterer is returned by New(nil), and by New of a nil pointer
// (a *prometheus.Registry never made).
var ErrNilRegisterer = errors.New("metrics: nil Registerer (pass the host's registry; metrics never register globally)")

// RegistrationError is New's error when registering a metric failed. New
// has then unregistered the metrics it had registered before.
type RegistrationError struct {
	Metric string // the metric's name
	Err    error  // from Register: a prometheus.AlreadyRegisteredError, or another
}

func (e *RegistrationError) Error() string {
	return "metrics: register " + e.Metric + ": " + e.Err.Error()
}

// Unwrap returns Register's error (errors.As finds a
// prometheus.AlreadyRegisteredError through it).
func (e *RegistrationError) Unwrap() error { return e.Err }

// Is matches ErrAlreadyRegistered when Register found the name taken.
func (e *RegistrationError) Is(target error) bool {
	var are prometheus.AlreadyRegisteredError
	return target == ErrAlreadyRegistered && errors.As(e.Err, &are)
}

// Metrics holds the audit metrics of one registerer. Its methods are safe
// for concurrent use. A nil *Metrics counts nothing: a host with metrics
// turned off may wire its method values as hooks (m.OnFsync,
// m.OnCheckpoint, m.OnExportFailure), which are non-nil funcs no
// constructor can refuse, and which would otherwise panic on the WAL's,
// the Keeper's or an export.Auto's goroutine. (sdk.NewEmitter refuses
// it as EmitterOptions.Metrics, where it can see it: leave that nil.)
type Metrics struct {
	appended    *prometheus.CounterVec
	drops       *prometheus.CounterVec
	queueDepth  prometheus.Gauge
	bytes       prometheus.Counter
	verifyFail  *prometheus.CounterVec
	fsync       prometheus.Histogram
	exportBatch prometheus.Histogram
	busy        *prometheus.CounterVec
	checkpoints prometheus.Counter
	dedupeHits  prometheus.Counter
	exportFail  *prometheus.CounterVec

	dropC   map[string]prometheus.Counter // per reason, read-only after New
	verifyC map[sdk.Reason]prometheus.Counter
	busyC   prometheus.Counter // endpoint="emit"
	cpFailC prometheus.Counter // stage="checkpoint"
	exFailC prometheus.Counter // stage="bundle"

	// streams maps a stream to its appended counters, one per kind:
	// copy-on-write, so Appended reads it without a lock. Once it holds
	// MaxStreams streams (full), new streams count as StreamOverflow.
	streams atomic.Pointer[map[string]*[numKinds]prometheus.Counter]
	full    atomic.Bool
	// endpoints maps the endpoints Busy was given, other than
	// EndpointEmit, to their counters: copy-on-write as streams, bounded
	// by MaxEndpoints (endpointsFull).
	endpoints     atomic.Pointer[map[string]prometheus.Counter]
	endpointsFull atomic.Bool
	mu            sync.Mutex // serializes writers of streams and endpoints
}

// MaxStreams bounds the stream label of audit_appended_total: streams come
// from the records, and a series per stream without end would grow the
// registry (and every scrape) without bound. Records of streams beyond
// the first MaxStreams count under the stream label StreamOverflow.
const MaxStreams = 1024

// StreamOverflow is the stream label of the streams beyond MaxStreams,
// and of a stream that is not valid UTF-8 (which no label value can
// hold: client_golang panics on it). A stream of that name among the
// first MaxStreams shares its series.
const StreamOverflow = "_other"

// New creates the audit metrics and registers them on reg. If a metric
// cannot be registered (a name already taken, e.g. New called twice on one
// registry), New unregisters those it registered and returns a
// *RegistrationError (errors.Is ErrAlreadyRegistered in that case).
func New(reg prometheus.Registerer) (*Metrics, error) {
	if nilptr.Is(reg) { // nil, or a nil *prometheus.Registry: Register would panic
		return nil, ErrNilRegisterer
	}
	m := &Metrics{
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameAppended,
			Help: "Audit records appended, by kind and stream."}, []string{"kind", "stream"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameDrop,
			Help: "Audit records dropped (shed, not blocked), by reason."}, []string{"reason"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: NameQueueDepth,
			Help: "Records the emitter holds (queued, signing or waiting to be durable); it sheds at its Depth."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: NameBytes,
			Help: "Canonical bytes of the audit records appended."}),
		verifyFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameVerifyFail,
			Help: "Verification failures the host's verifiers reported, by reason: a record's (hash_mismatch, seq_gap, ...), a checkpoint's (checkpoint_rollback, checkpoint_fork, ...), a bundle's (export_root, ..., manifest_gap), or other."}, []string{"reason"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameFsync,
			Help: "Duration of the WAL's fsyncs that made frames durable.", Buckets: FsyncBuckets}),
		exportBatch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameExportBatch,
			Help: "Duration of an export bundle: read the records, tree, sign the checkpoint, encode, write.", Buckets: ExportBuckets}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameBusy,
			Help: "Requests rejected busy (queue full), by endpoint."}, []string{"endpoint"}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{Name: NameCheckpoints,
			Help: "Signed checkpoints written."}),
		dedupeHits: prometheus.NewCounter(prometheus.CounterOpts{Name: NameDedupeHits,
			Help: "Appends that matched a recent record's dedupe key (idempotent replay)."}),
		exportFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameExportFail,
			Help: "Failures to write a signed checkpoint or export a bundle, by stage."}, []string{"stage"}),
	}
	cs := []struct {
		name string
		c    prometheus.Collector
	}{
		{NameAppended, m.appended}, {NameDrop, m.drops}, {NameQueueDepth, m.queueDepth},
		{NameBytes, m.bytes}, {NameVerifyFail, m.verifyFail}, {NameFsync, m.fsync},
		{NameExportBatch, m.exportBatch}, {NameBusy, m.busy}, {NameCheckpoints, m.checkpoints},
		{NameDedupeHits, m.dedupeHits}, {NameExportFail, m.exportFail},
	}
	for i, c := range cs {
		if err := reg.Register(c.c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done.c)
			}
			return nil, &RegistrationError{Metric: c.name, Err: err}
		}
	}
	m.dropC = make(map[string]prometheus.Counter, len(DropReasons)+1)
	for _, r := range append(DropReasons[:len(DropReasons):len(DropReasons)], DropOther) {
		m.dropC[r] = m.drops.WithLabelValues(r)
	}
	m.verifyC = make(map[sdk.Reason]prometheus.Counter, len(VerifyReasons))
	for _, r := range VerifyReasons {
		m.verifyC[r] = m.verifyFail.WithLabelValues(string(r))
	}
	m.busyC = m.busy.WithLabelValues(EndpointEmit)
	m.cpFailC = m.exportFail.WithLabelValues(StageCheckpoint)
	m.exFailC = m.exportFail.WithLabelValues(StageBundle)
	empty := map[string]*[numKinds]prometheus.Counter{}
	m.streams.Store(&empty)
	noEndpoints := map[string]prometheus.Counter{}
	m.endpoints.Store(&noEndpoints)
	return m, nil
}

// Appended counts one record appended to stream: audit_appended_total
// {kind,stream} and its canonical size in audit_bytes_total. The stream's
// series are created on its first record; past MaxStreams streams, a new
// one counts as StreamOverflow, as does a stream that is not valid UTF-8
// (the Emitter refuses such records; a host calling Appended itself may
// not).
func (m *Metrics) Appended(kind canonical.Kind, stream string, bytes int) {
	if m == nil {
		return
	}
	k := kind
	if int(k) >= numKinds {
		k = canonical.KindUnknown
	}
	streams := *m.streams.Load()
	cs, ok := streams[stream]
	if !ok && (m.full.Load() || !utf8.ValidString(stream)) {
		stream = StreamOverflow
		cs, ok = streams[stream]
	}
	if !ok {
		cs, stream = m.addStream(stream)
	}
	c := cs[k]
	if c == nil {
		c = m.addKind(stream, k)
	}
	c.Inc()
	if bytes > 0 {
		m.bytes.Add(float64(bytes))
	}
}

// addStream adds stream's entry, or StreamOverflow's once MaxStreams
// streams have one, and returns it and the stream label it counts under.
func (m *Metrics) addStream(stream string) (*[numKinds]prometheus.Counter, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.streams.Load()
	if cs, ok := old[stream]; ok {
		return cs, stream
	}
	if places(old, StreamOverflow) >= MaxStreams {
		m.full.Store(true)
		stream = StreamOverflow
		if cs, ok := old[stream]; ok {
			return cs, stream
		}
	}
	next := make(map[string]*[numKinds]prometheus.Counter, len(old)+1)
	for s, cs := range old {
		next[s] = cs
	}
	cs := new([numKinds]prometheus.Counter)
	next[stream] = cs
	m.streams.Store(&next)
	return cs, stream
}

// places is how many entries of a label's map are values of their own:
// the overflow series takes none of the places the limit promises.
func places[V any](m map[string]V, overflow string) int {
	n := len(m)
	if _, ok := m[overflow]; ok {
		n--
	}
	return n
}

// addKind creates the series of (kind, stream) on its first record (a
// series per kind is created lazily, so a stream exports only the kinds
// it has).
func (m *Metrics) addKind(stream string, k canonical.Kind) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.streams.Load()
	cs := old[stream]
	if c := cs[k]; c != nil {
		return c
	}
	// Copy the array so readers of the old map never see a write.
	nc := *cs
	nc[k] = m.appended.WithLabelValues(kindLabels[k], stream)
	next := make(map[string]*[numKinds]prometheus.Counter, len(old))
	for s, c := range old {
		next[s] = c
	}
	next[stream] = &nc
	m.streams.Store(&next)
	return nc[k]
}

// Dropped counts one record dropped for reason (one of DropReasons;
// another reason counts as DropOther).
func (m *Metrics) Dropped(reason string) {
	if m == nil {
		return
	}
	c, ok := m.dropC[reason]
	if !ok {
		c = m.dropC[DropOther]
	}
	c.Inc()
}

// Busy counts one busy rejection at endpoint (EndpointEmit for the
// emitter; another endpoint gets its own series on its first rejection,
// up to MaxEndpoints of them, then counts as EndpointOverflow, as does an
// endpoint that is not valid UTF-8).
func (m *Metrics) Busy(endpoint string) {
	if m == nil {
		return
	}
	if endpoint == EndpointEmit {
		m.busyC.Inc()
		return
	}
	endpoints := *m.endpoints.Load()
	c, ok := endpoints[endpoint]
	if !ok && (m.endpointsFull.Load() || !utf8.ValidString(endpoint)) {
		endpoint = EndpointOverflow
		c, ok = endpoints[endpoint]
	}
	if !ok {
		c = m.addEndpoint(endpoint)
	}
	c.Inc()
}

// addEndpoint creates endpoint's series, or EndpointOverflow's once
// MaxEndpoints endpoints have one, and returns its counter.
func (m *Metrics) addEndpoint(endpoint string) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.endpoints.Load()
	if c, ok := old[endpoint]; ok {
		return c
	}
	if places(old, EndpointOverflow) >= MaxEndpoints {
		m.endpointsFull.Store(true)
		endpoint = EndpointOverflow
		if c, ok := old[endpoint]; ok {
			return c
		}
	}
	next := make(map[string]prometheus.Counter, len(old)+1)
	for e, c := range old {
		next[e] = c
	}
	c := m.busy.WithLabelValues(endpoint)
	next[endpoint] = c
	m.endpoints.Store(&next)
	return c
}

// DedupeHit counts one append that matched a recent record (Appended's
// Duplicate).
func (m *Metrics) DedupeHit() {
	if m != nil {
		m.dedupeHits.Inc()
	}
}

// Queued moves audit_queue_depth by delta (sdk.EmitterMetrics): the
// records the emitters reporting here hold, each at most its Depth
// (sdk.EmitterStats.InFlight), which is when it sheds.
func (m *Metrics) Queued(delta int) {
	if m != nil {
		m.queueDepth.Add(float64(delta))
	}
}

// VerifyFailed counts a verification failure by the typed error in err's
// chain that says most precisely what failed: the Reason of a
// *sdk.VerifyError (a record's failure, also inside a bundle's or a
// checkpoint's error), else "checkpoint_" and the Reason of a
// *checkpoint.Error (also inside a *checkpoint.DirError, or a bundle's
// error: export's bad_checkpoint and consistency carry one), else
// "export_" and the Reason of an *export.Error, VerifyManifestGap for
// export.ErrGap; or else as VerifyOther (also for a Reason not in
// VerifyReasons, so the label stays bounded). A nil err counts nothing.
//
// A host with an Emitter reports its verifiers' failures to
// Emitter.ReportVerifyFailure instead, which calls this (when these are
// its EmitterOptions.Metrics) and also makes Emitter.Ready report the
// audit plane degraded; calling both counts the failure twice.
func (m *Metrics) VerifyFailed(err error) {
	if err == nil || m == nil {
		return
	}
	r := sdk.Reason(VerifyOther)
	if ve, ok := err.(*sdk.VerifyError); ok { // the common case, without errors.As's allocation
		if ve.Reason != "" {
			r = ve.Reason
		}
	} else if ve := new(sdk.VerifyError); errors.As(err, &ve) && ve.Reason != "" {
		r = ve.Reason
	} else if ce := new(checkpoint.Error); errors.As(err, &ce) {
		r = sdk.Reason(verifyCheckpointPrefix + ce.Reason)
	} else if errors.Is(err, export.ErrGap) {
		r = VerifyManifestGap
	} else if ee := new(export.Error); errors.As(err, &ee) {
		r = sdk.Reason(verifyExportPrefix + ee.Reason)
	}
	c, ok := m.verifyC[r]
	if !ok {
		// Not a Reason of package sdk (all are in VerifyReasons): one a
		// host made up. Its own series per distinct value would grow
		// without bound.
		c = m.verifyC[VerifyOther]
	}
	c.Inc()
}

// OnFsync is a wal.Options.OnFsync: it observes in wal_fsync_seconds the
// duration of each fsync that made frames durable (frames > 0): the
// group-commit (or FsyncAlways) fsyncs appenders wait on, and the fsync
// of a segment's last frames at rotation or Close. The WAL's other fsyncs
// (a new segment's header, recovery; frames 0) are not observed: they are
// not on an append's path, and counting them would skew the p95 that the
// AuditWalFsyncSlow alert and the rig-wal target (docs/PERFORMANCE.md)
// read, which is measured the same way. The frame count is not a metric.
func (m *Metrics) OnFsync(d time.Duration, frames int) {
	if frames > 0 && m != nil {
		m.fsync.Observe(d.Seconds())
	}
}

// OnCheckpoint is a checkpoint.KeeperOptions.OnCheckpoint: it counts the
// checkpoint in audit_export_checkpoints_total.
func (m *Metrics) OnCheckpoint(cp checkpoint.Checkpoint, took time.Duration) {
	if m != nil {
		m.checkpoints.Inc()
	}
}

// OnExport is an export.Exporter.OnExport: it observes the bundle's
// duration in export_batch_seconds, from reading its records to writing
// it (under export.Auto, from asking its Prev).
func (m *Metrics) OnExport(took time.Duration, records int) {
	if m != nil {
		m.exportBatch.Observe(took.Seconds())
	}
}

// OnCheckpointFailure is a checkpoint.KeeperOptions.OnFailure: it counts
// the failure in audit_export_fail_total{stage="checkpoint"} (alert
// AuditCheckpointFailing). The Keeper's first failure also makes
// sdk.Emitter.Ready report the audit plane degraded.
func (m *Metrics) OnCheckpointFailure(err error) {
	if m != nil {
		m.cpFailC.Inc()
	}
}

// OnExportFailure is an export.Auto.OnFailure: it counts the failure that
// stopped the exports in audit_export_fail_total{stage="bundle"} (alert
// AuditCheckpointFailing).
func (m *Metrics) OnExportFailure(err error) {
	if m != nil {
		m.exFailC.Inc()
	}
}
