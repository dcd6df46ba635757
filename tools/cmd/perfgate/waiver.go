package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

const defaultWaivers = "testing/performance/waivers.json"

// errTrailingData is text after the waiver file's list.
var errTrailingData = errors.New("text after the waiver list")

// Waiver lets exactly one red result pass: one benchmark's one metric,
// for a stated reason, until a date.
type Waiver struct {
	Benchmark string `json:"benchmark"`
	Metric    string `json:"metric"` // one of gateMetrics
	Reason    string `json:"reason"`
	Until     string `json:"until"` // YYYY-MM-DD, the last day it holds (UTC)
}

func (w Waiver) key() string { return w.Benchmark + "\x00" + w.Metric }

// WaiverError is a waiver the gate refuses: a waiver without a reason, or
// past its date, is itself a red gate, so stale waivers get removed
// instead of piling up.
type WaiverError struct {
	Index   int // position in the file's list
	Waiver  Waiver
	Problem string
}

func (e *WaiverError) Error() string {
	return fmt.Sprintf("waiver %d (%s %s): %s", e.Index, e.Waiver.Benchmark, e.Waiver.Metric, e.Problem)
}

// loadWaivers reads the waiver file; an absent file is no waivers. It
// returns the valid waivers and, joined, a *WaiverError for each invalid
// one, which do not waive anything.
func loadWaivers(path string, now time.Time) ([]Waiver, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ws []Waiver
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt "reason" must not pass as none
	if err := dec.Decode(&ws); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Decode reads one value: anything after the list (a stray "]" and
	// a waiver after it) would be dropped without a word. Token, not
	// More, which says no more before a "]" or "}".
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, errTrailingData)
	}
	today := now.UTC().Format(time.DateOnly)
	var ok []Waiver
	var errs []error
	seen := map[string]bool{}
	for i, w := range ws {
		bad := func(problem string) { errs = append(errs, &WaiverError{Index: i, Waiver: w, Problem: problem}) }
		until, perr := time.Parse(time.DateOnly, w.Until)
		switch {
		case w.Benchmark == "":
			bad("no benchmark")
		case !slices.Contains(gateMetrics, w.Metric):
			bad(fmt.Sprintf("metric %q is none the gate holds (%s)", w.Metric, strings.Join(gateMetrics, ", ")))
		case strings.TrimSpace(w.Reason) == "":
			bad("no reason: a waiver must say why the regression is accepted")
		case perr != nil:
			bad(fmt.Sprintf("until %q is not a YYYY-MM-DD date", w.Until))
		case until.Format(time.DateOnly) < today:
			bad(fmt.Sprintf("expired on %s: fix the regression, rebaseline, or renew the waiver with a reason", w.Until))
		case seen[w.key()]:
			bad("a second waiver for the same benchmark and metric")
		default:
			seen[w.key()] = true
			ok = append(ok, w)
		}
	}
	return ok, errors.Join(errs...)
}
