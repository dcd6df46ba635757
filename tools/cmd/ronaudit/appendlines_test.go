package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rustyonions/ron-audit-go/internal/names"
)

// TestAppendBadLineOneLine: append's input is whoever feeds it, and a
// bad line's message names what is wrong in it: a field name it does
// not know, as the line spells it. Said raw, a "\n" in that name wrote
// a line of its own on stderr ("ronaudit append: line 1: ok"), and a
// right-to-left override reordered the message. Each message is one
// line that names.Line leaves as it is.
func TestAppendBadLineOneLine(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	runOK(t, "", "keygen", "-dir", keys, "-name", "k")
	in := `{"x\nronaudit append: line 1: ok":1}` + "\n" +
		`{"actor":{"cap\u202eId":"1"}}` + "\n" +
		`{"tsMs":1,"reason":"good"}` + "\n"
	var stdout, stderr strings.Builder
	args := []string{"append", "--wal", filepath.Join(dir, "log"), "--key", filepath.Join(keys, "k.key"),
		"--writer", "w", "--stream", "s", "--on-bad", "skip"}
	if code := run(args, strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	want := []string{
		`ronaudit append: line 1: canonical: x\nronaudit append: line 1: ok: unknown field`,
		`ronaudit append: line 2: canonical: actor.cap\u202eId: unknown field`,
		`ronaudit append: skipped 2 bad line(s)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), strings.Join(want, "\n"))
	}
	for _, l := range lines {
		if names.Line(l) != l {
			t.Errorf("stderr line %q: not one plain line", l)
		}
	}
}
