package checkpoint

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOriginEscaping(t *testing.T) {
	for _, c := range []struct{ writer, stream, origin string }{
		{"svc-index@inst-2", "index", "ron-audit/svc-index@inst-2/index"},
		{"svc-gateway@inst-1", "caps", "ron-audit/svc-gateway@inst-1/caps"},
		{"AZaz09-._~@", "x", "ron-audit/AZaz09-._~@/x"},
		{"a/b", "c", "ron-audit/a%2Fb/c"},
		{"a", "b/c/d", "ron-audit/a/b%2Fc%2Fd"},
		{"sp ace", "tab\tx", "ron-audit/sp%20ace/tab%09x"},
		{"50%", "x+y", "ron-audit/50%25/x%2By"},
		{"é", "日本", "ron-audit/%C3%A9/%E6%97%A5%E6%9C%AC"},
		{"a:b", "?#[]", "ron-audit/a%3Ab/%3F%23%5B%5D"},
		{"new\nline", "\x7f", "ron-audit/new%0Aline/%7F"},
		{"—", "\"'", "ron-audit/%E2%80%94/%22%27"},
	} {
		got := Origin(c.writer, c.stream)
		if got != c.origin {
			t.Errorf("Origin(%q, %q) = %q, want %q", c.writer, c.stream, got, c.origin)
			continue
		}
		w, s, err := ParseOrigin(got)
		if err != nil || w != c.writer || s != c.stream {
			t.Errorf("ParseOrigin(%q) = %q, %q, %v; want %q, %q", got, w, s, err, c.writer, c.stream)
		}
		if strings.ContainsAny(got, " +\n") {
			t.Errorf("origin %q is not a valid note key name", got)
		}
	}
}

func TestParseOriginRefuses(t *testing.T) {
	for _, o := range []string{
		"",
		"ron-audit/",
		"ron-audit/a",
		"ron-audit//b",
		"ron-audit/a/",
		"ron-audit/a/b/c",
		"ron-audit/a%2fb/c", // lower-case hex
		"ron-audit/%41/b",   // 'A' need not be escaped
		"ron-audit/%40/b",   // '@' need not be escaped
		"ron-audit/a%2/b",   // truncated escape
		"ron-audit/a/b%2",
		"ron-audit/a/b%",
		"ron-audit/a%/b",
		"ron-audit/a%GG/b",
		"ron-audit/a%00/b", // NUL
		"ron-audit/%FF/b",  // not UTF-8
		"ron-audit/%C3/b",  // cut UTF-8
		"ron-audit/a b/c",  // raw space
		"ron-audit/a+b/c",  // raw '+'
		"ron-audit/é/c",    // raw non-ASCII
		"ron-audit/a/b\n",
		"RON-AUDIT/a/b",
		"other/a/b",
		" ron-audit/a/b",
	} {
		if w, s, err := ParseOrigin(o); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseOrigin(%q) = %q, %q, %v; want ErrFormat", o, w, s, err)
		}
	}
}

func FuzzOrigin(f *testing.F) {
	f.Add("svc@inst-1", "caps")
	f.Add("a/b%", "é +")
	f.Fuzz(func(t *testing.T, w, s string) {
		o := Origin(w, s)
		gw, gs, err := ParseOrigin(o)
		valid := w != "" && s != "" && utf8.ValidString(w) && utf8.ValidString(s) && !strings.ContainsRune(w+s, 0)
		if valid != (err == nil) {
			t.Fatalf("ParseOrigin(Origin(%q, %q) = %q): %v", w, s, o, err)
		}
		if valid && (gw != w || gs != s) {
			t.Fatalf("round trip %q %q -> %q -> %q %q", w, s, o, gw, gs)
		}
		// ParseOrigin accepts only what Origin writes.
		if w2, s2, err := ParseOrigin(w); err == nil && Origin(w2, s2) != w {
			t.Fatalf("ParseOrigin(%q) accepted a string Origin does not write", w)
		}
	})
}
