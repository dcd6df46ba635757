package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen: Open never panics, and whatever it accepts is exactly the
// canonical bytes of the record it decodes to (no malleability): decoding
// and encoding again, through the same AppendRecord writers use, gives the
// same bytes. Seeds: testdata/fuzz/FuzzOpen and every vector.
func FuzzOpen(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var vf vectorFile
		if err := json.Unmarshal(raw, &vf); err != nil {
			f.Fatal(err)
		}
		for _, vr := range vf.Records {
			b, _ := hex.DecodeString(vr.Canonical)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Open(b)
		if err != nil {
			return
		}
		readAll(v)
		rec := v.Decode()
		re, err := AppendRecord(nil, &rec, Limits{MaxRecord: MaxRecordSize, MaxAttrs: MaxRecordSize})
		if err != nil {
			t.Fatalf("accepted bytes whose record the encoder refuses: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted non-canonical input\n%x\nre-encodes as\n%x", b, re)
		}
	})
}
