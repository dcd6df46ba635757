package export

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/merkle"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// Summary is what one verified bundle holds.
type Summary struct {
	Origin   string
	WriterID string
	Stream   string
	PrevSize int64 // m: the previous export's tree size
	Size     int64 // S: the checkpoint's tree size
	Records  int   // S - m
	Signed   int   // records that carry a signature (verified when keys were given)
	// Head is the chain after the bundle's last record (seq S).
	Head sdk.Head
	// FirstPrev is the prev of the first record: the hash of record m,
	// which only the previous bundle can confirm (VerifySequence does).
	FirstPrev canonical.Hash
	// Checkpoint is the verified checkpoint at S; Prev the verified
	// previous checkpoint at m (nil when m is 0).
	Checkpoint checkpoint.Checkpoint
	Prev       *checkpoint.Checkpoint
}

// KeyVerifiers returns note verifiers that accept a checkpoint signature
// by any of pubs under any key name (the key hash binds name and key):
// what a verifier holding only public keys needs for Open. It is
// checkpoint.KeyVerifiers.
func KeyVerifiers(pubs ...ed25519.PublicKey) note.Verifiers { return checkpoint.KeyVerifiers(pubs...) }

// VerifyBundle verifies one bundle offline (FORMAT.md, "Verifying"):
//
//   - the format (Parse), with every record's CRC-32C;
//   - the checkpoint at S: a signed note with a signature by a key of
//     verifiers, of the bundle's origin and size; and, for m > 0, the
//     previous checkpoint at m likewise;
//   - the compact range hashes to the previous checkpoint's root (the
//     empty tree's for m = 0), and the consistency proof shows the
//     checkpoint at S extending it;
//   - every record: its hash, its canonical bytes, its signature when it
//     has one (under keys; with keys nil signatures are not checked), its
//     chain, writer and stream those of the origin, seqs m+1..S in order,
//     each linked to the one before (the first to the genesis hash when m
//     is 0; otherwise its link is the previous bundle's to confirm);
//   - the root recomputed from the compact range and the record hashes is
//     the checkpoint's root, so the signed checkpoint vouches for exactly
//     these records.
//
// The first failure is an *Error: ReasonFormat, ReasonBadCheckpoint,
// ReasonConsistency, ReasonRecord (with Seq) or ReasonRoot.
//
// A bundle with m > 0 trusts its previous checkpoint for records 1..m,
// and the key transitions among them are not in it: a key they retired
// verifies here if keys and verifiers hold it. VerifySequence, from the
// chain's first bundle, follows every transition.
func VerifyBundle(data []byte, verifiers note.Verifiers, keys *sdk.KeySet) (Summary, error) {
	s, _, err := verifyBundle(data, verifiers, newKeyTracker(keys))
	return s, err
}

func verifyBundle(data []byte, verifiers note.Verifiers, kt *keyTracker) (s Summary, _ *Bundle, err error) {
	b, err := Parse(data)
	if err != nil {
		return Summary{}, nil, err
	}
	s.Origin, s.PrevSize, s.Size, s.Records = b.Origin, b.PrevSize, b.Size, len(b.Records)
	if s.WriterID, s.Stream, err = checkpoint.ParseOrigin(b.Origin); err != nil {
		return s, nil, &Error{Reason: ReasonFormat, Detail: "origin", Err: err}
	}
	defer func() { // errors name the chain
		if e, ok := err.(*Error); ok && e.Origin == "" {
			e.Origin = b.Origin
		}
	}()
	if verifiers == nil {
		return s, nil, newErr(ReasonBadCheckpoint, 0, "no checkpoint verifiers (public keys) given")
	}
	if kt != nil {
		// Keys that signed transitions name may sign checkpoints too (a
		// verifier holding the old key follows a rotation); the records
		// check the transitions' signatures below, and InForce the
		// checkpoints' keys.
		kt.learn(b)
		verifiers = kt.withLearned(verifiers)
	}
	cp, err := openNote(b.Note, verifiers, b.Origin, b.Size, "the signed checkpoint")
	if err != nil {
		return s, nil, err
	}
	s.Checkpoint = cp
	old := checkpoint.Checkpoint{Origin: b.Origin, Root: merkle.EmptyRoot, WriterID: s.WriterID, Stream: s.Stream}
	if b.PrevSize > 0 {
		if old, err = openNote(b.PrevNote, verifiers, b.Origin, b.PrevSize, "the previous signed checkpoint"); err != nil {
			return s, nil, err
		}
		s.Prev = &old
	}
	acc := merkle.NewRange(b.PrevSize, b.Range)
	if got := acc.Root(); got != old.Root {
		return s, nil, &Error{Reason: ReasonConsistency, Seq: uint64(b.PrevSize), Detail: "the compact range does not hash to the previous checkpoint's root",
			Expected: b64(old.Root), Got: b64(got)}
	}
	if err := checkpoint.VerifyConsistency(old, cp, b.Proof); err != nil {
		return s, nil, &Error{Reason: ReasonConsistency, Detail: "consistency proof " + strconv.FormatInt(b.PrevSize, 10) + " -> " + strconv.FormatInt(b.Size, 10), Err: err}
	}
	if err := verifyRecords(b, &s, kt); err != nil {
		return s, nil, err
	}
	if kt != nil {
		// A key retired before a checkpoint's size vouches for nothing
		// after its transition: forged records after it would pass.
		retired := kt.retirements(s.WriterID, s.Stream)
		if err := checkpoint.InForce(cp, retired); err != nil {
			return s, nil, &Error{Reason: ReasonBadCheckpoint, Seq: uint64(b.Size), Detail: "the signed checkpoint", Err: err}
		}
		if b.PrevSize > 0 {
			if err := checkpoint.InForce(old, retired); err != nil {
				return s, nil, &Error{Reason: ReasonBadCheckpoint, Seq: uint64(b.PrevSize), Detail: "the previous signed checkpoint", Err: err}
			}
		}
	}
	for i := range b.Records {
		acc.Push(leafHash(b.Records[i].Hash))
	}
	if got := acc.Root(); got != cp.Root {
		return s, nil, &Error{Reason: ReasonRoot, Seq: uint64(b.Size), Detail: "the root of the compact range and the bundle's records is not the checkpoint's",
			Expected: b64(cp.Root), Got: b64(got)}
	}
	return s, b, nil
}

// openNote opens a signed checkpoint of the bundle and checks it is of
// origin at size.
func openNote(msg []byte, verifiers note.Verifiers, origin string, size int64, what string) (checkpoint.Checkpoint, error) {
	cp, err := checkpoint.Open(msg, verifiers)
	if err != nil {
		return cp, &Error{Reason: ReasonBadCheckpoint, Seq: uint64(size), Detail: what, Err: err}
	}
	if cp.Origin != origin || cp.Size != size {
		return cp, &Error{Reason: ReasonBadCheckpoint, Seq: uint64(size), Detail: what + " is not the bundle's",
			Expected: strconv.Quote(origin) + " size " + strconv.FormatInt(size, 10),
			Got:      strconv.Quote(cp.Origin) + " size " + strconv.FormatInt(cp.Size, 10)}
	}
	return cp, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// verifyRecords checks each record on its own (in parallel), then the
// chain in order.
// keyTracker follows key transitions (sdk.RotateKey) across the records
// of a bundle sequence: keys holds the trusted keys and those transitions
// named, validFrom the seq from which a named key may sign, retired the
// seq after which a retired key may not.
type keyTracker struct {
	keys      *sdk.KeySet
	validFrom map[sdk.KeyID]uint64
	retired   map[sdk.KeyID]uint64
	next      map[sdk.KeyID]ed25519.PublicKey // retired key -> the key its transition named
}

func newKeyTracker(keys *sdk.KeySet) *keyTracker {
	if keys == nil {
		return nil
	}
	return &keyTracker{keys: keys.Clone(), validFrom: map[sdk.KeyID]uint64{}, retired: map[sdk.KeyID]uint64{}, next: map[sdk.KeyID]ed25519.PublicKey{}}
}

// learn scans the bundle for transitions before its signatures are
// checked, so that records signed by a named key verify; check then
// refuses what the order of the chain does not allow.
func (kt *keyTracker) learn(b *Bundle) {
	marker := []byte(sdk.KeyTransitionAttr)
	for i, rec := range b.Records {
		if !rec.Signed || !bytes.Contains(rec.Bytes, marker) {
			continue
		}
		v, err := canonical.OpenAuditRecord(rec.Bytes)
		if err != nil {
			continue
		}
		pub, ok, err := sdk.KeyTransition(v)
		if !ok || err != nil {
			continue
		}
		seq := uint64(b.PrevSize) + 1 + uint64(i)
		// A key the verifier trusts already (given to it, or named by an
		// earlier transition) keeps its trust; only a key the transition
		// introduces signs from the record after it on.
		if _, trusted := kt.keys.Lookup(sdk.KeyIDOf(pub)); !trusted {
			kt.validFrom[kt.keys.Add(pub)] = seq + 1
		}
		if _, done := kt.retired[rec.KeyID]; !done {
			kt.retired[rec.KeyID], kt.next[rec.KeyID] = seq, pub
		}
	}
}

// withLearned returns verifiers that also accept checkpoint signatures by
// the keys transitions have named so far (under any name, as
// KeyVerifiers).
func (kt *keyTracker) withLearned(verifiers note.Verifiers) note.Verifiers {
	var learned []ed25519.PublicKey
	for id := range kt.validFrom {
		if pub, ok := kt.keys.Lookup(id); ok {
			learned = append(learned, pub)
		}
	}
	if len(learned) == 0 {
		return verifiers
	}
	return eitherVerifiers{verifiers, checkpoint.KeyVerifiers(learned...)}
}

// retirements lists the transitions seen, each with the key it retired
// and the key it named, as checkpoint.InForce takes them: the retired key
// vouches for no size past the transition, the named one for none below.
func (kt *keyTracker) retirements(writer, stream string) []sdk.Retirement {
	var out []sdk.Retirement
	for id, at := range kt.retired {
		pub, _ := kt.keys.Lookup(id)
		out = append(out, sdk.Retirement{WriterID: writer, Stream: stream, KeyID: id, Pub: pub, Seq: at, Next: kt.next[id]})
	}
	return out
}

// eitherVerifiers finds a verifier in the first set, else in the second.
type eitherVerifiers [2]note.Verifiers

func (e eitherVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	v, err := e[0].Verifier(name, hash)
	if err == nil {
		return v, nil
	}
	if v, err2 := e[1].Verifier(name, hash); err2 == nil {
		return v, nil
	}
	return nil, err
}

// check refuses a record signed by a key out of force at its seq, and a
// malformed or unsigned transition.
func (kt *keyTracker) check(rec sdk.Sealed, v canonical.AuditRecordView, seq uint64) error {
	next, ok, err := sdk.KeyTransition(v)
	if ok {
		bad := func(got string) error {
			return &sdk.VerifyError{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: seq, Reason: sdk.ReasonBadTransition,
				Expected: "a signed transition naming an Ed25519 key", Got: got}
		}
		id := sdk.KeyIDOf(next)
		switch at, retired := kt.retired[id]; {
		case err != nil:
			return bad(err.Error())
		case !rec.Signed:
			return bad("an unsigned record")
		case id == rec.KeyID:
			return bad("a transition naming the key that signs it")
		case retired && at < seq:
			return bad("a transition naming key " + id.String() + ", retired at seq " + fmt.Sprint(at))
		}
	}
	if !rec.Signed {
		return nil
	}
	if from, ok := kt.validFrom[rec.KeyID]; ok && seq < from {
		return &sdk.VerifyError{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: seq, Reason: sdk.ReasonUnknownKey,
			Expected: "a key in force at seq " + fmt.Sprint(seq), Got: "key " + rec.KeyID.String() + ", named from seq " + fmt.Sprint(from)}
	}
	if at, ok := kt.retired[rec.KeyID]; ok && seq > at {
		return &sdk.VerifyError{WriterID: string(v.WriterID()), Stream: string(v.Stream()), Seq: seq, Reason: sdk.ReasonRetiredKey,
			Expected: "a key in force at seq " + fmt.Sprint(seq), Got: "key " + rec.KeyID.String() + ", retired at seq " + fmt.Sprint(at)}
	}
	return nil
}

func verifyRecords(b *Bundle, s *Summary, kt *keyTracker) error {
	var keys *sdk.KeySet
	if kt != nil {
		keys = kt.keys // kt.learn(b) ran in verifyBundle
	}
	n := len(b.Records)
	views := make([]canonical.AuditRecordView, n)
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), (n+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				rec := b.Records[i]
				if keys == nil {
					rec.Signed = false
				}
				views[i], errs[i] = sdk.VerifyRecord(rec, keys)
			}
		}()
	}
	wg.Wait()
	head := sdk.Head{WriterID: s.WriterID, Stream: s.Stream, Seq: uint64(b.PrevSize), Hash: canonical.Genesis}
	for i := range b.Records {
		seq := uint64(b.PrevSize) + 1 + uint64(i)
		if errs[i] != nil {
			return recordErr(errs[i], s, seq, i)
		}
		v := views[i]
		if i == 0 {
			copy(s.FirstPrev[:], v.Prev())
			if b.PrevSize > 0 {
				head.Hash = s.FirstPrev // confirmed by the previous bundle, not here
			}
		}
		if err := sdk.VerifyLink(head, v); err != nil {
			return recordErr(err, s, seq, i)
		}
		if kt != nil {
			if err := kt.check(b.Records[i], v, seq); err != nil {
				return recordErr(err, s, seq, i)
			}
		}
		if b.Records[i].Signed {
			s.Signed++
		}
		head.Seq, head.Hash = seq, b.Records[i].Hash
		if b.Records[i].Signed {
			head.SealedSeq = seq
		}
	}
	s.Head = head
	return nil
}

// recordErr is the failure err of the bundle's record i, at seq. The
// *sdk.VerifyError inside names that seq (VerifyRecord and VerifyLink
// name the seq the bytes claim, which damaged bytes make anything) and
// counts the bundle's records verified before it; for bytes changed
// since they were hashed, or not a record, the bundle's chain, not the
// names the bytes give.
func recordErr(err error, s *Summary, seq uint64, i int) error {
	var ve *sdk.VerifyError
	if errors.As(err, &ve) {
		ve.Seq, ve.Verified = seq, i
		if ve.Reason == sdk.ReasonHashMismatch || ve.Reason == sdk.ReasonNotCanonical {
			ve.WriterID, ve.Stream = s.WriterID, s.Stream
		}
	}
	return &Error{Reason: ReasonRecord, Seq: seq, Err: err}
}

// Named is one bundle of a sequence and the name errors give it.
type Named struct {
	Name string
	Data []byte
}

// SequenceSummary is what a verified sequence of bundles holds.
type SequenceSummary struct {
	Origin     string
	Bundles    []Summary
	Records    int64                  // records 1..Size
	Head       sdk.Head               // the chain after the last bundle
	Checkpoint checkpoint.Checkpoint  // the last bundle's checkpoint
	Trusted    *checkpoint.Checkpoint // the trusted checkpoint it was checked against, if any
}

// VerifySequence verifies bundles as the consecutive exports of one chain
// from its first record: each bundle (VerifyBundle), the first starting at
// seq 1, each next one starting where the one before ended (its previous
// size and checkpoint are the previous bundle's size and checkpoint, else
// ReasonGap or ReasonFork), and its first record linking to the previous
// bundle's last record (ReasonRecord). Given trusted, the latest checkpoint
// of the chain the verifier trusts (opened with checkpoint.Open), the
// sequence must reach it (else ReasonTruncated: the tail was cut or
// rolled back) and its first trusted.Size records must hash to its root
// (else ReasonFork). The trusted checkpoint obeys the key rotations of the
// bundles as their own checkpoints do: with keys given, one larger than a
// transition's seq whose every verified signature is by the key that
// transition retired is ReasonBadCheckpoint (its Err matches
// checkpoint.ErrRetiredKey). A checkpoint opened before the bundles were
// read cannot have been signed by a key their transitions name;
// VerifySequenceTrusted opens it after them. Errors name the bundle.
func VerifySequence(bundles []Named, verifiers note.Verifiers, keys *sdk.KeySet, trusted *checkpoint.Checkpoint) (SequenceSummary, error) {
	return verifySequence(len(bundles), sliceBundles(bundles), verifiers, keys, trusted, nil)
}

// sliceBundles gives the bundles of a slice to verifySequence.
func sliceBundles(bundles []Named) func(int) (Named, error) {
	return func(i int) (Named, error) { return bundles[i], nil }
}

// VerifySequenceTrusted is VerifySequence given the trusted checkpoint as
// its signed note (nil for none), which it opens once the bundles are
// verified, with verifiers and, when keys are given, the keys the bundles'
// transitions named: a verifier holding only the old key trusts the new
// one through a rotation for the trusted checkpoint too, as it does for
// the bundles' checkpoints (FORMAT.md, "Verifying one bundle", step 6).
// A note that does not open is ReasonBadCheckpoint with the
// *checkpoint.Error as its Err.
func VerifySequenceTrusted(bundles []Named, verifiers note.Verifiers, keys *sdk.KeySet, trustedNote []byte) (SequenceSummary, error) {
	return verifySequence(len(bundles), sliceBundles(bundles), verifiers, keys, nil, trustedNote)
}

// verifySequence verifies the n bundles bundle gives, in order, asking
// for each when its turn comes: a directory's are read one at a time, so
// a chain's whole history is never in memory at once, and a bundle that
// fails is reported before a later one that cannot be read. An error of
// bundle is returned as it is.
func verifySequence(n int, bundle func(i int) (Named, error), verifiers note.Verifiers, keys *sdk.KeySet, trusted *checkpoint.Checkpoint, trustedNote []byte) (SequenceSummary, error) {
	var out SequenceSummary
	if n == 0 {
		return out, newErr(ReasonFormat, 0, "no bundles")
	}
	tree := checkpoint.NewTree()
	kt := newKeyTracker(keys) // key transitions hold across the bundles
	var last Summary
	origin := ""    // of the bundle being verified, once it is known
	var name string // of the bundle being verified, then of the last
	named := func(i int, e *Error) error {
		e.Bundle = name
		if e.Bundle == "" {
			e.Bundle = "#" + strconv.Itoa(i+1)
		}
		if e.Origin == "" {
			e.Origin = origin
		}
		return e
	}
	for i := range n {
		nb, err := bundle(i)
		if err != nil {
			return out, err
		}
		name = nb.Name
		s, b, err := verifyBundle(nb.Data, verifiers, kt)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return out, named(i, e)
			}
			return out, err
		}
		origin = s.Origin
		if i == 0 {
			out.Origin = s.Origin
			if s.PrevSize != 0 {
				return out, named(i, &Error{Reason: ReasonGap, Seq: 1, Detail: "the sequence does not start at the chain's first record",
					Expected: "a first bundle from seq 1", Got: "from seq " + strconv.FormatInt(s.PrevSize+1, 10)})
			}
		} else {
			switch {
			case s.Origin != last.Origin:
				return out, named(i, &Error{Reason: ReasonFormat, Detail: "a bundle of another chain", Expected: last.Origin, Got: s.Origin})
			case s.PrevSize != last.Size:
				what := "a bundle is missing"
				if s.PrevSize < last.Size {
					what = "the bundle overlaps the one before"
				}
				return out, named(i, &Error{Reason: ReasonGap, Seq: uint64(last.Size) + 1, Detail: what,
					Expected: "records from seq " + strconv.FormatInt(last.Size+1, 10), Got: "from seq " + strconv.FormatInt(s.PrevSize+1, 10)})
			case s.Prev.Root != last.Checkpoint.Root:
				return out, named(i, &Error{Reason: ReasonFork, Seq: uint64(s.PrevSize), Detail: "the previous checkpoint is not the previous bundle's",
					Expected: b64(last.Checkpoint.Root), Got: b64(s.Prev.Root)})
			case s.FirstPrev != last.Head.Hash:
				return out, named(i, &Error{Reason: ReasonRecord, Seq: uint64(s.PrevSize) + 1, Detail: "the first record does not link to the previous bundle's last record",
					Expected: last.Head.Hash.String(), Got: s.FirstPrev.String()})
			}
		}
		for j := range b.Records {
			tree.Append(b.Records[j].Hash)
		}
		out.Bundles = append(out.Bundles, s)
		last = s
	}
	out.Records, out.Head, out.Checkpoint = last.Size, last.Head, last.Checkpoint
	lastName := n - 1
	if trustedNote != nil {
		// Opened after the bundles: the keys their transitions named are
		// known now (a verifier holding the old key follows a rotation).
		vs := verifiers
		if kt != nil {
			vs = kt.withLearned(verifiers)
		}
		cp, err := checkpoint.Open(trustedNote, vs)
		if err != nil {
			return out, named(lastName, &Error{Reason: ReasonBadCheckpoint, Detail: "the trusted checkpoint", Err: err})
		}
		trusted = &cp
	}
	if trusted != nil {
		if trusted.Origin != out.Origin {
			return out, named(lastName, &Error{Reason: ReasonBadCheckpoint, Detail: "the trusted checkpoint is of another chain", Expected: out.Origin, Got: trusted.Origin})
		}
		if kt != nil {
			// A key retired before the trusted checkpoint's size vouches
			// for it no more than for the bundles' own checkpoints.
			if retired := kt.retirements(last.WriterID, last.Stream); len(retired) > 0 {
				if err := checkpoint.InForce(*trusted, retired); err != nil {
					return out, named(lastName, &Error{Reason: ReasonBadCheckpoint, Seq: uint64(trusted.Size), Detail: "the trusted checkpoint", Err: err})
				}
			}
		}
		if trusted.Size > last.Size {
			return out, named(lastName, &Error{Reason: ReasonTruncated, Seq: uint64(last.Size) + 1, Detail: "the sequence stops short of the trusted checkpoint (its tail was cut or rolled back)",
				Expected: "records up to seq " + strconv.FormatInt(trusted.Size, 10), Got: "records up to seq " + strconv.FormatInt(last.Size, 10)})
		}
		root, err := tree.RootAt(trusted.Size)
		if err != nil {
			return out, err
		}
		if root != trusted.Root {
			return out, named(lastName, &Error{Reason: ReasonFork, Seq: uint64(trusted.Size), Detail: "the first " + strconv.FormatInt(trusted.Size, 10) + " records do not hash to the trusted checkpoint's root (history was rewritten)",
				Expected: b64(trusted.Root), Got: b64(root)})
		}
		out.Trusted = trusted
	}
	return out, nil
}

// VerifyDir verifies the *.bundle files directly in dir (a FileSink's
// directory of one chain) as a sequence, in name order (VerifySequence),
// reading each bundle when its turn comes: one is in memory at a time,
// and a bundle that fails is the verdict even when a later file cannot
// be read (that file's error, from ReadFile, is returned only when every
// bundle before it verified). Errors name the bundle by its file name. A
// dir "" is sdk.ErrConfig (ListDir), a directory holding no bundles
// ErrNoBundles.
func VerifyDir(dir string, verifiers note.Verifiers, keys *sdk.KeySet, trusted *checkpoint.Checkpoint) (SequenceSummary, error) {
	n, bundle, err := dirBundles(dir)
	if err != nil {
		return SequenceSummary{}, err
	}
	return verifySequence(n, bundle, verifiers, keys, trusted, nil)
}

// dirBundles lists the *.bundle files directly in dir, in name order, and
// reads the i-th when asked (ReadFile), so that a sequence is verified
// holding one bundle at a time, not a chain's every bundle.
func dirBundles(dir string) (int, func(int) (Named, error), error) {
	paths, err := ListDir(dir)
	if err != nil {
		return 0, nil, err
	}
	if len(paths) == 0 {
		return 0, nil, fmt.Errorf("%w in %s", ErrNoBundles, dir)
	}
	return len(paths), func(i int) (Named, error) {
		data, err := ReadFile(paths[i])
		if err != nil {
			return Named{}, err
		}
		return Named{Name: filepath.Base(paths[i]), Data: data}, nil
	}, nil
}

// VerifyDirTrusted is VerifyDir given the trusted checkpoint as its signed
// note, opened after the bundles as VerifySequenceTrusted opens it.
func VerifyDirTrusted(dir string, verifiers note.Verifiers, keys *sdk.KeySet, trustedNote []byte) (SequenceSummary, error) {
	n, bundle, err := dirBundles(dir)
	if err != nil {
		return SequenceSummary{}, err
	}
	return verifySequence(n, bundle, verifiers, keys, nil, trustedNote)
}
