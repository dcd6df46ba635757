// Package hot exercises the hotpath analyzer: the marked functions hold
// every construct it reports, and the allowed forms next to them.
package hot

import (
	"errors"
	"fmt"
	"strconv"
)

type set map[string]bool

type log struct {
	seq   uint64
	index map[string]int
	buf   []byte
	spans []int
}

var errConflict = errors.New("conflict")

// Errors built in the hot body.
//
//ronaudit:hot
func Format(seq, next uint64) error {
	if seq != next {
		return fmt.Errorf("%w: seq %d, want %d", errConflict, seq, next) // want `Format is //ronaudit:hot: calls fmt.Errorf, which allocates`
	}
	_ = fmt.Sprint(seq) // want `Format is //ronaudit:hot: calls fmt.Sprint`
	return nil
}

// The same error built in a cold helper: allowed.
//
//ronaudit:hot
func Cold(seq, next uint64) error {
	if seq != next {
		return conflictError(seq, next)
	}
	return nil
}

func conflictError(seq, next uint64) error {
	return fmt.Errorf("%w: seq %d, want %d", errConflict, seq, next)
}

//ronaudit:hot
func (l *log) maps(k string, s set) int {
	m := make(map[string]int) // want `\(\*log\).maps is //ronaudit:hot: make\(map\) allocates a map`
	m[k] = 1                  // want `\(\*log\).maps is //ronaudit:hot: indexes a map`
	n := l.index[k]           // want `indexes a map`
	delete(l.index, k)        // want `delete indexes a map`
	lit := set{"a": true}     // want `a map literal allocates a map`
	for k := range s {        // want `ranges over a map`
		n += len(k)
	}
	_ = lit
	return n
}

// Slices, arrays and strconv are fine.
//
//ronaudit:hot
func (l *log) slices(k string) []byte {
	s := make([]int, 0, 4)
	s = append(s, l.spans[0])
	for i := range l.spans {
		s = append(s, l.spans[i])
	}
	var a [4]byte
	a[1] = k[0]
	return strconv.AppendUint(append(l.buf[:0], a[:]...), l.seq, 10)
}

//ronaudit:hot
func Closures(xs []int, apply func(func(int) int)) int {
	double := func(x int) int { return 2 * x } // want `Closures is //ronaudit:hot: a function literal that is not called on the spot`
	apply(func(x int) int { return x + 1 })    // want `a function literal that is not called`
	n := func() int { return len(xs) }()       // called on the spot: allowed
	m := (func() int { return 1 })()           // in parentheses: allowed
	go func() { _ = n }()                      // want `a go statement allocates` `a function literal that is not called on the spot`
	go work(n)                                 // want `a go statement allocates`
	return double(n) + m
}

// Inside a literal called on the spot the rules still hold.
//
//ronaudit:hot
func Nested(k string, m map[string]int) int {
	return func() int {
		return m[k] // want `Nested is //ronaudit:hot: indexes a map`
	}()
}

//ronaudit:hot
func Defers(unlock func(), xs []func()) {
	defer unlock() // open-coded: allowed
	for _, f := range xs {
		defer f() // want `Defers is //ronaudit:hot: defer inside a loop`
		func() {
			defer f() // the literal's own frame, not in its loop: allowed
		}()
	}
	for i := 0; i < 2; i++ {
		if i > 0 {
			defer unlock() // want `defer inside a loop`
		}
	}
}

//ronaudit:hot Append is what the SDK promises to keep at 0 allocs/op.
func Annotated() string {
	return fmt.Sprint(1) // want `Annotated is //ronaudit:hot: calls fmt.Sprint`
}

// Unmarked functions may do all of it.
func Unmarked(m map[string]int) error {
	m["x"] = 1
	f := func() error { return fmt.Errorf("x %d", m["x"]) }
	defer func() {}()
	return f()
}

func work(int) {}

//ronaudit:hot // want `//ronaudit:hot marks no function`

func Detached() string { return fmt.Sprint(1) }

// ronaudit:hot // want `"// ronaudit:hot" is not a directive`
func Spaced() string { return fmt.Sprint(1) }

// Two directives check the function once.
//
//ronaudit:hot
//ronaudit:hot again
func Twice() string {
	return fmt.Sprint(1) // want `Twice is //ronaudit:hot: calls fmt.Sprint`
}
