package canonical

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// TestCxxAcceptsVectors: the C++ reference implementation finds every
// vector's bytes canonical (capnp convert canonical:canonical exits non-zero
// on non-canonical input) and re-emits them unchanged.
func TestCxxAcceptsVectors(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if len(paths) == 0 {
		t.Fatal("no vectors")
	}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f vectorFile
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		for i, vr := range f.Records {
			b, _ := hex.DecodeString(vr.Canonical)
			out, err := capnptest.Convert("canonical", "canonical", schemaFile, "AuditRecord", b)
			if errors.Is(err, capnptest.ErrNoCapnp) {
				t.Skip("skipping the C++ check: ", err)
			}
			if err != nil {
				t.Fatalf("%s[%d]: %v", path, i, err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("%s[%d]: C++ re-canonicalized to other bytes", path, i)
			}
		}
	}
}

// TestCxxRejectsVariants: byte strings that break Cap'n Proto's own
// canonical rules are refused by the C++ tool (it does not write them back
// unchanged) and by Open alike.
func TestCxxRejectsVariants(t *testing.T) {
	rec := record1KiB(t)
	rec.Prev = make([]byte, 32)
	b, err := AppendRecord(nil, &rec, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string][]byte{
		// an extra zero word at the end of the message
		"trailing word": append(bytes.Clone(b), make([]byte, 8)...),
		// a gap: the root struct one word later than the root pointer says
		// it could be (offset 1 instead of 0)
		"gap after root": func() []byte {
			m := append(append(bytes.Clone(b[:8]), make([]byte, 8)...), b[8:]...)
			w := binary.LittleEndian.Uint64(m)
			binary.LittleEndian.PutUint64(m, w+4) // offset field +1
			return m
		}(),
		// a non-zero byte in the padding after writerId's NUL
		"text padding": func() []byte {
			m := bytes.Clone(b)
			v, _ := Open(b)
			end := bytes.Index(b, v.WriterID()) + len(v.WriterID()) + 1
			if end%8 == 0 {
				t.Fatal("writerId has no padding")
			}
			m[end] = 'x'
			return m
		}(),
		// the data section keeps a trailing zero word (tsMs set to 0
		// without cutting the section)
		"trailing zero data word": func() []byte {
			m := bytes.Clone(b)
			binary.LittleEndian.PutUint64(m[24:], 0)
			return m
		}(),
		// a null root: C++'s isCanonical accepts it (exit 0) but writes
		// the empty struct's canonical form, so only the bytes it writes
		// show it is no canonical AuditRecord
		"null root": make([]byte, 8),
	}
	checked := 0
	for name, m := range variants {
		if _, err := Open(m); !errors.Is(err, ErrNotCanonical) {
			t.Errorf("%s: Open: %v", name, err)
		}
		// Canonical for C++ means it reads m and writes m back: its exit
		// status alone says only that it could read it.
		ok, err := capnptest.CxxCanonical(schemaFile, "AuditRecord", m)
		if errors.Is(err, capnptest.ErrNoCapnp) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if ok {
			t.Errorf("%s: C++ finds it canonical", name)
		}
	}
	if checked == 0 {
		t.Skip("capnp not installed: only Open was checked")
	}
}
