package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// lastSegment returns the path and bytes of the last segment of dir.
func lastSegment(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	segs := segments(t, dir)
	p := segs[len(segs)-1]
	return p, readFile(t, p)
}

// expectTorn opens dir and checks that it recovers n frames payloadFor(1..n)
// after cutting torn bytes at file:at, then that appending goes on.
func expectTorn(t *testing.T, dir string, n uint64, file string, at, torn int64) {
	t.Helper()
	// ReadDir reports what Open will cut, and changes nothing.
	before := snapshot(t, dir)
	rrec, err := ReadDir(dir, nil)
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	sameSnapshot(t, before, snapshot(t, dir))

	l, rec, err := Open(dir, testOpts())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if rec.Frames != n || rec.TornBytes != torn || rec.TornAt != (Position{file, at}) || rec.TornReason == "" {
		t.Fatalf("Recovery %+v, want %d frames, %d torn bytes at %s:%d", rec, n, torn, file, at)
	}
	if rrec != rec {
		t.Fatalf("ReadDir said %+v, Open %+v", rrec, rec)
	}
	wantSize := at
	if at == 0 { // an interrupted segment creation: the header is rewritten
		wantSize = SegmentHeaderSize
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != wantSize {
		t.Fatalf("%s not truncated to %d", file, wantSize)
	}
	if l.LastIndex() != n {
		t.Fatalf("LastIndex %d", l.LastIndex())
	}
	if idx, err := l.AppendDurable(payloadFor(n + 1)); err != nil || idx != n+1 {
		t.Fatalf("append after recovery: %d, %v", idx, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fs, rec, err := readAll(t, dir)
	if err != nil || rec.TornBytes != 0 {
		t.Fatalf("after recovery and append: %+v, %v", rec, err)
	}
	checkFrames(t, fs, int(n+1))
}

// expectCorrupt opens dir and checks it fails with a *CorruptError at
// file:off changing nothing.
func expectCorrupt(t *testing.T, dir, file string, off int64, lastIndex uint64, reason string) *CorruptError {
	t.Helper()
	before := snapshot(t, dir)
	_, _, err := Open(dir, testOpts())
	ce := wantCorrupt(t, err, file, off, lastIndex, reason)
	sameSnapshot(t, before, snapshot(t, dir))
	// ReadDir agrees and yields the good frames before the damage.
	var last uint64
	_, err = ReadDir(dir, func(f Frame) error { last = f.Index; return nil })
	wantCorrupt(t, err, file, off, lastIndex, reason)
	if last != lastIndex {
		t.Fatalf("ReadDir yielded frames up to %d, want %d", last, lastIndex)
	}
	return ce
}

func TestTornEveryOffsetOfLastFrame(t *testing.T) {
	const n = 12
	dir := writeLog(t, n, Options{SegmentBytes: MinSegmentBytes, Fsync: FsyncNever, AllowNoFsync: true})
	file, off, size := frameAt(t, dir, n)
	t.Logf("cutting a frame of %d bytes", size)
	orig := snapshot(t, dir)
	if len(orig) < 2 {
		t.Fatalf("want several segments, have %d", len(orig))
	}
	full := orig[filepath.Base(file)]
	if int64(len(full)) != off+size {
		t.Fatal("frame n is not last")
	}
	for cut := int64(1); cut < size; cut++ {
		for name, b := range orig {
			writeFile(t, filepath.Join(dir, name), b)
		}
		writeFile(t, file, full[:off+cut])
		expectTorn(t, dir, n-1, file, off, cut)
		if t.Failed() {
			t.Fatalf("cut at %d of %d", cut, size)
		}
	}
}

func TestTornGarbage(t *testing.T) {
	const n = 20
	frame := func(p []byte, sum uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
		b = binary.LittleEndian.AppendUint32(b, sum)
		return append(b, p...)
	}
	rnd := func(k int) []byte { return payloadOfSize(uint64(k)*31+5, k) }
	overMax := binary.LittleEndian.AppendUint32(nil, MaxPayload+1)
	good := frame(payloadFor(n+1), checksum(payloadFor(n+1)))
	for _, c := range []struct {
		name    string
		garbage []byte
		torn    bool
		reason  string
	}{
		{"1 byte", []byte{0x42}, true, ""},
		{"7 bytes", []byte{1, 2, 3, 4, 5, 6, 7}, true, ""},
		{"partial header", []byte{100, 0, 0, 0, 0x34, 0x12}, true, ""},
		{"header declaring 100 bytes", append(binary.LittleEndian.AppendUint32(nil, 100), 1, 2, 3, 4), true, ""},
		{"partial payload", append(frame(rnd(500), 7)[:8], rnd(100)...), true, ""},
		{"whole frame, bad crc", frame(rnd(50), 7), true, ""},
		{"whole frame, bad crc, then zeros", append(frame(rnd(50), 7), make([]byte, 4096)...), true, ""},
		{"partial header, then zeros", append([]byte{9, 1}, make([]byte, 100)...), true, ""},
		{"zero page", make([]byte, 4096), true, ""},
		{"impossible length", append([]byte{0xff, 0xff, 0xff, 0xff}, rnd(60)...), false, "impossible"},
		{"length over max", append(overMax, 1, 2, 3, 4), false, "impossible"},
		{"length 0 then data", append([]byte{0, 0, 0, 0, 0xef, 0xbe, 0xad, 0xde}, rnd(10)...), false, "impossible"},
		{"short bad frame then data", append(frame(rnd(10), 7), rnd(20)...), false, "non-zero data follows"},
		{"valid frame", good, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := c.garbage
			dir := writeLog(t, n, testOpts())
			file, b := lastSegment(t, dir)
			writeFile(t, file, append(bytes.Clone(b), g...))
			switch {
			case c.name == "valid frame":
				// Garbage that is a whole good frame is a frame.
				rec, err := ReadDir(dir, nil)
				if err != nil || rec.Frames != n+1 || rec.TornBytes != 0 {
					t.Fatalf("%+v, %v", rec, err)
				}
			case c.torn:
				expectTorn(t, dir, n, file, int64(len(b)), int64(len(g)))
			default:
				expectCorrupt(t, dir, file, int64(len(b)), n, c.reason)
			}
		})
	}
}

// TestTornRandomGarbage: whatever is appended after the last frame, Open
// either cuts exactly it, or fails changing nothing; fewer than 8 bytes
// are always cut.
func TestTornRandomGarbage(t *testing.T) {
	const n = 5
	dir := writeLog(t, n, testOpts())
	file, b := lastSegment(t, dir)
	rng := rand.New(rand.NewPCG(1, 2))
	var torn, corrupt int
	for range 300 {
		g := make([]byte, 1+rng.IntN(64))
		for i := range g {
			g[i] = byte(rng.Uint32())
		}
		if rng.IntN(3) == 0 { // a plausible length
			if len(g) >= 4 {
				binary.LittleEndian.PutUint32(g, uint32(1+rng.IntN(200)))
			}
		}
		writeFile(t, file, append(bytes.Clone(b), g...))
		l, rec, err := Open(dir, testOpts())
		switch {
		case err == nil:
			torn++
			if rec.Frames != n || rec.TornBytes != int64(len(g)) {
				t.Fatalf("garbage %x: %+v", g, rec)
			}
			l.Close()
		case errors.Is(err, ErrCorrupt):
			corrupt++
			if len(g) < 8 {
				t.Fatalf("garbage %x of %d bytes: %v", g, len(g), err)
			}
			if got := readFile(t, file); !bytes.Equal(got, append(bytes.Clone(b), g...)) {
				t.Fatal("corrupt log changed")
			}
		default:
			t.Fatal(err)
		}
	}
	t.Logf("%d torn, %d corrupt", torn, corrupt)
	if torn == 0 || corrupt == 0 {
		t.Fatal("want both outcomes")
	}
}

func TestTornZeroPage(t *testing.T) {
	const n = 40
	opts := Options{SegmentBytes: 1 << 20, Fsync: FsyncNever, AllowNoFsync: true}
	dir := writeLog(t, n, opts)
	file, b := lastSegment(t, dir)
	if len(b) < 3*4096 {
		t.Fatalf("segment of %d bytes, want more", len(b))
	}
	fs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// cutAt returns the frames that end by off and where the last ends.
	cutAt := func(off int64) (uint64, int64) {
		var k uint64
		end := int64(SegmentHeaderSize)
		for _, f := range fs {
			if e := f.Offset + FrameHeaderSize + int64(len(f.Payload)); e <= off {
				k, end = f.Index, e
			}
		}
		return k, end
	}
	for _, c := range []struct {
		name string
		from int64 // zero [from, len) ...
		grow int64 // ... after appending grow zero bytes
	}{
		{"zeros appended", int64(len(b)), 4096},
		{"last 4096 bytes zeroed", int64(len(b)) - 4096, 0},
		{"last page zeroed", (int64(len(b)) - 1) / 4096 * 4096, 0},
		{"last page zeroed and file grown", (int64(len(b)) - 1) / 4096 * 4096, 8192},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := bytes.Clone(b)
			d = append(d, make([]byte, c.grow)...)
			clear(d[c.from:])
			writeFile(t, file, d)
			k, end := cutAt(c.from)
			expectTorn(t, dir, k, file, end, int64(len(d))-end)
			writeFile(t, file, b) // restore
		})
	}
}

func TestCorruptMiddleFrame(t *testing.T) {
	const n = 40
	for _, c := range []struct {
		name string
		idx  uint64 // frame to damage
		opts Options
	}{
		{"last segment", n / 2, Options{SegmentBytes: 1 << 20, Fsync: FsyncNever, AllowNoFsync: true}},
		{"earlier segment", 5, Options{SegmentBytes: 8 << 10, Fsync: FsyncNever, AllowNoFsync: true}},
		{"earlier segment, its last frame", 0, Options{SegmentBytes: 8 << 10, Fsync: FsyncNever, AllowNoFsync: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeLog(t, n, c.opts)
			idx := c.idx
			if idx == 0 { // the last frame of the first segment
				fs, _, _ := readAll(t, dir)
				for _, f := range fs {
					if f.Segment == 1 {
						idx = f.Index
					}
				}
			}
			file, off, size := frameAt(t, dir, idx)
			if c.name != "last segment" && file == segments(t, dir)[len(segments(t, dir))-1] {
				t.Fatal("frame is in the last segment")
			}
			orig := readFile(t, file)
			for i := off; i < off+size; i++ {
				masks := []byte{0xff}
				if i < off+FrameHeaderSize {
					masks = []byte{0x01, 0x10, 0x80, 0xff}
				}
				for _, m := range masks {
					d := bytes.Clone(orig)
					d[i] ^= m
					writeFile(t, file, d)
					expectCorrupt(t, dir, file, off, idx-1, "")
					if t.Failed() {
						t.Fatalf("byte %d of the frame ^ %#x", i-off, m)
					}
				}
			}
			writeFile(t, file, orig)
		})
	}
}

// TestCorruptLengthNearTail: a damaged length field in one of the last
// frames of the last segment makes the frame run past the end of the
// file, like a torn write; the intact frames after it show it is damage.
func TestCorruptLengthNearTail(t *testing.T) {
	const n = 10
	dir := writeLog(t, n, testOpts())
	for _, idx := range []uint64{n - 2, n - 1} {
		file, off, _ := frameAt(t, dir, idx)
		orig := readFile(t, file)
		resync := 0
		for i := off; i < off+4; i++ {
			for _, m := range []byte{0x01, 0x02, 0x10, 0x40, 0x80, 0xff} {
				d := bytes.Clone(orig)
				d[i] ^= m
				writeFile(t, file, d)
				ce := expectCorrupt(t, dir, file, off, idx-1, "")
				if bytes.Contains([]byte(ce.Reason), []byte("intact frames follow")) {
					resync++
				}
			}
		}
		writeFile(t, file, orig)
		if resync == 0 {
			t.Fatalf("frame %d: no case needed the resync check", idx)
		}
		t.Logf("frame %d: %d damaged lengths caught by the resync check", idx, resync)
	}
}

// TestCorruptLengthBeforeTornTail: as TestCorruptLengthNearTail, but a
// crash also tore an append after the last frame. The damaged frame runs
// past the end of the file, so every byte after it lies inside it, and the
// intact frames it hides end before the torn bytes, not at the end of the
// file: they must still show it is damage, not let recovery cut them with
// the torn tail.
func TestCorruptLengthBeforeTornTail(t *testing.T) {
	const n = 10
	dir := writeLog(t, n, testOpts())
	file, off, _ := frameAt(t, dir, 5)
	var torn [8 + 100]byte // a torn append: a frame header of 500 bytes, 100 of them written
	binary.LittleEndian.PutUint32(torn[:4], 500)
	binary.LittleEndian.PutUint32(torn[4:8], 0x12345678)
	for i := 8; i < len(torn); i++ {
		torn[i] = byte(i)
	}
	orig := append(readFile(t, file), torn[:]...)
	for _, tail := range []int{len(torn), 12, 5} { // the torn frame, a shorter one, part of its header
		for _, bit := range []int{16, 17, 19} { // length bits that make frame 5 run past the end
			d := bytes.Clone(orig[:len(orig)-len(torn)+tail])
			d[off+int64(bit/8)] ^= 1 << (bit % 8)
			writeFile(t, file, d)
			expectCorrupt(t, dir, file, off, 4, "intact frames follow")
		}
	}
}

// TestDamagedFinalFrame pins the documented limit: damage to the final
// frame is indistinguishable from a torn append, and is cut.
func TestDamagedFinalFrame(t *testing.T) {
	const n = 10
	dir := writeLog(t, n, testOpts())
	file, off, size := frameAt(t, dir, n)
	d := readFile(t, file)
	d[off+size-1] ^= 0xff
	writeFile(t, file, d)
	expectTorn(t, dir, n-1, file, off, size)
}

// TestDamagedLengthAndCRC pins the limit of rule 3 (FORMAT.md section 6):
// damage to both the length and the CRC of a frame of the last segment,
// with a length that runs past the end of the file, leaves nothing that
// says where the frame really ended, so the frames after it cannot be
// told from bytes of its payload, and recovery cuts them as a torn tail.
// A flipped length bit alone (TestCorruptLengthBeforeTornTail) is caught.
func TestDamagedLengthAndCRC(t *testing.T) {
	const n = 10
	dir := writeLog(t, n, testOpts())
	file, off, _ := frameAt(t, dir, n-2)
	d := readFile(t, file)
	binary.LittleEndian.PutUint32(d[off:], 1<<16)
	d[off+4] ^= 0x01
	writeFile(t, file, d)
	expectTorn(t, dir, n-3, file, off, int64(len(d))-off)
}

func TestCorruptHeader(t *testing.T) {
	dir := writeLog(t, 40, Options{SegmentBytes: 8 << 10, Fsync: FsyncNever, AllowNoFsync: true})
	segs := segments(t, dir)
	if len(segs) < 3 {
		t.Fatal("want 3 segments")
	}
	fs, _, _ := readAll(t, dir)
	firstOf := map[string]uint64{}
	for _, f := range fs {
		if _, ok := firstOf[f.File]; !ok {
			firstOf[f.File] = f.Index
		}
	}
	for _, file := range []string{segs[0], segs[1], segs[len(segs)-1]} {
		orig := readFile(t, file)
		for i := range SegmentHeaderSize {
			for _, m := range []byte{0x01, 0xff} {
				d := bytes.Clone(orig)
				d[i] ^= m
				writeFile(t, file, d)
				before := snapshot(t, dir)
				_, _, err := Open(dir, testOpts())
				if i >= 8 && i < 12 {
					var ve *VersionError
					if !errors.As(err, &ve) || !errors.Is(err, ErrVersion) || ve.File != file {
						t.Fatalf("%s byte %d ^ %#x: %v, want a *VersionError", file, i, m, err)
					}
				} else {
					wantCorrupt(t, err, file, 0, firstOf[file]-1, "bad segment header")
				}
				sameSnapshot(t, before, snapshot(t, dir))
			}
		}
		writeFile(t, file, orig)
	}
	l, rec := mustOpen(t, dir, testOpts())
	l.Close()
	if rec.Frames != 40 {
		t.Fatalf("restored log: %+v", rec)
	}
}

func TestMissingSegment(t *testing.T) {
	dir := writeLog(t, 40, Options{SegmentBytes: 8 << 10, Fsync: FsyncNever, AllowNoFsync: true})
	segs := segments(t, dir)
	if len(segs) < 4 {
		t.Fatal("want 4 segments")
	}
	fs, _, _ := readAll(t, dir)
	var lastOf1 uint64
	for _, f := range fs {
		if f.Segment == 1 {
			lastOf1 = f.Index
		}
	}
	for _, k := range []int{1, 0} {
		b := readFile(t, segs[k])
		os.Remove(segs[k])
		var last uint64
		if k == 1 {
			last = lastOf1
		}
		expectCorrupt(t, dir, segs[k], 0, last, "missing")
		writeFile(t, segs[k], b)
	}
	// A header whose first index does not continue is corrupt too.
	d := readFile(t, segs[2])
	binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(d[24:])+1)
	writeFile(t, segs[2], d)
	_, _, err := Open(dir, testOpts())
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("discontinuous first index: %v", err)
	}
}

// TestTornSegmentCreation: a last segment holding a prefix of its header
// then zeros is an interrupted rotation; Open writes the header again.
func TestTornSegmentCreation(t *testing.T) {
	const n = 30
	dir := writeLog(t, n, Options{SegmentBytes: 8 << 10, Fsync: FsyncNever, AllowNoFsync: true})
	segs := segments(t, dir)
	next := filepath.Join(dir, SegmentName(uint64(len(segs)+1)))
	hdr := encodeHeader(uint64(len(segs)+1), n+1)
	for k := 0; k <= SegmentHeaderSize; k++ {
		for _, zeros := range []int{0, 32, 4096} {
			d := append(bytes.Clone(hdr[:k]), make([]byte, zeros)...)
			if k == SegmentHeaderSize && zeros == 0 {
				continue // a whole header: a good empty segment
			}
			writeFile(t, next, d)
			if len(d) >= SegmentHeaderSize && bytes.Equal(d[:SegmentHeaderSize], hdr) {
				// A whole header (the prefix and zeros can make one) then
				// zeros is a zero tail.
				expectTorn(t, dir, n, next, SegmentHeaderSize, int64(len(d)-SegmentHeaderSize))
			} else {
				expectTorn(t, dir, n, next, 0, int64(len(d)))
			}
			if !bytes.Equal(readFile(t, next)[:SegmentHeaderSize], hdr) {
				t.Fatal("header not rewritten")
			}
			// Undo the frame expectTorn appended.
			os.Remove(next)
		}
	}
	// A prefix of a wrong header, or one with data after it, is corrupt.
	wrong := encodeHeader(uint64(len(segs)+1), n+2)
	writeFile(t, next, wrong[:28])
	expectCorrupt(t, dir, next, 0, n, "bad segment header")
	writeFile(t, next, append(bytes.Clone(hdr[:20]), 0, 0, 7))
	expectCorrupt(t, dir, next, 0, n, "bad segment header")
	os.Remove(next)
	// In a segment other than the last, a short header is corrupt.
	l, _ := mustOpen(t, dir, testOpts())
	l.Close()
	writeFile(t, next, hdr[:10])
	writeFile(t, filepath.Join(dir, SegmentName(uint64(len(segs)+2))), encodeHeader(uint64(len(segs)+2), n+1))
	expectCorrupt(t, dir, next, 0, n, "shorter than")
}

func TestTornTailInEarlierSegmentIsCorrupt(t *testing.T) {
	dir := writeLog(t, 30, Options{SegmentBytes: 8 << 10, Fsync: FsyncNever, AllowNoFsync: true})
	segs := segments(t, dir)
	fs, _, _ := readAll(t, dir)
	var last frameCopy
	for _, f := range fs {
		if f.Segment == 1 {
			last = f
		}
	}
	d := readFile(t, segs[0])
	writeFile(t, segs[0], d[:len(d)-3])
	expectCorrupt(t, dir, segs[0], last.Offset, last.Index-1, "runs past end of file")
	writeFile(t, segs[0], append(d, 0, 0, 0, 0))
	expectCorrupt(t, dir, segs[0], int64(len(d)), last.Index, "incomplete frame header")
}

func TestReadSegment(t *testing.T) {
	dir := writeLog(t, 10, testOpts())
	file, b := lastSegment(t, dir)
	var got []uint64
	info, err := ReadSegment(b, false, func(f Frame) error {
		if !bytes.Equal(f.Payload, payloadFor(f.Index)) || f.File != "" {
			t.Errorf("frame %d", f.Index)
		}
		got = append(got, f.Index)
		return nil
	})
	if err != nil || len(got) != 10 || info.End != int64(len(b)) || info.Header != (SegmentHeader{1, 1, 1}) {
		t.Fatalf("%+v, %v", info, err)
	}
	fileInfo, err := ReadSegmentFile(file, false, nil)
	info.File = file
	if err != nil || fileInfo != info {
		t.Fatalf("ReadSegmentFile: %+v, %v", fileInfo, err)
	}
	torn := b[:len(b)-5]
	if _, err := ReadSegment(torn, false, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("torn tail, not last: %v", err)
	}
	info, err = ReadSegment(torn, true, nil)
	if err != nil || info.Frames != 9 || info.TornBytes+info.End != int64(len(torn)) {
		t.Fatalf("torn tail, last: %+v, %v", info, err)
	}
}

// TestResyncDecidesEveryTail pins FORMAT.md section 6, rule 3: the search
// for intact frames inside a torn-looking final frame decides every tail,
// however many candidate frames it holds. The tail is a frame header
// declaring MaxPayload bytes that reach the end of the file, holding k
// candidate frame headers, each declaring a frame that ends exactly there
// too (about 1 MiB each, 1 GiB of checksummed bytes for k = 1000). None
// with a matching CRC is a torn tail. The last with a matching CRC is an
// intact frame: damage if the CRC stored at the tail's start matches the
// bytes up to it (the tail's frame, its length damaged, ends there), else
// a torn append whose payload holds a whole frame. With every candidate
// where that CRC says the tail's frame ends, each one's run is followed
// (the search stays linear in the tail: it once gave up after 64 MiB of
// CRC work and called such tails corrupt).
func TestResyncDecidesEveryTail(t *testing.T) {
	const n = 3
	for _, c := range []struct {
		k      int
		intact bool   // the last candidate is an intact frame
		ends   string // where the CRC at the tail's start says its frame ends: "", "last", "every"
		torn   bool
	}{
		{60, false, "", true},
		{1000, false, "", true},
		{1000, true, "", true},
		{1000, true, "last", false},
		{1000, false, "every", true},
		{1000, true, "every", false},
	} {
		dir := writeLog(t, n, testOpts())
		file, b := lastSegment(t, dir)
		tail := make([]byte, FrameHeaderSize+MaxPayload)
		for i := range tail {
			tail[i] = byte(i%251) | 1 // no zero byte: z is the end of the file
		}
		binary.LittleEndian.PutUint32(tail, MaxPayload)
		last := c.k * FrameHeaderSize
		for j := 1; j <= c.k; j++ {
			at := j * FrameHeaderSize
			binary.LittleEndian.PutUint32(tail[at:], uint32(len(tail)-at-FrameHeaderSize))
		}
		switch c.ends {
		case "last":
			binary.LittleEndian.PutUint32(tail[4:], checksum(tail[FrameHeaderSize:last]))
		case "every":
			// The CRC of the bytes from 8 up to every candidate but the
			// first (which would leave the frame no payload) is the same:
			// each candidate's CRC field between them is forged so.
			sum := checksum(tail[FrameHeaderSize : 2*FrameHeaderSize])
			binary.LittleEndian.PutUint32(tail[4:], sum)
			for j := 2; j < c.k; j++ {
				at := j * FrameHeaderSize
				binary.LittleEndian.PutUint32(tail[at+4:], crcKeeper(sum, binary.LittleEndian.Uint32(tail[at:])))
			}
			for _, j := range []int{2, 3, c.k / 2, c.k} {
				if got := checksum(tail[FrameHeaderSize : j*FrameHeaderSize]); got != sum {
					t.Fatalf("forged: crc of [8, %d) = %08x, want %08x", j*FrameHeaderSize, got, sum)
				}
			}
		}
		if c.intact {
			binary.LittleEndian.PutUint32(tail[last+4:], checksum(tail[last+FrameHeaderSize:]))
		}
		writeFile(t, file, append(bytes.Clone(b), tail...))
		if c.torn {
			expectTorn(t, dir, n, file, int64(len(b)), int64(len(tail)))
		} else {
			expectCorrupt(t, dir, file, int64(len(b)), n, fmt.Sprintf("intact frames follow from offset %d", len(b)+last))
		}
		if t.Failed() {
			t.Fatalf("case %+v", c)
		}
	}
}

// crcKeeper returns the u32 f for which the CRC-32C of A, u32 l, u32 f
// (little-endian) is sum, the CRC-32C of A: bytes that leave the CRC
// register where it was. Four bytes XORed into the register then shifted
// through four zero-byte steps: f is the register after l, xor the
// register four steps before sum's. A step back is unique because the top
// byte of the table's entries tells which entry the step used.
func crcKeeper(sum, l uint32) uint32 {
	tab := castagnoli
	var byTop [256]byte
	for k := range 256 {
		byTop[tab[k]>>24] = byte(k)
	}
	r := ^sum // the register holding sum
	after := r ^ l
	for range 4 {
		after = tab[byte(after)] ^ after>>8
	}
	before := r
	for range 4 {
		k := byTop[before>>24]
		before = (before^tab[k])<<8 | uint32(k)
	}
	return after ^ before
}

// TestRangeCRC: the CRC of a range from the CRCs of prefixes is the CRC of
// the range's bytes, for every length class the search meets.
func TestRangeCRC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 3<<20)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
		if i%5 == 0 {
			buf[i] = 0
		}
	}
	r := newRangeCRC(buf)
	check := func(i, j int64) {
		if got, want := r.crc(i, j), checksum(buf[i:j]); got != want {
			t.Fatalf("crc(%d, %d) = %08x, want %08x", i, j, got, want)
		}
	}
	for _, l := range []int64{0, 1, 2, 7, 8, 9, 255, 256, 4096, 65535, MaxPayload - 1, MaxPayload} {
		for _, i := range []int64{0, 1, 3, 4097, int64(len(buf)) - l} {
			check(i, i+l)
		}
	}
	for range 2000 {
		l := rng.Int64N(MaxPayload + 1)
		i := rng.Int64N(int64(len(buf)) - l + 1)
		check(i, i+l)
	}
}

// TestTornArrayPayload: an interrupted append of a frame whose payload is
// an ordinary array of little-endian 32-bit integers (here 30,000 each, in
// a 64 KiB payload, the size of the SDK's largest record) is a torn tail
// wherever the crash cut it. Every 4-byte-aligned word of such a payload
// reads as a plausible frame header declaring a 30,000-byte frame that
// stays inside the file, so rule 3 has thousands of candidate frames of
// ~30 KB to check: the search for intact frames bounded its CRC work at
// 64 MiB and refused the log as corrupt. The spec said only crafted bytes
// could need more.
func TestTornArrayPayload(t *testing.T) {
	const n = 5
	dir := writeLog(t, n, testOpts())
	file, b := lastSegment(t, dir)
	payload := make([]byte, 1<<16)
	payload[0] = 1
	for i := 1; i+4 <= len(payload); i += 4 {
		binary.LittleEndian.PutUint32(payload[i:], 30000)
	}
	frame := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	frame = binary.LittleEndian.AppendUint32(frame, checksum(payload))
	frame = append(frame, payload...)
	for _, cut := range []int{9, 20000, 40000, 50001, len(frame) - 6} { // the last cut drops the 0x75 of the last word: no zero fill makes the frame whole
		for _, zeros := range []int{0, 4096} { // and a zeroed page after the cut
			d := append(bytes.Clone(b), frame[:cut]...)
			d = append(d, make([]byte, zeros)...)
			writeFile(t, file, d)
			expectTorn(t, dir, n, file, int64(len(b)), int64(cut+zeros))
			if t.Failed() {
				t.Fatalf("cut at %d, then %d zero bytes", cut, zeros)
			}
			writeFile(t, file, b)
		}
	}
}

// nestedFramesPayload is a record payload whose bytes hold whole frames
// (length, matching CRC-32C, payload), one after another, as a record's
// text can: an export bundle's record frames have the same layout, and a
// record's text is partly the caller's.
func nestedFramesPayload() []byte {
	p := append([]byte{1}, "note: "...)
	for k, size := range []int{40, 300, 7, 1000, 1, 120, 900, 64, 500} {
		inner := payloadOfSize(uint64(1000+k), size)
		p = binary.LittleEndian.AppendUint32(p, uint32(len(inner)))
		p = binary.LittleEndian.AppendUint32(p, checksum(inner))
		p = append(p, inner...)
	}
	return p
}

// TestTornNestedFramesPayload: an interrupted append of a frame whose
// payload holds whole frames is a torn tail wherever the crash cut it, and
// recovery keeps exactly the frames before it. The frames inside the torn
// one are intact frames starting inside it, ending at the cut or where a
// frame cut by it begins, so rule 3 took them for frames a damaged length
// had hidden and refused to open the log after an ordinary crash: a false
// positive whoever writes a record's text could plant. They do not count
// as evidence of damage: the torn frame's stored CRC does not match its
// bytes up to any of them (FORMAT.md section 6, rule 3).
func TestTornNestedFramesPayload(t *testing.T) {
	const n = 5
	dir := writeLog(t, n, testOpts())
	file, b := lastSegment(t, dir)
	payload := nestedFramesPayload()
	frame := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
	frame = binary.LittleEndian.AppendUint32(frame, checksum(payload))
	frame = append(frame, payload...)
	var refused int
	for _, zeros := range []int{0, 4096} { // and a zeroed page after the cut
		for cut := 1; cut < len(frame); cut++ {
			d := append(bytes.Clone(b), frame[:cut]...)
			d = append(d, make([]byte, zeros)...)
			info, err := ReadSegment(d, true, nil)
			if err != nil || info.Frames != n || info.End != int64(len(b)) || info.TornBytes != int64(cut+zeros) {
				refused++
				if refused <= 3 {
					t.Errorf("cut at %d of %d, then %d zero bytes: %+v, %v", cut, len(frame), zeros, info, err)
				}
			}
		}
	}
	if refused > 0 {
		t.Fatalf("%d of %d cuts not read as a torn tail after frame %d", refused, 2*(len(frame)-1), n)
	}
	// Open cuts exactly the torn bytes, and appending goes on.
	for _, cut := range []int{FrameHeaderSize + 7, FrameHeaderSize + 7 + 48, len(frame) / 2, len(frame) - 1} {
		writeFile(t, file, append(bytes.Clone(b), frame[:cut]...))
		expectTorn(t, dir, n, file, int64(len(b)), int64(cut))
		writeFile(t, file, b)
	}
}

// specTornTail is FORMAT.md section 6 transcribed as plainly as it reads,
// for the bad frame at p of a last segment d: z, rules 1 and 2, and rule
// 3 by following the run of good frames from every offset q in (p+8, z)
// where the CRC stored at p matches the bytes [p+8, q), checksumming each
// frame's bytes. classifyTail must agree with it. rule3 says whether rule
// 3 decided.
func specTornTail(d []byte, p int) (torn, rule3 bool) {
	size := len(d)
	z := size
	for z > p && d[z-1] == 0 {
		z--
	}
	if z-p < FrameHeaderSize { // rule 1
		return true, false
	}
	length := func(e int) (int, bool) {
		if e+FrameHeaderSize > size {
			return 0, false
		}
		n := int(binary.LittleEndian.Uint32(d[e:]))
		return n, n >= 1 && n <= MaxPayload
	}
	if n, ok := length(p); !ok || p+FrameHeaderSize+n < z { // rule 2
		return false, false
	}
	tornRest := func(e int) bool { // [e, size) torn by rules 1 and 2
		if z-e < FrameHeaderSize {
			return true
		}
		n, ok := length(e)
		return ok && e+FrameHeaderSize+n >= z
	}
	good := func(q int) (int, bool) {
		n, ok := length(q)
		if !ok || q+FrameHeaderSize+n > size {
			return 0, false
		}
		return q + FrameHeaderSize + n, checksum(d[q+FrameHeaderSize:q+FrameHeaderSize+n]) == binary.LittleEndian.Uint32(d[q+4:])
	}
	for q := p + FrameHeaderSize + 1; q < z && q-p-FrameHeaderSize <= MaxPayload; q++ { // rule 3
		if checksum(d[p+FrameHeaderSize:q]) != binary.LittleEndian.Uint32(d[p+4:]) {
			continue // the frame at p, its length alone damaged, does not end at q
		}
		e, frames := q, 0
		for e < z {
			next, ok := good(e)
			if !ok {
				break
			}
			e, frames = next, frames+1
		}
		if frames > 0 && (e >= z || tornRest(e)) {
			return false, true
		}
	}
	return true, false
}

// TestClassifyTailMatchesSpec compares recovery's verdict with
// specTornTail on last segments built to meet rule 3: payloads that hold
// whole frames or arrays of small integers (plausible frame headers at
// every word), length bits flipped, tails torn anywhere and followed by
// zeros or not.
func TestClassifyTailMatchesSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	frame := func(p []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
		b = binary.LittleEndian.AppendUint32(b, checksum(p))
		return append(b, p...)
	}
	var verdicts [2]int
	byRule3 := 0
	for c := range 600 {
		var frames [][]byte
		for range 2 + rng.IntN(5) {
			var p []byte
			switch rng.IntN(4) {
			case 0: // whole frames inside
				p = []byte{1}
				for range 1 + rng.IntN(3) {
					p = append(p, frame(payloadOfSize(rng.Uint64N(1000), 1+rng.IntN(200)))...)
				}
			case 1: // an array of one small integer
				p = make([]byte, 1+4*rng.IntN(300))
				v := uint32(1 + rng.IntN(1200))
				for j := 1; j+4 <= len(p); j += 4 {
					binary.LittleEndian.PutUint32(p[j:], v)
				}
			default:
				p = payloadOfSize(rng.Uint64N(1000), 1+rng.IntN(800))
			}
			frames = append(frames, frame(p))
		}
		d := encodeHeader(1, 1)
		var starts []int
		for _, f := range frames {
			starts = append(starts, len(d))
			d = append(d, f...)
		}
		if rng.IntN(3) == 0 { // a flipped bit in the length of a frame
			d[starts[rng.IntN(len(starts))]+rng.IntN(3)] ^= 1 << rng.IntN(8)
		}
		last2 := len(frames[len(frames)-1]) + len(frames[len(frames)-2])
		d = d[:len(d)-rng.IntN(last2)]
		if rng.IntN(2) == 0 {
			d = append(d, make([]byte, rng.IntN(3000))...)
		}
		// p: the first bad frame, as the reader scans.
		p, good := SegmentHeaderSize, uint64(0)
		for p < len(d) {
			if p+FrameHeaderSize > len(d) {
				break
			}
			n := int(binary.LittleEndian.Uint32(d[p:]))
			if n < 1 || n > MaxPayload || p+FrameHeaderSize+n > len(d) ||
				checksum(d[p+FrameHeaderSize:p+FrameHeaderSize+n]) != binary.LittleEndian.Uint32(d[p+4:]) {
				break
			}
			p, good = p+FrameHeaderSize+n, good+1
		}
		want, rule3 := p == len(d), false
		if !want {
			want, rule3 = specTornTail(d, p)
		}
		info, err := ReadSegment(d, true, nil)
		if got := err == nil; got != want || (got && (info.Frames != good || info.End != int64(p))) {
			t.Fatalf("case %d: ReadSegment %+v, %v; the spec says torn=%v after %d frames at %d", c, info, err, want, good, p)
		}
		switch {
		case want:
			verdicts[1]++
		case rule3:
			byRule3++
			fallthrough
		default:
			verdicts[0]++
		}
	}
	t.Logf("%d torn, %d corrupt (%d by rule 3)", verdicts[1], verdicts[0], byRule3)
	if verdicts[0] < 50 || verdicts[1] < 50 || byRule3 < 10 {
		t.Fatalf("verdicts %v, %d by rule 3: the cases do not exercise each", verdicts, byRule3)
	}
}
