package metrics

import (
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// noPanic runs f and reports a panic as a test error: a library must not
// panic on its caller's data.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	f()
}

// TestCallerLabelsInvalidUTF8: a stream or an endpoint that is not valid
// UTF-8 (a host that calls Appended or Busy itself with a name from a
// request) is counted, not a panic: client_golang's WithLabelValues
// panics on a label value that is not UTF-8. Each counts under the
// overflow label, as no label value can hold it.
func TestCallerLabelsInvalidUTF8(t *testing.T) {
	m, reg := newMetrics(t)
	bad := "tenant-\xff\xfe"
	for i := 0; i < 3; i++ {
		noPanic(t, "Appended(invalid UTF-8 stream)", func() { m.Appended(canonical.KindGetServed, bad, 10) })
		noPanic(t, "Busy(invalid UTF-8 endpoint)", func() { m.Busy("/object/\xc3") })
	}
	if got := testutil.ToFloat64(m.appended.WithLabelValues(kindLabels[canonical.KindGetServed], StreamOverflow)); got != 3 {
		t.Errorf("%s{stream=%q} = %v, want 3", NameAppended, StreamOverflow, got)
	}
	if got := testutil.ToFloat64(m.bytes); got != 30 {
		t.Errorf("%s = %v, want 30", NameBytes, got)
	}
	if got := testutil.ToFloat64(m.busy.WithLabelValues(EndpointOverflow)); got != 3 {
		t.Errorf("%s{endpoint=%q} = %v, want 3", NameBusy, EndpointOverflow, got)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if problems, err := testutil.GatherAndLint(reg, NameAppended, NameBusy); err != nil || len(problems) != 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}
}

// TestEndpointCardinality: the endpoint label of busy_rejections_total
// stops growing at MaxEndpoints, as the stream label does at MaxStreams:
// endpoints come from the host (a request's path, say), and a series per
// distinct value without end would grow the registry and every scrape.
// An endpoint seen before the cap keeps its series; none is lost.
func TestEndpointCardinality(t *testing.T) {
	m, _ := newMetrics(t)
	const endpoints = MaxEndpoints + 200
	for i := 0; i < endpoints; i++ {
		m.Busy(fmt.Sprint("/object/", i))
	}
	m.Busy("/object/0")
	m.Busy(EndpointEmit)
	// EndpointEmit is created by New; MaxEndpoints others, and the overflow.
	if n := testutil.CollectAndCount(m.busy); n != MaxEndpoints+2 {
		t.Fatalf("%d series of %s, want %d", n, NameBusy, MaxEndpoints+2)
	}
	if got := testutil.ToFloat64(m.busy.WithLabelValues("/object/0")); got != 2 {
		t.Errorf("/object/0: %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.busy.WithLabelValues(EndpointOverflow)); got != endpoints-MaxEndpoints {
		t.Errorf("%s: %v, want %d", EndpointOverflow, got, endpoints-MaxEndpoints)
	}
	if got := testutil.ToFloat64(m.busyC); got != 1 {
		t.Errorf("emit: %v, want 1", got)
	}
}

// TestBusyConcurrent: endpoints created by concurrent Busy calls (the
// copy-on-write map) lose no count.
func TestBusyConcurrent(t *testing.T) {
	m, reg := newMetrics(t)
	const goroutines, each = 8, 300
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Go(func() {
			for i := 0; i < each; i++ {
				m.Busy(fmt.Sprint("/e", i%(MaxEndpoints+10)))
			}
		})
	}
	wg.Wait()
	if got := sumFamily(t, reg, NameBusy); got != goroutines*each {
		t.Fatalf("%s summed = %v, want %d", NameBusy, got, goroutines*each)
	}
	if n := testutil.CollectAndCount(m.busy); n != MaxEndpoints+2 {
		t.Fatalf("%d series, want %d", n, MaxEndpoints+2)
	}
}

// TestOverflowTakesNoPlace: the first MaxEndpoints endpoints and the first
// MaxStreams streams get series of their own even when a value that
// counts as overflow (not valid UTF-8) came first: the overflow series is
// not one of the places the docs promise ("the first 64").
func TestOverflowTakesNoPlace(t *testing.T) {
	m, _ := newMetrics(t)
	m.Busy("bad-\xff")
	m.Appended(canonical.KindGetServed, "bad-\xff", 1)
	for i := 0; i < MaxEndpoints; i++ {
		m.Busy(fmt.Sprint("/object/", i))
	}
	for i := 0; i < MaxStreams; i++ {
		m.Appended(canonical.KindGetServed, fmt.Sprint("s", i), 1)
	}
	last := fmt.Sprint("/object/", MaxEndpoints-1)
	if got := testutil.ToFloat64(m.busy.WithLabelValues(last)); got != 1 {
		t.Errorf("endpoint %d of %d (%s): %v, want its own series at 1", MaxEndpoints, MaxEndpoints, last, got)
	}
	if got := testutil.ToFloat64(m.busy.WithLabelValues(EndpointOverflow)); got != 1 {
		t.Errorf("%s: %v, want 1 (the invalid endpoint alone)", EndpointOverflow, got)
	}
	lastS := fmt.Sprint("s", MaxStreams-1)
	if got := testutil.ToFloat64(m.appended.WithLabelValues(kindLabels[canonical.KindGetServed], lastS)); got != 1 {
		t.Errorf("stream %d of %d (%s): %v, want its own series at 1", MaxStreams, MaxStreams, lastS, got)
	}
	if got := testutil.ToFloat64(m.appended.WithLabelValues(kindLabels[canonical.KindGetServed], StreamOverflow)); got != 1 {
		t.Errorf("%s: %v, want 1 (the invalid stream alone)", StreamOverflow, got)
	}
}
