package sdk_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// The durable log's verifier (VerifyDir, OpenDurable, ronaudit verify)
// reports tampering as VerifyChain does: the reason of the damage, at the
// seq the damaged record's place holds in its chain, with the count of
// the chain's records verified before it.

// interleavedLog writes 10 records to each of two chains, alternating
// (frame 2i is reads seq i+1, frame 2i+1 is other seq i+1), and returns
// the directory, its frames and the segment's bytes.
func interleavedLog(t *testing.T) (string, []wal.Frame, []byte, *sdk.KeySet) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{}, sdk.DurableOptions{})
	for i := 0; i < 10; i++ {
		coreAppendFrom(t, l, i, 1)
		r := coreRecord(i)
		r.Stream = "other"
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	keys := l.Keys()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	_, frames := durableFrames(t, dir)
	seg, err := os.ReadFile(frames[0].File)
	if err != nil {
		t.Fatal(err)
	}
	return dir, frames, seg, keys
}

// durableFailure checks err is a *DurableError at pos wrapping a
// *VerifyError of reason at seq of the reads chain, with verified records
// of that chain before it.
func durableFailure(t *testing.T, name string, err error, pos wal.Position, reason sdk.Reason, seq uint64, verified int) {
	t.Helper()
	var de *sdk.DurableError
	var ve *sdk.VerifyError
	if !errors.As(err, &de) || !errors.As(err, &ve) {
		t.Fatalf("%s: %v, want a *DurableError wrapping a *VerifyError", name, err)
	}
	if de.Position != pos || ve.Reason != reason || ve.Seq != seq || de.Seq != seq || de.After ||
		ve.Stream != "reads" || de.Stream != "reads" || ve.Verified != verified {
		t.Fatalf("%s: %v (at %v seq %d, %d verified), want %s at %v seq %d of reads, %d verified before",
			name, err, de.Position, ve.Seq, ve.Verified, reason, pos, seq, verified)
	}
}

func TestDurableTamperNamesPlace(t *testing.T) {
	dir, frames, seg, keys := interleavedLog(t)
	file := frames[0].File
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) wal.Position { return wal.Position{File: file, Offset: frames[i].Offset} }
	frame := func(i int) []byte { return seg[frames[i].Offset : frames[i].Offset+8+int64(len(frames[i].Payload))] }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	head := seg[:frames[0].Offset]

	// Every byte of reads seq 5 (frame 8) changed, the frame's CRC made
	// to match: a hash mismatch at seq 5 whatever the byte breaks, as
	// VerifyChain reports it (it was not_canonical, named by the frame
	// before: other seq 4, "verify / seq 0"). A byte of the names makes
	// them name another chain; a byte the names cannot be read without
	// leaves the chain unknown: the error then follows the last good
	// record.
	const recordFrameHeader = 106
	for i := recordFrameHeader; i < len(frames[8].Payload); i++ {
		write(seg)
		p := bytes.Clone(frames[8].Payload)
		p[i] ^= 0x20
		rewriteFrame(t, frames[8], p)
		_, err := sdk.VerifyDir(dir, keys, false, nil)
		var de *sdk.DurableError
		var ve *sdk.VerifyError
		if !errors.As(err, &de) || !errors.As(err, &ve) || !errors.Is(err, sdk.ErrHashMismatch) || de.Position != at(8) {
			t.Fatalf("byte %d: %v, want hash_mismatch at %v", i, err, at(8))
		}
		v, openErr := canonical.OpenAuditRecord(p[recordFrameHeader:])
		switch {
		case openErr != nil || len(v.WriterID()) == 0 || len(v.Stream()) == 0:
			if !de.After || de.Stream != "other" || de.Seq != 4 || ve.Stream != "" {
				t.Fatalf("byte %d, names unreadable: %v, want after other seq 4", i, err)
			}
		case string(v.WriterID()) == "svc-gateway@inst-1" && string(v.Stream()) == "reads":
			durableFailure(t, fmt.Sprintf("byte %d", i), err, at(8), sdk.ReasonHashMismatch, 5, 4)
		default: // a damaged name: the chain it claims, at the seq it claims
			if ve.WriterID != string(v.WriterID()) || ve.Stream != string(v.Stream()) || ve.Seq != 5 || de.After {
				t.Fatalf("byte %d, a damaged name: %v", i, err)
			}
		}
	}

	// Records removed, repeated, reordered: seq_gap at the place.
	write(cat(head, frame(0), frame(1), frame(2), frame(3), frame(4), frame(5), frame(6), frame(7), frame(9), frame(10)))
	_, err := sdk.VerifyDir(dir, keys, false, nil)
	durableFailure(t, "delete seq 5", err, wal.Position{File: file, Offset: frames[10].Offset - int64(len(frame(8)))}, sdk.ReasonSeqGap, 5, 4)

	write(cat(head, frame(0), frame(1), frame(2), frame(3), frame(4), frame(5), frame(6), frame(7), frame(8), frame(9), frame(8)))
	_, err = sdk.VerifyDir(dir, keys, false, nil)
	durableFailure(t, "duplicate seq 5", err, at(10), sdk.ReasonSeqGap, 6, 5)

	write(cat(head, frame(0), frame(1), frame(2), frame(3), frame(4), frame(5), frame(6), frame(7), frame(10), frame(9), frame(8)))
	_, err = sdk.VerifyDir(dir, keys, false, nil)
	durableFailure(t, "swap seq 5 and 6", err, at(8), sdk.ReasonSeqGap, 5, 4)

	// A signature replaced: found in a batch, reported with the count.
	write(seg)
	p := bytes.Clone(frames[8].Payload)
	copy(p[10:74], frames[10].Payload[10:74])
	rewriteFrame(t, frames[8], p)
	_, err = sdk.VerifyDir(dir, keys, false, nil)
	durableFailure(t, "replace a signature", err, at(8), sdk.ReasonBadSignature, 5, 4)
}

// TestDurableSealByRetiredKey: a seal frame signed by a key the chain
// retired is retired_key, as a record signature by it is; it was
// unknown_key, and ronaudit verify told the user to give the signer's
// public key, which they had given.
func TestDurableSealByRetiredKey(t *testing.T) {
	old, next := rotateSigner(t, "seal old"), rotateSigner(t, "seal next")
	dir := filepath.Join(t.TempDir(), "wal")
	l, _ := durableOpen(t, dir, sdk.Config{Signer: old, SealEvery: 100}, sdk.DurableOptions{})
	coreAppend(t, l, 3)
	if _, err := l.RotateKey(next); err != nil { // seq 4, signed by old
		t.Fatal(err)
	}
	coreAppendFrom(t, l, 3, 2)        // seq 5, 6: unsigned
	if err := l.Close(); err != nil { // a seal of seq 6, by next
		t.Fatal(err)
	}
	keys := sdk.NewKeySet(old.Public())
	if _, err := sdk.VerifyDir(dir, keys, false, nil); err != nil {
		t.Fatal(err)
	}
	_, frames := durableFrames(t, dir)
	seal := frames[len(frames)-1]
	if seal.Payload[0] != 2 {
		t.Fatalf("last frame is of type %d, want a seal", seal.Payload[0])
	}
	// The same seal signed by the retired key.
	p := bytes.Clone(seal.Payload)
	var hash canonical.Hash
	copy(hash[:], p[81:113])
	var sig sdk.Signature
	m := canonical.SignedMessage(hash)
	if err := old.Sign(m[:], &sig); err != nil {
		t.Fatal(err)
	}
	id := old.KeyID()
	copy(p[9:17], id[:])
	copy(p[17:81], sig[:])
	rewriteFrame(t, seal, p)
	_, err := sdk.VerifyDir(dir, keys, false, nil)
	var ve *sdk.VerifyError
	if !errors.As(err, &ve) || ve.Reason != sdk.ReasonRetiredKey || ve.Seq != 6 || ve.Verified != 5 {
		t.Fatalf("seal by the retired key: %v, want retired_key at seq 6", err)
	}
}

// TestVerifyDirFunc: VerifyDirFunc hands each record over in log order,
// with its chain's head after it and where it is, in the one pass that
// verifies the log; VerifyDir's progress counts as before.
func TestVerifyDirFunc(t *testing.T) {
	dir, frames, _, keys := interleavedLog(t)
	var seen []sdk.Head
	var at []wal.Position
	sum, err := sdk.VerifyDirFunc(dir, keys, false, func(h sdk.Head, rec sdk.Sealed, pos wal.Position) {
		if h.Hash != rec.Hash {
			t.Errorf("head hash %s, record hash %s", h.Hash, rec.Hash)
		}
		seen, at = append(seen, h), append(at, pos)
	})
	if err != nil || sum.Records != 20 || len(seen) != 20 {
		t.Fatalf("VerifyDirFunc: %v, %d records, fn saw %d", err, sum.Records, len(seen))
	}
	for i, h := range seen {
		wantStream := "reads"
		if i%2 == 1 {
			wantStream = "other"
		}
		if h.Stream != wantStream || h.Seq != uint64(i/2+1) || at[i] != (wal.Position{File: frames[i].File, Offset: frames[i].Offset}) {
			t.Errorf("record %d: %s seq %d at %v, want %s seq %d at %s:%d", i, h.Stream, h.Seq, at[i], wantStream, i/2+1, frames[i].File, frames[i].Offset)
		}
	}
	var counts []uint64
	if _, err := sdk.VerifyDir(dir, keys, false, func(n uint64, pos wal.Position) { counts = append(counts, n) }); err != nil || len(counts) != 20 || counts[19] != 20 || counts[0] != 1 {
		t.Errorf("VerifyDir progress: %v, counts %v", err, counts)
	}
}
