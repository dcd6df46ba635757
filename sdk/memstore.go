package sdk

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/rustyonions/ron-audit-go/internal/names"
)

// Store keeps the sealed records of chains. A Log calls Put once per
// appended record, under the chain's lock, in seq order; Put is the commit
// point of an append, so it must either keep the record or fail and keep
// nothing.
type Store interface {
	// Put keeps rec as record seq of chain (writer, stream), copying its
	// bytes, and returns the kept copy and a ticket for Wait. A durable
	// store may return before the record is on disk: the Log calls Wait,
	// outside the chain's lock so that appends can share an fsync, before
	// it acknowledges the record.
	Put(writer, stream string, seq uint64, rec Sealed) (Sealed, Ticket, error)
	// Wait blocks until the record of ticket t is durable, and with it
	// every record Put before it in its chain: a chain is durable as a
	// prefix (a record without the one before it does not verify), and
	// the Log counts on it to acknowledge a retry of an earlier record
	// once a later one is durable. A store that cannot fail after Put
	// (MemStore) returns nil at once.
	Wait(t Ticket) error
	// Get returns record seq of a chain if the store still keeps it.
	Get(writer, stream string, seq uint64) (Sealed, bool)
	// Seal attaches a signature to a kept record (checkpoint seals).
	Seal(writer, stream string, seq uint64, id KeyID, sig Signature) error
	// Iter iterates over the kept records of a chain in seq order.
	// On OpenDurable's store every call writes out what is buffered,
	// then re-reads every segment of the log and holds the whole chain
	// in memory: on a long log, verify the new records in windows with
	// Log.Records (copied from the store's RAM cache while it keeps them,
	// DurableOptions.CacheBytes a chain; an older range is read through
	// Iter too) and VerifyOptions.Start and Retired from the window before,
	// as examples/host does, and the whole log with VerifyDir (or
	// checkpoint.VerifyDir), which streams the segments.
	Iter(writer, stream string) Iterator
}

// Ticket identifies a Put for Store.Wait.
type Ticket uint64

// DefaultMemStoreBytes is the default memory bound of a MemStore per chain.
const DefaultMemStoreBytes = 16 << 20

// MemStore is the Micronode store: records live in RAM only (amnesia) and
// nothing touches disk. Each chain keeps its newest records within a
// memory bound; older ones are forgotten, whole records oldest first, and
// Evicted counts them. The bound counts what the chain holds: its record
// bytes, copied into 64 KiB chunks used as a ring, and the ring of its
// records' Sealed values (hash, signature: 136 bytes each, as much as a
// minimal record's bytes), so a chain of small records keeps fewer of
// them. A chain at its bound allocates nothing per record. The bound is
// per chain and the store keeps every chain it is given: its memory is up
// to the number of chains times the bound (and a Log adds, per chain, its
// dedupe window and a record buffer), so a host with many streams sizes
// the bound for all of them. Bytes returned by Put and Get
// (so Appended.Record's) alias the ring and are overwritten once their
// chunk is reused: copy what must outlive the bound. Iter and CopyRange
// return copies. The zero MemStore is NewMemStore(0)'s: the default bound.
type MemStore struct {
	mu       sync.RWMutex
	maxBytes int
	chains   map[string]map[string]*memChain
}

const memChunk = 64 << 10

type memChain struct {
	mu      sync.Mutex
	recs    []Sealed // ring: recs[(head+i)%len] for i < n, oldest first
	head, n int
	first   uint64   // seq of the oldest kept record
	chunks  [][]byte // ring of chunk slots, filled in order
	perSlot []int    // how many kept records each chunk slot holds
	slots   int      // most chunk slots the bound allows
	cur     int      // slot being filled
	old     int      // slot where the oldest kept record may be: no older slot holds one
	wrapped bool     // every slot is in use: the oldest is reused
	max     int      // the store's bound
	evicted uint64
}

// used is the memory the chain holds: its chunks and its ring of records.
func (c *memChain) used() int { return len(c.chunks)*memChunk + len(c.recs)*memRecSize }

// memRecSize is what a kept record costs beside its bytes: its Sealed.
var memRecSize = int(reflect.TypeFor[Sealed]().Size())

// memMinRecs is the least size of a chain's ring of records.
const memMinRecs = 64

// MemStoreMinBytes is the least bound of a MemStore per chain: two 64 KiB
// chunks and the Sealed values of 64 records. It is a variable only
// because a Sealed's size is not a constant: setting it changes nothing
// (NewMemStore keeps its own floor, without which a chain had no chunk
// slot and its first Put panicked).
var MemStoreMinBytes = memStoreMin

// memStoreMin is MemStoreMinBytes, out of callers' reach.
var memStoreMin = 2*memChunk + memMinRecs*memRecSize

// NewMemStore returns a MemStore holding at most maxBytesPerChain bytes
// per chain, record bytes and Sealed values together
// (DefaultMemStoreBytes if 0; at least MemStoreMinBytes). The bound caps
// a chain's memory and reserves none of it: a chain takes memory as its
// records arrive, so a large bound (math.MaxInt: never forget) costs
// nothing until it is used. While a chain's ring of records grows, the
// ring it replaces stays until the garbage collector frees it.
func NewMemStore(maxBytesPerChain int) *MemStore {
	if maxBytesPerChain <= 0 {
		maxBytesPerChain = DefaultMemStoreBytes
	}
	return &MemStore{maxBytes: max(maxBytesPerChain, memStoreMin), chains: map[string]map[string]*memChain{}}
}

func (m *MemStore) chain(writer, stream string, create bool) *memChain {
	m.mu.RLock()
	c := m.chains[writer][stream]
	m.mu.RUnlock()
	if c != nil || !create {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chains == nil {
		// The zero MemStore (&MemStore{} as Config.Store): NewMemStore(0)'s,
		// not a panic at its first record.
		m.chains = map[string]map[string]*memChain{}
		m.maxBytes = DefaultMemStoreBytes
	}
	w := m.chains[writer]
	if w == nil {
		w = map[string]*memChain{}
		m.chains[writer] = w
	}
	if c = w[stream]; c == nil {
		// The slots grow with the chunks (nextChunk), not to the bound up
		// front: the bound caps the chain's memory, it reserves none of
		// it (math.MaxInt is a bound too, "never evict").
		c = &memChain{slots: m.maxBytes / memChunk, max: m.maxBytes}
		w[stream] = c
	}
	return c
}

// Put implements Store.
func (m *MemStore) Put(writer, stream string, seq uint64, rec Sealed) (Sealed, Ticket, error) {
	kept, err := m.put(writer, stream, seq, rec)
	return kept, 0, err
}

// Wait implements Store: MemStore records are kept once Put returns.
func (m *MemStore) Wait(Ticket) error { return nil }

func (m *MemStore) put(writer, stream string, seq uint64, rec Sealed) (Sealed, error) {
	if len(rec.Bytes) > memChunk {
		return Sealed{}, fmt.Errorf("%w: record of %d bytes is larger than a MemStore chunk (%d)", ErrStore, len(rec.Bytes), memChunk)
	}
	c := m.chain(writer, stream, true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n > 0 && seq != c.first+uint64(c.n) {
		return Sealed{}, fmt.Errorf("%w: seq %d after %d", ErrStore, seq, c.first+uint64(c.n)-1)
	}
	if len(c.chunks) == 0 || len(c.chunks[c.cur])+len(rec.Bytes) > memChunk {
		c.nextChunk()
	}
	buf := c.chunks[c.cur]
	at := len(buf)
	buf = append(buf, rec.Bytes...)
	c.chunks[c.cur] = buf
	rec.Bytes = buf[at:len(buf):len(buf)]
	if c.n == len(c.recs) && !c.grow() {
		c.evictOldest()
	}
	c.recs[(c.head+c.n)%len(c.recs)] = rec
	c.perSlot[c.cur]++
	if c.n == 0 {
		c.first = seq
	}
	c.n++
	return rec, nil
}

// nextChunk moves to the next chunk slot: a new chunk while the bound has
// room for it (two always fit), else the oldest slot, whose records are
// forgotten first.
func (c *memChain) nextChunk() {
	if !c.wrapped && len(c.chunks) < c.slots && (len(c.chunks) < 2 || c.used()+memChunk <= c.max) {
		c.chunks = append(c.chunks, make([]byte, 0, memChunk))
		c.perSlot = append(c.perSlot, 0)
		c.cur = len(c.chunks) - 1
		return
	}
	c.wrapped = true
	c.cur = (c.cur + 1) % len(c.chunks)
	// The slot to reuse holds the oldest kept records, since slots are
	// filled and reused in ring order: forget them in O(1). (Clearing
	// their entries one by one held the chain's lock for microseconds
	// once per chunk; the stale entries only point into this store's
	// own chunks and are never read.)
	k := c.perSlot[c.cur]
	c.head = (c.head + k) % len(c.recs)
	c.n -= k
	c.first += uint64(k)
	c.evicted += uint64(k)
	c.perSlot[c.cur] = 0
	c.chunks[c.cur] = c.chunks[c.cur][:0]
	c.old = (c.cur + 1) % len(c.chunks)
}

// evictOldest forgets the oldest kept record, when the ring of records
// cannot grow: its chunk bytes stay until the chunk is reused.
func (c *memChain) evictOldest() {
	for c.perSlot[c.old] == 0 {
		c.old = (c.old + 1) % len(c.chunks)
	}
	c.perSlot[c.old]--
	c.head = (c.head + 1) % len(c.recs)
	c.n--
	c.first++
	c.evicted++
}

// grow doubles the ring of records, or grows it as far as the bound
// leaves room beside the chunks (two at least); false if it cannot grow.
func (c *memChain) grow() bool {
	size := min(max(memMinRecs, 2*len(c.recs)), (c.max-max(len(c.chunks), 2)*memChunk)/memRecSize)
	if size <= len(c.recs) {
		return false
	}
	recs := make([]Sealed, size)
	for i := 0; i < c.n; i++ {
		recs[i] = c.recs[(c.head+i)%len(c.recs)]
	}
	c.recs, c.head = recs, 0
	return true
}

// Get implements Store.
func (m *MemStore) Get(writer, stream string, seq uint64) (Sealed, bool) {
	c := m.chain(writer, stream, false)
	if c == nil {
		return Sealed{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 || seq < c.first || seq >= c.first+uint64(c.n) {
		return Sealed{}, false
	}
	return c.recs[(c.head+int(seq-c.first))%len(c.recs)], true
}

// Seal implements Store.
func (m *MemStore) Seal(writer, stream string, seq uint64, id KeyID, sig Signature) error {
	c := m.chain(writer, stream, false)
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	if c != nil && c.evicted > 0 && seq < c.first {
		return fmt.Errorf("%w: %w: %s seq %d to seal: the oldest kept is seq %d", ErrStore, ErrEvicted, names.Chain(writer, stream), seq, c.first)
	}
	if c == nil || c.n == 0 || seq < c.first || seq >= c.first+uint64(c.n) {
		return fmt.Errorf("%w: no record %s seq %d to seal", ErrStore, names.Chain(writer, stream), seq)
	}
	r := &c.recs[(c.head+int(seq-c.first))%len(c.recs)]
	r.Signed, r.KeyID, r.Sig = true, id, sig
	return nil
}

// Iter implements Store. It iterates over a copy of the records kept when
// it is called, made under the chain's lock (one allocation of their
// size): appends and evictions after it never change what it yields.
func (m *MemStore) Iter(writer, stream string) Iterator {
	c := m.chain(writer, stream, false)
	if c == nil {
		return NewSliceIterator(nil)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return NewSliceIterator(c.copyLocked(0, c.n))
}

// copyLocked returns copies of the n kept records from the i-th oldest,
// their bytes in one arena, so that they outlive the ring's reuse.
func (c *memChain) copyLocked(i, n int) []Sealed {
	size := 0
	for k := range n {
		size += len(c.recs[(c.head+i+k)%len(c.recs)].Bytes)
	}
	arena := make([]byte, 0, size)
	out := make([]Sealed, n)
	for k := range out {
		r := c.recs[(c.head+i+k)%len(c.recs)]
		at := len(arena)
		arena = append(arena, r.Bytes...)
		r.Bytes = arena[at:len(arena):len(arena)]
		out[k] = r
	}
	return out
}

// Evicted returns how many records of a chain the bound made the store
// forget, and the seq of the oldest record it still keeps.
func (m *MemStore) Evicted(writer, stream string) (evicted, firstKept uint64) {
	c := m.chain(writer, stream, false)
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evicted, c.first
}

// CopyRange returns copies of records from..to (inclusive) of a chain if
// the store still keeps them all; the copies outlive the store's ring.
func (m *MemStore) CopyRange(writer, stream string, from, to uint64) ([]Sealed, bool) {
	c := m.chain(writer, stream, false)
	if c == nil || from == 0 || to < from {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 || from < c.first || to >= c.first+uint64(c.n) {
		return nil, false
	}
	return c.copyLocked(int(from-c.first), int(to-from+1)), true
}
