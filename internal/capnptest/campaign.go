package capnptest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

var mutants = flag.Int("canonical.mutants", 0,
	"mutants per schema in the C++ differential mutation tests (0: the short CI run)")

// CxxCanonical reports whether the C++ reference finds m canonical: `capnp
// convert canonical:canonical` reads it (the reader checks
// MessageReader::isCanonical) and writes exactly m back. --quiet skips the
// tool's guess at the input format, which takes the empty root struct
// (fc ff ff ff 00 00 00 00) for an implausible one.
func CxxCanonical(schemaFile, typeName string, m []byte) (bool, error) {
	bin, err := exec.LookPath("capnp")
	if err != nil {
		return false, ErrNoCapnp
	}
	cmd := exec.Command(bin, "convert", "--quiet", "canonical:canonical", schemaFile, typeName)
	cmd.Stdin = bytes.NewReader(m)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return false, nil // refused (or crashed on) the input
		}
		return false, err
	}
	return bytes.Equal(out.Bytes(), m), nil
}

// Opener is one strict opener under test.
type Opener struct {
	Name string
	Open func(b []byte) error
	// Encode decodes m with capnp-go (Decode) and encodes the value with
	// the writer whose output the opener must accept; an error when that
	// writer refuses the value.
	Encode func(m []byte) ([]byte, error)
}

// Campaign is a differential mutation test of strict openers against the
// C++ reference: mutants of canonical messages (Ops) are judged by C++
// (CxxCanonical) and by each opener. A mutant m must be accepted by an
// opener exactly when C++ finds it canonical and it is what the opener's
// writer makes of the value capnp-go reads in it (so the rules the writer
// adds to Cap'n Proto's, empty is null and the field rules, count too).
type Campaign struct {
	SchemaFile, TypeName string
	// Seed returns canonical message number i (-1 for the check of the
	// oracle), a random value's encoding.
	Seed    func(i int) []byte
	Openers []Opener
	// Short is the number of mutants of a plain go test run; the flag
	// -canonical.mutants sets another.
	Short int
	Rand  uint64 // seed of the mutations
}

type opStats struct {
	tried, cxx int
	goOK, exp  []int
	bad        int
}

var emptyRoot = []byte{0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// Run makes and judges the mutants, logs a table per operator and fails
// on every disagreement.
func (c *Campaign) Run(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("capnp"); err != nil {
		t.Skip("skipping the C++ oracle: ", ErrNoCapnp)
	}
	n := c.Short
	if *mutants > 0 {
		n = *mutants
	}
	mut := &Mutator{R: rand.New(rand.NewPCG(c.Rand, 11))}
	// Seeds themselves are canonical to C++: the oracle works.
	s := c.Seed(-1)
	if ok, err := CxxCanonical(c.SchemaFile, c.TypeName, s); err != nil || !ok {
		t.Fatalf("C++ refuses an unmutated message (%v): %x", err, s)
	}
	type mutant struct {
		op   int
		b    []byte
		cxx  bool
		seed []byte
	}
	seen := map[string]bool{}
	var ms []*mutant
	for i := 0; len(ms) < n && i < 20*n; i++ {
		op := i % len(Ops)
		seed := c.Seed(i)
		if mut.R.IntN(40) == 0 {
			seed = emptyRoot // the zero-sized root: offset -1, no sections
		}
		if re, err := Rewrite(seed); err != nil || !bytes.Equal(re, seed) {
			t.Fatalf("the mutator does not write message %d back as it was (%v):\n%x\n%x", i, err, seed, re)
		}
		b := mut.Apply(Ops[op], seed)
		if b == nil || bytes.Equal(b, seed) || seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		ms = append(ms, &mutant{op: op, b: b, seed: seed})
	}
	// The C++ verdicts, two processes at a time.
	work := make(chan *mutant)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				ok, err := CxxCanonical(c.SchemaFile, c.TypeName, m.b)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
				m.cxx = ok
			}
		}()
	}
	for _, m := range ms {
		work <- m
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}

	stats := make([]opStats, len(Ops))
	for i := range stats {
		stats[i].goOK = make([]int, len(c.Openers))
		stats[i].exp = make([]int, len(c.Openers))
	}
	reported := 0
	for _, m := range ms {
		st := &stats[m.op]
		st.tried++
		if m.cxx {
			st.cxx++
		}
		for k, o := range c.Openers {
			goOK := o.Open(m.b) == nil
			exp := false
			if m.cxx {
				re, err := o.Encode(m.b)
				exp = err == nil && bytes.Equal(re, m.b)
			}
			if goOK {
				st.goOK[k]++
			}
			if exp {
				st.exp[k]++
			}
			var what string
			switch {
			case goOK && !m.cxx:
				what = "accepts bytes C++ finds not canonical"
			case goOK && !exp:
				what = "accepts bytes that are not its writer's encoding of what capnp-go reads in them"
			case !goOK && exp:
				what = "refuses the canonical encoding of a value (C++ and its writer agree on the bytes): " + fmt.Sprint(o.Open(m.b))
			default:
				continue
			}
			st.bad++
			if reported++; reported <= 10 {
				t.Errorf("%s, mutation %s: %s\nmutant %x\nfrom   %x", o.Name, Ops[m.op].Name, what, m.b, m.seed)
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d mutants of %s (%s)\n%-28s %6s %6s", len(ms), c.TypeName, c.SchemaFile, "operator", "tried", "C++ok")
	for _, o := range c.Openers {
		fmt.Fprintf(&sb, " %14s %8s", o.Name+" ok", "expected")
	}
	fmt.Fprintf(&sb, " %5s\n", "bad")
	var tot opStats
	tot.goOK, tot.exp = make([]int, len(c.Openers)), make([]int, len(c.Openers))
	for i, st := range stats {
		fmt.Fprintf(&sb, "%-28s %6d %6d", Ops[i].Name, st.tried, st.cxx)
		for k := range c.Openers {
			fmt.Fprintf(&sb, " %14d %8d", st.goOK[k], st.exp[k])
			tot.goOK[k] += st.goOK[k]
			tot.exp[k] += st.exp[k]
		}
		fmt.Fprintf(&sb, " %5d\n", st.bad)
		tot.tried += st.tried
		tot.cxx += st.cxx
		tot.bad += st.bad
	}
	fmt.Fprintf(&sb, "%-28s %6d %6d", "total", tot.tried, tot.cxx)
	for k := range c.Openers {
		fmt.Fprintf(&sb, " %14d %8d", tot.goOK[k], tot.exp[k])
	}
	fmt.Fprintf(&sb, " %5d", tot.bad)
	t.Log(sb.String())
	if tot.bad > 0 {
		t.Errorf("%d disagreements", tot.bad)
	}
}
