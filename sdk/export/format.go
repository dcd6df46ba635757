package export

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/rustyonions/ron-audit-go/canonical"
	"github.com/rustyonions/ron-audit-go/sdk"
	"github.com/rustyonions/ron-audit-go/sdk/checkpoint"
)

// Magic begins every bundle: 15 bytes of ASCII and the version byte.
const Magic = "RONAUDIT-BUNDLE"

// Version is the format version this package writes and reads.
const Version = 1

// Format limits (FORMAT.md).
const (
	maxOrigin   = 1024
	maxProof    = 255
	recordHead  = 1 + 1 + 8 + 64 + 32                  // type, flags, key id, signature, record hash
	minCanon    = 8                                    // the smallest canonical message (a segment table and a root pointer)
	maxRecord   = recordHead + canonical.MaxRecordSize // payload bytes of one record: 65,642 (FORMAT.md)
	frameHead   = 4 + 4                                // length and CRC-32C of a record
	recordType  = 1                                    // the WAL's record frame type byte
	flagsSigned = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Bundle is one export of one chain: the records after the previous export
// up to a signed checkpoint, with what a verifier needs to check them
// against that checkpoint and the previous one offline (FORMAT.md).
// Parse fills it from bytes without verifying anything but the framing;
// VerifyBundle verifies.
type Bundle struct {
	Origin   string         // checkpoint origin of the chain: checkpoint.Origin(writer, stream)
	Size     int64          // S: the checkpoint's tree size, the seq of the last record
	Note     []byte         // the signed checkpoint at Size (C2SP signed note)
	PrevSize int64          // m: the tree size of the previous export, 0 for the first
	PrevNote []byte         // the previous export's signed checkpoint; empty when PrevSize is 0
	Proof    tlog.TreeProof // consistency proof PrevSize -> Size (empty when PrevSize is 0)
	Range    []tlog.Hash    // compact range of the tree of PrevSize leaves, popcount(PrevSize) hashes
	Records  []sdk.Sealed   // the records with seq PrevSize+1 .. Size, in seq order
}

// FirstSeq returns the seq of the bundle's first record, PrevSize+1.
func (b *Bundle) FirstSeq() uint64 { return uint64(b.PrevSize) + 1 }

// LastSeq returns the seq of the bundle's last record, Size.
func (b *Bundle) LastSeq() uint64 { return uint64(b.Size) }

// State returns what the next export needs of this one.
func (b *Bundle) State() *State {
	s := &State{Size: b.Size, Note: b.Note}
	if n := len(b.Records); n > 0 {
		s.LastHash = b.Records[n-1].Hash
	}
	return s
}

// Name returns the path a FileSink stores the bundle under, relative to
// its directory: e(writerId)/e(stream)/<first seq>-<last seq>.bundle, the
// seqs in 20 decimal digits, so a directory lists a chain's bundles in
// order. e is the origin's escaping (checkpoint.Origin).
func (b *Bundle) Name() string { return BundleName(b.Origin, b.FirstSeq(), b.LastSeq()) }

// BundleName is Bundle.Name of a bundle of origin with records first..last.
func BundleName(origin string, first, last uint64) string {
	return chainDir(origin) + "/" + fmt.Sprintf("%020d-%020d.bundle", first, last)
}

// ChainDir returns the directory under root where a FileSink{Dir: root}
// keeps the bundles of chain (writerID, stream): root/e(writerId)/e(stream),
// the directory VerifyDir and VerifyDirTrusted take. It is a path, there
// or not: a chain without bundles has none (ListDir lists nothing, and
// VerifyDir fails with ErrNoBundles).
func ChainDir(root, writerID, stream string) string {
	return filepath.Join(root, filepath.FromSlash(chainDir(checkpoint.Origin(writerID, stream))))
}

// chainDir returns e(writerId)/e(stream) of an origin line, with a
// component "." or ".." (which e leaves as it is) written "%2E" or
// "%2E%2E", as the Keeper's checkpoints/ directory has them: each chain
// gets a directory of its own.
func chainDir(origin string) string {
	rest, _ := strings.CutPrefix(origin, checkpoint.OriginPrefix)
	w, s, _ := strings.Cut(rest, "/")
	return dotSafe(w) + "/" + dotSafe(s)
}

func dotSafe(c string) string {
	if c == "." || c == ".." {
		return strings.ReplaceAll(c, ".", "%2E")
	}
	return c
}

// AppendBinary appends the bundle's encoding (FORMAT.md) to dst. It checks
// the counts that the format fixes, not the contents.
func (b *Bundle) AppendBinary(dst []byte) ([]byte, error) {
	switch {
	case len(b.Origin) == 0 || len(b.Origin) > maxOrigin:
		return nil, fmt.Errorf("export: origin of %d bytes", len(b.Origin))
	case b.PrevSize < 0 || b.Size <= b.PrevSize:
		return nil, fmt.Errorf("export: sizes %d -> %d: a bundle holds at least one record", b.PrevSize, b.Size)
	case int64(len(b.Records)) != b.Size-b.PrevSize:
		return nil, fmt.Errorf("export: %d records for sizes %d -> %d", len(b.Records), b.PrevSize, b.Size)
	case len(b.Note) == 0 || len(b.Note) > checkpoint.MaxNoteSize || len(b.PrevNote) > checkpoint.MaxNoteSize:
		return nil, fmt.Errorf("export: checkpoint notes of %d and %d bytes", len(b.Note), len(b.PrevNote))
	case (b.PrevSize == 0) != (len(b.PrevNote) == 0) || b.PrevSize == 0 && len(b.Proof) != 0:
		return nil, fmt.Errorf("export: previous size %d with a previous note of %d bytes and %d proof hashes", b.PrevSize, len(b.PrevNote), len(b.Proof))
	case len(b.Proof) > maxProof || len(b.Range) != bits.OnesCount64(uint64(b.PrevSize)):
		return nil, fmt.Errorf("export: %d proof hashes, %d compact range hashes for size %d", len(b.Proof), len(b.Range), b.PrevSize)
	}
	dst = append(dst, Magic...)
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(b.Origin)))
	dst = append(dst, b.Origin...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Size))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.Note)))
	dst = append(dst, b.Note...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.PrevSize))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b.PrevNote)))
	dst = append(dst, b.PrevNote...)
	dst = append(dst, byte(len(b.Proof)))
	for _, h := range b.Proof {
		dst = append(dst, h[:]...)
	}
	dst = append(dst, byte(len(b.Range)))
	for _, h := range b.Range {
		dst = append(dst, h[:]...)
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(b.Records)))
	for i := range b.Records {
		r := &b.Records[i]
		n := recordHead + len(r.Bytes)
		if len(r.Bytes) < minCanon || n > maxRecord {
			return nil, fmt.Errorf("export: record %d of %d canonical bytes", i, len(r.Bytes))
		}
		at := len(dst)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
		dst = append(dst, 0, 0, 0, 0) // CRC, below
		p := len(dst)
		flags := byte(0)
		if r.Signed {
			flags = flagsSigned
		}
		dst = append(dst, recordType, flags)
		dst = append(dst, r.KeyID[:]...)
		dst = append(dst, r.Sig[:]...)
		dst = append(dst, r.Hash[:]...)
		dst = append(dst, r.Bytes...)
		binary.LittleEndian.PutUint32(dst[at+4:], crc32.Checksum(dst[p:], castagnoli))
	}
	return dst, nil
}

// MarshalBinary returns the bundle's encoding (FORMAT.md).
func (b *Bundle) MarshalBinary() ([]byte, error) {
	n := 256 + len(b.Note) + len(b.PrevNote) + 32*(len(b.Proof)+len(b.Range))
	for i := range b.Records {
		n += frameHead + recordHead + len(b.Records[i].Bytes)
	}
	return b.AppendBinary(make([]byte, 0, n))
}

// reader reads the fields of a bundle, failing with ReasonFormat.
type reader struct {
	p   []byte
	err *Error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = newErr(ReasonFormat, 0, what)
	}
}

func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.p) {
		r.fail(what + ": the data ends early")
		return nil
	}
	b := r.p[:n:n]
	r.p = r.p[n:]
	return b
}

func (r *reader) u8(what string) int {
	if b := r.bytes(1, what); b != nil {
		return int(b[0])
	}
	return 0
}

func (r *reader) u16(what string) int {
	if b := r.bytes(2, what); b != nil {
		return int(binary.LittleEndian.Uint16(b))
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if b := r.bytes(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if b := r.bytes(8, what); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) hashes(what string) []tlog.Hash {
	n := r.u8(what + " count")
	b := r.bytes(n*tlog.HashSize, what)
	if r.err != nil {
		return nil
	}
	out := make([]tlog.Hash, n)
	for i := range out {
		copy(out[i][:], b[i*tlog.HashSize:])
	}
	return out
}

// Parse decodes a bundle (FORMAT.md) and checks its framing: magic and
// version, lengths, counts, each record's CRC-32C and layout, and that
// nothing follows the last record. It verifies no signature, hash or
// proof (VerifyBundle does). The records' Bytes alias data. Errors are an
// *Error: ReasonFormat, or ReasonRecord (with Seq) for a record whose
// CRC-32C or layout fails.
func Parse(data []byte) (_ *Bundle, err error) {
	var origin string // once read and well formed, errors name it
	defer func() {
		if e, ok := err.(*Error); ok && e.Origin == "" {
			e.Origin = origin
		}
	}()
	r := &reader{p: data}
	magic := r.bytes(len(Magic)+1, "magic")
	if r.err == nil && (string(magic[:len(Magic)]) != Magic || magic[len(Magic)] != Version) {
		return nil, newErr(ReasonFormat, 0, "not a ron-audit bundle of version "+strconv.Itoa(Version)+" (magic "+strconv.Quote(string(magic))+")")
	}
	b := &Bundle{}
	on := r.u16("origin length")
	if r.err == nil && (on == 0 || on > maxOrigin) {
		r.fail("origin length " + strconv.Itoa(on) + " not in [1, " + strconv.Itoa(maxOrigin) + "]")
	}
	b.Origin = string(r.bytes(on, "origin"))
	if _, _, err := checkpoint.ParseOrigin(b.Origin); err == nil {
		origin = b.Origin
	}
	size := r.u64("tree size")
	nl := r.u32("checkpoint length")
	if r.err == nil && (nl == 0 || nl > checkpoint.MaxNoteSize) {
		r.fail("checkpoint of " + strconv.FormatUint(uint64(nl), 10) + " bytes")
	}
	b.Note = r.bytes(int(nl), "checkpoint")
	prev := r.u64("previous tree size")
	pl := r.u32("previous checkpoint length")
	if r.err == nil && pl > checkpoint.MaxNoteSize {
		r.fail("previous checkpoint of " + strconv.FormatUint(uint64(pl), 10) + " bytes")
	}
	b.PrevNote = r.bytes(int(pl), "previous checkpoint")
	b.Proof = r.hashes("consistency proof")
	b.Range = r.hashes("compact range")
	count := r.u64("record count")
	if r.err != nil {
		return nil, r.err
	}
	switch {
	case size > 1<<63-1 || prev >= size:
		return nil, newErr(ReasonFormat, 0, "tree sizes "+strconv.FormatUint(prev, 10)+" -> "+strconv.FormatUint(size, 10)+": a bundle holds at least one record, below 2^63")
	case (prev == 0) != (len(b.PrevNote) == 0):
		return nil, newErr(ReasonFormat, 0, "previous tree size "+strconv.FormatUint(prev, 10)+" with a previous checkpoint of "+strconv.Itoa(len(b.PrevNote))+" bytes")
	case prev == 0 && len(b.Proof) != 0:
		return nil, newErr(ReasonFormat, 0, "a consistency proof from the empty tree")
	case len(b.Range) != bits.OnesCount64(prev):
		return nil, newErr(ReasonFormat, 0, strconv.Itoa(len(b.Range))+" compact range hashes for tree size "+strconv.FormatUint(prev, 10)+" (it has "+strconv.Itoa(bits.OnesCount64(prev))+")")
	case count != size-prev:
		return nil, newErr(ReasonFormat, 0, strconv.FormatUint(count, 10)+" records for tree sizes "+strconv.FormatUint(prev, 10)+" -> "+strconv.FormatUint(size, 10))
	case count > uint64(len(r.p))/(frameHead+recordHead+minCanon):
		return nil, newErr(ReasonFormat, 0, strconv.FormatUint(count, 10)+" records do not fit in the "+strconv.Itoa(len(r.p))+" bytes left")
	}
	b.Size, b.PrevSize = int64(size), int64(prev)
	b.Records = make([]sdk.Sealed, count)
	for i := range b.Records {
		seq := prev + 1 + uint64(i)
		n := r.u32("record length")
		sum := r.u32("record CRC-32C")
		if r.err == nil && (n < recordHead+minCanon || n > maxRecord) {
			r.fail("record of " + strconv.FormatUint(uint64(n), 10) + " bytes")
		}
		p := r.bytes(int(n), "record")
		if r.err != nil {
			r.err.Seq = seq
			r.err.Reason = ReasonRecord
			return nil, r.err
		}
		if got := crc32.Checksum(p, castagnoli); got != sum {
			return nil, &Error{Reason: ReasonRecord, Seq: seq, Detail: "CRC-32C mismatch (damaged record)",
				Expected: fmt.Sprintf("%08x", sum), Got: fmt.Sprintf("%08x", got)}
		}
		if p[0] != recordType || p[1] > flagsSigned {
			return nil, newErr(ReasonRecord, seq, fmt.Sprintf("record type %d flags %d (want type 1, flags 0 or 1)", p[0], p[1]))
		}
		rec := &b.Records[i]
		rec.Signed = p[1] == flagsSigned
		copy(rec.KeyID[:], p[2:10])
		copy(rec.Sig[:], p[10:74])
		copy(rec.Hash[:], p[74:106])
		rec.Bytes = p[recordHead:]
		if !rec.Signed && (rec.KeyID != sdk.KeyID{} || rec.Sig != sdk.Signature{}) {
			return nil, newErr(ReasonRecord, seq, "unsigned record with a key id or signature")
		}
	}
	if len(r.p) != 0 {
		return nil, newErr(ReasonFormat, 0, strconv.Itoa(len(r.p))+" bytes of trailing data after the last record")
	}
	return b, nil
}

// compactRange returns the compact range of the tree of the first m
// leaves of r: the stored hashes of its maximal perfect subtrees, left to
// right (largest first), popcount(m) hashes.
func compactRange(r tlog.HashReader, m int64) ([]tlog.Hash, error) {
	var idx []int64
	var start int64
	for level := 62; level >= 0; level-- {
		if m>>level&1 == 1 {
			idx = append(idx, tlog.StoredHashIndex(level, start>>level))
			start += 1 << level
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	return r.ReadHashes(idx)
}

// leafHash is the tree's leaf hash of a record hash.
func leafHash(h canonical.Hash) tlog.Hash { return checkpoint.LeafHash(h) }
