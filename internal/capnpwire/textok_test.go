package capnpwire

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func textWords(s string) []byte {
	b := make([]byte, padded(len(s)+1))
	copy(b, s)
	return b
}

// TestTextOK compares the word-at-a-time check with the obvious one on
// every length around the word boundaries and every kind of bad byte.
func TestTextOK(t *testing.T) {
	var cases []string
	for n := 1; n <= 40; n++ {
		base := strings.Repeat("abcdefghij", 4)[:n]
		cases = append(cases, base)
		for i := 0; i < n; i++ {
			for _, bad := range []string{"\x00", "\x80", "\xff", "é"} {
				cases = append(cases, base[:i]+bad+base[i+1:])
			}
		}
	}
	cases = append(cases, "", "中文", "\xed\xa0\x80", "😀😀😀😀", "\x7f\x01\x7f")
	for _, s := range cases {
		want := utf8.ValidString(s) && !strings.Contains(s, "\x00")
		if got := TextOK(textWords(s), len(s)); got != want {
			t.Errorf("TextOK(%q) = %v, want %v", s, got, want)
		}
		if got := StringOK(s); got != want {
			t.Errorf("StringOK(%q) = %v, want %v", s, got, want)
		}
	}
	// Bytes after the text must be zero: the NUL and each padding byte.
	for n := 1; n < 16; n++ {
		w := textWords(strings.Repeat("x", n))
		for i := n; i < len(w); i++ {
			w[i] = 1
			if TextOK(w, n) {
				t.Errorf("n=%d: non-zero byte %d after the text accepted", n, i)
			}
			w[i] = 0
		}
	}
}
