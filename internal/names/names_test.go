package names

import (
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
