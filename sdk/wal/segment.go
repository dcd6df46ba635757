package wal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/rustyonions/ron-audit-go/internal/fsutil"
)

// Format constants (FORMAT.md).
const (
	// Magic opens every segment file.
	Magic = "RONAWAL\x00"
	// FormatVersion is the segment format version this package writes and
	// the only one it reads.
	FormatVersion = 1
	// SegmentHeaderSize is the size of a segment header.
	SegmentHeaderSize = 32
	// FrameHeaderSize is the size of a frame header: payload length and
	// CRC-32C of the payload.
	FrameHeaderSize = 8
	// MaxPayload is the largest frame payload.
	MaxPayload = 1 << 20
	// DefaultSegmentBytes is the default segment size at which the writer
	// rotates; MinSegmentBytes is the smallest it accepts.
	DefaultSegmentBytes = 128 << 20
	MinSegmentBytes     = 4 << 10
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

func checksum(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// SegmentName returns the file name of segment n: 16 decimal digits and
// ".seg", so names sort in segment order.
func SegmentName(n uint64) string { return fmt.Sprintf("%016d.seg", n) }

// parseSegmentName is the inverse of SegmentName; other names are not
// segments.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != 20 || name[16:] != ".seg" {
		return 0, false
	}
	for i := 0; i < 16; i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(name[:16], 10, 64)
	return n, err == nil
}

// SegmentHeader is the decoded header of a segment.
type SegmentHeader struct {
	Version    uint32
	Number     uint64 // segment number, 1 for the first segment of a log
	FirstIndex uint64 // global index of the segment's first frame
}

// encodeHeader returns the 32 header bytes of segment num whose first
// frame has index first.
func encodeHeader(num, first uint64) []byte {
	b := make([]byte, 0, SegmentHeaderSize)
	b = append(b, Magic...)
	b = le.AppendUint32(b, FormatVersion)
	b = le.AppendUint32(b, SegmentHeaderSize)
	b = le.AppendUint64(b, num)
	return le.AppendUint64(b, first)
}

// parseHeader decodes a 32-byte header. badVersion is set when only the
// version is wrong.
func parseHeader(b []byte) (h SegmentHeader, reason string, badVersion bool) {
	if string(b[:8]) != Magic {
		return h, fmt.Sprintf("bad magic %q, want %q", b[:8], Magic), false
	}
	h.Version = le.Uint32(b[8:])
	if h.Version != FormatVersion {
		return h, "", true
	}
	if n := le.Uint32(b[12:]); n != SegmentHeaderSize {
		return h, fmt.Sprintf("header length %d, want %d", n, SegmentHeaderSize), false
	}
	h.Number = le.Uint64(b[16:])
	h.FirstIndex = le.Uint64(b[24:])
	if h.Number == 0 {
		return h, "segment number 0 in header (numbers start at 1)", false
	}
	if h.FirstIndex == 0 {
		return h, "first frame index 0 in header (indexes start at 1)", false
	}
	return h, "", false
}

// Frame is one frame as a reader yields it. Payload (and so Body) is only
// valid during the callback it is handed to: readers reuse the buffer.
// Copy what must outlive the call.
type Frame struct {
	Index   uint64 // global index, 1-based, continuous across segments
	Segment uint64 // segment number
	File    string // path of the segment file ("" for ReadSegment of bytes)
	Offset  int64  // byte offset of the frame header in the file
	Type    byte   // Payload[0]; the wal does not interpret it (the SDK: 1 record, 2 seal)
	Payload []byte // the payload exactly as appended, type byte included
}

// Body returns the payload after the type byte.
func (f Frame) Body() []byte { return f.Payload[1:] }

// SegmentInfo is what reading one segment found.
type SegmentInfo struct {
	File   string
	Header SegmentHeader // zero when HeaderTorn
	Frames uint64        // good frames
	End    int64         // offset just past the last good frame: where the next frame goes
	Size   int64         // size of the file (or data)
	// TornBytes is the size of the torn tail, Size - End, when the segment
	// was read as the last one and ends in one (see FORMAT.md); else 0.
	TornBytes  int64
	TornReason string
	// HeaderTorn: the header itself is incomplete (an interrupted segment
	// creation); End is 0 and TornBytes is Size.
	HeaderTorn bool
}

// ReadSegment reads a segment held in memory and calls fn for each good
// frame in order. last says whether the segment is the last of its log:
// only the last segment may end in a torn tail, which is then reported in
// the SegmentInfo, not as an error. Damage that is not a torn tail is a
// *CorruptError (frames before it have been handed to fn); an unknown
// format version is a *VersionError. An error from fn stops the read and
// is returned as is. Frame indexes start at the header's FirstIndex.
// ReadSegment never panics, whatever data holds.
func ReadSegment(data []byte, last bool, fn func(Frame) error) (SegmentInfo, error) {
	s := segScan{r: bytes.NewReader(data), size: int64(len(data)), last: last, fn: fn}
	return s.run()
}

// ReadSegmentFile is ReadSegment on a file, read as a stream (a segment
// need not fit in memory). Errors name the file.
func ReadSegmentFile(path string, last bool, fn func(Frame) error) (SegmentInfo, error) {
	return scanSegmentFile(path, last, nil, 0, fn)
}

func scanSegmentFile(path string, last bool, expect []byte, prev uint64, fn func(Frame) error) (SegmentInfo, error) {
	// A named pipe named like a segment would block a plain open until a
	// writer came; OpenRegular refuses it at once.
	f, fi, err := fsutil.OpenRegular(path)
	var nr *fsutil.NotRegularError
	if errors.As(err, &nr) {
		return SegmentInfo{File: path}, &CorruptError{File: path, Reason: "not a regular file (mode " + nr.Mode.String() + ")", LastIndex: prev}
	}
	if err != nil {
		return SegmentInfo{File: path}, &Error{Op: "read", Path: path, Err: err}
	}
	defer f.Close()
	s := segScan{r: f, size: fi.Size(), file: path, last: last, expect: expect, prev: prev, fn: fn}
	return s.run()
}

// segScan reads one segment.
type segScan struct {
	r      io.ReaderAt
	size   int64
	file   string
	last   bool
	expect []byte // the header this segment must have (ReadDir); nil: any number and first index
	prev   uint64 // index of the last frame before this segment, for errors
	fn     func(Frame) error
}

func (s *segScan) corrupt(off int64, last uint64, reason string) *CorruptError {
	return &CorruptError{File: s.file, Offset: off, Reason: reason, LastIndex: last}
}

func (s *segScan) ioError(err error) *Error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("file changed while being read: %w", err)
	}
	return &Error{Op: "read", Path: s.file, Err: err}
}

func (s *segScan) run() (SegmentInfo, error) {
	info := SegmentInfo{File: s.file, Size: s.size}

	// The header.
	var hb [SegmentHeaderSize]byte
	n := min(s.size, SegmentHeaderSize)
	if _, err := s.r.ReadAt(hb[:n], 0); err != nil && !(err == io.EOF && n == s.size) {
		return info, s.ioError(err)
	}
	var (
		h          SegmentHeader
		reason     string
		badVersion bool
	)
	switch {
	case s.size >= int64(len(Magic))+4 && string(hb[:len(Magic)]) == Magic && le.Uint32(hb[len(Magic):]) != FormatVersion:
		// The magic and version are where they are in every version, but
		// another version's header may be shorter: its version decides.
		h.Version, badVersion = le.Uint32(hb[len(Magic):]), true
	case s.size < SegmentHeaderSize:
		reason = fmt.Sprintf("file of %d bytes is shorter than the %d-byte segment header", s.size, SegmentHeaderSize)
	default:
		h, reason, badVersion = parseHeader(hb[:])
		if reason == "" && !badVersion && s.expect != nil && !bytes.Equal(hb[16:], s.expect[16:]) {
			want := SegmentHeader{Number: le.Uint64(s.expect[16:]), FirstIndex: le.Uint64(s.expect[24:])}
			if h.Number != want.Number {
				reason = fmt.Sprintf("header says segment %d, the file name says %d", h.Number, want.Number)
			} else {
				reason = fmt.Sprintf("first frame index %d, want %d (continuing the previous segment)", h.FirstIndex, want.FirstIndex)
			}
		}
	}
	if reason != "" || badVersion {
		if s.last {
			torn, err := s.headerTorn()
			if err != nil {
				return info, err
			}
			if torn {
				info.HeaderTorn = true
				info.TornBytes = s.size
				info.TornReason = "incomplete segment header (interrupted segment creation)"
				return info, nil
			}
		}
		if badVersion {
			return info, &VersionError{File: s.file, Version: h.Version}
		}
		return info, s.corrupt(0, s.prev, "bad segment header: "+reason)
	}
	info.Header = h
	last := h.FirstIndex - 1 // index of the last good frame so far

	// The frames.
	p := int64(SegmentHeaderSize)
	br := bufio.NewReaderSize(io.NewSectionReader(s.r, p, s.size-p), 256<<10)
	var (
		fh      [FrameHeaderSize]byte
		payload []byte
	)
	for p < s.size {
		rem := s.size - p
		var bad string
		var plen int64
		if rem < FrameHeaderSize {
			bad = fmt.Sprintf("incomplete frame header (%d bytes before end of file)", rem)
		} else {
			if _, err := io.ReadFull(br, fh[:]); err != nil {
				return info, s.ioError(err)
			}
			plen = int64(le.Uint32(fh[:4]))
			sum := le.Uint32(fh[4:])
			switch {
			case plen == 0:
				bad = "frame length 0"
			case plen > MaxPayload:
				bad = fmt.Sprintf("frame length %d exceeds the maximum %d", plen, MaxPayload)
			case plen > rem-FrameHeaderSize:
				bad = fmt.Sprintf("frame of %d bytes runs past end of file (%d bytes remain)", plen, rem-FrameHeaderSize)
			default:
				if int64(cap(payload)) < plen {
					payload = make([]byte, plen, max(plen, 4096))
				}
				payload = payload[:plen]
				if _, err := io.ReadFull(br, payload); err != nil {
					return info, s.ioError(err)
				}
				if got := checksum(payload); got != sum {
					bad = fmt.Sprintf("checksum mismatch (stored %08x, computed %08x)", sum, got)
				}
			}
		}
		if bad != "" {
			if !s.last {
				return info, s.corrupt(p, last, "bad frame: "+bad)
			}
			v, err := classifyTail(s.r, p, s.size, bad)
			if err != nil {
				return info, s.ioError(err)
			}
			if !v.torn {
				return info, s.corrupt(p, last, "bad frame: "+bad+"; not a torn tail: "+v.reason)
			}
			info.TornBytes = s.size - p
			info.TornReason = v.reason
			break
		}
		last++
		info.Frames++
		if s.fn != nil {
			if err := s.fn(Frame{Index: last, Segment: h.Number, File: s.file, Offset: p, Type: payload[0], Payload: payload}); err != nil {
				return info, err
			}
		}
		p += FrameHeaderSize + plen
	}
	info.End = p
	return info, nil
}

// headerTorn reports whether the file, the last segment of its log, is an
// interrupted segment creation: its bytes are a prefix of the header the
// writer writes, then zero bytes to the end of the file. (The writer
// writes no frame before the header is durable.)
func (s *segScan) headerTorn() (bool, error) {
	z, err := zeroStart(s.r, 0, s.size)
	if err != nil {
		return false, s.ioError(err)
	}
	if z > SegmentHeaderSize {
		return false, nil
	}
	b := make([]byte, z)
	if _, err := s.r.ReadAt(b, 0); err != nil && !(err == io.EOF && z == s.size) {
		return false, s.ioError(err)
	}
	want := s.expect
	if want == nil {
		// Without an expected header, the segment number and first index
		// can be anything.
		want = encodeHeader(0, 0)
		n := min(len(b), 16)
		return bytes.Equal(b[:n], want[:n]), nil
	}
	return bytes.Equal(b, want[:z]), nil
}

// zeroStart returns the offset in [lo, size] where the run of zero bytes
// that ends the file starts (size if the last byte is not zero).
func zeroStart(r io.ReaderAt, lo, size int64) (int64, error) {
	var buf [32 << 10]byte
	z := size
	for z > lo {
		n := min(int64(len(buf)), z-lo)
		b := buf[:n]
		if _, err := r.ReadAt(b, z-n); err != nil && !(err == io.EOF && z == size) {
			return 0, err
		}
		i := len(b)
		for i > 0 && b[i-1] == 0 {
			i--
		}
		if i > 0 {
			return z - n + int64(i), nil
		}
		z -= n
	}
	return lo, nil
}

type verdict struct {
	torn   bool
	reason string // torn: what the tail is; not torn: why not
}

// rangeCRC gives the CRC-32C of any byte range of buf in constant time,
// from the CRCs of buf's prefixes: for byte strings A and B,
// crc(AB) = crc(A)·x^(8|B|) xor crc(B) modulo the CRC polynomial (the
// relation zlib's crc32_combine uses). classifyTail's search may check a
// frame at nearly every offset of a torn tail, each as long as the rest of
// the tail: checksumming each frame's bytes afresh is quadratic in the
// tail, and a bound on that work refused ordinary torn appends (a payload
// of small little-endian integers reads as thousands of plausible frame
// headers). With rangeCRC the search is linear in the tail.
type rangeCRC struct {
	pre []uint32 // pre[k]: CRC-32C of buf[:k]
	pow []uint32 // pow[k]: x^(8k) modulo the polynomial, bit-reflected
}

func newRangeCRC(buf []byte) *rangeCRC {
	tab := castagnoli
	pre := make([]uint32, len(buf)+1)
	c := ^uint32(0) // the register: the CRC before its final inversion
	for i, b := range buf {
		c = tab[byte(c)^b] ^ c>>8
		pre[i+1] = ^c
	}
	// Multiplying by x^8 is the register step for a zero byte.
	pow := make([]uint32, min(len(buf), MaxPayload)+1)
	pow[0] = 1 << 31 // x^0
	for k := 1; k < len(pow); k++ {
		v := pow[k-1]
		pow[k] = tab[byte(v)] ^ v>>8
	}
	return &rangeCRC{pre, pow}
}

// crc returns the CRC-32C of buf[i:j], j-i <= MaxPayload.
func (r *rangeCRC) crc(i, j int64) uint32 {
	return r.pre[j] ^ mulModP(r.pow[j-i], r.pre[i])
}

// mulModP multiplies a and b, bit-reflected polynomials over GF(2), modulo
// the CRC-32C polynomial (zlib's multmodp).
func mulModP(a, b uint32) uint32 {
	const poly = 0x82F63B78 // Castagnoli, reflected
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ poly
		} else {
			b >>= 1
		}
	}
	return p
}

// classifyTail decides whether the bytes [p, size) of the last segment,
// where the frame at p is bad (bad says how), are a torn tail: what an
// interrupted append leaves. The rule, FORMAT.md section 6: with z the
// start of the run of zero bytes that ends the file,
//
//  1. z-p < 8: torn (at most an incomplete frame header, then zeros);
//  2. else the header at p must declare a length in 1..MaxPayload whose
//     frame end p+8+len is at or past z (every non-zero byte lies inside
//     the frame the header declares), else corrupt;
//  3. and no good frame may start at a q in (p+8, z), q-p-8 <= MaxPayload,
//     where the CRC stored at p is that of the bytes [p+8, q), from which
//     a run of good frames ends at some e with z <= e <= size, or at some
//     e < z where the bytes [e, size) are torn by rules 1 and 2 (that is
//     a frame whose length alone was damaged, its CRC proving it ends at
//     q, followed by intact ones, and perhaps a torn append after them,
//     not a torn write), else corrupt. Intact frames at any other q can
//     be bytes of the torn frame's payload.
func classifyTail(r io.ReaderAt, p, size int64, bad string) (verdict, error) {
	z, err := zeroStart(r, p, size)
	if err != nil {
		return verdict{}, err
	}
	zeros := ""
	if z < size {
		zeros = fmt.Sprintf(", then zero bytes from offset %d to end of file", z)
	}
	switch {
	case z == p:
		return verdict{true, "zero bytes to end of file"}, nil
	case z-p < FrameHeaderSize:
		return verdict{true, "incomplete frame header" + zeros}, nil
	}
	var fh [FrameHeaderSize]byte
	if _, err := r.ReadAt(fh[:], p); err != nil {
		return verdict{}, err
	}
	plen := int64(le.Uint32(fh[:4]))
	if plen == 0 || plen > MaxPayload {
		return verdict{false, fmt.Sprintf("the frame length is impossible and non-zero data follows up to offset %d", z)}, nil
	}
	end := p + FrameHeaderSize + plen
	if end < z {
		return verdict{false, fmt.Sprintf("the frame ends at offset %d and non-zero data follows up to offset %d", end, z)}, nil
	}

	// Rule 3: look for intact frames inside the declared frame. n bytes
	// [p, z) hold the candidates' starts; their frames end by size and
	// within z+8+MaxPayload.
	n := z - p
	buf := make([]byte, min(size, z+FrameHeaderSize+MaxPayload)-p)
	if _, err := r.ReadAt(buf, p); err != nil && err != io.EOF {
		return verdict{}, err
	}
	lim := size - p // frames must end by lim (relative)
	// tornAt(e), e < n: the bytes from e on are torn by rules 1 and 2, so
	// a run of good frames may end at e (a crash tore the append after
	// them). Without it, a damaged length that hides intact frames and a
	// torn append after them made the whole run look torn, and recovery
	// cut acknowledged frames.
	tornAt := func(e int64) bool {
		if n-e < FrameHeaderSize {
			return true
		}
		l := int64(le.Uint32(buf[e:]))
		return l >= 1 && l <= MaxPayload && e+FrameHeaderSize+l >= n
	}
	// reach[i]: following declared lengths from i ends in [z, size], or
	// at a torn rest.
	reach := make([]bool, n)
	frameEnd := func(i int64) int64 {
		if i+FrameHeaderSize > int64(len(buf)) {
			return -1
		}
		l := int64(le.Uint32(buf[i:]))
		if l == 0 || l > MaxPayload || i+FrameHeaderSize+l > lim {
			return -1
		}
		return i + FrameHeaderSize + l
	}
	for i := n - 1; i >= 1; i-- {
		if e := frameEnd(i); e >= 0 && (e >= n || reach[e] || tornAt(e)) {
			reach[i] = true
		}
	}
	// state: 0 unknown; for a good frame, 1 if a good run from it ends in
	// [z, size] or at a torn rest, -1 if not; badFrame for a frame that
	// is not good (a run that reaches it ends there).
	const badFrame = 2
	state := make([]int8, n)
	var path []int64
	var crcs *rangeCRC // made at the first frame to check
	// A run counts only from where the frame at p ends if its length alone
	// is damaged: its stored CRC matches the bytes from its payload's
	// start up to there (1..MaxPayload bytes). A torn frame's payload can
	// hold whole frames (a record's text is partly the caller's), and a
	// run of them ending at the cut once made a crash refuse the log; the
	// CRC of a torn frame matches a prefix of its payload only by chance,
	// 2^-32 a candidate.
	sum := le.Uint32(buf[4:])
	for i := int64(FrameHeaderSize + 1); i < n && i-FrameHeaderSize <= MaxPayload; i++ {
		if !reach[i] || state[i] != 0 { // state 1 returned when it was set
			continue
		}
		if crcs == nil {
			crcs = newRangeCRC(buf)
		}
		if crcs.crc(FrameHeaderSize, i) != sum {
			continue
		}
		path = path[:0]
		res := int8(1)
		for j := i; ; {
			if state[j] == 1 || state[j] == -1 {
				res = state[j]
				break
			}
			good := state[j] != badFrame
			e := int64(-1)
			if good {
				if e = frameEnd(j); e < 0 {
					good = false
				} else {
					good = crcs.crc(j+FrameHeaderSize, e) == le.Uint32(buf[j+4:])
				}
			}
			if !good {
				state[j] = badFrame
				res = -1
				if len(path) > 0 && tornAt(j) {
					res = 1
				}
				break
			}
			path = append(path, j)
			if e >= n {
				break
			}
			j = e
		}
		for _, k := range path {
			state[k] = res
		}
		if state[i] == 1 {
			return verdict{false, fmt.Sprintf("intact frames follow from offset %d, where the frame's CRC says it ends", p+i)}, nil
		}
	}
	return verdict{true, bad + zeros}, nil
}
