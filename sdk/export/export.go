// Package export writes and verifies export bundles of ron-audit chains:
// self-contained files, each holding the records of one chain since the
// previous export, the signed checkpoint (package checkpoint) that covers
// them, the previous export's checkpoint and a consistency proof back to
// it, and the compact range of the tree at the previous export, so that
// one bundle is verifiable offline with only the public key, and a
// sequence of bundles proves the whole chain and that nothing was cut,
// rolled back or rewritten. The byte format is FORMAT.md.
//
// Exporter.Export reads a durable log directory (sdk.ReadDir) and writes
// the next bundle of a chain to a Sink (FileSink: one file per bundle,
// written atomically). VerifyBundle checks one bundle, VerifySequence and
// VerifyDir a sequence, optionally against the latest checkpoint the
// verifier trusts.
package export

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/names"
	"github.com/rustyonions/ron-audit-go/internal/nilptr"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// State is what an export needs of the previous export of the chain: its
// tree size (the seq of its last record), its signed checkpoint, and its
// last record's hash. The zero State (or nil) is "no previous export".
type State struct {
	Size     int64
	Note     []byte
	LastHash canonical.Hash
}

// Exporter writes bundles of chains of a durable log to a Sink.
type Exporter struct {
	// Sink receives each bundle; required (without it Export and
	// ExportTree return sdk.ErrConfig before reading or signing anything,
	// as they do for a nil pointer in Sink, Signer or NoteSigner).
	Sink Sink
	// Signer signs the checkpoints; required unless NoteSigner is set
	// (sdk.ErrConfig otherwise), and, NoteSigner unset, one whose KeyID
	// is not sdk.KeyIDOf(Public()) is sdk.ErrConfig too. Its note key name is
	// checkpoint.KeyName(writerId) unless NoteSigner is set. Under Auto
	// leave it nil: Auto signs with the Keeper's key in force in the
	// chain at the checkpoint's size (Keeper.SignerAt: across a
	// RotateKey, the old key up to the chain's transition, the new one
	// after), whatever Signer holds.
	Signer sdk.Signer
	// NoteSigner, if set, signs the checkpoints instead of Signer (another
	// key name, or witness cosigning).
	NoteSigner note.Signer
	// OnExport, if set, is called after each bundle is written with how
	// long the export took (reading the log, building the tree, signing
	// the checkpoint, encoding and writing the bundle; under Auto, from
	// asking Prev and reading the records with Log.Records, the tree
	// being the Keeper's) and its record count: export_batch_seconds.
	OnExport func(took time.Duration, records int)
}

// Export writes the bundle of chain (writer, stream) of the durable log in
// dir holding its records after prev (nil for the first export) up to the
// chain's last record, with a new checkpoint of that size signed by the
// Exporter's signer. It refuses to sign with a Signer the chain retired
// before its end (sdk.ErrConfig; after RotateKey, export with the new
// key), or whose key may not sign the chain, as sdk.OpenDurable's Log
// refuses its appends (sdk.ErrConfig, with the message Append gives: a
// chain a later key started, one a rotation to the Signer's key cut
// short has not reached, or one signed by a key no transition in the log
// hands on to it; for a checkpoint-sealed chain, whose records bear no
// signature, one whose newest checkpoint kept with the log, in
// dir/checkpoints, is signed by such a key, as Append refuses with a
// checkpoint.Keeper kept there, node.Open's: a Keeper that keeps its
// checkpoints elsewhere is not seen, and with NoteSigner set no key is
// checked), a chain whose records in the log skip or repeat a seq (*Error
// ReasonRecord at the seq expected, naming the record's place in the
// log), and a log that no longer extends prev: fewer
// records than prev.Size (*Error ReasonTruncated) or another root at
// prev.Size (ReasonFork). With no record after prev it returns
// ErrNothingToExport. The records read are made durable (wal.SyncDir)
// before the bundle is signed, so Export may run beside the log's
// writer, or after it crashed: the bundle never vouches for a record a
// power loss can still take from the log.
func (e *Exporter) Export(dir, writer, stream string, prev *State) (*Bundle, error) {
	start := time.Now()
	if err := e.configured(); err != nil {
		return nil, err
	}
	var m int64
	if prev != nil {
		m = prev.Size
	}
	tree := checkpoint.NewTree()
	var recs []sdk.Sealed
	arena := make([]byte, 0, logBytes(dir))
	var retiredAt uint64 // the seq of a transition that retired e.Signer
	var signerID sdk.KeyID
	checkRetired := e.NoteSigner == nil && e.Signer != nil
	if checkRetired {
		signerID = e.Signer.KeyID()
	}
	marker := []byte(sdk.KeyTransitionAttr)
	_, err := sdk.ReadDir(dir, func(rec sdk.Sealed, pos wal.Position) error {
		v, err := canonical.OpenAuditRecord(rec.Bytes)
		if err != nil || string(v.WriterID()) != writer || string(v.Stream()) != stream {
			return nil
		}
		if want := uint64(tree.Size()) + 1; v.Seq() != want {
			return &Error{Origin: checkpoint.Origin(writer, stream), Reason: ReasonRecord, Seq: want, Detail: "the log's record at " + pos.String() + " is not the chain's next",
				Expected: fmt.Sprintf("seq %d", want), Got: fmt.Sprintf("seq %d", v.Seq())}
		}
		if checkRetired && rec.Signed && rec.KeyID == signerID && bytes.Contains(rec.Bytes, marker) {
			if _, ok, _ := sdk.KeyTransition(v); ok {
				retiredAt = v.Seq()
			}
		}
		tree.Append(rec.Hash)
		if tree.Size() > m {
			// One arena of the log's size instead of a copy per record (if
			// it is outgrown, slices of the old array keep it alive).
			at := len(arena)
			arena = append(arena, rec.Bytes...)
			rec.Bytes = arena[at:len(arena):len(arena)]
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The bundle vouches for the records read: they must be on disk before
	// it is signed, whatever the writer has fsynced (a writer beside the
	// export writes frames before its group commit's fsync; one killed
	// leaves its last frames in the page cache only).
	if err := wal.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("export: making the records read from %s durable before exporting them: %w", dir, err)
	}
	if retiredAt > 0 && uint64(tree.Size()) > retiredAt {
		// Its checkpoint would vouch for records after its retirement,
		// which verifiers refuse (checkpoint.InForce).
		return nil, fmt.Errorf("export: %w: key %s was retired at %s seq %d; sign with the key that transition names",
			sdk.ErrConfig, e.Signer.KeyID(), names.Chain(writer, stream), retiredAt)
	}
	if checkRetired {
		// Nor may it sign a chain another key holds that no transition
		// in the log hands on to it (a later key started it, a rotation
		// to it cut short has not reached it, a key the log never
		// named, or, checkpoint-sealed, one whose newest kept checkpoint
		// such a key signed): a verifier following the chain's keys from
		// its first could not trust the checkpoint (unknown_key). The rule
		// is OpenDurable's and its Keeper's, over the whole log and the
		// checkpoints kept with it: Append refuses the same.
		if err := sdk.MaySign(dir, e.Signer.Public(), []ed25519.PublicKey{e.Signer.Public()}, writer, stream); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	return e.exportTree(start, tree, writer, stream, recs, prev)
}

// ExportTree is Export for a caller that keeps the chain's tree itself
// (a checkpoint.Keeper's Tree, say): tree covers the chain's records
// 1..tree.Size() and recs are the records prev.Size+1 .. prev.Size+len(recs)
// (at most tree.Size()). Records that are not the tree's leaves at those
// seqs, or more than it holds, are refused (*Error ReasonRecord, at the
// first seq that differs) before anything is signed or written. It reads
// no log, so it refuses no key as Export does (a key the chain retired, or
// one that may not sign it): the caller signs only with a key that holds
// the chain at tree.Size(), as Auto does (Keeper.SignerAt) and ronaudit
// export does (sdk.MaySign and the chain's retirements).
//
// A record's bytes are not hashed again here: the checkpoint vouches for
// the record hashes (the tree's leaves), and a record whose bytes were
// changed since it was appended (on disk, say) is exported as it is.
// That is on purpose. The bundle then carries the evidence off the
// machine, where VerifyBundle refuses it (hash_mismatch at that seq,
// with both hashes), rather than the export stopping on the host that
// holds the changed bytes, and the records after it keep being exported
// (their links are to the genuine hash). It also keeps export at the
// cost of the tree: hashing every record again would add about 0.5 us
// per 300-byte record, about 5 ms to a 10k-record bundle.
func (e *Exporter) ExportTree(tree *checkpoint.Tree, writer, stream string, recs []sdk.Sealed, prev *State) (*Bundle, error) {
	if err := e.configured(); err != nil {
		return nil, err
	}
	return e.exportTree(time.Now(), tree, writer, stream, recs, prev)
}

// exportTree builds, writes and reports the bundle of Export and
// ExportTree; OnExport is given the time since start.
func (e *Exporter) exportTree(start time.Time, tree *checkpoint.Tree, writer, stream string, recs []sdk.Sealed, prev *State) (*Bundle, error) {
	b, err := e.build(tree, checkpoint.Origin(writer, stream), writer, recs, prev)
	if err != nil {
		return nil, err
	}
	if err := e.write(b); err != nil {
		return nil, err
	}
	if e.OnExport != nil {
		e.OnExport(time.Since(start), len(b.Records))
	}
	return b, nil
}

// configured refuses an Exporter without a Sink or a signer
// (sdk.ErrConfig), before the log is read or anything signed, and one
// holding a nil pointer (a *FileSink, a *sdk.Ed25519Signer whose
// LoadSigner error was dropped): no nil interface, it would panic in its
// first call, on an Auto's export goroutine where nothing recovers.
func (e *Exporter) configured() error {
	switch {
	case e.Sink == nil:
		return fmt.Errorf("export: %w: Exporter.Sink is nil", sdk.ErrConfig)
	case nilptr.Is(e.Sink):
		return fmt.Errorf("export: %w: Exporter.Sink is a nil %T", sdk.ErrConfig, e.Sink)
	case e.Signer != nil && nilptr.Is(e.Signer):
		return fmt.Errorf("export: %w: Exporter.Signer is a nil %T", sdk.ErrConfig, e.Signer)
	case e.NoteSigner != nil && nilptr.Is(e.NoteSigner):
		return fmt.Errorf("export: %w: Exporter.NoteSigner is a nil %T", sdk.ErrConfig, e.NoteSigner)
	case e.Signer == nil && e.NoteSigner == nil:
		return fmt.Errorf("export: %w: Exporter.Signer and NoteSigner are nil", sdk.ErrConfig)
	case e.NoteSigner == nil:
		// Export refuses a Signer the chain retired by its KeyID, and the
		// checkpoint is signed with its Public key: the two must be one
		// key (as sdk.New checks), or a retired key signs again.
		if id, own := e.Signer.KeyID(), sdk.KeyIDOf(e.Signer.Public()); id != own {
			return fmt.Errorf("export: %w: Exporter.Signer's KeyID %s is not %s, the id of its Public key", sdk.ErrConfig, id, own)
		}
	}
	return nil
}

func (e *Exporter) write(b *Bundle) error {
	data, err := b.MarshalBinary()
	if err != nil {
		return err
	}
	if err := e.Sink.WriteBundle(b.Name(), data); err != nil {
		// The sink's error may name only a temporary file (a full disk:
		// "write DIR/W/S/.tmp-N: no space left on device"): say which
		// bundle it was, its chain and seqs.
		return fmt.Errorf("export: writing bundle %s: %w", b.Name(), err)
	}
	return nil
}

func (e *Exporter) build(tree *checkpoint.Tree, origin, writer string, recs []sdk.Sealed, prev *State) (*Bundle, error) {
	var m int64
	var prevNote []byte
	if prev != nil && prev.Size > 0 {
		m, prevNote = prev.Size, prev.Note
	}
	// Freeze the size: the tree may grow while we work.
	size := m + int64(len(recs))
	if err := extendsPrev(tree, origin, m, prevNote); err != nil {
		return nil, err
	}
	if size > tree.Size() {
		return nil, &Error{Origin: origin, Reason: ReasonRecord, Seq: uint64(tree.Size()) + 1, Detail: "more records given than the tree holds",
			Expected: fmt.Sprintf("at most %d records of %s after size %d", tree.Size()-m, origin, m), Got: fmt.Sprintf("%d", len(recs))}
	}
	if err := sameLeaves(tree, origin, m, recs); err != nil {
		return nil, err
	}
	if m > 0 {
		if len(recs) > 0 {
			if v, err := canonical.OpenAuditRecord(recs[0].Bytes); err == nil && !bytes.Equal(v.Prev(), prev.LastHash[:]) && prev.LastHash != (canonical.Hash{}) {
				return nil, &Error{Origin: origin, Reason: ReasonFork, Seq: uint64(m) + 1, Detail: "the first new record does not link to the previous export's last record",
					Expected: prev.LastHash.String(), Got: fmt.Sprintf("%x", v.Prev())}
			}
		}
	}
	if size == m {
		return nil, ErrNothingToExport
	}
	signer := e.NoteSigner
	if signer == nil {
		signer = checkpoint.NewNoteSigner(e.Signer, checkpoint.KeyName(writer))
	}
	root, err := tree.RootAt(size)
	if err != nil {
		return nil, err
	}
	msg, err := checkpoint.Sign(origin, size, root, signer)
	if err != nil {
		// The signer's failure (a remote key gone) alone names neither
		// the stream nor the seqs, and under Auto reads as a checkpoint's.
		return nil, fmt.Errorf("export: %s: signing the checkpoint of records %d..%d: %w", origin, m+1, size, err)
	}
	proof, err := tree.ConsistencyProof(m, size)
	if err != nil {
		return nil, err
	}
	rng, err := compactRange(tree, m)
	if err != nil {
		return nil, err
	}
	return &Bundle{Origin: origin, Size: size, Note: msg, PrevSize: m, PrevNote: prevNote,
		Proof: proof, Range: rng, Records: recs}, nil
}

// extendsPrev checks that tree, chain origin's, extends the previous
// export, of size m with checkpoint note prevNote: it holds at least m
// records (ReasonTruncated: the log was cut or rolled back, or the
// previous export is not of this log), and its checkpoint text at m is
// prevNote's (ReasonFork). Size 0 is no previous export.
func extendsPrev(tree *checkpoint.Tree, origin string, m int64, prevNote []byte) error {
	if m <= 0 {
		return nil
	}
	if tree.Size() < m {
		return &Error{Origin: origin, Reason: ReasonTruncated, Detail: "the log has fewer records than the previous export (cut or rolled back)",
			Expected: fmt.Sprintf("at least %d records of %s", m, origin), Got: fmt.Sprintf("%d", tree.Size())}
	}
	root, err := tree.RootAt(m)
	if err != nil {
		return err
	}
	// The previous note's text must be this tree's checkpoint at m:
	// otherwise the log no longer extends the previous export.
	if text := checkpoint.Text(origin, m, root); !bytes.HasPrefix(prevNote, []byte(text+"\n")) {
		return &Error{Origin: origin, Reason: ReasonFork, Seq: uint64(m), Detail: "the log's first records no longer hash to the previous export's checkpoint",
			Expected: firstLines(prevNote), Got: firstLines([]byte(text))}
	}
	return nil
}

// sameLeaves checks that recs are the tree's records m+1..m+len(recs):
// a checkpoint of the tree signed over other records (a slice off by one,
// another chain's) would be written, durably, as a bundle no verifier
// accepts, and the next export would build on it.
func sameLeaves(tree *checkpoint.Tree, origin string, m int64, recs []sdk.Sealed) error {
	if len(recs) == 0 {
		return nil
	}
	idx := make([]int64, len(recs))
	for i := range idx {
		idx[i] = tlog.StoredHashIndex(0, m+int64(i))
	}
	leaves, err := tree.ReadHashes(idx)
	if err != nil {
		return err
	}
	for i := range recs {
		if got := leafHash(recs[i].Hash); got != leaves[i] {
			return &Error{Origin: origin, Reason: ReasonRecord, Seq: uint64(m) + 1 + uint64(i), Detail: "the record given is not the tree's record at this seq of " + origin,
				Expected: "leaf " + b64(leaves[i]), Got: "leaf " + b64(got)}
		}
	}
	return nil
}

// firstLines returns the first three lines of a note, for messages.
func firstLines(msg []byte) string {
	lines := bytes.SplitN(msg, []byte("\n"), 4)
	if len(lines) > 3 {
		lines = lines[:3]
	}
	return string(bytes.Join(lines, []byte(`\n`)))
}

var _ tlog.HashReader = (*checkpoint.Tree)(nil)

// logBytes returns the size of the segment files of the log in dir, an
// upper bound of the record bytes in it (0 if unknown).
func logBytes(dir string) int {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return int(min(n, 64<<20))
}
