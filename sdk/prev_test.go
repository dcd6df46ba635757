package sdk

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"hash/maphash"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/canonical"
)

// vectorRecords is every record of the v1 vectors and of the evolution
// drill's v2 chain: canonical bytes and the prev they hold.
func vectorRecords(t *testing.T) (recs []struct{ b, prev []byte }, v2 int) {
	t.Helper()
	for _, glob := range []string{"../testing/vectors/v1/*.json", "../testing/vectors/drill/*.json"} {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no vectors (%v)", glob, err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var vf struct {
				Records []struct {
					Record struct {
						Prev    string `json:"prev"`
						TraceID string `json:"traceId"`
					} `json:"record"`
					Canonical string `json:"canonical"`
				} `json:"records"`
			}
			if err := json.Unmarshal(raw, &vf); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for _, r := range vf.Records {
				b, err1 := hex.DecodeString(r.Canonical)
				prev, err2 := hex.DecodeString(r.Record.Prev)
				if err1 != nil || err2 != nil || len(prev) != prevSize {
					t.Fatalf("%s: bad vector: %v %v", f, err1, err2)
				}
				if r.Record.TraceID != "" {
					v2++
				}
				recs = append(recs, struct{ b, prev []byte }{b, prev})
			}
		}
	}
	return recs, v2
}

// TestLinkFindsPrevInV2Records: a schema version that adds pointer fields
// to AuditRecord puts their objects after prev (pointer 6), so prev is not
// the record's last 32 bytes (the evolution drill's records 4-6). The
// Emitter's link step, the dedupe fingerprint and the same-event check
// must find prev where it is, or a v2 record with traceId set gets its
// traceId and origin overwritten by the prev hash, and two different
// events differing only there are taken for one (a retry, dropped).
func TestLinkFindsPrevInV2Records(t *testing.T) {
	recs, v2 := vectorRecords(t)
	if v2 == 0 {
		t.Fatal("no v2 record with a pointer field after prev in testing/vectors/drill")
	}
	seed := maphash.MakeSeed()
	for i, r := range recs {
		at := bytes.Index(r.b, r.prev)
		if bytes.Equal(r.prev, make([]byte, prevSize)) {
			at = bytes.LastIndex(r.b, r.prev)
		}
		// The link step writes seq and prev into bytes encoded with a
		// placeholder of each: the result is the record.
		blank := bytes.Clone(r.b)
		copy(blank[at:], make([]byte, prevSize))
		seq := leUint64(r.b[seqOffset:])
		blank[seqOffset] ^= 0xff
		var h canonical.Hash
		copy(h[:], r.prev)
		setLink(blank, seq, &h)
		if !bytes.Equal(blank, r.b) {
			t.Fatalf("record %d: link wrote\n%x\nwant\n%x", i, blank, r.b)
		}
		// The same event with another seq and prev: same fingerprint, and
		// sameEvent says so.
		other := bytes.Clone(r.b)
		other[seqOffset] ^= 0x55
		for j := range prevSize {
			other[at+j] ^= 0xa5
		}
		if !sameEvent(r.b, other) || fingerprint(seed, r.b) != fingerprint(seed, other) {
			t.Fatalf("record %d: the same event with another seq and prev is not seen as one", i)
		}
		// Another event: every byte but seq and prev is content.
		for _, k := range []int{len(r.b) - 1, at - 1, at + prevSize} {
			if k < seqOffset+8 || k >= len(r.b) || (k >= at && k < at+prevSize) {
				continue
			}
			diff := bytes.Clone(r.b)
			diff[k] ^= 0x01
			if sameEvent(r.b, diff) {
				t.Fatalf("record %d: bytes differing at %d (prev at %d..%d of %d) taken for the same event", i, k, at, at+prevSize, len(r.b))
			}
		}
	}
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
