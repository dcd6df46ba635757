package names

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestChain(t *testing.T) {
	for _, c := range []struct{ w, s, want string }{
		{"svc-gateway@inst-1", "caps", "svc-gateway@inst-1/caps"},
		{"écriture", "flux·1", "écriture/flux·1"},
		{"a\nok: 3 records", "s", `"a\nok: 3 records"/"s"`},
		{"a/b", "c", `"a/b"/"c"`},
		{"a", "b/c", `"a"/"b/c"`},
		{"a", "", `"a"/""`},
		{"a b", "s", `"a b"/"s"`},
		{"a\u202eb", "s", `"a\u202eb"/"s"`}, // right-to-left override
		{"a\x1b[2Jb", "s", `"a\x1b[2Jb"/"s"`},
		{"a\xffb", "s", `"a\xffb"/"s"`},
		{"a\u2028b", "s", `"a\u2028b"/"s"`},
		{`a"b`, "s", `"a\"b"/"s"`},
		{"a\uFFFDb", "s", "a\uFFFDb/s"}, // spelled out, valid UTF-8
		{"a\\b", "\U0001F600", "a\\b/\U0001F600"},
		{"a\\b", "s/\U0001F600", "\"a\\\\b\"/\"s/\U0001F600\""},
	} {
		got := Chain(c.w, c.s)
		if got != c.want {
			t.Errorf("Chain(%q, %q) = %s, want %s", c.w, c.s, got, c.want)
		}
		if strings.ContainsAny(got, "\n\r\x1b\u202e\u2028") {
			t.Errorf("Chain(%q, %q) = %q: not one plain line", c.w, c.s, got)
		}
	}
	if Name("caps") != "caps" || Name("x\ny") != `"x\ny"` {
		t.Errorf("Name: %s %s", Name("caps"), Name("x\ny"))
	}
}

func TestPathAndLine(t *testing.T) {
	for _, c := range []struct{ in, path, line string }{
		{"out/svc@inst-1/caps", "out/svc@inst-1/caps", "out/svc@inst-1/caps"},
		{"my exports/é", "my exports/é", "my exports/é"},
		{"a/x\nok: fine", `"a/x\nok: fine"`, `a/x\nok: fine`},
		{"a\x1b[2Jb", `"a\x1b[2Jb"`, `a\x1b[2Jb`},
		{"a\u202eb", `"a\u202eb"`, `a\u202eb`},
		{"a\xffb", `"a\xffb"`, `a\xffb`},
		{`"a"`, `"\"a\""`, `"a"`},
		{"", `""`, ""},
	} {
		if got := Path(c.in); got != c.path {
			t.Errorf("Path(%q) = %s, want %s", c.in, got, c.path)
		}
		if got := Line(c.in); got != c.line {
			t.Errorf("Line(%q) = %s, want %s", c.in, got, c.line)
		}
	}
}

// TestJSON: JSON escapes, in JSON text, what Line would, and nothing
// else, and the text still decodes to the same value.
func TestJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain é text", `"plain é text"`},
		{"a\u202eb", `"a\u202eb"`},
		{"\u2066\u2069\u200e\u200f\u061c", `"\u2066\u2069\u200e\u200f\u061c"`},
		{"\x1b[2J\x7f\u0085\u009b", `"\u001b[2J\u007f\u0085\u009b"`},
		{"\u200b\ufeff\u00a0\u2028", `"\u200b\ufeff\u00a0\u2028"`},
		{"tag\U000E0041", `"tag\udb40\udc41"`},
		{"emoji \U0001F600", "\"emoji \U0001F600\""},
	} {
		b, err := json.Marshal(c.in)
		if err != nil {
			t.Fatal(err)
		}
		got := JSON(b)
		if string(got) != c.want {
			t.Errorf("JSON(%s) = %s, want %s", b, got, c.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != c.in {
			t.Errorf("JSON(%s) = %s decodes to %q (%v), want %q", b, got, back, err, c.in)
		}
		if Line(string(got)) != string(got) {
			t.Errorf("JSON(%s) = %s: Line would escape more", b, got)
		}
	}
	// Invalid UTF-8 is what a JSON reader makes of it, U+FFFD.
	if got := JSON([]byte("\"a\xffb\"\n")); string(got) != "\"a\\ufffdb\"\n" {
		t.Errorf("JSON of invalid UTF-8 = %q", got)
	}
	// Nothing to escape: b itself, not a copy.
	b := []byte(`{"a":"é"}` + "\n")
	if got := JSON(b); &got[0] != &b[0] || string(got) != string(b) {
		t.Errorf("JSON(%s) = %s, a copy", b, got)
	}
}
