package canonical

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/capnptest"
)

// TestDifferentialCanonicalize: the generated encoder is byte-identical to
// capnp.Canonicalize on 10,000 random records: every field absent or
// present, empty, extreme and long values, valid records and records that
// only the schema (not the format's rules) allows.
func TestDifferentialCanonicalize(t *testing.T) {
	decl := auditDecl(t)
	r := newRand(1)
	long := newRand(2)
	long.MaxText, long.MaxList = 600, 24
	var buf []byte
	for i := 0; i < 10000; i++ {
		var rec AuditRecord
		switch i % 3 {
		case 0:
			r.Fill(decl, &rec)
		case 1:
			long.Fill(decl, &rec)
		default:
			rec = validRecord(r)
		}
		want, err := capnptest.Canonicalize(decl, &rec)
		if err != nil {
			t.Fatal(err)
		}
		buf, err = rec.AppendCanonical(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("record %d differs from capnp.Canonicalize\n got %x\nwant %x", i, buf, want)
		}
	}
}

// TestDifferentialCxx: the C++ capnp tool canonicalizes 2,000 random records
// (built by capnp-go, not canonical) to exactly our bytes.
func TestDifferentialCxx(t *testing.T) {
	decl := auditDecl(t)
	r := newRand(3)
	r.MaxText = 200
	var in bytes.Buffer
	var want [][]byte
	for i := 0; i < 2000; i++ {
		var rec AuditRecord
		if i%2 == 0 {
			r.Fill(decl, &rec)
		} else {
			rec = validRecord(r)
		}
		m, err := capnptest.Marshal(decl, &rec)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(m)
		b, err := rec.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	got, err := capnptest.Convert("binary", "canonical", schemaFile, "AuditRecord", in.Bytes())
	if errors.Is(err, capnptest.ErrNoCapnp) {
		t.Skip("skipping the C++ oracle: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := capnptest.FirstDiff(got, want); i >= 0 {
		t.Fatalf("record %d differs from capnp convert binary:canonical", i)
	}
}

// TestDifferentialCxxText: the C++ tool lays out 500 random records from
// their text form, written by field name (capnptest.Text), to exactly the
// encoder's bytes. TestDifferentialCxx's input is laid out at the offsets
// gen read from the request, as the encoder's are, so an offset read
// wrongly would pass it; here every offset is the C++ tool's own.
func TestDifferentialCxxText(t *testing.T) {
	decl := auditDecl(t)
	r := newRand(4)
	texts := make([]string, 500)
	want := make([][]byte, len(texts))
	for i := range texts {
		var rec AuditRecord
		if i%2 == 0 {
			r.Fill(decl, &rec)
		} else {
			rec = validRecord(r)
		}
		capnptest.MakeTextable(decl, &rec)
		s, err := capnptest.Text(decl, &rec)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want[i], err = rec.AppendCanonical(nil); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		texts[i] = s
	}
	err := capnptest.DiffCxxText(schemaFile, "AuditRecord", texts, want)
	if errors.Is(err, capnptest.ErrNoCapnp) {
		t.Skip("skipping the C++ text oracle:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
