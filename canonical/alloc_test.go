package canonical

import "testing"

// The encoder, the strict open and the hashers allocate nothing on the hot
// path: asserted here (deterministic), measured in bench/.

func TestAllocsAppendRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	rec := record1KiB(t)
	rec.Prev = make([]byte, 32)
	buf := make([]byte, 0, 4096)
	if a := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendRecord(buf[:0], &rec, DefaultLimits); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("AppendRecord: %v allocs/op", a)
	}
}

func TestAllocsOpen(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	rec := record1KiB(t)
	rec.Prev = make([]byte, 32)
	b, err := AppendRecord(nil, &rec, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() {
		v, err := Open(b)
		if err != nil {
			t.Fatal(err)
		}
		readAll(v)
	}); a != 0 {
		t.Fatalf("Open: %v allocs/op", a)
	}
}

func TestAllocsHash(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	rec := record1KiB(t)
	rec.Prev = make([]byte, 32)
	b, _ := AppendRecord(nil, &rec, DefaultLimits)
	h := NewHasher()
	if a := testing.AllocsPerRun(100, func() { _ = h.RecordHash(b) }); a != 0 {
		t.Fatalf("Hasher.RecordHash: %v allocs/op", a)
	}
	if a := testing.AllocsPerRun(100, func() { _ = RecordHash(b) }); a != 0 {
		t.Fatalf("RecordHash: %v allocs/op", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = h.DedupeKey(&rec) }); a != 0 {
		t.Fatalf("Hasher.DedupeKey: %v allocs/op", a)
	}
}

var sinkLen int

// readAll touches every field of a record view, as a reader would.
func readAll(v AuditRecordView) {
	n := int(v.V()) + int(v.Kind()) + int(v.Seq()) + int(v.TsMs())
	n += len(v.WriterID()) + len(v.Stream()) + len(v.Reason()) + len(v.Prev())
	a, s := v.Actor(), v.Subject()
	n += len(a.CapID()) + len(a.KeyFpr()) + len(a.PassportID())
	if a.Anon() {
		n++
	}
	n += len(s.ContentID()) + len(s.LedgerTxid()) + len(s.Name())
	attrs := v.Attrs()
	for i := 0; i < attrs.Len(); i++ {
		n += len(attrs.At(i).Key()) + len(attrs.At(i).Value())
	}
	sinkLen += n
}
