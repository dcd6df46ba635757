package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadLines: the limit is on a line's content, without its "\n" or
// "\r\n", with or without a final newline; a longer line is one bad line
// and the lines after it are read.
func TestReadLines(t *testing.T) {
	const max = 8
	in := strings.Repeat("a", max) + "\n" + // at the limit
		strings.Repeat("b", max) + "\r\n" + // at the limit, CRLF
		strings.Repeat("c", max+1) + "\n" + // over
		strings.Repeat("d", 100) + "\r\n" + // far over
		"\n" + // empty
		"ok\n" +
		strings.Repeat("e", max+1) // over, no final newline
	type got struct {
		text    string
		tooLong bool
	}
	var lines []got
	for l := range readLines(strings.NewReader(in), max) {
		if l.err != nil {
			t.Fatal(l.err)
		}
		lines = append(lines, got{string(l.text), l.tooLong})
	}
	want := []got{{"aaaaaaaa", false}, {"bbbbbbbb", false}, {"", true}, {"", true}, {"", false}, {"ok", false}, {"", true}}
	if len(lines) != len(want) {
		t.Fatalf("%d lines %v, want %v", len(lines), lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i+1, lines[i], want[i])
		}
	}
	for l := range readLines(strings.NewReader(strings.Repeat("f", max)), max) { // at the limit, no newline
		if l.tooLong || string(l.text) != strings.Repeat("f", max) {
			t.Errorf("last line at the limit: %+v", l)
		}
	}
}

// TestAppendBadNameFlag: a --writer or --stream no record can hold (not
// UTF-8, a NUL) is the arguments' fault, said once before any line is
// read (exit 2, nothing made). It was every line's: "line 1: canonical:
// writerId: text is not valid UTF-8", and under --on-bad skip every line
// skipped, nothing appended, exit 0.
func TestAppendBadNameFlag(t *testing.T) {
	t.Chdir(t.TempDir())
	if code := run([]string{"keygen", "-dir", "keys", "-name", "k"}, strings.NewReader(""), &strings.Builder{}, &strings.Builder{}); code != 0 {
		t.Fatal("keygen failed")
	}
	const lines = `{"kind":"capIssued","reason":"one"}` + "\n" + `{"kind":"capIssued","reason":"two"}` + "\n"
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--writer", []string{"--writer", "svc\xff", "--stream", "s"}},
		{"--stream", []string{"--writer", "w", "--stream", "caps\xc3("}},
	} {
		args := append([]string{"append", "--wal", "log", "--key", "keys/k.key", "--on-bad", "skip"}, c.args...)
		var stdout, stderr strings.Builder
		code := run(args, strings.NewReader(lines), &stdout, &stderr)
		if code != 2 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "ronaudit append: "+c.flag+" ") || strings.Contains(stderr.String(), "line 1") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, %s named once", args, code, stdout.String(), stderr.String(), c.flag)
		}
		if _, err := os.Stat("log"); !os.IsNotExist(err) {
			t.Errorf("%q: the log was made (%v)", args, err)
			os.RemoveAll("log")
		}
	}
}
