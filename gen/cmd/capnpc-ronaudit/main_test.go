package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunRefusesDirectoryName: in plugin mode -pkg defaults to the output
// directory's name; a name that is not a Go identifier is refused naming the
// directory and saying to pass -pkg, and nothing is written.
func TestRunRefusesDirectoryName(t *testing.T) {
	out := filepath.Join(t.TempDir(), "wt-bytes")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	err := run("", out, "../../testdata/audit.req")
	if err == nil || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "-pkg") || len(err.Error()) > 300 {
		t.Fatalf("error (%d bytes): %.400v\nwant a short error naming %s and -pkg", len(errString(err)), err, out)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("wrote %d files into %s", len(ents), out)
	}
	// An explicit -pkg makes the same directory fine.
	if err := run("bytes", out, "../../testdata/audit.req"); err != nil {
		t.Fatalf("with -pkg: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
