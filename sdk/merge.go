package sdk

import (
	"bytes"
	"reflect"
	"strconv"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/internal/nilptr"
)

// MergeError stops a merge: a record of one input that is not a valid
// canonical record (canonical.Open failed), or the error an input's Err
// reported. It names the input by its index in the Merge call, and where in
// that input the merge was: how many records it had read from it and the
// chain (WriterID, Stream, Seq) of the last of them, which for an input that
// is one chain names the chain that failed. Err is the cause, reachable with
// errors.Is and errors.As.
type MergeError struct {
	// Input is the index of the failing input in the Merge call.
	Input int
	// Record is the 1-based position within that input of the record
	// canonical.Open refused, or 0 when Err came from the input's Err.
	Record int
	// Read is how many valid records the merge had read from that input
	// before the failure (Record-1 when Record is set).
	Read int
	// WriterID, Stream and Seq are the key of the last valid record read
	// from that input (record Read); empty and 0 when Read is 0.
	WriterID string
	Stream   string
	Seq      uint64
	// Err is the cause: a canonical error or the input's own error.
	Err error
}

// Error names the input, the record when there is one, the last record
// read from that input, and the cause.
func (e *MergeError) Error() string {
	s := "sdk: merge input " + strconv.Itoa(e.Input)
	if e.Record > 0 {
		s += ": record " + strconv.Itoa(e.Record)
	}
	if e.Read == 0 {
		s += " (before the first record)"
	} else {
		s += " (after " + strconv.Itoa(e.Read) + " records, last " + names.Chain(e.WriterID, e.Stream) +
			" seq " + strconv.FormatUint(e.Seq, 10) + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *MergeError) Unwrap() error { return e.Err }

// mergeKeyCap is the room reserved per input for the copy of the previous
// key's writerId and stream, so that typical keys never allocate.
const mergeKeyCap = 64

// mergeHead is one input and the record at its head: the record it yielded
// last, which the merge has not yet passed on (or is passing on now).
type mergeHead struct {
	it  Iterator
	idx int // index in the Merge call, the last tie-breaker
	n   int // records read from it so far

	ent    Sealed // it.Entry(), valid until it.Next
	ts     uint64
	seq    uint64
	writer []byte // into ent.Bytes
	stream []byte // into ent.Bytes

	// The key of the record before ent from this input, for OutOfOrder:
	// writerId then stream copied into prev (the input may reuse its
	// bytes once it advances).
	prevTS, prevSeq uint64
	prev            []byte
	prevWriterLen   int
}

// MergeIterator yields the records of several inputs in one global order;
// see Merge. It implements Iterator and is not safe for concurrent use.
type MergeIterator struct {
	heads []mergeHead
	heap  []int32 // indices into heads; heap[0] is the least head
	// cur is true when heads[heap[0]] is the record last returned by Entry:
	// that input is advanced only at the start of the next Next, so Entry
	// stays valid without copying record bytes.
	cur     bool
	started bool
	done    bool
	err     error
	ooo     int
}

var _ Iterator = (*MergeIterator)(nil)

// Merge returns an iterator over the records of its, in ascending order of
// the key (tsMs, writerId bytewise, seq), ties broken by stream bytewise and
// then by the index of the input in its; the order is total and
// deterministic. The keys are read from each record with canonical.Open,
// without copying record bytes.
//
// Merge is a k-way heap merge of the inputs' heads: it yields exactly the
// global order when every input is itself in that order. Each input is
// expected to be one chain (seq increasing), but a chain's tsMs may go
// backwards (wall clocks do); then the merge still yields every record
// once, in each input's own order, and the record that went backwards comes
// out as soon as it reaches its input's head, which may be after records
// with a greater key from other inputs. The merge does not fail on that: it
// counts each such record, see OutOfOrder.
//
// Records are not deduplicated: a chain read by two inputs comes out twice,
// each copy in its place, the copies of a record adjacent in input order.
//
// A record that canonical.Open refuses, or an input whose Next returns false
// with a non-nil Err, stops the merge: Next returns false and Err returns a
// *MergeError naming the input, how many records it had read from it and
// the chain and seq of the last of them. The records the merge had
// already read from the other inputs and not yet yielded are then never
// yielded: one per input at most (the record at its head, waiting for its
// turn in the order; on the first Next, the first record of each input
// before the failing one), and those inputs stay advanced past them. A
// caller that must see every record of the good inputs reads them again,
// without the failing one.
//
// Inputs must not be nil (nor a nil pointer), and no iterator may be
// passed twice (its two heads would advance it under each other, losing
// records): Merge panics on either. The merge owns the inputs: it calls
// their Next and the caller must not.
func Merge(its ...Iterator) *MergeIterator {
	m := &MergeIterator{
		heads: make([]mergeHead, len(its)),
		heap:  make([]int32, 0, len(its)),
	}
	slab := make([]byte, len(its)*mergeKeyCap)
	for i, it := range its {
		if nilptr.Is(it) { // nil, or a nil pointer: Merge would fail later, in its Next
			panic("sdk: Merge: input " + strconv.Itoa(i) + " is nil")
		}
		if j := sameInput(its[:i], it); j >= 0 {
			panic("sdk: Merge: inputs " + strconv.Itoa(j) + " and " + strconv.Itoa(i) + " are the same iterator")
		}
		off := i * mergeKeyCap
		m.heads[i] = mergeHead{it: it, idx: i, prev: slab[off : off : off+mergeKeyCap]}
	}
	return m
}

// sameInput returns the index in its of an iterator equal to it, or -1.
// Iterators that are not comparable are never equal (== would panic on
// them); they are values, which cannot share state by accident. The value
// is asked, not its type: a struct type with an interface field is
// comparable, but == on two of them panics when the field holds an
// uncomparable value, and Value.Comparable looks inside.
func sameInput(its []Iterator, it Iterator) int {
	if !reflect.ValueOf(it).Comparable() {
		return -1
	}
	for j, o := range its {
		if o == it {
			return j
		}
	}
	return -1
}

// Next advances to the next record in the global order. It returns false
// when every input is exhausted or the merge stopped on an error (see Err).
// It first advances the input whose record it returned last, which ends the
// validity of the previous Entry. In steady state it does not allocate.
func (m *MergeIterator) Next() bool {
	if m.done {
		return false
	}
	if !m.started {
		m.started = true
		for i := range m.heads {
			ok, err := m.advance(&m.heads[i], false)
			if err != nil {
				return m.fail(err)
			}
			if ok {
				m.heap = append(m.heap, int32(i))
			}
		}
		for i := len(m.heap)/2 - 1; i >= 0; i-- {
			m.down(i)
		}
	} else if m.cur {
		ok, err := m.advance(&m.heads[m.heap[0]], true)
		if err != nil {
			return m.fail(err)
		}
		if !ok {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap = m.heap[:last]
		}
		if len(m.heap) > 0 {
			m.down(0)
		}
	}
	if len(m.heap) == 0 {
		m.cur = false
		m.done = true
		return false
	}
	m.cur = true
	return true
}

// advance moves h to its input's next record and reads its key. With
// track it first keeps the key of the record h held, and counts the new
// record when its key is lower.
func (m *MergeIterator) advance(h *mergeHead, track bool) (bool, error) {
	if track {
		h.prevTS, h.prevSeq = h.ts, h.seq
		h.prev = append(append(h.prev[:0], h.writer...), h.stream...)
		h.prevWriterLen = len(h.writer)
	}
	h.ent, h.writer, h.stream = Sealed{}, nil, nil
	if !h.it.Next() {
		if err := h.it.Err(); err != nil {
			return false, h.failure(0, err)
		}
		return false, nil
	}
	h.n++
	h.ent = h.it.Entry()
	v, err := canonical.Open(h.ent.Bytes)
	if err != nil {
		return false, h.failure(h.n, err)
	}
	h.ts, h.seq, h.writer, h.stream = v.TsMs(), v.Seq(), v.WriterID(), v.Stream()
	if track && compareKey(h.ts, h.writer, h.seq, h.stream,
		h.prevTS, h.prev[:h.prevWriterLen], h.prevSeq, h.prev[h.prevWriterLen:]) < 0 {
		m.ooo++
	}
	return true, nil
}

// failure builds the *MergeError for h: record is the position of the
// record canonical.Open refused, or 0 for an error of the input itself.
// The last valid record read from h is then the one whose key advance kept
// in prev (advance runs with track after h's first record). Only the error
// path copies the key out, so the happy path stays allocation-free.
func (h *mergeHead) failure(record int, err error) *MergeError {
	e := &MergeError{Input: h.idx, Record: record, Read: h.n, Err: err}
	if record > 0 {
		e.Read = record - 1
	}
	if e.Read > 0 {
		e.WriterID = string(h.prev[:h.prevWriterLen])
		e.Stream = string(h.prev[h.prevWriterLen:])
		e.Seq = h.prevSeq
	}
	return e
}

func (m *MergeIterator) fail(err error) bool {
	m.err, m.done, m.cur = err, true, false
	return false
}

// compareKey orders (tsMs, writerId, seq, stream) ascending.
func compareKey(ts1 uint64, w1 []byte, seq1 uint64, s1 []byte, ts2 uint64, w2 []byte, seq2 uint64, s2 []byte) int {
	switch {
	case ts1 < ts2:
		return -1
	case ts1 > ts2:
		return 1
	}
	if c := bytes.Compare(w1, w2); c != 0 {
		return c
	}
	switch {
	case seq1 < seq2:
		return -1
	case seq1 > seq2:
		return 1
	}
	return bytes.Compare(s1, s2)
}

func (m *MergeIterator) less(i, j int32) bool {
	a, b := &m.heads[i], &m.heads[j]
	if c := compareKey(a.ts, a.writer, a.seq, a.stream, b.ts, b.writer, b.seq, b.stream); c != 0 {
		return c < 0
	}
	return a.idx < b.idx
}

// down restores the heap property below position i.
func (m *MergeIterator) down(i int) {
	h := m.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(h[r], h[l]) {
			c = r
		}
		if !m.less(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// Entry returns the current record: the input's own Entry, not a copy. It
// is valid until the next call to Next. Before the first Next and after
// Next returned false it returns the zero Sealed.
func (m *MergeIterator) Entry() Sealed {
	if !m.cur {
		return Sealed{}
	}
	return m.heads[m.heap[0]].ent
}

// Input returns the index, in the Merge call, of the input the current
// record came from, or -1 when there is no current record.
func (m *MergeIterator) Input() int {
	if !m.cur {
		return -1
	}
	return m.heads[m.heap[0]].idx
}

// Err returns the *MergeError that stopped the merge, or nil when Next
// returned false because every input was exhausted.
func (m *MergeIterator) Err() error { return m.err }

// OutOfOrder returns how many records read so far had a key (tsMs,
// writerId, seq, stream) lower than the record before them from the same
// input: each is a place where the merged output may depart from the
// global order. A record is read, and counted, when it becomes its input's
// head, which can be before Next yields it; once Next has returned false
// the count covers every record read. Such records are still yielded; the
// merge does not fail on them.
func (m *MergeIterator) OutOfOrder() int { return m.ooo }
