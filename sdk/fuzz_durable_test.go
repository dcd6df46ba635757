package sdk_test

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/wal"
)

// fuzzSegment is a real one-segment log of two chains: signed records,
// a checkpoint-sealed stretch with a seal frame, and a key rotation.
func fuzzSegment(t testing.TB, a, b sdk.Signer) []byte {
	dir := filepath.Join(t.TempDir(), "wal")
	l, _, err := sdk.OpenDurable(dir, sdk.Config{Signer: a, SealEvery: 3}, sdk.DurableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, stream := range []string{"s", "s", "t", "s", "t"} {
		r := canonical.AuditRecord{WriterID: "w", Stream: stream, TsMs: uint64(i + 1), Reason: "r"}
		if _, err := l.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Seal("w", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RotateKey(b); err != nil {
		t.Fatal(err)
	}
	r := canonical.AuditRecord{WriterID: "w", Stream: "s", TsMs: 9, Reason: "after"}
	if _, err := l.Append(&r); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(filepath.Join(dir, wal.SegmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

// FuzzVerifySegment: the durable replay (record and seal payloads,
// chains, links, key transitions, batched signature checks) over
// arbitrary segment bytes never panics and fails only with a
// *DurableError or a WAL error; with signatures left out (keys nil) it
// accepts whatever it accepts with them, and the seed (a real log)
// verifies with its first key, the rotation followed. Inputs with valid
// signatures are rare once mutated, so checking them costs little.
//
// With the unsealed tail not allowed, an accepted segment is one the
// signer vouched for: every record in it is covered by a signature at or
// after it in its chain (a signed record, or a seal frame of a record of
// that chain) by one of the signer's keys (the first, or the one its
// rotation named) over the record hash of the bytes actually there
// (sealedBySigner, which reads the frames itself). The seeds include the
// log cut after each of its frames, some of which end in an unsigned
// record and must be refused (testdata holds one: unsealed-tail-prefix).
func FuzzVerifySegment(f *testing.F) {
	a, b := rotateSigner(f, "fuzz segment a"), rotateSigner(f, "fuzz segment b")
	seg := fuzzSegment(f, a, b)
	if sum, err := sdk.VerifySegmentData(seg, sdk.NewKeySet(a.Public()), false); err != nil || sum.Records != 8 || sum.Seals != 2 || len(sum.Retired) != 2 {
		f.Fatalf("the seed: %+v, %v", sum, err)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-7])
	f.Add(seg[:wal.SegmentHeaderSize])
	var ends []int64 // the log cut after each frame
	if _, err := wal.ReadSegment(seg, true, func(fr wal.Frame) error {
		if fr.Offset > wal.SegmentHeaderSize {
			ends = append(ends, fr.Offset)
		}
		return nil
	}); err != nil {
		f.Fatal(err)
	}
	for _, end := range ends {
		f.Add(seg[:end])
	}
	keys := sdk.NewKeySet(a.Public())
	signers := []ed25519.PublicKey{a.Public(), b.Public()}
	f.Fuzz(func(t *testing.T, data []byte) {
		known := func(err error) bool {
			var de *sdk.DurableError
			return err == nil || errors.As(err, &de) || errors.Is(err, wal.ErrCorrupt) || errors.Is(err, wal.ErrVersion)
		}
		signed, serr := sdk.VerifySegmentData(data, keys, true)
		bare, berr := sdk.VerifySegmentData(data, nil, true)
		strict, terr := sdk.VerifySegmentData(data, keys, false)
		if !known(serr) || !known(berr) || !known(terr) {
			t.Fatalf("unexpected errors: %v, %v, %v", serr, berr, terr)
		}
		if serr == nil && (berr != nil || bare.Records != signed.Records) {
			t.Fatalf("accepted with keys (%d records), without: %d records, %v", signed.Records, bare.Records, berr)
		}
		if terr != nil {
			return
		}
		if serr != nil || strict.Records != signed.Records {
			t.Fatalf("accepted with no unsealed tail allowed (%d records), allowing one: %d records, %v", strict.Records, signed.Records, serr)
		}
		if n, err := sealedBySigner(data, signers); err != nil {
			t.Fatalf("accepted with no unsealed tail allowed (%d records): %v", strict.Records, err)
		} else if n != strict.Records {
			t.Fatalf("accepted %d records, the segment holds %d", strict.Records, n)
		}
	})
}

// sealedBySigner reads a segment's frames without the SDK's replay and
// checks that every record is covered by a signature at or after it in
// its chain (writerId, stream), by one of pubs (named by its key id), over
// SigPrefix and the record hash of the record bytes in the frame (not the
// hash the frame stores): a signed record frame, or a seal frame whose
// record hash is that of the chain's record of its seq seen before it.
// It returns the number of records.
func sealedBySigner(data []byte, pubs []ed25519.PublicKey) (uint64, error) {
	byID := map[sdk.KeyID]ed25519.PublicKey{}
	for _, p := range pubs {
		byID[sdk.KeyIDOf(p)] = p
	}
	genuine := func(id, sig []byte, h canonical.Hash) bool {
		pub, ok := byID[sdk.KeyID(id)]
		return ok && ed25519.Verify(pub, append([]byte(canonical.SigPrefix), h[:]...), sig)
	}
	type chain struct {
		hashes  map[uint64]canonical.Hash
		seqs    []uint64
		covered uint64 // the highest seq signed or sealed by the signer
		sealed  bool
	}
	chains := map[string]*chain{}
	get := func(writer, stream string) *chain {
		k := writer + "\x00" + stream
		if chains[k] == nil {
			chains[k] = &chain{hashes: map[uint64]canonical.Hash{}}
		}
		return chains[k]
	}
	var n uint64
	cover := func(c *chain, seq uint64) {
		if !c.sealed || seq > c.covered {
			c.covered, c.sealed = seq, true
		}
	}
	_, err := wal.ReadSegment(data, true, func(fr wal.Frame) error {
		p := fr.Payload
		switch fr.Type {
		case 1: // record: type, flags, key id (8), signature (64), hash (32), bytes
			if len(p) < 106+8 {
				return fmt.Errorf("frame at %d: a record frame of %d bytes", fr.Offset, len(p))
			}
			v, err := canonical.Open(p[106:])
			if err != nil {
				return fmt.Errorf("frame at %d: not a record: %w", fr.Offset, err)
			}
			h := canonical.RecordHash(p[106:])
			c := get(string(v.WriterID()), string(v.Stream()))
			c.hashes[v.Seq()] = h
			c.seqs = append(c.seqs, v.Seq())
			n++
			if p[1] == 1 && genuine(p[2:10], p[10:74], h) {
				cover(c, v.Seq())
			}
		case 2: // seal: type, seq (8), key id (8), signature (64), hash (32), writer, stream
			if len(p) < 113+4 {
				return fmt.Errorf("frame at %d: a seal frame of %d bytes", fr.Offset, len(p))
			}
			seq := binary.LittleEndian.Uint64(p[1:9])
			rest := p[113:]
			var names [2]string
			for i := range names {
				if len(rest) < 2 || len(rest) < 2+int(binary.LittleEndian.Uint16(rest)) {
					return fmt.Errorf("frame at %d: a malformed seal frame", fr.Offset)
				}
				l := int(binary.LittleEndian.Uint16(rest))
				names[i], rest = string(rest[2:2+l]), rest[2+l:]
			}
			c := get(names[0], names[1])
			h, ok := c.hashes[seq]
			if ok && canonical.Hash(p[81:113]) == h && genuine(p[9:17], p[17:81], h) {
				cover(c, seq)
			}
		default:
			return fmt.Errorf("frame at %d: type %d", fr.Offset, fr.Type)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	for k, c := range chains {
		for _, seq := range c.seqs {
			if !c.sealed || seq > c.covered {
				return n, fmt.Errorf("chain %q: record seq %d has no signature by the signer over its bytes at or after it", k, seq)
			}
		}
	}
	return n, nil
}
