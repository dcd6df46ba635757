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

// TestPutText checks the fused copy and check on every length around the
// word boundaries: the slot holds the text then zeros, the pointer says n+1
// bytes, nothing outside the slot is touched, and ok agrees with the
// obvious check.
func TestPutText(t *testing.T) {
	var cases []string
	for n := 1; n <= 40; n++ {
		base := strings.Repeat("abcdefghij", 4)[:n]
		cases = append(cases, base)
		for i := 0; i < n; i++ {
			for _, bad := range []string{"\x00", "\x80", "\xff", "\x7f", "\x01"} {
				cases = append(cases, base[:i]+bad+base[i+1:])
			}
		}
	}
	cases = append(cases, "é", "中文", "\xed\xa0\x80", "😀😀😀😀", "\x7f\x01\x7f", "abcdefgé")
	for _, s := range cases {
		const guard = 0xa5
		b := make([]byte, 8+padded(len(s)+1)+8)
		for i := range b {
			b[i] = guard
		}
		slot := b[8 : len(b)-8]
		clear(slot)
		end, ok := PutText(b, 0, 8, s)
		want := utf8.ValidString(s) && !strings.Contains(s, "\x00")
		if ok != want {
			t.Errorf("PutText(%q) ok = %v, want %v", s, ok, want)
		}
		if end != len(b)-8 {
			t.Errorf("PutText(%q) end = %d, want %d", s, end, len(b)-8)
		}
		if got := string(slot[:len(s)]); got != s {
			t.Errorf("PutText(%q) wrote %q", s, got)
		}
		for i := len(s); i < len(slot); i++ {
			if slot[i] != 0 {
				t.Errorf("PutText(%q): byte %d after the text is %#x", s, i, slot[i])
			}
		}
		for _, g := range b[len(b)-8:] {
			if g != guard {
				t.Errorf("PutText(%q) wrote past its slot", s)
				break
			}
		}
		if w := le.Uint64(b); w != 1|uint64(ElemByte)<<32|uint64(len(s)+1)<<35 { // list pointer, offset 0
			t.Errorf("PutText(%q) pointer %#x", s, w)
		}
	}
}
