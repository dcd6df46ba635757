package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyBundle feeds arbitrary bytes to Parse and VerifyBundle: they
// must not panic, a parsed bundle must re-encode to the same bytes (the
// encoding is one to one), and a verified one must say what it parsed.
// The seed corpus (testdata/fuzz/FuzzVerifyBundle) holds valid bundles
// under the key of seed byte 1; EXPORT_WRITE_FUZZ_SEEDS=1 rewrites it.
func FuzzVerifyBundle(f *testing.F) {
	signer := newSigner(f, 1)
	vs, keys := verifiersOf(signer)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, perr := Parse(data)
		s, verr := VerifyBundle(data, vs, keys)
		if perr != nil {
			if verr == nil {
				t.Fatal("verified what Parse refuses")
			}
			return
		}
		again, err := b.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		if verr == nil && (s.Size != b.Size || s.PrevSize != b.PrevSize || s.Records != len(b.Records)) {
			t.Fatalf("summary %+v of bundle %d -> %d", s, b.PrevSize, b.Size)
		}
	})
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("EXPORT_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set EXPORT_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzVerifyBundle")
	}
	signer := newSigner(t, 1)
	recs := genRecords(t, signer, 7, plain)
	bs := exportSplits(t, signer, recs, 1, 4, 7)
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifyBundle")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, data := range append(bs, data0(bs[1])) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// data0 is a bundle cut inside its last record.
func data0(b []byte) []byte { return b[:len(b)-3] }
