package sdk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzParseSalt: the salt file decoder (LoadSalt after the read) never
// panics, refuses only with a *SaltFileError for the file matching
// ErrSaltFormat, and accepts exactly what LoadSalt's doc allows, with the
// salt that model gives: 32 raw bytes that are not all hex digits, or 64
// hex digits (either case) then nothing, "\n" or "\r\n"; never an
// all-zero salt. Seeds: testdata/fuzz/FuzzParseSalt.
func FuzzParseSalt(f *testing.F) {
	f.Add([]byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want []byte
		switch {
		case len(b) == SaltSize:
			if allASCIIHex(b) {
				break // 32 hex digits: refused
			}
			want = bytes.Clone(b)
		case len(b) == 2*SaltSize, len(b) == 2*SaltSize+1 && b[2*SaltSize] == '\n',
			len(b) == 2*SaltSize+2 && string(b[2*SaltSize:]) == "\r\n":
			if d, err := hex.DecodeString(string(b[:2*SaltSize])); err == nil {
				want = d
			}
		}
		if want != nil && bytes.Equal(want, make([]byte, SaltSize)) {
			want = nil
		}
		salt, err := parseSalt("p", bytes.Clone(b))
		if err != nil {
			var fe *SaltFileError
			if !errors.As(err, &fe) || !errors.Is(err, ErrSaltFormat) || fe.Path != "p" {
				t.Fatalf("error %v (%T) is not a *SaltFileError for p matching ErrSaltFormat", err, err)
			}
			if want != nil {
				t.Fatalf("refused %q, a salt file: %v", b, err)
			}
			return
		}
		if want == nil {
			t.Fatalf("accepted %q, which is not a salt file", b)
		}
		if !bytes.Equal(salt, want) {
			t.Fatalf("%q: salt %x, want %x", b, salt, want)
		}
	})
}

func allASCIIHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
