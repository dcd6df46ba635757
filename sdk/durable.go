package sdk

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/keyrule"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// Macronode: a Log whose records are durable in a write-ahead log
// (package wal) before Append acknowledges them. The frame payloads the SDK
// writes are specified in sdk/wal/FORMAT.md ("SDK payloads").

// Frame types of the SDK's WAL payloads.
const (
	frameRecord byte = 1 // a sealed record
	frameSeal   byte = 2 // a signature added later to a chain's head (Log.Seal)
)

// recordFrameHeader is type, flags, key id, signature and hash.
const recordFrameHeader = 1 + 1 + 8 + ed25519SigSize + 32

const ed25519SigSize = len(Signature{})

func appendRecordFrame(dst []byte, rec *Sealed) []byte {
	flags := byte(0)
	if rec.Signed {
		flags = 1
	}
	dst = append(dst, frameRecord, flags)
	dst = append(dst, rec.KeyID[:]...)
	dst = append(dst, rec.Sig[:]...)
	dst = append(dst, rec.Hash[:]...)
	return append(dst, rec.Bytes...)
}

func parseRecordFrame(p []byte) (Sealed, error) {
	if len(p) < recordFrameHeader+8 || p[0] != frameRecord || p[1] > 1 {
		return Sealed{}, errors.New("malformed record frame")
	}
	var r Sealed
	r.Signed = p[1] == 1
	copy(r.KeyID[:], p[2:10])
	copy(r.Sig[:], p[10:74])
	copy(r.Hash[:], p[74:106])
	r.Bytes = p[recordFrameHeader:]
	if !r.Signed && (r.KeyID != KeyID{} || r.Sig != Signature{}) {
		return Sealed{}, errors.New("malformed record frame: unsigned record with a signature")
	}
	return r, nil
}

type sealFrame struct {
	writer, stream string
	seq            uint64
	id             KeyID
	sig            Signature
	hash           canonical.Hash
}

func appendSealFrame(dst []byte, s *sealFrame) []byte {
	dst = append(dst, frameSeal)
	dst = binary.LittleEndian.AppendUint64(dst, s.seq)
	dst = append(dst, s.id[:]...)
	dst = append(dst, s.sig[:]...)
	dst = append(dst, s.hash[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s.writer)))
	dst = append(dst, s.writer...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(s.stream)))
	return append(dst, s.stream...)
}

func parseSealFrame(p []byte) (sealFrame, error) {
	const fixed = 1 + 8 + 8 + ed25519SigSize + 32
	bad := errors.New("malformed seal frame")
	if len(p) < fixed+4 || p[0] != frameSeal {
		return sealFrame{}, bad
	}
	var s sealFrame
	s.seq = binary.LittleEndian.Uint64(p[1:])
	copy(s.id[:], p[9:17])
	copy(s.sig[:], p[17:81])
	copy(s.hash[:], p[81:113])
	rest := p[fixed:]
	for _, dst := range []*string{&s.writer, &s.stream} {
		if len(rest) < 2 {
			return sealFrame{}, bad
		}
		n := int(binary.LittleEndian.Uint16(rest))
		if len(rest) < 2+n || n == 0 {
			return sealFrame{}, bad
		}
		*dst, rest = string(rest[2:2+n]), rest[2+n:]
	}
	if len(rest) != 0 {
		return sealFrame{}, bad
	}
	return s, nil
}

// DurableOptions configure OpenDurable.
type DurableOptions struct {
	// WAL configures the write-ahead log: fsync policy (default: group
	// commit, an fsync once 32 records wait or 2 ms pass, covering every
	// record appended before it), segment size (default 128 MiB),
	// and the OnFsync hook that feeds wal_fsync_seconds (metrics.OnFsync
	// observes the fsyncs that made records durable). Its Replay and
	// Recovered fields are the SDK's own and must be nil (else ErrConfig).
	WAL wal.Options
	// Keys verify the signatures of the records already in the log when it
	// is opened, with the Config's Signer key, which is always trusted
	// (nil: that key only). After a RotateKey, a writer reopened with the
	// new key needs the old public key here (the first key is enough for
	// the chains the rotations passed through: their transitions name the
	// next keys; a chain started after a rotation needs the key it started
	// with, unless that is the Signer's), else OpenDurable fails with
	// unknown_key at the first record the old key signed. Keys only
	// verify: a chain their key holds takes no record signed by a Signer
	// that no transition hands it on to (OpenDurable).
	Keys *KeySet
	// CacheBytes bounds the records kept in RAM per chain (for dedupe and
	// Store.Get); 0 means DefaultMemStoreBytes.
	CacheBytes int
}

// Recovery is what OpenDurable found in the log and repaired.
type Recovery struct {
	WAL     wal.Recovery // segments, frames, and a torn tail it cut, if any
	Records uint64       // records replayed and verified
	Seals   uint64       // seals replayed and verified
	Heads   []Head       // every chain's head, by writer, then stream
}

// ErrDurable matches a *DurableError.
var ErrDurable = errors.New("sdk: durable log damaged")

// DurableError reports a log that cannot be trusted as it is: damage the
// WAL cannot explain as a torn tail, or a record that fails verification.
// Nothing is cut or changed. WriterID, Stream and Seq name the record at
// Position (Seq: the seq its place in its chain holds, as in the
// *VerifyError it wraps, whose Verified counts that chain's records
// before it), or, for damage to the WAL's frames (Err is a
// *wal.CorruptError) and for a record whose bytes name no chain, the last
// good record before it ("after" that seq). Its message names the file
// and offset once: a *wal.CorruptError of the same place is said without
// its own.
type DurableError struct {
	Position wal.Position
	WriterID string
	Stream   string
	Seq      uint64
	After    bool // the damage follows record Seq rather than being it
	Err      error
}

func (e *DurableError) Error() string {
	where := names.Chain(e.WriterID, e.Stream) + " seq " + strconv.FormatUint(e.Seq, 10)
	if e.After {
		where = "after " + where
	}
	if e.WriterID == "" {
		where = "before the first record"
	}
	at := e.Position.String() + " "
	if e.Position.File == "" { // not at a frame: a chain's end (unsealed tail)
		at = ""
	}
	cause := e.Err.Error()
	if ce, ok := e.Err.(*wal.CorruptError); ok && at != "" && ce.File == e.Position.File && ce.Offset == e.Position.Offset {
		// The WAL's report names the same file and offset, which this
		// message starts with: say what is wrong there without them.
		cause = wal.ErrCorrupt.Error() + ": " + ce.Reason + " (last good frame " + strconv.FormatUint(ce.LastIndex, 10) + ")"
	}
	return "sdk: durable log " + at + "(" + where + "): " + cause
}

// Unwrap returns the underlying *wal.CorruptError or *VerifyError.
func (e *DurableError) Unwrap() error { return e.Err }

// Is matches ErrDurable.
func (e *DurableError) Is(target error) bool { return target == ErrDurable }

// replayer checks a log frame by frame as VerifyChain checks one chain,
// for every chain at once.
type replayer struct {
	keys   *KeySet
	hasher *canonical.Hasher
	chains map[string]map[string]*Head
	keyst  map[*Head]*keyState
	last   struct {
		writer, stream string
		seq            uint64
	}
	records, seals uint64
	// trustFirst accepts the first record seen of each chain as a start
	// (verifying one segment file out of a longer log).
	trustFirst bool
	// base is, for a chain trustFirst started past seq 1, the seq before
	// its first record: failures count the chain's records verified from
	// there (VerifyError.Verified).
	base map[*Head]uint64
	// only, when set, is the one chain (writer, stream) to verify; frames
	// of other chains are skipped once their chain is known.
	only     *[2]string
	pos      wal.Position // of the frame being replayed
	onRecord func(h *Head, rec Sealed, v canonical.AuditRecordView)
	sigs     []pendingSig // looked up, not yet checked (checkSigs)
	// unchecked counts the records replayed since every record was known
	// to hold; onChecked, if set, is called with the count of replayed
	// records known to hold each time it grows (what may act on replayed
	// records, a Keeper signing a checkpoint, waits for it).
	unchecked int
	onChecked func(holding uint64)
	sigErr    error // the bad signature checkSigs found: the replay's end
	sigHead   Head  // with sigErr: its chain's head before the bad signature
	onSeal    func(h *Head, s sealFrame)
	// signers holds the keys of the signatures replayed, once looked up
	// (checked with the batch: they hold when the replay does), for the
	// reopened Log's Keys.
	signers map[KeyID]ed25519.PublicKey
}

func newReplayer(keys *KeySet) *replayer {
	return &replayer{keys: keys, hasher: canonical.NewHasher(), chains: map[string]map[string]*Head{}, keyst: map[*Head]*keyState{}}
}

func (r *replayer) head(writer, stream string) *Head {
	w := r.chains[writer]
	if w == nil {
		w = map[string]*Head{}
		r.chains[writer] = w
	}
	h := w[stream]
	if h == nil {
		h = &Head{WriterID: writer, Stream: stream}
		w[stream] = h
	}
	return h
}

// frame replays one frame. An error it finds itself comes after every
// record whose signature still waits in r.sigs, so those are checked
// first: a bad one among them is the log's first failure.
func (r *replayer) frame(f wal.Frame) error {
	if err := r.replay(f); err != nil {
		if serr := r.checkSigs(); serr != nil {
			return serr
		}
		return err
	}
	r.unchecked++
	switch {
	case len(r.sigs) >= sigBatch || r.unchecked >= 4*sigBatch:
		return r.checkSigs()
	case len(r.sigs) == 0:
		r.checked() // nothing waits: every record so far holds
	}
	return nil
}

// checked tells onChecked that every record replayed so far holds.
func (r *replayer) checked() {
	r.unchecked = 0
	if r.onChecked != nil {
		r.onChecked(r.records)
	}
}

// sigBatch is how many record signatures the replayer collects before it
// checks them on every core: an Ed25519 verification costs ~35 us, the
// rest of a record's replay ~2 us, so they are what a replay waits for.
const sigBatch = 1024

// pendingSig is a record signature the replayer has looked its key up for
// (in order: rotations depend on it) and not yet checked.
type pendingSig struct {
	pub    ed25519.PublicKey
	hash   canonical.Hash
	sig    Signature
	id     KeyID
	head   *Head
	seq    uint64
	pos    wal.Position
	before uint64 // records replayed before this one
	chain  int    // records of its chain verified before it (VerifyError.Verified)
	// The chain's head before this record (its Seq is seq-1): what holds
	// of the chain when this signature is bad (replayer.sigHead).
	prev       canonical.Hash
	prevSealed uint64
}

// checkSigs checks the pending signatures in parallel and returns the
// failure of the first bad one in log order, if any.
func (r *replayer) checkSigs() error {
	if r.sigErr != nil {
		return r.sigErr // the replay failed: nothing after it holds
	}
	sigs := r.sigs
	r.sigs = r.sigs[:0]
	if len(sigs) == 0 {
		r.checked()
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), (len(sigs)+63)/64)
	bad := make([]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		bad[w] = -1
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * len(sigs) / workers; i < (w+1)*len(sigs)/workers; i++ {
				if p := &sigs[i]; !canonical.VerifySignature(p.pub, p.hash, p.sig[:]) {
					bad[w] = i
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, i := range bad { // workers hold ascending ranges
		if i >= 0 {
			p := &sigs[i]
			r.records = p.before // what holds; the rest was read, not verified
			if r.onChecked != nil {
				r.onChecked(p.before)
			}
			r.sigHead = Head{WriterID: p.head.WriterID, Stream: p.head.Stream, Seq: p.seq - 1, Hash: p.prev, SealedSeq: p.prevSealed}
			r.sigErr = &DurableError{Position: p.pos, WriterID: p.head.WriterID, Stream: p.head.Stream, Seq: p.seq,
				Err: &VerifyError{WriterID: p.head.WriterID, Stream: p.head.Stream, Seq: p.seq, Reason: ReasonBadSignature,
					Expected: "a signature by key " + p.id.String(), Got: hexOrEmpty(p.sig[:8]) + "...", Verified: p.chain}}
			return r.sigErr
		}
	}
	r.checked()
	return nil
}

func (r *replayer) replay(f wal.Frame) error {
	pos := wal.Position{File: f.File, Offset: f.Offset}
	r.pos = pos
	bad := func(writer, stream string, seq uint64, err error) error {
		return &DurableError{Position: pos, WriterID: writer, Stream: stream, Seq: seq, Err: err}
	}
	switch f.Type {
	case frameRecord:
		rec, err := parseRecordFrame(f.Payload)
		if err != nil {
			return bad(r.last.writer, r.last.stream, r.last.seq, err)
		}
		v, err := canonical.Open(rec.Bytes)
		if err != nil {
			return r.unreadable(pos, rec, err)
		}
		writer, stream := v.WriterID(), v.Stream()
		if r.only != nil && (string(writer) != r.only[0] || string(stream) != r.only[1]) {
			return nil
		}
		h := r.chains[string(writer)][string(stream)]
		known := h != nil
		if h == nil {
			h = r.head(string(writer), string(stream))
		}
		if got := r.hasher.RecordHash(rec.Bytes); got != rec.Hash {
			return r.failAt(pos, h, known, v.Seq(), fail(v, ReasonHashMismatch, rec.Hash.String(), got.String(), 0))
		}
		if r.trustFirst && h.Seq == 0 && v.Seq() > 1 {
			h.Seq = v.Seq() - 1
			copy(h.Hash[:], v.Prev())
			h.SealedSeq = h.Seq
			if r.base == nil {
				r.base = map[*Head]uint64{}
			}
			r.base[h] = h.Seq
		}
		if err := VerifyLink(*h, v); err != nil {
			return r.failAt(pos, h, true, v.Seq(), err)
		}
		ks := r.keyst[h]
		first := ks == nil
		if first {
			ks = &keyState{firstAt: r.records + 1}
			r.keyst[h] = ks
		}
		if rec.Signed {
			if r.keys != nil {
				// The key now, in order (rotations decide it); the
				// signature with the batch (checkSigs).
				pub, err := ks.lookup(v, rec.KeyID, r.keys)
				if err != nil {
					return r.failAt(pos, h, true, v.Seq(), err)
				}
				r.signed(rec.KeyID, pub)
				r.sigs = append(r.sigs, pendingSig{pub: pub, hash: rec.Hash, sig: rec.Sig, id: rec.KeyID, head: h, seq: v.Seq(), pos: pos,
					before: r.records, chain: int(h.Seq - r.base[h]), prev: h.Hash, prevSealed: h.SealedSeq})
			}
			h.SealedSeq = v.Seq()
			// With keys nil too: a replay that checks no signature
			// still tells which key holds each chain (MaySign).
			ks.lastSigner = rec.KeyID
			ks.signedBy(rec.KeyID, first)
		}
		if err := ks.follow(v, rec, r.keys); err != nil {
			return r.failAt(pos, h, true, v.Seq(), err)
		}
		if at, ok := ks.retired[rec.KeyID]; ok && rec.Signed && at == v.Seq() {
			// A transition: where it is in the log (OpenDurable tells
			// the chains a rotation cut short had not reached by it).
			if ks.handedAt == nil {
				ks.handedAt = map[KeyID]uint64{}
			}
			ks.handedAt[rec.KeyID] = r.records + 1
		}
		h.Seq, h.Hash = v.Seq(), rec.Hash
		r.last.writer, r.last.stream, r.last.seq = h.WriterID, h.Stream, h.Seq
		r.records++
		if r.onRecord != nil {
			r.onRecord(h, rec, v)
		}
	case frameSeal:
		s, err := parseSealFrame(f.Payload)
		if err != nil {
			return bad(r.last.writer, r.last.stream, r.last.seq, err)
		}
		if r.only != nil && (s.writer != r.only[0] || s.stream != r.only[1]) {
			return nil
		}
		h := r.chains[s.writer][s.stream]
		if h == nil && r.trustFirst {
			break // its record is in an earlier segment
		}
		if h == nil || h.Seq != s.seq || h.Hash != s.hash {
			e := &VerifyError{WriterID: s.writer, Stream: s.stream, Seq: s.seq,
				Reason: ReasonPrevMismatch, Expected: "a seal of the chain's head", Got: "a seal of another record"}
			if h != nil {
				e.Verified = int(h.Seq - r.base[h])
			}
			return bad(s.writer, s.stream, s.seq, e)
		}
		// The seal's signature is the one of record s.seq, the chain's head.
		verified := int(s.seq - 1 - r.base[h])
		if r.keys == nil {
			h.SealedSeq = s.seq
			r.seals++
			if ks := r.keyst[h]; ks != nil {
				ks.lastSigner = s.id // as below (MaySign)
				ks.signedBy(s.id, false)
			}
			break
		}
		pub, ok := r.keys.Lookup(s.id)
		if ks := r.keyst[h]; ks != nil && ks.learned != nil {
			if p, learned := ks.learned[s.id]; learned {
				pub, ok = p, true
			}
			if at, retired := ks.retired[s.id]; retired && s.seq > at {
				// As for a record signature (keyState.lookup): the key is
				// known, and out of force here.
				return bad(s.writer, s.stream, s.seq, &VerifyError{WriterID: s.writer, Stream: s.stream, Seq: s.seq,
					Reason: ReasonRetiredKey, Expected: "a key in force at seq " + strconv.FormatUint(s.seq, 10),
					Got: "key " + s.id.String() + ", retired at seq " + strconv.FormatUint(at, 10), Verified: verified})
			}
		}
		if !ok {
			return bad(s.writer, s.stream, s.seq, &VerifyError{WriterID: s.writer, Stream: s.stream, Seq: s.seq,
				Reason: ReasonUnknownKey, Expected: "a key in force at this seq", Got: "key id " + s.id.String(), Verified: verified})
		}
		if !canonical.VerifySignature(pub, s.hash, s.sig[:]) {
			return bad(s.writer, s.stream, s.seq, &VerifyError{WriterID: s.writer, Stream: s.stream, Seq: s.seq,
				Reason: ReasonBadSignature, Expected: "a signature by key " + s.id.String(), Got: "an invalid one", Verified: verified})
		}
		h.SealedSeq = s.seq
		r.seals++
		r.signed(s.id, pub)
		if ks := r.keyst[h]; ks != nil {
			ks.lastSigner = s.id
			ks.signedBy(s.id, false)
		}
		if r.onSeal != nil {
			r.onSeal(h, s)
		}
	default:
		return bad(r.last.writer, r.last.stream, r.last.seq, fmt.Errorf("unknown frame type %d", f.Type))
	}
	return nil
}

// signed notes that key id, pub, signed a replayed record or seal.
func (r *replayer) signed(id KeyID, pub ed25519.PublicKey) {
	if r.signers == nil {
		r.signers = map[KeyID]ed25519.PublicKey{}
	}
	r.signers[id] = pub
}

// failAt is the failure err (a *VerifyError) of the record at pos that
// claims seq in chain h: reported, as VerifyChain reports it, at the seq
// its place in the chain holds, with the count of the chain's records
// verified before it. known says h held a record before this one (or was
// started from a trusted head); a record that starts a chain, or that a
// damaged name puts in a new one, keeps the seq it claims.
func (r *replayer) failAt(pos wal.Position, h *Head, known bool, seq uint64, err error) error {
	var ve *VerifyError
	if errors.As(err, &ve) {
		if known {
			seq = h.Seq + 1
			ve.Verified = int(h.Seq - r.base[h])
		}
		ve.Seq = seq
	}
	return &DurableError{Position: pos, WriterID: h.WriterID, Stream: h.Stream, Seq: seq, Err: err}
}

// unreadable is the failure of a record at pos whose bytes are not a
// canonical record (openErr). Its stored hash is checked first, as
// VerifyChain does: bytes changed since they were hashed are a hash
// mismatch, whatever the change broke. The record is named as far as its
// bytes still give a chain; when they give none, the failure follows the
// last good record of the log.
func (r *replayer) unreadable(pos wal.Position, rec Sealed, openErr error) error {
	e := &VerifyError{Reason: ReasonNotCanonical, Err: openErr}
	if got := r.hasher.RecordHash(rec.Bytes); got != rec.Hash {
		e = &VerifyError{Reason: ReasonHashMismatch, Expected: rec.Hash.String(), Got: got.String()}
	}
	v, err := canonical.OpenAuditRecord(rec.Bytes) // only the Cap'n Proto form checked
	if err != nil || len(v.WriterID()) == 0 || len(v.Stream()) == 0 {
		return &DurableError{Position: pos, WriterID: r.last.writer, Stream: r.last.stream, Seq: r.last.seq, After: true, Err: e}
	}
	e.WriterID, e.Stream = string(v.WriterID()), string(v.Stream())
	h := r.chains[e.WriterID][e.Stream]
	if h == nil {
		return &DurableError{Position: pos, WriterID: e.WriterID, Stream: e.Stream, Seq: v.Seq(), Err: e}
	}
	return r.failAt(pos, h, true, v.Seq(), e)
}

// wrapCorrupt turns the WAL's corruption report into a DurableError that
// names the last good record before it.
func (r *replayer) wrapCorrupt(err error) error {
	var ce *wal.CorruptError
	if errors.As(err, &ce) {
		return &DurableError{Position: wal.Position{File: ce.File, Offset: ce.Offset},
			WriterID: r.last.writer, Stream: r.last.stream, Seq: r.last.seq, After: true, Err: err}
	}
	return err
}

// end is the replay's result once the reader stopped with err (nil at
// the end of the log): a signature still pending that is bad comes before
// whatever stopped the reader, which is wrapped as wrapCorrupt does.
func (r *replayer) end(err error) error {
	if serr := r.checkSigs(); serr != nil {
		return serr
	}
	return r.wrapCorrupt(err)
}

// retirements lists the key transitions of every chain replayed.
func (r *replayer) retirements() []Retirement {
	var out []Retirement
	for h, ks := range r.keyst {
		out = append(out, ks.retirements(h.WriterID, h.Stream)...)
	}
	slices.SortFunc(out, func(a, b Retirement) int {
		return cmp.Or(strings.Compare(a.WriterID, b.WriterID), strings.Compare(a.Stream, b.Stream), cmp.Compare(a.Seq, b.Seq))
	})
	return out
}

// heads lists every chain's head by writer, then stream: the order the
// unsealed tails are judged in (unsealed), so that the one reported is
// the same on every run, as in checkpoint.VerifyDir and ronaudit verify.
func (r *replayer) heads() []Head {
	var out []Head
	for _, w := range r.chains {
		for _, h := range w {
			out = append(out, *h)
		}
	}
	slices.SortFunc(out, func(a, b Head) int {
		return cmp.Or(strings.Compare(a.WriterID, b.WriterID), strings.Compare(a.Stream, b.Stream))
	})
	return out
}

// walStore is the Store of a durable Log: records go to the WAL and to a
// bounded cache in RAM (for dedupe and Get).
type walStore struct {
	w       *wal.Log
	dir     string
	cache   *MemStore
	mu      sync.Mutex // guards scratch: chains Put concurrently
	scratch []byte     // frame buffer (wal.Append copies it)
}

func (s *walStore) Put(writer, stream string, seq uint64, rec Sealed) (Sealed, Ticket, error) {
	s.mu.Lock()
	s.scratch = appendRecordFrame(s.scratch[:0], &rec)
	idx, err := s.w.Append(s.scratch)
	s.mu.Unlock()
	if err != nil {
		return Sealed{}, 0, err
	}
	kept, err := s.cache.put(writer, stream, seq, rec)
	if err != nil {
		return Sealed{}, 0, err
	}
	return kept, Ticket(idx), nil
}

func (s *walStore) Wait(t Ticket) error { return s.w.WaitDurable(uint64(t)) }

// CopyRange copies records from the RAM cache (see MemStore.CopyRange).
func (s *walStore) CopyRange(writer, stream string, from, to uint64) ([]Sealed, bool) {
	return s.cache.CopyRange(writer, stream, from, to)
}

func (s *walStore) Get(writer, stream string, seq uint64) (Sealed, bool) {
	return s.cache.Get(writer, stream, seq)
}

func (s *walStore) Seal(writer, stream string, seq uint64, id KeyID, sig Signature) error {
	rec, ok := s.cache.Get(writer, stream, seq)
	if !ok {
		return fmt.Errorf("no record %s seq %d in the cache to seal", names.Chain(writer, stream), seq)
	}
	p := appendSealFrame(nil, &sealFrame{writer: writer, stream: stream, seq: seq, id: id, sig: sig, hash: rec.Hash})
	if _, err := s.w.AppendDurable(p); err != nil {
		return err
	}
	return s.cache.Seal(writer, stream, seq, id, sig)
}

// Iter reads the chain from the log on disk (after writing out what is
// buffered), seals applied. It reads every segment and holds the chain in
// memory on every call (the Store interface says so, and what to use on a
// long log): the RAM cache keeps only the newest records.
func (s *walStore) Iter(writer, stream string) Iterator {
	if err := s.w.Sync(); err != nil {
		return &errIterator{err: err}
	}
	recs, err := readChain(s.dir, writer, stream)
	if err != nil {
		return &errIterator{err: err}
	}
	return NewSliceIterator(recs)
}

// readChain collects the records of one chain from a log directory, with
// the signatures of later seal frames attached.
func readChain(dir, writer, stream string) ([]Sealed, error) {
	var recs []Sealed
	_, err := wal.ReadDir(dir, func(f wal.Frame) error {
		switch f.Type {
		case frameRecord:
			rec, err := parseRecordFrame(f.Payload)
			if err != nil {
				return err
			}
			v, err := canonical.OpenAuditRecord(rec.Bytes)
			if err != nil || string(v.WriterID()) != writer || string(v.Stream()) != stream {
				return nil // other chains; VerifyChain reports bad records
			}
			rec.Bytes = bytes.Clone(rec.Bytes)
			recs = append(recs, rec)
		case frameSeal:
			s, err := parseSealFrame(f.Payload)
			if err != nil {
				return err
			}
			if s.writer == writer && s.stream == stream && len(recs) > 0 {
				r := &recs[len(recs)-1]
				if r.Hash == s.hash {
					r.Signed, r.KeyID, r.Sig = true, s.id, s.sig
				}
			}
		}
		return nil
	})
	return recs, err
}

type errIterator struct{ err error }

func (it *errIterator) Next() bool    { return false }
func (it *errIterator) Entry() Sealed { return Sealed{} }
func (it *errIterator) Err() error    { return it.err }

// OpenDurable opens (or creates) the Macronode log in dir: it takes the
// directory's lock, replays and verifies every record (hashes, links,
// signatures under opts.Keys), cuts a torn tail and reports it in the
// Recovery, and resumes every chain from its last good record. Damage
// before the tail is never cut: OpenDurable fails with a *DurableError
// naming the file, offset, stream and seq (a segment whose header names a
// format version this reader does not know, newer or damaged, with the
// *wal.VersionError naming the file, not in a *DurableError).
//
// When cfg.Observer is a ReplayChecker (package checkpoint's Keeper), the
// replayed log must satisfy it before anything is cut or written: a log
// that lost records a checkpoint vouches for is refused, not extended.
// The error wraps the ReplayChecker's, which says which is wrong: the log
// (the records missing) or what the observer kept (a checkpoint file
// that is no checkpoint, by path).
//
// A rotation (Log.RotateKey) a crash cut short leaves some chains with
// their transition and some without. Opened with the old key, the first
// take no record until RotateKey to the new key finishes the rotation,
// nor do the chains the new key started (signed by it, with no
// transition, or with no signature yet and a first record after the
// rotation's first transition: the old key may not sign after it there;
// after a whole rotation too). Opened with the new key, the others take none
// (ErrConfig naming the old key): only the old key can write their
// transitions. Nor does a chain signed by a key that no transition in the
// log hands on to the Signer's (a newcomer's key, given the log's in
// DurableOptions.Keys): signed by it, the chain would not verify for one
// following it from its first key (unknown_key), so Append refuses with
// ErrConfig naming the chain and its key: open the log with that key, or
// RotateKey from it to the new one first (or, when that key signed the
// chain alone from its first record, RotateKey to it, which takes the
// chain on with no transition: a chain started while a rotation to it ran
// that wrote no transition, say). A chain the Signer starts is its own.
//
// A chain with no record signature in the log (checkpoint-sealed) says
// only in its kept checkpoints whose it is: a chain whose newest kept
// checkpoint is signed by a key that neither is the Signer's nor hands
// the chain on to it by a transition (a transition of the chain at or
// after that checkpoint's size) takes no record either: Append and
// RotateKey refuse with ErrConfig naming the chain, the checkpoint and
// its key (when the Signer or DurableOptions.Keys holds it), and a seal
// (Close) of its records that checkpoint covers is no refusal. With a
// checkpoint.Keeper as cfg.Observer (package node's) the checkpoints are
// the Keeper's (wherever it keeps them), and it signs nothing of such a
// chain; with none, OpenDurable reads the newest checkpoint of each chain
// kept with the log in dir/checkpoints (where node.Open and ronaudit
// append keep them), as MaySign does, so that a host sealing with
// SealEvery and no Keeper, or one reopening a directory a Node
// checkpointed, does not take such a chain over either: its seals would
// be an unknown key's to a verifier following the chain from the key of
// its checkpoints. A newest kept checkpoint that is damaged (its
// signature by the Signer's key does not verify, or its signature line
// is that key's with its key name or key hash changed: one flipped byte
// there would read as another key's) is no other key's: OpenDurable
// fails with its *checkpoint.Error (bad_signature, naming the file), as
// the Keeper's CheckReplay refuses it, and so does a checkpoints
// directory that cannot be read. Only package checkpoint reads kept
// checkpoints: in a program that does not link it (imports none of
// sdk/checkpoint, sdk/export, sdk/node), a log whose dir/checkpoints
// holds any file fails to open with ErrConfig naming it, before anything
// is written, rather than open as if nothing were kept: its Signer would
// sign, at the first Append or seal, chains those files may say another
// key holds, and nothing else in the program can read which (a blank
// import of sdk/checkpoint opens it). A dir/checkpoints that is absent,
// or holds only directories (checkpoint.NewKeeper makes it before any
// checkpoint is due: ronaudit append's does), holds nothing to read, and
// such a program opens the log as before.
//
// Under the checkpoint-sealed policy a crash leaves each chain's records
// after its last signature or seal on disk unsigned: its unsealed tail,
// which VerifyDir reports (unsealed_tail). OpenDurable checks their
// hashes and links like every record's, and resumes the chain after them
// (Recovery.Heads shows them: SealedSeq < Seq); the chain's next
// signature (SealEvery, SealInterval, Seal, SealAll, Close) then covers
// them. Unsigned, they are only as trustworthy as the directory was while
// the writer was down: a host that must not vouch for records it cannot
// tell were written by it checks Recovery.Heads before it appends (or
// verifies the chains with their kept checkpoints: checkpoint.VerifyChain
// with checkpoint.LoadHistory, as ronaudit verify does; VerifyDir itself
// reads no checkpoint). Head.SealedSeq counts record signatures only:
// with a checkpoint.Keeper as Observer under this policy, whose
// checkpoints are the seals and sign no record, it stays at the last
// signed record (0, or a key transition) however many checkpoints cover
// the chain, so compare Seq with the size of the Keeper's newest
// checkpoint of the chain instead (Keeper.Newest, which knows a chain
// once OpenDurable's replay has shown it to the Keeper).
//
// Append on the returned Log acknowledges a record only once the WAL has
// it on disk (per opts.WAL's fsync policy). A record whose Append (or
// Pending.Wait) failed because a write or fsync of the WAL failed is not
// in the log when it is reopened, so an Emitter's count of it as dropped
// stays true and a retry of it is no second copy: the failed WAL cuts
// every frame no fsync covered (sdk/wal/FORMAT.md, "Failure"); if that
// cut fails too, the error says so, and the log should be reopened only
// after the machine restarts. Close the Log when done.
//
// The Log's Store().Iter on a durable log re-reads every segment and
// holds the chain in memory on each call (see Store.Iter): a host that
// re-verifies its chains verifies the new records with Log.Records
// windows, and the whole log with VerifyDir.
//
// OpenDurable provides the Log's Store: cfg.Store must be nil. A Config
// that New refuses, cfg.Store set, opts.WAL.Replay or Recovered set, or a
// dir "" (not taken as the current directory: give "." for that) is
// ErrConfig, returned before dir is touched. A dir the WAL refuses is
// the WAL's *wal.Error (see wal.Open): wal.ErrDirPermissions, wal.ErrLocked,
// or wal.ErrConfig for an existing directory that holds other files and
// no log.
func OpenDurable(dir string, cfg Config, opts DurableOptions) (*Log, Recovery, error) {
	if dir == "" {
		// Not the current directory: an unset setting would put the
		// audit trail wherever the process happens to run.
		return nil, Recovery{}, fmt.Errorf(`%w: the log directory is "" (give "." for the current directory)`, ErrConfig)
	}
	if opts.WAL.Replay != nil || opts.WAL.Recovered != nil {
		return nil, Recovery{}, fmt.Errorf("%w: DurableOptions.WAL.Replay and Recovered are the SDK's own", ErrConfig)
	}
	cache := NewMemStore(opts.CacheBytes)
	ws := &walStore{dir: dir, cache: cache}
	if cfg.Store != nil {
		return nil, Recovery{}, fmt.Errorf("%w: OpenDurable provides the Store", ErrConfig)
	}
	cfg.Store = ws
	l, err := New(cfg)
	if err != nil {
		return nil, Recovery{}, err
	}
	// The Signer's own key verifies too (the error below names it): a
	// chain started after a RotateKey to it has no transition naming it,
	// and a writer reopened with it gives only the first key (Keys).
	keys := l.Keys()
	if opts.Keys != nil {
		keys = opts.Keys.Clone() // the caller's set stays as it was
		if _, err := keys.TryAdd(cfg.Signer.Public()); err != nil {
			return nil, Recovery{}, fmt.Errorf("%w: Signer beside DurableOptions.Keys: %w", ErrConfig, err)
		}
	}
	r := newReplayer(keys)
	// Every replayed record is committed and durable, but the Observer
	// hears so (and a Keeper may sign a checkpoint) only once the record's
	// signature and those before it have been checked: the replayer checks
	// them in batches (checkSigs), so the records wait in heard until
	// onChecked.
	type replayed struct {
		writer, stream string
		seq            uint64
		hash           canonical.Hash
		retires        KeyID // the key a transition in the record retires, if any
		transition     bool
	}
	ro, _ := cfg.Observer.(RetireObserver)
	var heard []replayed // replayed records the Observer has not heard of yet
	var told uint64      // how many replayed records it has heard of
	if o := cfg.Observer; o != nil {
		r.onChecked = func(holding uint64) {
			n := int(holding - told)
			for _, d := range heard[:n] {
				if d.transition && ro != nil {
					ro.Retired(d.writer, d.stream, d.retires, d.seq)
				}
				o.Committed(d.writer, d.stream, d.seq, d.hash, true)
				o.Durable(d.writer, d.stream, d.seq, true)
			}
			heard = append(heard[:0], heard[n:]...)
			told = holding
		}
	}
	r.onRecord = func(h *Head, rec Sealed, v canonical.AuditRecordView) {
		if cfg.Observer != nil {
			d := replayed{writer: h.WriterID, stream: h.Stream, seq: h.Seq, hash: rec.Hash}
			if ro != nil && rec.Signed && bytes.Contains(rec.Bytes, []byte(KeyTransitionAttr)) {
				if _, ok, _ := KeyTransition(v); ok { // verified: the replay refuses a bad one
					d.transition, d.retires = true, rec.KeyID
				}
			}
			heard = append(heard, d)
		}
		c := l.chain(h.WriterID, h.Stream)
		kept, _ := cache.put(h.WriterID, h.Stream, h.Seq, rec)
		_ = kept
		c.head = *h
		c.durable.Store(h.Seq) // Open fsyncs what it replayed, or fails
		if c.dedupe.on() {
			c.dedupe.add(fingerprint(l.seed, rec.Bytes), h.Seq)
		}
	}
	r.onSeal = func(h *Head, s sealFrame) {
		_ = cache.Seal(s.writer, s.stream, s.seq, s.id, s.sig)
		l.chain(h.WriterID, h.Stream).head.SealedSeq = s.seq
	}
	wopts := opts.WAL
	wopts.Replay = r.frame
	rc, _ := cfg.Observer.(ReplayChecker)
	// The chains that take no record signed by cfg.Signer: worked out once
	// the replay is whole (Recovered), for the Keeper and for the Log.
	var refused map[*Head]refusal
	// The chains held by another key as only the checkpoints kept with
	// the log say (sealedRefusals: the Keeper's; keptRefusals, with no
	// Keeper as Observer: those in dir/checkpoints).
	var sealed map[*Head]refusal
	wopts.Recovered = func(rec wal.Recovery) error {
		// The signatures still pending are checked before Open cuts a
		// torn tail or writes anything.
		if err := r.checkSigs(); err != nil {
			return err
		}
		id := cfg.Signer.KeyID()
		refused = r.refusals(id)
		if _, follows := cfg.Observer.(KeyFollower); ro != nil && follows {
			// A chain that takes no record signed by cfg.Signer (a later
			// key started it, or a rotation to cfg.Signer cut short had
			// not reached it: refusals) is not cfg.Signer's to vouch for:
			// a Keeper that signs with it must not write that chain's
			// checkpoints (CheckReplay writes those that came due), which
			// a verifier holding the key the chain is on does not trust.
			// It hears so as the Log tells it of a chain started with
			// another key than its own (Log.started).
			for h := range refused {
				ro.Retired(h.WriterID, h.Stream, id, 0)
			}
		}
		if rc == nil {
			var err error
			sealed, err = r.keptRefusals(dir, keys, cfg.Signer.Public(), refused)
			return err
		}
		err := rc.CheckReplay()
		if err == nil {
			var keeper bool
			if sealed, keeper = r.sealedRefusals(cfg.Observer, keys, id); !keeper {
				// A ReplayChecker that is no Keeper says nothing of
				// whose a chain is: the checkpoints kept with the log do.
				sealed, err = r.keptRefusals(dir, keys, cfg.Signer.Public(), refused)
			}
			return err
		}
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			// Not a verdict on the log: the history to check it against
			// (a checkpoint directory, say) could not be read.
			return fmt.Errorf("sdk: the log's observer could not read what it vouches for, so the log cannot be checked against it: %w", err)
		}
		// Which of the two is wrong, the log or what the observer kept
		// (a newest checkpoint that is no checkpoint: an empty file, a
		// directory), only the observer's error says: it names the
		// records missing, or the file and what is wrong with it.
		if rec.TornBytes > 0 {
			return fmt.Errorf("sdk: checking the log against what its observer vouches for failed (its last segment ends in a torn tail of %d bytes at %s, %s, left uncut): %w",
				rec.TornBytes, rec.TornAt, rec.TornReason, err)
		}
		return fmt.Errorf("sdk: checking the log against what its observer vouches for failed: %w", err)
	}
	w, wrec, err := wal.Open(dir, wopts)
	if err != nil {
		err = r.end(err)
		// A signature by a key the opener lacks is most often a writer
		// restarted with only the key a RotateKey moved it to: say so, as
		// the log is not damaged.
		var ve *VerifyError
		if errors.As(err, &ve) && ve.Reason == ReasonUnknownKey {
			ve.Expected = "a key of the Signer or DurableOptions.Keys (after a RotateKey, give the log's earlier public keys in DurableOptions.Keys)"
		}
		return nil, Recovery{}, err
	}
	ws.w = w
	l.closer = w.Close
	// Keys is every key the log has signed with: those of its records
	// too, not only the Signer's (a verifier handed Keys checks them).
	for _, pub := range r.signers {
		if _, err := l.keys.TryAdd(pub); err != nil {
			err = fmt.Errorf("%w: a key that signed the log beside the Signer: %w", ErrConfig, err)
			return nil, Recovery{}, errors.Join(err, w.Close())
		}
	}
	// A chain that retired a key must not go on with it, and RotateKey
	// must not bring it back: the chains keep their retirements. A chain
	// that retired cfg.Signer takes no record until RotateKey moves it to
	// the key its transition named (finishing a rotation a crash cut
	// short); the other chains carry on.
	id := cfg.Signer.KeyID()
	for h, ks := range r.keyst {
		if len(ks.retired) > 0 {
			c := l.chain(h.WriterID, h.Stream)
			c.retired = ks.retired // the replayer is done with it
			c.successor = make(map[KeyID]KeyID, len(ks.successor))
			for k, pub := range ks.successor {
				c.successor[k] = KeyIDOf(pub)
			}
			if at, ok := c.retired[id]; ok {
				c.signerRetired = fmt.Errorf("%w: key %s was retired at %s seq %d; sign with the key that transition names (RotateKey to it finishes a rotation cut short)",
					ErrConfig, id, names.Chain(h.WriterID, h.Stream), at)
			}
		}
	}
	for h, rf := range sealed {
		if _, ok := refused[h]; !ok {
			refused[h] = rf
		}
	}
	for h, rf := range refused {
		c := l.chain(h.WriterID, h.Stream)
		c.heldBy, c.signerRetired, c.keptSeal = rf.heldBy, rf.err, rf.kept
	}
	return l, Recovery{WAL: wrec, Records: r.records, Seals: r.seals, Heads: r.heads()}, nil
}

// refusal is why a replayed chain takes no record signed by the key
// the log was opened with (refusals): the error its appends get, and the
// key that holds it with no transition from the opener's (a later key
// that started it, or one no transition names that signed it alone from
// its first record), if that is why: RotateKey to that key moves the
// chain on to it (chain.heldBy).
type refusal struct {
	heldBy KeyID
	err    error
	kept   uint64 // chain.keptSeal
}

// refusals returns the replayed chains that take no record signed by id,
// the key the log is opened with, but for those that retired id (their
// transition says so): chains a later key started, chains a rotation
// to id, cut short, had not reached, and chains held by a key that no
// transition in the log hands on to id.
func (r *replayer) refusals(id KeyID) map[*Head]refusal {
	// Opened with the key of a rotation a crash cut short: the chains it
	// had not reached yet are last signed by the key it retires, with no
	// transition of their own. Signing them with cfg.Signer would hand
	// them over silently: a verifier holding only the old key could not
	// follow, and one holding both would still take the old key's
	// signatures there. Only the old key can write their transitions.
	// A chain with no signature in the log (checkpoint-sealed: its seals
	// are a Sealer's checkpoints, or it was not sealed yet) is the old
	// key's when its first record comes before the rotation's first
	// transition: else the new key would take it over, its Keeper signing
	// checkpoints a verifier following from the old key cannot trust.
	type handover struct {
		chain *Head
		at    uint64
		order uint64 // where the transition is in the log (keyState.handedAt)
	}
	handed := map[KeyID]handover{} // a retired key -> the earliest transition that named cfg.Signer
	for h, ks := range r.keyst {
		for old, pub := range ks.successor {
			if by, ok := handed[old]; KeyIDOf(pub) == id && (!ok || ks.handedAt[old] < by.order) {
				handed[old] = handover{h, ks.retired[old], ks.handedAt[old]}
			}
		}
	}
	out := map[*Head]refusal{}
	owners := r.keyOwners(id)
	for h, ks := range r.keyst {
		old, held := owners.heldBy(ks)
		if old == id {
			continue
		}
		if held {
			if ks.lastSigner != (KeyID{}) && len(ks.retired) == 0 && !ks.soleFrom(old, owners.firstNamed(old)) {
				// Signed by the later key, which did not start it: the
				// chain was another key's before (the opener's, say) and
				// no transition in it hands it on (a writer bypassing
				// Append's refusal). Taken on by RotateKey with no
				// transition, it would change hands unseen.
				out[h] = refusal{err: fmt.Errorf("%w: %s is signed by key %s, which a rotation from key %s handed the log to, with no key transition in it from the key that signed it before: open the log with key %s",
					ErrConfig, names.Chain(h.WriterID, h.Stream), old, id, old)}
				continue
			}
			out[h] = refusal{heldBy: old, err: fmt.Errorf("%w: %s is signed by key %s, which a rotation from key %s handed the log to: open the log with key %s (RotateKey to it finishes a rotation cut short)",
				ErrConfig, names.Chain(h.WriterID, h.Stream), old, id, old)}
			continue
		}
		by, ok := handed[old]
		if !ok && old == (KeyID{}) {
			// No signature in the log (checkpoint-sealed, its seals a
			// Sealer's checkpoints, or not sealed yet): the chain was
			// there before a transition that named cfg.Signer, so it is
			// the retired key's, which has yet to write its transition.
			for k, hv := range handed {
				if hv.order > ks.firstAt && (!ok || hv.order < by.order) {
					old, by, ok = k, hv, true
				}
			}
		}
		if ok {
			out[h] = refusal{err: fmt.Errorf("%w: %s has no key transition from key %s, which %s handed to key %s at seq %d (a rotation cut short): open the log with key %s and RotateKey to %s to finish it",
				ErrConfig, names.Chain(h.WriterID, h.Stream), old, names.Chain(by.chain.WriterID, by.chain.Stream), id, by.at, old, id)}
			continue
		}
		if _, retired := ks.retired[id]; old != (KeyID{}) && !retired {
			// Signed by a key that no transition hands the chain on from
			// to id (a newcomer's key, given the log's as a verifier
			// key): signing it with id would leave a verifier following
			// from the chain's key nothing to follow (unknown_key). Only
			// the key in force can write the transition. (A chain with
			// no signature in the log, checkpoint-sealed, says whose it
			// is only in its kept checkpoints: sealedRefusals, and a
			// chain that retired id is refused apart.)
			rf := refusal{err: fmt.Errorf("%w: %s is signed by key %s, and no key transition in the log hands it to key %s: open the log with key %s, or RotateKey from it to %s first",
				ErrConfig, names.Chain(h.WriterID, h.Stream), old, id, old, id)}
			if ks.soleFrom(old, 0) {
				// That key has signed the chain alone from its first
				// record (one started while a rotation to it ran that
				// wrote no transition, or a newcomer's own): RotateKey to
				// it takes the chain on with no transition, as one a
				// later key started (else no RotateKey could finish such
				// a rotation). Not a chain another key signed first, or
				// whose first records no one signed (checkpoint-sealed):
				// moved on so, it would change hands with no transition.
				rf.heldBy = old
			}
			out[h] = rf
		}
	}
	return out
}

// sealedRefusals returns the replayed chains that observer, a
// checkpoint.Keeper whose CheckReplay has run, found held by another key
// than id (keyrule.KeptHolders): chains with no record signature in the
// log (checkpoint-sealed) whose newest kept checkpoint, where id is in
// force, bears no signature by id. Signing them with id would take them
// over as refusals' unrelated key would a signed chain: a verifier
// following them from the key that sealed them could not follow. The
// error names that key when keys holds it.
//
// keeper is false when observer is no Keeper (or package checkpoint is
// not linked, so none can be): then no Keeper has read the checkpoints.
func (r *replayer) sealedRefusals(observer any, keys *KeySet, id KeyID) (out map[*Head]refusal, keeper bool) {
	if keyrule.KeptHolders == nil {
		return nil, false // package checkpoint is not linked: no Keeper
	}
	held, keeper := keyrule.KeptHolders(observer, sortedPubs(keys))
	out = map[*Head]refusal{}
	for _, s := range held {
		h := r.chains[s.Writer][s.Stream]
		if h == nil {
			continue // no record: CheckReplay refused it already
		}
		out[h] = refusal{kept: s.Size, err: sealedRefusal(s, id)}
	}
	return out, keeper
}

// keptRefusals is sealedRefusals for a log opened with no Keeper as
// Observer: the replayed chains, but for those refused already, whose
// newest checkpoint kept with the log in dir (dir/checkpoints, where
// node.Open and ronaudit append keep them) says another key than own
// holds them, read by the Keeper's rule as MaySign reads it
// (keyrule.KeptHolder). Without it a host sealing with SealEvery, or
// one reopening a directory a Node checkpointed, signed such a chain
// with own, which a verifier following it from the key of its kept
// checkpoints does not know. A newest checkpoint that is damaged, or
// checkpoints that cannot be read, fail the open as the Keeper's
// CheckReplay fails it; checkpoints kept in a program that does not
// link package checkpoint, which alone reads them, fail it with
// ErrConfig (keptUnread).
func (r *replayer) keptRefusals(dir string, keys *KeySet, own ed25519.PublicKey, refused map[*Head]refusal) (map[*Head]refusal, error) {
	if len(r.chains) == 0 {
		return nil, nil // no chain to take over
	}
	kept := filepath.Join(dir, "checkpoints")
	if _, err := os.Lstat(kept); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing kept with the log
	}
	if keyrule.KeptHolder == nil {
		return nil, keptUnread(kept)
	}
	pubs, id := sortedPubs(keys), KeyIDOf(own)
	out := map[*Head]refusal{}
	for _, head := range r.heads() { // in order: the first error is the same each open
		h := r.chains[head.WriterID][head.Stream]
		if _, ok := refused[h]; ok {
			continue // refused by the log's own signatures, as MaySign
		}
		retired := map[[8]byte]uint64{}
		if ks := r.keyst[h]; ks != nil {
			for k, at := range ks.retired {
				retired[k] = at
			}
		}
		s, held, err := keyrule.KeptHolder(dir, own, pubs, h.WriterID, h.Stream, retired)
		if err != nil {
			return nil, fmt.Errorf("sdk: reading the newest checkpoint of %s kept with the log, which says which key holds it: %w", names.Chain(h.WriterID, h.Stream), err)
		}
		if held {
			out[h] = refusal{kept: s.Size, err: sealedRefusal(s, id)}
		}
	}
	return out, nil
}

// keptUnread is the error of a log, opened in a program that does not
// link package checkpoint, whose kept checkpoints in dir (its
// dir/checkpoints) hold anything but directories: only that package
// reads which key they say holds each chain, and opening the log as if
// nothing were kept would let the Signer take over a chain another key
// holds. An absent or empty checkpoints directory (a Keeper makes one
// when it is made, before any checkpoint is due) holds nothing to read.
func keptUnread(dir string) error {
	found := ""
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			found = path
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sdk: reading %s, where the checkpoints kept with the log say which key holds each chain: %w", dir, err)
	}
	if found == "" {
		return nil
	}
	return fmt.Errorf("%w: %s holds kept checkpoints (%s), and only package checkpoint reads which key they say holds each chain: import github.com/rustyonions/ron-audit-go/sdk/checkpoint", ErrConfig, dir, found)
}

// sortedPubs returns the keys of keys in order (the Sealed of a note
// two of them signed names the same one each time).
func sortedPubs(keys *KeySet) []ed25519.PublicKey {
	keys.mu.RLock()
	pubs := make([]ed25519.PublicKey, 0, len(keys.keys))
	for _, pub := range keys.keys {
		pubs = append(pubs, pub)
	}
	keys.mu.RUnlock()
	slices.SortFunc(pubs, func(a, b ed25519.PublicKey) int { return bytes.Compare(a, b) })
	return pubs
}

// sealedRefusal is the error of a chain s, held by another key than id
// as its newest kept checkpoint says (sealedRefusals, and
// MaySign's keyrule.KeptHolder): one message for Append and for
// checkpoint and export, which refuse what it refuses.
func sealedRefusal(s keyrule.Sealed, id KeyID) error {
	chain := names.Chain(s.Writer, s.Stream)
	if s.Known {
		return fmt.Errorf("%w: %s is sealed by key %s (its newest kept checkpoint %s), and no key transition in the log hands it to key %s: open the log with key %s, or RotateKey from it to %s first",
			ErrConfig, chain, KeyID(s.Key), s.Path, id, KeyID(s.Key), id)
	}
	return fmt.Errorf("%w: %s is sealed by a key other than %s (its newest kept checkpoint %s bears no signature by it, nor by a key of DurableOptions.Keys), and no key transition in the log hands it to key %s: open the log with the key that sealed it, or RotateKey from it to %s first",
		ErrConfig, chain, id, s.Path, id, id)
}

// keyOwners is what a replay says of the key that holds each chain, for
// a log opened with key id.
type keyOwners struct {
	id KeyID
	// later: the keys rotations from id handed the log to, and on from
	// them: a chain one of them started (it has no transition) is not
	// id's, which would sign after the later key.
	later map[KeyID]bool
	// firstHandOff: each key's first transition in the log, and the key
	// it named: the log's key from there on (RotateKey sets it before the
	// transitions).
	firstHandOff map[KeyID]handOff
}

type handOff struct {
	to KeyID
	at uint64 // keyState.handedAt
}

// firstNamed returns where in the log (keyState.handedAt) the first
// transition that named key k is, 0 if none does.
func (o keyOwners) firstNamed(k KeyID) uint64 {
	var at uint64
	for _, f := range o.firstHandOff {
		if f.to == k && (at == 0 || f.at < at) {
			at = f.at
		}
	}
	return at
}

func (r *replayer) keyOwners(id KeyID) keyOwners {
	o := keyOwners{id: id, later: map[KeyID]bool{}, firstHandOff: map[KeyID]handOff{}}
	for frontier := []KeyID{id}; len(frontier) > 0; {
		k := frontier[len(frontier)-1]
		frontier = frontier[:len(frontier)-1]
		for _, ks := range r.keyst {
			if pub, ok := ks.successor[k]; ok {
				if n := KeyIDOf(pub); n != id && !o.later[n] {
					o.later[n] = true
					frontier = append(frontier, n)
				}
			}
		}
	}
	for _, ks := range r.keyst {
		for k, pub := range ks.successor {
			if at, ok := ks.handedAt[k]; ok {
				if f, seen := o.firstHandOff[k]; !seen || at < f.at {
					o.firstHandOff[k] = handOff{KeyIDOf(pub), at}
				}
			}
		}
	}
	return o
}

// heldBy returns the key in force at the head of the chain ks followed
// in a replay (its last signature's, handed on by the chain's own
// transitions; with no signature, the key the log had when its first
// record came), and whether that is a later key than the opener's that
// the chain did not get from it: a chain started by a later key (a
// chain that retired the opener's key is refused apart).
func (o keyOwners) heldBy(ks *keyState) (KeyID, bool) {
	old := ks.lastSigner
	for range len(ks.retired) {
		if _, retired := ks.retired[old]; !retired {
			break
		}
		old = KeyIDOf(ks.successor[old])
	}
	if old == (KeyID{}) {
		// No signature: a transition from the opener's key before the
		// chain's first record (and on from there) hands it on.
		k := o.id
		for range len(o.firstHandOff) {
			f, ok := o.firstHandOff[k]
			if !ok || f.at >= ks.firstAt || !o.later[f.to] { // (later: never back to id)
				break
			}
			k, old = f.to, f.to
		}
	}
	_, handed := ks.retired[o.id]
	return old, old != o.id && o.later[old] && !handed
}

// Summary is what VerifyDir found in a log that holds.
type Summary struct {
	WAL     wal.Recovery
	Records uint64
	Seals   uint64
	Heads   []Head       // every chain's head, by writer, then stream
	Retired []Retirement // key transitions of every chain (see Result.Retired)
}

// VerifyDir verifies a durable log directory without opening it for
// writing (it takes no lock and changes nothing): every record's hash,
// canonical bytes, link and signature under keys, frame by frame. With
// keys nil it checks everything but signatures. progress,
// if set, is called after every record with the count so far and where
// the record is in the log (signatures are checked in batches, so the
// count runs up to a few thousand records ahead of them). A torn tail is
// reported in the Summary, not as a failure; records after the last
// signature of a chain fail with ReasonUnsealedTail unless
// allowUnsealedTail (of several such chains, the first by writer, then
// stream). VerifyDir reads no checkpoint: a log whose seals
// are a checkpoint.Keeper's (the checkpoint-sealed policy with a Keeper
// as Observer) fails here with ReasonUnsealedTail even after a clean
// Close, unless allowUnsealedTail: verify it with checkpoint.VerifyDir,
// which checks the log and the checkpoints kept with it (DIR/checkpoints)
// in one pass, as ronaudit verify does.
// A directory with no segment file (Open creates the first at once: a
// wrong path, or a log whose segments are all gone) fails with a
// *wal.CorruptError naming the missing first segment, in a *DurableError.
// The first failure is a *DurableError (or, for a segment of a format
// version this reader does not know, the *wal.VersionError naming it);
// Summary.Records then counts the records before it, and Heads and
// Retired are as far as the log was read.
func VerifyDir(dir string, keys *KeySet, allowUnsealedTail bool, progress func(records uint64, at wal.Position)) (Summary, error) {
	var fn func(Head, Sealed, wal.Position)
	if progress != nil {
		var n uint64
		fn = func(_ Head, _ Sealed, at wal.Position) { n++; progress(n, at) }
	}
	return VerifyDirFunc(dir, keys, allowUnsealedTail, fn)
}

// VerifyDirFunc is VerifyDir that hands each record over as it is read,
// in log order: fn, if set, is called with the head of the record's chain
// after it (its WriterID, Stream, Seq and record Hash; SealedSeq as far
// as read) and the record (rec.Bytes is only valid during the call), and
// where the record is in the log. One pass then both verifies a log and
// builds what the caller keeps of it (checkpoint.VerifyDir builds the
// roots of its chains' Merkle trees so). fn sees a record once its hash,
// canonical bytes and link hold; signatures are checked in batches, so
// when VerifyDirFunc fails, the records fn saw from the failing one on do
// not hold.
func VerifyDirFunc(dir string, keys *KeySet, allowUnsealedTail bool, fn func(h Head, rec Sealed, at wal.Position)) (Summary, error) {
	r := newReplayer(keys)
	if fn != nil {
		r.onRecord = func(h *Head, rec Sealed, _ canonical.AuditRecordView) { fn(*h, rec, r.pos) }
	}
	wrec, err := wal.ReadDir(dir, r.frame)
	err = r.end(noSegments(dir, wrec, err))
	sum := Summary{WAL: wrec, Records: r.records, Seals: r.seals, Heads: r.heads(), Retired: r.retirements()}
	if err != nil {
		return sum, err
	}
	return sum, r.unsealed(sum.Heads, allowUnsealedTail)
}

// noSegments is err, or, for a directory that holds no segment file, a
// *wal.CorruptError naming the missing first segment: Open creates it at
// once, so such a directory is no log (a wrong path), or one whose
// segments are all gone, not a log with nothing wrong in it.
func noSegments(dir string, rec wal.Recovery, err error) error {
	if err != nil || rec.Segments > 0 {
		return err
	}
	return &wal.CorruptError{File: filepath.Join(dir, wal.SegmentName(1)),
		Reason: "segment 1 is missing: no segment files (*.seg) in the directory (not a log directory, or its segments are gone)"}
}

// VerifyDirChain verifies the one chain (writer, stream) of a durable log
// directory as VerifyDir verifies them all: its records' hashes,
// canonical bytes, links and signatures under keys (with its key
// transitions), its seals, from seq 1 on. Records and seals of other
// chains are skipped, so keys need only hold this chain's signers; a
// record whose bytes cannot be read fails whatever its chain, and a damaged
// frame anywhere is corruption. fn, if set, is called with each of the
// chain's records in seq order as it is read (rec.Bytes is only valid
// during the call): signatures are checked in batches, so when
// VerifyDirChain fails, the records fn saw from the failing one on do not
// hold. The Result has the chain's record count, head and key
// transitions (on a failure, up to the last record verified before it,
// as VerifyChain's); a chain the log does not hold has 0 records. A
// directory with no segment file fails as in VerifyDir.
func VerifyDirChain(dir, writer, stream string, keys *KeySet, allowUnsealedTail bool, fn func(rec Sealed)) (Result, error) {
	r := newReplayer(keys)
	r.only = &[2]string{writer, stream}
	if fn != nil {
		r.onRecord = func(_ *Head, rec Sealed, _ canonical.AuditRecordView) { fn(rec) }
	}
	wrec, err := wal.ReadDir(dir, r.frame)
	err = r.end(noSegments(dir, wrec, err))
	res := Result{Head: Head{WriterID: writer, Stream: stream}}
	if h := r.chains[writer][stream]; h != nil {
		res.Head, res.Records = *h, int(h.Seq)
		if ks := r.keyst[h]; ks != nil {
			res.Retired = ks.retirements(writer, stream)
		}
	}
	if r.sigErr != nil { // end returns it whenever it is set
		// A bad signature found in a batch: the chain was read past it,
		// and nothing from it on holds. The Result is as far as one got,
		// as VerifyChain's is.
		res.Head, res.Records = r.sigHead, int(r.sigHead.Seq)
		res.Retired = slices.DeleteFunc(res.Retired, func(rt Retirement) bool { return rt.Seq > r.sigHead.Seq })
	}
	if err != nil {
		return res, err
	}
	return res, r.unsealed([]Head{res.Head}, allowUnsealedTail)
}

// VerifySegment verifies one segment file of a durable log on its own, as
// VerifyDir verifies a directory, except that the first record of each
// chain in the file is taken as the chain's start: its link to records in
// earlier segments is not checked, and neither are key transitions in
// earlier segments (a key one retired there verifies in this file if keys
// holds it; VerifyDir reads every transition).
func VerifySegment(path string, keys *KeySet, allowUnsealedTail bool, progress func(records uint64, at wal.Position)) (Summary, error) {
	return verifySegment(path, keys, allowUnsealedTail, progress, func(fn func(wal.Frame) error) (wal.SegmentInfo, error) {
		return wal.ReadSegmentFile(path, true, fn)
	})
}

// verifySegment is VerifySegment over the frames read yields (the file at
// path, or bytes in a test).
func verifySegment(path string, keys *KeySet, allowUnsealedTail bool, progress func(records uint64, at wal.Position), read func(func(wal.Frame) error) (wal.SegmentInfo, error)) (Summary, error) {
	r := newReplayer(keys)
	r.trustFirst = true
	if progress != nil {
		r.onRecord = func(*Head, Sealed, canonical.AuditRecordView) { progress(r.records, r.pos) }
	}
	info, err := read(r.frame)
	err = r.end(err)
	sum := Summary{WAL: wal.Recovery{Segments: 1, Frames: r.records + r.seals}, Records: r.records, Seals: r.seals, Heads: r.heads(), Retired: r.retirements()}
	if info.TornBytes > 0 {
		sum.WAL.TornBytes, sum.WAL.TornAt, sum.WAL.TornReason = info.TornBytes, wal.Position{File: path, Offset: info.End}, info.TornReason
	}
	if err != nil {
		return sum, err
	}
	return sum, r.unsealed(sum.Heads, allowUnsealedTail)
}

// unsealed fails on the first of heads with an unsealed tail, unless
// allow. The count is of the chain's records before the tail.
func (r *replayer) unsealed(heads []Head, allow bool) error {
	if allow {
		return nil
	}
	for _, h := range heads {
		if h.SealedSeq < h.Seq {
			var base uint64
			if p := r.chains[h.WriterID][h.Stream]; p != nil {
				base = r.base[p]
			}
			return &DurableError{WriterID: h.WriterID, Stream: h.Stream, Seq: h.SealedSeq + 1,
				Err: &VerifyError{WriterID: h.WriterID, Stream: h.Stream, Seq: h.SealedSeq + 1, Reason: ReasonUnsealedTail,
					Expected: "a signature at or after seq " + strconv.FormatUint(h.SealedSeq+1, 10),
					Got:      "no signature after seq " + strconv.FormatUint(h.SealedSeq, 10), Verified: int(h.SealedSeq - base)}}
		}
	}
	return nil
}

// ReadDir calls fn with every record of a durable log directory in log
// order, and where it is in the log (no verification; VerifyDir checks).
// Signatures added by later seals are not attached.
func ReadDir(dir string, fn func(rec Sealed, pos wal.Position) error) (wal.Recovery, error) {
	return wal.ReadDir(dir, recordFrames(fn))
}

// ReadSegment is ReadDir on one segment file (read as the last segment of
// its log: a torn tail ends it, reported in the SegmentInfo).
func ReadSegment(path string, fn func(rec Sealed, pos wal.Position) error) (wal.SegmentInfo, error) {
	return wal.ReadSegmentFile(path, true, recordFrames(fn))
}

// recordFrames adapts fn to the WAL's frames: records go to fn, seals are
// skipped.
func recordFrames(fn func(rec Sealed, pos wal.Position) error) func(wal.Frame) error {
	return func(f wal.Frame) error {
		if f.Type != frameRecord {
			return nil
		}
		rec, err := parseRecordFrame(f.Payload)
		if err != nil {
			return &DurableError{Position: wal.Position{File: f.File, Offset: f.Offset}, Err: err}
		}
		return fn(rec, wal.Position{File: f.File, Offset: f.Offset})
	}
}

// MaySign returns nil when key pub may sign chain (writer, stream) of the
// durable log in dir, else the error (matching ErrConfig) Log.Append gives
// on that log opened with pub, a checkpoint.Keeper kept in
// dir/checkpoints and pubs as DurableOptions.Keys: the chain is held by
// another key that no key transition in the log hands on to pub (a later
// key started it, a rotation to pub cut short has not reached it, pub is
// a key the log never named), or, checkpoint-sealed, its newest
// checkpoint kept in dir/checkpoints is signed by such a key. It is for
// what signs a chain of a log without opening it (a checkpoint or export
// bundle made beside the log's writer: ronaudit checkpoint and export,
// export.Exporter.Export), so that nothing signs what a verifier
// following the log's keys could not trust. A key the chain retired is
// not refused here, unlike Append: it may still vouch for the chain up to
// its transition (checkpoint.InForce), so the caller, which knows the
// size it signs, checks that (as Export and ronaudit checkpoint and
// export do).
//
// MaySign reads the log without verifying it, and checks no signature:
// the caller verifies the chain it signs (a replay verifying every chain
// would need every key of the log and refuse a log damaged in another
// chain). A record that fails the replay is skipped. A chain the log does
// not hold is pub's to start. An error reading the log, or the
// checkpoints kept with it, is returned as it is, and so is a newest kept
// checkpoint, of a checkpoint-sealed chain where pub is in force, that is
// damaged rather than signed by another key (a *checkpoint.DirError
// naming the file, matching checkpoint.ErrBadSignature or ErrFormat), as
// the Keeper of the log opened with pub refuses it.
//
// Package checkpoint reads the kept checkpoints; a program that does not
// link it (imports none of sdk/checkpoint, sdk/export, sdk/node) gets an
// ErrConfig from MaySign when dir/checkpoints exists, rather than a nil
// that did not look.
func MaySign(dir string, pub ed25519.PublicKey, pubs []ed25519.PublicKey, writer, stream string) error {
	id := KeyIDOf(pub)
	r := newReplayer(nil)
	if _, err := wal.ReadDir(dir, func(f wal.Frame) error {
		_ = r.replay(f)
		return nil
	}); err != nil {
		return err
	}
	h := r.chains[writer][stream]
	if h == nil {
		return nil
	}
	if rf, ok := r.refusals(id)[h]; ok {
		return rf.err
	}
	if keyrule.KeptHolder == nil {
		kept := filepath.Join(dir, "checkpoints")
		if _, err := os.Lstat(kept); err == nil {
			return fmt.Errorf("%w: %s holds kept checkpoints, and only package checkpoint reads them: import github.com/rustyonions/ron-audit-go/sdk/checkpoint", ErrConfig, kept)
		}
		return nil // nothing kept with the log
	}
	retired := map[[8]byte]uint64{}
	if ks := r.keyst[h]; ks != nil {
		for k, at := range ks.retired {
			retired[k] = at
		}
	}
	s, held, err := keyrule.KeptHolder(dir, pub, pubs, writer, stream, retired)
	if err != nil {
		return err
	}
	if held {
		return sealedRefusal(s, id)
	}
	return nil
}
