package canonical

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOpenParts: the generated decoders of the schema's structs
// (OpenAuditRecord, OpenActor, OpenSubject, OpenAttr; the first input
// byte picks one) never panic, and what they accept is exactly the
// canonical encoding AppendCanonical writes of the value they decode to:
// one byte string per value. Open, the record decoder with the format's
// rules, accepts no more than OpenAuditRecord. Seeds: every vector's
// record and its actor, subject and attrs alone.
func FuzzOpenParts(f *testing.F) {
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
			f.Add(append([]byte{0}, b...))
			v, err := OpenAuditRecord(b)
			if err != nil {
				continue
			}
			r := v.Decode()
			if a, err := r.Actor.AppendCanonical([]byte{1}); err == nil {
				f.Add(a)
			}
			if s, err := r.Subject.AppendCanonical([]byte{2}); err == nil {
				f.Add(s)
			}
			for _, at := range r.Attrs {
				if a, err := at.AppendCanonical([]byte{3}); err == nil {
					f.Add(a)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		b := in[1:]
		var re []byte
		var err error
		switch in[0] % 4 {
		case 0:
			v, oerr := OpenAuditRecord(b)
			if _, serr := Open(b); serr == nil && oerr != nil {
				t.Fatalf("Open accepts what OpenAuditRecord refuses: %v", oerr)
			}
			if oerr != nil {
				return
			}
			r := v.Decode()
			re, err = r.AppendCanonical(nil)
		case 1:
			v, oerr := OpenActor(b)
			if oerr != nil {
				return
			}
			r := v.Decode()
			re, err = r.AppendCanonical(nil)
		case 2:
			v, oerr := OpenSubject(b)
			if oerr != nil {
				return
			}
			r := v.Decode()
			re, err = r.AppendCanonical(nil)
		case 3:
			v, oerr := OpenAttr(b)
			if oerr != nil {
				return
			}
			r := v.Decode()
			re, err = r.AppendCanonical(nil)
		}
		if err != nil {
			t.Fatalf("accepted bytes whose value the encoder refuses: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("decoder %d accepted non-canonical input\n%x\nre-encodes as\n%x", in[0]%4, b, re)
		}
	})
}

// FuzzParseHash: ParseHash (and Hash.UnmarshalText) accept exactly 64
// hex digits, either case, and return the hash whose String is those
// digits in lower case; anything else is a *FieldError.
func FuzzParseHash(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add(strings.Repeat("AB", 32))
	f.Add(strings.Repeat("0", 63))
	f.Add(strings.Repeat("g", 64))
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		want := len(s) == 64
		for _, c := range []byte(s) {
			want = want && ('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F')
		}
		if (err == nil) != want {
			t.Fatalf("ParseHash(%q): %v", s, err)
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseHash(%q): error %v (%T) is not a *FieldError", s, err, err)
			}
			return
		}
		if h.String() != strings.ToLower(s) {
			t.Fatalf("ParseHash(%q) = %s", s, h)
		}
		var u Hash
		if err := u.UnmarshalText([]byte(s)); err != nil || u != h {
			t.Fatalf("UnmarshalText(%q) = %s, %v", s, u, err)
		}
	})
}
