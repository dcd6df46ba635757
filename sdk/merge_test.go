package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
)

// mergeRec is a test record with its key decoded, for building the
// expected order independently of the merge.
type mergeRec struct {
	ts     uint64
	writer string
	seq    uint64
	stream string
	input  int
	s      sdk.Sealed
}

func (r mergeRec) String() string {
	return fmt.Sprintf("{ts %d %s/%s #%d in %d}", r.ts, r.writer, r.stream, r.seq, r.input)
}

// mergeChain builds one chain of (writer, stream) with the given tsMs,
// seq counting from 1 and prev linking each record to the one before.
func mergeChain(t testing.TB, input int, writer, stream string, ts ...uint64) []mergeRec {
	t.Helper()
	out := make([]mergeRec, 0, len(ts))
	prev := canonical.Genesis
	for i, tsMs := range ts {
		r := canonical.AuditRecord{
			Seq:      uint64(i + 1),
			TsMs:     tsMs,
			WriterID: writer,
			Stream:   stream,
			Reason:   "merge test",
			Prev:     append([]byte(nil), prev[:]...),
		}
		b, err := canonical.AppendRecord(nil, &r, canonical.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		prev = canonical.RecordHash(b)
		out = append(out, mergeRec{ts: tsMs, writer: writer, seq: uint64(i + 1), stream: stream, input: input,
			s: sdk.Sealed{Bytes: b, Hash: prev}})
	}
	return out
}

func mergeSealed(recs []mergeRec) []sdk.Sealed {
	out := make([]sdk.Sealed, len(recs))
	for i, r := range recs {
		out[i] = r.s
	}
	return out
}

// mergeSorted returns the records of all inputs sorted by the documented
// key, independently of the merge's heap.
func mergeSorted(inputs [][]mergeRec) []mergeRec {
	var all []mergeRec
	for _, in := range inputs {
		all = append(all, in...)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.ts != b.ts {
			return a.ts < b.ts
		}
		if a.writer != b.writer {
			return a.writer < b.writer
		}
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		if a.stream != b.stream {
			return a.stream < b.stream
		}
		return a.input < b.input
	})
	return all
}

// reuseIterator hands out records through one buffer it overwrites on
// every Next, as a file or network reader would: an Entry kept past the
// input's next Next is corrupted.
type reuseIterator struct {
	recs []sdk.Sealed
	i    int
	buf  []byte
	err  error // reported once the records run out
}

func (it *reuseIterator) Next() bool {
	for j := range it.buf {
		it.buf[j] = 0xAA
	}
	if it.i >= len(it.recs) {
		return false
	}
	it.buf = append(it.buf[:0], it.recs[it.i].Bytes...)
	it.i++
	return true
}

func (it *reuseIterator) Entry() sdk.Sealed {
	s := it.recs[it.i-1]
	s.Bytes = it.buf
	return s
}

func (it *reuseIterator) Err() error { return it.err }

type mergeOut struct {
	bytes []byte
	input int
}

// mergeDrain runs m to the end, copying each entry.
func mergeDrain(t testing.TB, m *sdk.MergeIterator) []mergeOut {
	t.Helper()
	var out []mergeOut
	for m.Next() {
		out = append(out, mergeOut{append([]byte(nil), m.Entry().Bytes...), m.Input()})
	}
	if m.Next() {
		t.Fatal("Next returned true after returning false")
	}
	return out
}

func mergeCheck(t *testing.T, got []mergeOut, want []mergeRec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("merged %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].bytes, want[i].s.Bytes) || got[i].input != want[i].input {
			v, _ := canonical.Open(got[i].bytes)
			t.Fatalf("record %d: got ts %d %s/%s #%d from input %d, want %v", i,
				v.TsMs(), v.WriterID(), v.Stream(), v.Seq(), got[i].input, want[i])
		}
	}
}

func mergeIters(inputs [][]mergeRec) []sdk.Iterator {
	its := make([]sdk.Iterator, len(inputs))
	for i, in := range inputs {
		its[i] = sdk.NewSliceIterator(mergeSealed(in))
	}
	return its
}

func TestMergeInterleaved(t *testing.T) {
	inputs := [][]mergeRec{
		mergeChain(t, 0, "svc-gateway@inst-1", "caps", 100, 105, 105, 110, 120, 120, 130),
		mergeChain(t, 1, "svc-index@inst-2", "caps", 100, 101, 105, 110, 110, 125),
		mergeChain(t, 2, "svc-gateway@inst-1", "bus", 99, 105, 105, 120, 140),
		mergeChain(t, 3, "svc-auth@inst-1", "keys", 105, 106, 107, 120, 120, 120, 131),
	}
	want := mergeSorted(inputs)
	m := sdk.Merge(mergeIters(inputs)...)
	if m.Entry().Bytes != nil || m.Input() != -1 {
		t.Fatal("Entry or Input set before the first Next")
	}
	mergeCheck(t, mergeDrain(t, m), want)
	if m.Err() != nil || m.OutOfOrder() != 0 {
		t.Fatalf("Err %v, OutOfOrder %d", m.Err(), m.OutOfOrder())
	}
	if m.Entry().Bytes != nil || m.Input() != -1 {
		t.Fatal("Entry or Input set after the end")
	}
}

// TestMergeEqualTimestamps spells out the order by hand: equal tsMs are
// ordered by writerId bytewise, then seq, then stream, then input index.
func TestMergeEqualTimestamps(t *testing.T) {
	b := mergeChain(t, 0, "b", "s", 7, 7, 7)
	a := mergeChain(t, 1, "a", "s", 7, 7)
	aa := mergeChain(t, 2, "aa", "s", 7)
	ax := mergeChain(t, 3, "a", "r", 7, 7) // same writer, other stream
	ay := mergeChain(t, 4, "a", "r", 7)    // same key as ax[0]: input breaks the tie
	want := []mergeRec{ax[0], ay[0], a[0], ax[1], a[1], aa[0], b[0], b[1], b[2]}
	m := sdk.Merge(mergeIters([][]mergeRec{b, a, aa, ax, ay})...)
	mergeCheck(t, mergeDrain(t, m), want)
	if m.Err() != nil {
		t.Fatal(m.Err())
	}
}

func TestMergeEmpty(t *testing.T) {
	m := sdk.Merge()
	if m.Next() || m.Err() != nil {
		t.Fatalf("Merge(): Next true or Err %v", m.Err())
	}
	m = sdk.Merge(sdk.NewSliceIterator(nil), sdk.NewSliceIterator(nil))
	if m.Next() || m.Err() != nil {
		t.Fatalf("Merge of empty inputs: Next true or Err %v", m.Err())
	}
	one := mergeChain(t, 1, "w", "s", 3, 2, 1)
	m = sdk.Merge(sdk.NewSliceIterator(nil), sdk.NewSliceIterator(mergeSealed(one)), sdk.NewSliceIterator(nil))
	mergeCheck(t, mergeDrain(t, m), one)
	if m.Err() != nil {
		t.Fatal(m.Err())
	}
}

// TestMergeSingle: one input comes out as it is, even with its clock going
// backwards.
func TestMergeSingle(t *testing.T) {
	in := mergeChain(t, 0, "w", "s", 5, 9, 9, 3, 12)
	m := sdk.Merge(&reuseIterator{recs: mergeSealed(in)})
	mergeCheck(t, mergeDrain(t, m), in)
	if m.Err() != nil || m.OutOfOrder() != 1 {
		t.Fatalf("Err %v, OutOfOrder %d, want 1", m.Err(), m.OutOfOrder())
	}
}

// TestMergeEntryStable: Entry stays valid until the merge's own next Next,
// even when every input overwrites its buffer on Next.
func TestMergeEntryStable(t *testing.T) {
	inputs := [][]mergeRec{
		mergeChain(t, 0, "w1", "s", 1, 2, 3, 4, 5, 6),
		mergeChain(t, 1, "w2", "s", 1, 2, 3, 4, 5, 6),
		mergeChain(t, 2, "w3", "s", 1, 1, 1, 9),
	}
	its := make([]sdk.Iterator, len(inputs))
	for i, in := range inputs {
		its[i] = &reuseIterator{recs: mergeSealed(in)}
	}
	want := mergeSorted(inputs)
	m := sdk.Merge(its...)
	for i := 0; m.Next(); i++ {
		e := m.Entry()
		if _, err := canonical.Open(e.Bytes); err != nil || !bytes.Equal(e.Bytes, want[i].s.Bytes) || e.Hash != want[i].s.Hash {
			t.Fatalf("record %d: Entry corrupted (%v)", i, err)
		}
		// Entry, Input and the other accessors do not advance anything.
		if e2 := m.Entry(); !bytes.Equal(e2.Bytes, want[i].s.Bytes) || m.Input() != want[i].input {
			t.Fatalf("record %d: second Entry differs", i)
		}
	}
	if m.Err() != nil {
		t.Fatal(m.Err())
	}
}

func TestMergeBadRecord(t *testing.T) {
	good := mergeChain(t, 0, "w0", "s", 1, 2, 3, 4)
	bad := mergeChain(t, 2, "w2", "s", 1, 2, 3, 4)
	// A trailing word: the bytes are no longer exactly a canonical record.
	bad[2].s.Bytes = append(append([]byte(nil), bad[2].s.Bytes...), 0, 0, 0, 0, 0, 0, 0, 0)
	_, openErr := canonical.Open(bad[2].s.Bytes)
	if openErr == nil {
		t.Fatal("test record unexpectedly canonical")
	}
	other := mergeChain(t, 1, "w1", "s", 1, 2, 3, 4)
	m := sdk.Merge(mergeIters([][]mergeRec{good, other, bad})...)
	got := mergeDrain(t, m)
	// Everything before the bad record in the order came out first; the
	// merge stopped when it advanced input 2 onto it.
	// ts 1 and 2 of all three inputs: 6 records.
	if len(got) != 6 {
		t.Fatalf("merged %d records before stopping, want 6", len(got))
	}
	err := m.Err()
	var me *sdk.MergeError
	if !errors.As(err, &me) {
		t.Fatalf("Err = %T %v, want *sdk.MergeError", err, err)
	}
	if me.Input != 2 || me.Record != 3 {
		t.Fatalf("MergeError names input %d record %d, want input 2 record 3", me.Input, me.Record)
	}
	if me.Read != 2 || me.WriterID != "w2" || me.Stream != "s" || me.Seq != 2 {
		t.Fatalf("MergeError read %d last %s/%s seq %d, want 2 records, last w2/s seq 2", me.Read, me.WriterID, me.Stream, me.Seq)
	}
	if !strings.Contains(err.Error(), "input 2") {
		t.Fatalf("error %q does not name the input", err)
	}
	if errors.Unwrap(err) == nil || errors.Unwrap(err).Error() != openErr.Error() {
		t.Fatalf("error does not wrap the canonical.Open error %v: %v", openErr, err)
	}
	if !errors.Is(err, canonical.ErrNotCanonical) && !errors.Is(err, canonical.ErrInvalid) && !errors.Is(err, canonical.ErrTooLarge) {
		t.Fatalf("error %v matches no canonical category", err)
	}
	if m.Next() || m.Err() != err {
		t.Fatal("merge resumed after stopping on an error")
	}

	// A bad first record stops the merge before anything is yielded.
	first := mergeChain(t, 1, "w1", "s", 1)
	first[0].s.Bytes = []byte{1, 2, 3}
	m = sdk.Merge(mergeIters([][]mergeRec{good, first})...)
	if m.Next() {
		t.Fatal("Next true with a bad first record")
	}
	if !errors.As(m.Err(), &me) || me.Input != 1 || me.Record != 1 || me.Read != 0 || me.WriterID != "" {
		t.Fatalf("Err = %v, want input 1 record 1, nothing read before", m.Err())
	}
}

func TestMergeInputError(t *testing.T) {
	sentinel := errors.New("disk on fire")
	a := mergeChain(t, 0, "w0", "s", 1, 2, 3)
	b := mergeChain(t, 1, "w1", "s", 1, 2)
	m := sdk.Merge(sdk.NewSliceIterator(mergeSealed(a)), &reuseIterator{recs: mergeSealed(b), err: sentinel})
	got := mergeDrain(t, m)
	err := m.Err()
	if !errors.Is(err, sentinel) {
		t.Fatalf("Err = %v, want it to wrap %v", err, sentinel)
	}
	var me *sdk.MergeError
	if !errors.As(err, &me) || me.Input != 1 || me.Record != 0 {
		t.Fatalf("Err = %#v, want input 1 and no record", err)
	}
	if !strings.Contains(err.Error(), "input 1") || !strings.Contains(err.Error(), sentinel.Error()) {
		t.Fatalf("error %q does not name the input and cause", err)
	}
	// It names how far that input got and the chain of its last record
	// (copied: reuseIterator has scribbled over its buffer since).
	if me.Read != 2 || me.WriterID != "w1" || me.Stream != "s" || me.Seq != 2 {
		t.Fatalf("MergeError read %d last %s/%s seq %d, want 2 records, last w1/s seq 2", me.Read, me.WriterID, me.Stream, me.Seq)
	}
	if !strings.Contains(err.Error(), "after 2 records, last w1/s seq 2") {
		t.Fatalf("error %q does not name the records read and the last chain position", err)
	}
	// Input 1 fails when it runs out after its second record, which is
	// when the merge advances past it: a0 b0 a1 b1, then the error.
	mergeCheck(t, got, []mergeRec{a[0], b[0], a[1], b[1]})

	// An input failing at once stops the merge before anything is yielded.
	m = sdk.Merge(sdk.NewSliceIterator(mergeSealed(a)), &reuseIterator{err: sentinel})
	if m.Next() || !errors.Is(m.Err(), sentinel) {
		t.Fatalf("Next true or Err %v", m.Err())
	}
	if !errors.As(m.Err(), &me) || me.Read != 0 || me.WriterID != "" || me.Seq != 0 ||
		!strings.Contains(m.Err().Error(), "before the first record") {
		t.Fatalf("Err = %#v (%v), want no record read", m.Err(), m.Err())
	}
}

// TestMergeOutOfOrder: a clock that goes backwards is counted, the merge
// goes on, and every record still comes out once, in its input's order.
func TestMergeOutOfOrder(t *testing.T) {
	steady := mergeChain(t, 0, "w0", "s", 100, 200, 300, 400)
	skewed := mergeChain(t, 1, "w1", "s", 150, 250, 120, 350, 340, 330)
	m := sdk.Merge(mergeIters([][]mergeRec{steady, skewed})...)
	got := mergeDrain(t, m)
	if m.Err() != nil {
		t.Fatal(m.Err())
	}
	if m.OutOfOrder() != 3 { // 250→120, 350→340, 340→330
		t.Fatalf("OutOfOrder = %d, want 3", m.OutOfOrder())
	}
	// The heap yields 120 once it reaches its input's head, after 200 and
	// 250: each input's order wins over the global one.
	want := []mergeRec{steady[0], skewed[0], steady[1], skewed[1], skewed[2], steady[2], skewed[3], skewed[4], skewed[5], steady[3]}
	mergeCheck(t, got, want)

	// Equal keys within an input are not out of order.
	same := mergeChain(t, 0, "w", "s", 5, 5, 5)
	m = sdk.Merge(mergeIters([][]mergeRec{same})...)
	mergeDrain(t, m)
	if m.OutOfOrder() != 0 {
		t.Fatalf("OutOfOrder = %d for equal tsMs", m.OutOfOrder())
	}
}

// TestMergeProperty merges random streams: with ordered inputs the output
// is the sorted union; with backwards clocks it is still a merge (every
// input's records once, in that input's order) and OutOfOrder counts the
// descents.
func TestMergeProperty(t *testing.T) {
	writers := []string{"a", "ab", "b", "svc@1", "svc@2"}
	streams := []string{"caps", "bus", "keys"}
	for seed := uint64(0); seed < 300; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x6d65726765))
		skew := seed%3 == 0
		inputs := make([][]mergeRec, r.IntN(7))
		descents := 0
		for i := range inputs {
			ts := make([]uint64, r.IntN(25))
			var clock uint64 = 1000 + r.Uint64N(20)
			for j := range ts {
				if skew && r.IntN(6) == 0 {
					clock -= r.Uint64N(min(clock, 15))
				} else {
					clock += r.Uint64N(4) // often 0: equal timestamps
				}
				ts[j] = clock
			}
			inputs[i] = mergeChain(t, i, writers[r.IntN(len(writers))], streams[r.IntN(len(streams))], ts...)
			for j := 1; j < len(ts); j++ {
				if ts[j] < ts[j-1] {
					descents++
				}
			}
		}
		its := make([]sdk.Iterator, len(inputs))
		for i, in := range inputs {
			if r.IntN(2) == 0 {
				its[i] = sdk.NewSliceIterator(mergeSealed(in))
			} else {
				its[i] = &reuseIterator{recs: mergeSealed(in)}
			}
		}
		m := sdk.Merge(its...)
		got := mergeDrain(t, m)
		if m.Err() != nil {
			t.Fatalf("seed %d: %v", seed, m.Err())
		}
		if m.OutOfOrder() != descents {
			t.Fatalf("seed %d: OutOfOrder %d, want %d", seed, m.OutOfOrder(), descents)
		}
		if descents == 0 {
			mergeCheck(t, got, mergeSorted(inputs))
			continue
		}
		next := make([]int, len(inputs))
		for k, g := range got {
			in := inputs[g.input]
			if next[g.input] >= len(in) || !bytes.Equal(g.bytes, in[next[g.input]].s.Bytes) {
				t.Fatalf("seed %d: output %d is not input %d's next record", seed, k, g.input)
			}
			next[g.input]++
		}
		for i, in := range inputs {
			if next[i] != len(in) {
				t.Fatalf("seed %d: input %d: %d of %d records merged", seed, i, next[i], len(in))
			}
		}
		// Between heads the heap still picks the least: each output is
		// no greater than the head every other input held at that time.
		next = make([]int, len(inputs))
		for k, g := range got {
			o := inputs[g.input][next[g.input]]
			for i, in := range inputs {
				if i == g.input || next[i] >= len(in) {
					continue
				}
				h := in[next[i]]
				if mergeSorted([][]mergeRec{{h}, {o}})[0].input != g.input {
					t.Fatalf("seed %d: output %d %v yielded before the lower head %v", seed, k, o, h)
				}
			}
			next[g.input]++
		}
	}
}

func TestMergeAllocs(t *testing.T) {
	const n = 400
	inputs := make([][]mergeRec, 4)
	for i := range inputs {
		ts := make([]uint64, n)
		for j := range ts {
			ts[j] = uint64(j/2 + i%2) // interleaved and equal timestamps
		}
		inputs[i] = mergeChain(t, i, fmt.Sprintf("svc-writer-with-a-long-name-%d@inst", i), "stream", ts...)
	}
	m := sdk.Merge(mergeIters(inputs)...)
	// Warm up: the first Next reads every head; a few more advance every
	// input once.
	for range 8 {
		if !m.Next() {
			t.Fatal("merge ended early")
		}
	}
	const runs = 1000
	if a := testing.AllocsPerRun(runs, func() {
		if !m.Next() {
			t.Fatal("merge ended early")
		}
		_ = m.Entry()
	}); a != 0 {
		t.Fatalf("MergeIterator.Next: %v allocs/op", a)
	}
	if m.Err() != nil || m.OutOfOrder() != 0 {
		t.Fatalf("Err %v, OutOfOrder %d", m.Err(), m.OutOfOrder())
	}
}

// TestMergeSameInputTwice: one iterator passed twice would be advanced by
// both of its heads, so each head's record could be overwritten by the
// other's before it is yielded: records silently lost or doubled. Merge
// refuses it as a programmer error, like a nil input.
func TestMergeSameInputTwice(t *testing.T) {
	in := mergeChain(t, 0, "w", "s", 1, 2, 3, 4)
	it := &reuseIterator{recs: mergeSealed(in)}
	other := sdk.NewSliceIterator(nil)
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("Merge(it, other, it) did not panic")
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "inputs 0 and 2") {
			t.Fatalf("panic %q does not name inputs 0 and 2", msg)
		}
	}()
	sdk.Merge(it, other, it)
}

// TestMergeDuplicateChains: the same chain read by two iterators comes
// out twice, each copy once, the copies adjacent and in input order: the
// merge neither deduplicates nor drops.
func TestMergeDuplicateChains(t *testing.T) {
	a := mergeChain(t, 0, "w", "s", 1, 2, 3)
	b := mergeChain(t, 1, "v", "s", 2, 4)
	a2 := make([]mergeRec, len(a))
	for i, r := range a {
		r.input = 2
		a2[i] = r
	}
	m := sdk.Merge(sdk.NewSliceIterator(mergeSealed(a)), &reuseIterator{recs: mergeSealed(b)}, &reuseIterator{recs: mergeSealed(a2)})
	mergeCheck(t, mergeDrain(t, m), []mergeRec{a[0], a2[0], b[0], a[1], a2[1], a[2], a2[2], b[1]})
	if m.Err() != nil || m.OutOfOrder() != 0 {
		t.Fatalf("Err %v, OutOfOrder %d", m.Err(), m.OutOfOrder())
	}
}

// valueIterator is an Iterator whose dynamic type is not comparable.
type valueIterator struct{ _ []int }

func (valueIterator) Next() bool        { return false }
func (valueIterator) Entry() sdk.Sealed { return sdk.Sealed{} }
func (valueIterator) Err() error        { return nil }

// TestMergeUncomparableInputs: checking for a repeated input must not
// itself panic on iterator types that cannot be compared.
func TestMergeUncomparableInputs(t *testing.T) {
	m := sdk.Merge(valueIterator{}, valueIterator{})
	if m.Next() || m.Err() != nil {
		t.Fatalf("Next true or Err %v", m.Err())
	}
}

// wrapIterator is comparable as a type, but comparing two of them compares
// the iterators they hold, which may not be comparable.
type wrapIterator struct{ sdk.Iterator }

// TestMergeWrappedUncomparableInputs: the check for a repeated input
// asked only whether an input's type is comparable, and == on two
// wrappers of uncomparable iterators panicked inside Merge ("comparing
// uncomparable type") instead of merging them.
func TestMergeWrappedUncomparableInputs(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Merge panicked: %v", r)
		}
	}()
	m := sdk.Merge(wrapIterator{valueIterator{}}, wrapIterator{valueIterator{}})
	if m.Next() || m.Err() != nil {
		t.Fatalf("Next true or Err %v", m.Err())
	}
	// A wrapper of one pointer iterator, passed twice, is still refused.
	it := &reuseIterator{}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "inputs 0 and 1") {
			t.Fatalf("Merge(w, w) = %v, want a panic naming inputs 0 and 1", r)
		}
	}()
	sdk.Merge(wrapIterator{it}, wrapIterator{it})
}
