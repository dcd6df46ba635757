package export

import (
	"errors"
	"testing"
)

// TestFileSinkWriteBeforeNewest: a bundle written into a chain directory
// before its newest one (a deleted first bundle exported again with
// ExportTree) is not the newest. FileSink remembered it as the newest
// all the same (WriteBundle's cache of what Prev read): Prev then said
// the chain was exported up to 10 while 11-20 was there, and the overlap
// check, answering from that cache without a listing, let a bundle 11-15
// be written beside 11-20, a directory no verifier reads as a sequence.
func TestFileSinkWriteBeforeNewest(t *testing.T) {
	signer := newSigner(t, 7)
	recs := genRecords(t, signer, 20, plain)
	whole := exportSplits(t, signer, recs, 10, 20) // 1-10, 11-20
	short := exportSplits(t, signer, recs, 10, 15) // 1-10, 11-15
	s := &FileSink{Dir: t.TempDir()}
	write := func(data []byte) error {
		t.Helper()
		b, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return s.WriteBundle(b.Name(), data)
	}
	if err := write(whole[1]); err != nil { // 11-20; 1-10 missing
		t.Fatal(err)
	}
	if st, err := s.Prev(testWriter, testStream); err != nil || st == nil || st.Size != 20 {
		t.Fatalf("Prev: %+v, %v; want size 20", st, err)
	}
	if err := write(whole[0]); err != nil { // 1-10 written back
		t.Fatal(err)
	}
	if st, err := s.Prev(testWriter, testStream); err != nil || st == nil || st.Size != 20 {
		size := int64(-1)
		if st != nil {
			size = st.Size
		}
		t.Errorf("Prev after writing 1-10 before 11-20: size %d, %v; want size 20 (11-20 is the newest)", size, err)
	}
	if err := write(short[1]); !errors.Is(err, ErrBundleExists) {
		t.Errorf("WriteBundle of 11-15 beside 11-20: %v; want ErrBundleExists", err)
	}
}
