package export

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/internal/fuzzchoice"
)

// FuzzVerifyBundleFields is FuzzVerifyBundle past the framing: byte
// mutations of a bundle mostly die at a record's CRC-32C, so here the
// fuzzer damages the fields of a genuine bundle (records 1..1, 2..4 or
// 5..7 of a chain of 7, or 1..7) and the bundle is written again with
// correct framing (MarshalBinary), reaching the hash, canonical-bytes,
// link, signature, Merkle and checkpoint checks. A record's bytes flipped
// (its hash recomputed or not), its signature flipped, its signed flag
// or key id changed, a record swapped for one the same key signed in a
// fork of the chain (a well-formed forgery), a checkpoint's byte
// flipped, the previous checkpoint swapped for another bundle's, a proof
// or range hash flipped, dropped or repeated. VerifyBundle never panics,
// fails only with an *Error of a known Reason, and accepts only the
// genuine records (checkGenuine). Seeds: testdata/fuzz/FuzzVerifyBundleFields.
//
// The input is a byte per choice: the bundle (c%4), then up to four
// damages of five bytes: what (c%10), which record or hash, where (two
// bytes), and an xor byte.
func FuzzVerifyBundleFields(f *testing.F) {
	signer := newSigner(f, 1)
	vs, keys := verifiersOf(signer)
	genuine := genRecords(f, signer, 7, plain)
	fork := genRecords(f, signer, 7, func(i int) string {
		if i >= 3 {
			return "served another object"
		}
		return plain(i)
	})
	pool := append(exportSplits(f, signer, genuine, 1, 4, 7), exportSplits(f, signer, genuine, 7)...)
	f.Fuzz(func(t *testing.T, choices []byte) {
		in := fuzzchoice.New(choices)
		next := in.Next
		orig := pool[next()%len(pool)]
		b, err := Parse(orig)
		if err != nil {
			t.Fatal(err)
		}
		b.Records = slices.Clone(b.Records)
		b.Note, b.PrevNote = bytes.Clone(b.Note), bytes.Clone(b.PrevNote)
		b.Proof, b.Range = slices.Clone(b.Proof), slices.Clone(b.Range)
		flipHash := func(hs []tlog.Hash, i, pos, x int) []tlog.Hash {
			if len(hs) == 0 {
				return hs
			}
			switch x % 3 {
			case 0:
				hs[i%len(hs)][pos%32] ^= byte(x | 1)
			case 1:
				hs = slices.Delete(hs, i%len(hs), i%len(hs)+1)
			case 2:
				hs = slices.Insert(hs, i%len(hs), hs[pos%len(hs)])
			}
			return hs
		}
		for range 4 {
			if in.Len() == 0 {
				break
			}
			what, i, hi, lo, x := next()%10, next(), next(), next(), next()
			pos := hi<<8 | lo
			r := &b.Records[i%len(b.Records)]
			switch what {
			case 0, 1: // a record's bytes, with (1) or without (0) its hash recomputed
				r.Bytes = bytes.Clone(r.Bytes)
				r.Bytes[pos%len(r.Bytes)] ^= byte(x | 1)
				if what == 1 {
					r.Hash = canonical.RecordHash(r.Bytes)
				}
			case 2:
				r.Sig[pos%len(r.Sig)] ^= byte(x | 1)
			case 3: // a record of the fork at the same seq
				seq := b.PrevSize + int64(i%len(b.Records))
				*r = fork[seq]
			case 4:
				r.Signed = !r.Signed
				if x%2 == 1 {
					r.KeyID[pos%len(r.KeyID)] ^= byte(x | 1)
				}
			case 5: // another bundle's checkpoint as the previous one
				if o, err := Parse(pool[pos%len(pool)]); err == nil {
					b.PrevNote = o.Note
				}
			case 6:
				if len(b.Note) > 0 {
					b.Note[pos%len(b.Note)] ^= byte(x | 1)
				}
			case 7:
				if len(b.PrevNote) > 0 {
					b.PrevNote[pos%len(b.PrevNote)] ^= byte(x | 1)
				}
			case 8:
				b.Proof = flipHash(b.Proof, i, pos, x)
			case 9:
				b.Range = flipHash(b.Range, i, pos, x)
			}
		}
		data, err := b.MarshalBinary()
		if err != nil {
			return
		}
		s, err := VerifyBundle(data, vs, keys)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || reasonErrs[e.Reason] == nil {
				t.Fatalf("error %v (%T) is not an *Error with a known reason", err, err)
			}
			return
		}
		pb, err := Parse(data)
		if err != nil {
			t.Fatalf("verified what Parse refuses: %v", err)
		}
		checkGenuine(t, pb, s, genuine)
	})
}
