package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzReadSegment: ReadSegment never panics, fails only with ErrCorrupt or
// ErrVersion, and what it accepts is exactly the bytes it read: the
// header, the frames re-encoded, and a torn tail (last segment only).
func FuzzReadSegment(f *testing.F) {
	var seg []byte
	seg = append(seg, encodeHeader(1, 1)...)
	for i := uint64(1); i <= 3; i++ {
		p := payloadOfSize(i, 20+int(i))
		seg = binary.LittleEndian.AppendUint32(seg, uint32(len(p)))
		seg = binary.LittleEndian.AppendUint32(seg, checksum(p))
		seg = append(seg, p...)
	}
	f.Add(seg)
	f.Add(seg[:len(seg)-5])
	f.Add(append(bytes.Clone(seg), make([]byte, 64)...))
	f.Add(seg[:SegmentHeaderSize])
	f.Add(seg[:13])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var okNotLast *SegmentInfo
		for _, last := range []bool{false, true} {
			var frames []frameCopy
			info, err := ReadSegment(data, last, func(fr Frame) error {
				if fr.Type != fr.Payload[0] || len(fr.Payload) == 0 || len(fr.Payload) > MaxPayload {
					t.Fatalf("frame %d: type %d, %d bytes", fr.Index, fr.Type, len(fr.Payload))
				}
				frames = append(frames, frameCopy{fr.Index, fr.Segment, fr.File, fr.Offset, fr.Type, bytes.Clone(fr.Payload)})
				return nil
			})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
					t.Fatalf("last=%v: error %v is neither ErrCorrupt nor ErrVersion", last, err)
				}
				if okNotLast != nil {
					t.Fatalf("read as a middle segment but not as the last: %v", err)
				}
				continue
			}
			if info.End+info.TornBytes != int64(len(data)) || info.Size != int64(len(data)) {
				t.Fatalf("last=%v: End %d + TornBytes %d != %d", last, info.End, info.TornBytes, len(data))
			}
			if !last && (info.TornBytes != 0 || info.HeaderTorn) {
				t.Fatalf("a torn tail in a middle segment: %+v", info)
			}
			if uint64(len(frames)) != info.Frames {
				t.Fatalf("%d frames, info says %d", len(frames), info.Frames)
			}
			if info.HeaderTorn {
				if info.End != 0 || info.Frames != 0 {
					t.Fatalf("header torn: %+v", info)
				}
				continue
			}
			// Re-encode what was read: it must be the bytes up to End.
			re := encodeHeader(info.Header.Number, info.Header.FirstIndex)
			for k, fr := range frames {
				if fr.Index != info.Header.FirstIndex+uint64(k) || fr.Offset != int64(len(re)) || fr.Segment != info.Header.Number {
					t.Fatalf("frame %d: index %d, offset %d", k, fr.Index, fr.Offset)
				}
				re = binary.LittleEndian.AppendUint32(re, uint32(len(fr.Payload)))
				re = binary.LittleEndian.AppendUint32(re, checksum(fr.Payload))
				re = append(re, fr.Payload...)
			}
			if !bytes.Equal(re, data[:info.End]) {
				t.Fatal("the frames read do not re-encode to the bytes")
			}
			if !last {
				okNotLast = &info
			} else if okNotLast != nil && *okNotLast != info {
				t.Fatalf("a clean segment reads differently as the last: %+v vs %+v", *okNotLast, info)
			}
		}
	})
}
