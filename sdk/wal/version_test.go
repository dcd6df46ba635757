package wal

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
)

// TestShortSegmentOfUnknownVersion: FORMAT.md section 2 says a reader
// refuses a segment whose version it does not know (ErrVersion), and the
// magic and version are at the same place in every version; the header's
// length is a field of the header, which a later version may shorten. A
// segment file with the magic and another version, but fewer than the 32
// bytes of a version 1 header, was reported as corruption ("shorter than
// the 32-byte segment header"), as the last segment and as an earlier
// one, sending its owner to look for damage instead of for a newer
// reader.
func TestShortSegmentOfUnknownVersion(t *testing.T) {
	v2 := []byte(Magic)
	v2 = binary.LittleEndian.AppendUint32(v2, 2)
	v2 = binary.LittleEndian.AppendUint32(v2, 24) // a header of 24 bytes, say
	v2 = binary.LittleEndian.AppendUint64(v2, 2)  // segment 2, and no frame
	for _, last := range []bool{true, false} {
		if _, err := ReadSegment(v2, last, nil); !errors.Is(err, ErrVersion) {
			t.Errorf("ReadSegment(last=%v) of a version 2 segment of %d bytes: %v, want ErrVersion", last, len(v2), err)
		}
	}
	for _, c := range []struct {
		name string
		more bool // a segment follows it
	}{{"last", false}, {"earlier", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeLog(t, 10, testOpts())
			seg := filepath.Join(dir, SegmentName(2))
			writeFile(t, seg, v2)
			if c.more {
				writeFile(t, filepath.Join(dir, SegmentName(3)), encodeHeader(3, 11))
			}
			before := snapshot(t, dir)
			_, _, err := Open(dir, testOpts())
			var ve *VersionError
			if !errors.As(err, &ve) || ve.File != seg || ve.Version != 2 {
				t.Fatalf("Open: %v, want a *VersionError naming %s and version 2", err, seg)
			}
			sameSnapshot(t, before, snapshot(t, dir))
		})
	}
}
