package main

import (
	"errors"
	"strings"
	"testing"
)

// TestLinesQuoteChainNames: the lines the host prints about a chain (a
// lost record, a failed verification, a chain it could not read) name it as the CLI does: a plain
// name as itself, any other quoted, so a writer id or stream holding a
// newline (from a record, or a durable log's bytes) cannot print a line
// of its own, and a '/' in one cannot move where the writer id ends.
func TestLinesQuoteChainNames(t *testing.T) {
	err := errors.New("boom")
	for _, c := range []struct {
		writer, stream string
		chain          string
	}{
		{"example-host", "objects", "example-host/objects"},
		{"example-host\nhost: 0 records appended, 0 dropped map[]", "objects", `"example-host\nhost: 0 records appended, 0 dropped map[]"/"objects"`},
		{"a/b", "c", `"a/b"/"c"`},
		{"w", "s\x1b[2K\r", `"w"/"s\x1b[2K\r"`},
	} {
		for _, line := range []string{
			dropLine(c.writer, c.stream, "sink_error", err),
			verifyFailureLine(c.writer, c.stream, err),
			readFailureLine(c.writer, c.stream, err),
		} {
			if strings.ContainsAny(line, "\n\r\x1b") || !strings.Contains(line, " "+c.chain+" ") {
				t.Errorf("line for chain %q/%q: %q, want one line naming it %s", c.writer, c.stream, line, c.chain)
			}
		}
	}
	if got, want := dropLine("w", "s", "sink_error", err), "host: audit record of w/s lost (sink_error): boom"; got != want {
		t.Errorf("dropLine = %q, want %q", got, want)
	}
	if got, want := verifyFailureLine("w", "s", err), "host: audit chain w/s failed verification: boom"; got != want {
		t.Errorf("verifyFailureLine = %q, want %q", got, want)
	}
	if got, want := readFailureLine("w", "s", err), "host: audit chain w/s could not be read to verify it: boom"; got != want {
		t.Errorf("readFailureLine = %q, want %q", got, want)
	}
}
