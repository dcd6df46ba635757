// Package leakcheck finds goroutines a test left running: those this
// module's code started (their stack says "created by" one of its
// packages) that were not running when the check began. It is for tests
// only; it reads runtime.Stack and needs nothing outside the standard
// library.
package leakcheck

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Module is the import path prefix whose goroutines are checked.
const Module = "github.com/rustyonions/ron-audit-go/"

// Settle is how long Check waits for goroutines to end before it reports
// them: a Close may return just before its last goroutine does.
const Settle = 5 * time.Second

// Goroutine is one goroutine of a runtime.Stack dump.
type Goroutine struct {
	ID    string // as the dump prints it
	Stack string // the whole entry, header included
}

// Check notes the module's goroutines running now and returns a function
// that fails t if, within Settle, others are still running: call it
// where everything the test started should have ended (defer it, or call
// it after Close).
func Check(t testing.TB) func() {
	t.Helper()
	before := map[string]bool{}
	for _, g := range Running() {
		before[g.ID] = true
	}
	return func() {
		t.Helper()
		if left := Wait(before, Settle); len(left) > 0 {
			var b strings.Builder
			for _, g := range left {
				b.WriteString("\n\n")
				b.WriteString(g.Stack)
			}
			t.Errorf("%d goroutine(s) started by %s still running %v after the test's work ended:%s", len(left), Module, Settle, b.String())
		}
	}
}

// Wait waits up to d for every goroutine of the module that is not in
// before to end, and returns those still running.
func Wait(before map[string]bool, d time.Duration) []Goroutine {
	deadline := time.Now().Add(d)
	for {
		var left []Goroutine
		for _, g := range Running() {
			if !before[g.ID] {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(time.Millisecond)
	}
}

// Running lists the goroutines that code of the module started: the
// "created by" line names a function of the module outside a _test.go
// file (goroutines a test starts itself are its own business).
func Running() []Goroutine {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []Goroutine
	for _, entry := range bytes.Split(buf, []byte("\n\n")) {
		s := string(entry)
		id, ok := goroutineID(s)
		if !ok {
			continue
		}
		created := s[strings.LastIndex(s, "\ncreated by ")+1:]
		if !strings.HasPrefix(created, "created by "+Module) || strings.Contains(created, "_test.go:") ||
			strings.Contains(created, "/internal/leakcheck.") {
			continue
		}
		out = append(out, Goroutine{ID: id, Stack: s})
	}
	return out
}

// goroutineID is the id in an entry's header, "goroutine 12 [running]:".
func goroutineID(entry string) (string, bool) {
	rest, ok := strings.CutPrefix(entry, "goroutine ")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, " ")
	return id, ok
}
