package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
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

// FuzzUnmarshalJSON: the JSON rendering's reader never panics, and what
// it accepts has only valid UTF-8 text and renders back to a document it
// reads as the same record; when the record is valid, its canonical bytes
// open and decode to a record that renders the same. Seeds: testdata/fuzz/FuzzUnmarshalJSON and
// every vector's rendering.
func FuzzUnmarshalJSON(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var vf struct {
			Records []struct {
				Record json.RawMessage `json:"record"`
			} `json:"records"`
		}
		if err := json.Unmarshal(raw, &vf); err != nil {
			f.Fatal(err)
		}
		for _, vr := range vf.Records {
			f.Add([]byte(vr.Record))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r AuditRecord
		if err := r.UnmarshalJSON(b); err != nil {
			return
		}
		texts := []string{r.WriterID, r.Stream, r.Reason, r.Actor.CapID, r.Actor.KeyFpr, r.Actor.PassportID,
			r.Subject.ContentID, r.Subject.LedgerTxid, r.Subject.Name}
		for _, a := range r.Attrs {
			texts = append(texts, a.Key, a.Value)
		}
		for _, s := range texts {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted %q with text %q", b, s)
			}
		}
		out, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back AuditRecord
		if err := back.UnmarshalJSON(out); err != nil {
			t.Fatalf("its own rendering %s is refused: %v", out, err)
		}
		if again, _ := back.MarshalJSON(); !bytes.Equal(again, out) {
			t.Fatalf("rendering is not stable\n%s\n%s", out, again)
		}
		// A record the format accepts goes through its canonical bytes
		// and back (Open, Decode) to the same rendering.
		b2, err := AppendRecord(nil, &r, Limits{MaxRecord: MaxRecordSize, MaxAttrs: MaxRecordSize})
		if err != nil {
			return
		}
		norm, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		v, err := Open(b2)
		if err != nil {
			t.Fatalf("Open refuses what AppendRecord wrote from %s: %v", b, err)
		}
		if got, err := v.Decode().MarshalJSON(); err != nil || !bytes.Equal(got, norm) {
			t.Fatalf("canonical bytes render differently\n%s\n%s (%v)", norm, got, err)
		}
	})
}
