package main

import (
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
